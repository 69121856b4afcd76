#!/usr/bin/env bash
# down.sh -- stop what up.sh started, using its PID files only.
# Each service was started with setsid, so its pid is also its process-group id:
# we signal the group (uwsgi workers, neutron api/rpc workers, cinder backend child...).
# OpenStack services are stopped together first, then RabbitMQ/epmd, then MariaDB.
# OSCI_PURGE=1 also deletes $OSCI_DIR (databases, queues, images, logs);
# default /tmp/migrator-openstack-ci, as in up.sh.
set -uo pipefail
D=${OSCI_DIR:-/tmp/migrator-openstack-ci}
RUN=$D/run
[ -d "$RUN" ] || { echo "nothing to stop ($RUN missing)"; exit 0; }
rm -f "$RUN/ready"   # up.sh's "completed and running" marker

stop_group() { # names... : TERM all, wait up to 15 s, KILL what is left
  local n pid pids=() names=()
  for n in "$@"; do
    [ -f "$RUN/$n.pid" ] || continue
    pid=$(cat "$RUN/$n.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null
      pids+=("$pid"); names+=("$n")
    fi
  done
  local i alive
  for i in $(seq 1 75); do
    alive=0
    for pid in "${pids[@]+"${pids[@]}"}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.2
  done
  for i in "${!pids[@]}"; do
    pid=${pids[$i]}
    if kill -0 "$pid" 2>/dev/null; then echo "killing ${names[$i]} (pid $pid) after timeout"; fi
    kill -KILL -- "-$pid" 2>/dev/null || true   # leader and any leftover group members
    echo "stopped ${names[$i]} (pid $pid)"
  done
  for n in "$@"; do rm -f "$RUN/$n.pid" "$RUN/$n.started"; done
}

stop_group nova-compute nova-conductor nova-scheduler nova-api cinder-volume cinder-scheduler \
  cinder-api neutron-server glance-api placement keystone
stop_group rabbitmq
stop_group epmd
stop_group mariadb
if [ "${OSCI_PURGE:-0}" = 1 ]; then rm -rf "$D"; echo "purged $D"; fi
