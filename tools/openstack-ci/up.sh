#!/usr/bin/env bash
# up.sh -- install, configure and start a minimal but real OpenStack
# control plane (Zed, from Debian 12 packages) on 127.0.0.1 for integration tests.
#
#   Keystone (uwsgi) . Placement (uwsgi) . Glance (file store) . Nova (api,
#   conductor, scheduler, compute with fake.FakeDriver) . Neutron (ML2, vxlan +
#   flat, agent-less "always bind" mechanism driver, L3 router plugin without
#   agents) . Cinder (api, scheduler, volume with a fake backend)
#   backed by MariaDB + RabbitMQ.
#
# Idempotent: re-running skips what is installed/configured/running. When a
# previous run completed and every service is still alive it returns at once
# (OSCI_FORCE=1 re-checks everything instead).
# Everything lives in $OSCI_DIR (default /tmp/migrator-openstack-ci): etc/, log/,
# run/*.pid, and openrc (the admin credentials plus what tests need: the
# external network, image, volume backend, compute host), which callers source.
# Every port is on 127.0.0.1. Stop with down.sh (uses the PID files only).
#
# Env knobs: OSCI_DIR, OSCI_ADMIN_PASSWORD, OSCI_SERVICE_PASSWORD, OSCI_DB_PASSWORD,
#            OSCI_SKIP_INSTALL=1 (do not call apt-get install), OSCI_FORCE=1
# Needs: root, Debian 12, reachable Debian apt mirror. Takes ~2.5-3.5 min on 2 cores
# from a bare machine, ~70 s with the packages installed, ~2 GiB of RAM.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "up.sh must run as root (apt, service users, setpriv)" >&2; exit 1; }

D=${OSCI_DIR:-/tmp/migrator-openstack-ci}
EXT_NET=public EXT_CIDR=172.24.4.0/24 IMAGE=osci-tiny
ADMIN_PW=${OSCI_ADMIN_PASSWORD:-osci-admin}
SVC_PW=${OSCI_SERVICE_PASSWORD:-osci-service}
DB_PW=${OSCI_DB_PASSWORD:-osci-db}
PY=/usr/bin/python3          # never a pyenv/venv python: the libs are Debian's
H=127.0.0.1
KS=http://$H:5000
CINDER_HOST=osci-cinder       # cinder 'host' -> backend "osci-cinder@fake#fake"
COMPUTE_HOST=osci-compute     # nova-compute host name
ETC=$D/etc LOG=$D/log RUN=$D/run
T0=$(date +%s)
ts() { echo "[osci +$(( $(date +%s) - T0 ))s] $*"; }

mkdir -p "$ETC" "$LOG" "$RUN" "$D/pylib" "$D/state"

ALL="mariadb epmd rabbitmq keystone placement glance-api neutron-server nova-api nova-conductor
nova-scheduler nova-compute cinder-api cinder-scheduler cinder-volume"
alive() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }
# fast path: a completed run whose services all still run (down.sh removes the marker)
if [ "${OSCI_FORCE:-0}" != 1 ] && [ -f "$RUN/ready" ] && [ -f "$D/openrc" ]; then
  up=1; for n in $ALL; do alive "$n" || { up=0; break; }; done
  if [ $up = 1 ] && curl -s -o /dev/null -m 5 "$KS/v3"; then ts "already up (state $D)"; echo "openrc: $D/openrc"; exit 0; fi
fi
rm -f "$RUN/ready"

###########################################################################
# 1. packages
###########################################################################
PKGS="python3-keystone python3-nova python3-neutron python3-cinder python3-glance
python3-placement python3-pymysql python3-openstackclient rabbitmq-server mariadb-server
uwsgi-core uwsgi-plugin-python3 curl"
install_pkgs() {
  local missing=()
  for p in $PKGS; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    ts "apt-get install ${#missing[@]} packages"
    # never let package scripts start daemons (we run them ourselves)
    local prc=/usr/sbin/policy-rc.d created_prc=0
    if [ ! -e $prc ]; then printf '#!/bin/sh\nexit 101\n' > $prc; chmod +x $prc; created_prc=1; fi
    export DEBIAN_FRONTEND=noninteractive
    local rc=0
    { apt-get update -q >"$LOG/apt.log" 2>&1 &&
      apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confold "${missing[@]}" >>"$LOG/apt.log" 2>&1; } || rc=$?
    if [ $created_prc = 1 ]; then rm -f $prc; fi
    if [ $rc != 0 ]; then tail -30 "$LOG/apt.log"; exit 1; fi
  fi
}
[ "${OSCI_SKIP_INSTALL:-0}" = 1 ] || install_pkgs
# config files (api-paste.ini) from the *-common packages, unpacked without
# running their maintainer scripts (those want debconf/dbconfig/systemd).
if [ ! -f "$D/pkgroot/.done" ]; then
  ts "unpacking api-paste files from nova-common neutron-common cinder-common glance-common"
  rm -rf "$D/pkgroot" "$D/debs"; mkdir -p "$D/pkgroot" "$D/debs"
  dl() { (cd "$D/debs" && apt-get download -q nova-common neutron-common cinder-common glance-common >>"$LOG/apt-download.log" 2>&1); }
  # the package lists can be missing when the packages were installed earlier
  dl || { apt-get update -q >>"$LOG/apt-download.log" 2>&1 && dl; } || { tail -20 "$LOG/apt-download.log"; exit 1; }
  for f in "$D"/debs/*.deb; do dpkg-deb -x "$f" "$D/pkgroot"; done
  touch "$D/pkgroot/.done"
fi
PASTE=$D/pkgroot/usr/share

###########################################################################
# helpers
###########################################################################
# start_bg NAME CMD...  -- own session (pid == pgid), output to log, pid file
start_bg() {
  local name=$1; shift
  if alive "$name"; then ts "$name already running (pid $(cat "$RUN/$name.pid"))"; return 0; fi
  setsid "$@" >>"$LOG/$name.log" 2>&1 </dev/null &
  echo $! > "$RUN/$name.pid"
  echo "$(date +%s.%N)" > "$RUN/$name.started"
}
# exec_py PROG MODULE ARGS...  -- run a console-script entry point with the system python
exec_py() { local prog=$1 mod=$2; shift 2
  "$PY" -c "import sys; sys.argv[0]='$prog'; from $mod import main; sys.exit(main())" "$@"; }
wait_port() { # name port [timeout]
  local name=$1 port=$2 t=${3:-120} i=0
  while ! (exec 3<>/dev/tcp/$H/$port) 2>/dev/null; do
    if ! alive "$name"; then echo "!! $name died; last log lines:"; tail -40 "$LOG/$name.log"; exit 1; fi
    i=$((i+1)); [ $i -gt $((t*5)) ] && { echo "!! timeout waiting for $name:$port"; tail -40 "$LOG/$name.log"; exit 1; }
    sleep 0.2
  done
  local st; st=$(cat "$RUN/$name.started" 2>/dev/null || echo 0)
  ts "$name listening on $H:$port (startup $(awk -v a="$st" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s)"
}
wait_http() { # name url [timeout]
  local name=$1 url=$2 t=${3:-120} i=0
  until curl -s -o /dev/null -m 5 "$url"; do
    if ! alive "$name"; then echo "!! $name died"; tail -40 "$LOG/$name.log"; exit 1; fi
    i=$((i+1)); [ $i -gt $((t*5)) ] && { echo "!! timeout $name"; tail -40 "$LOG/$name.log"; exit 1; }
    sleep 0.2
  done
  local st; st=$(cat "$RUN/$name.started" 2>/dev/null || echo 0)
  ts "$name answers $url (startup $(awk -v a="$st" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s)"
}
wait_all_http() { # name=port ... polled together so each startup time is real
  local pending=("$@") left i=0 n p st
  while [ ${#pending[@]} -gt 0 ]; do
    left=()
    for e in "${pending[@]}"; do
      n=${e%%=*} p=${e#*=}
      if curl -s -o /dev/null -m 2 "http://$H:$p/"; then
        st=$(cat "$RUN/$n.started" 2>/dev/null || echo 0)
        ts "$n answers on $H:$p (startup $(awk -v a="$st" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s)"
      else
        alive "$n" || { echo "!! $n died"; tail -40 "$LOG/$n.log"; exit 1; }
        left+=("$e")
      fi
    done
    pending=("${left[@]+"${left[@]}"}")
    i=$((i+1)); [ $i -gt 600 ] && { echo "!! timeout: ${pending[*]}"; exit 1; }
    [ ${#pending[@]} -gt 0 ] && sleep 0.3
  done
  return 0
}
dburl() { echo "mysql+pymysql://osci:$DB_PW@$H/$1?charset=utf8"; }

###########################################################################
# 2. MariaDB (own datadir, 127.0.0.1 only, no fsync: CI data is disposable)
###########################################################################
MYSOCK=$RUN/mysqld.sock
if [ ! -d "$D/mysql/mysql" ]; then
  ts "initialising MariaDB datadir"
  mkdir -p "$D/mysql"; chown mysql:mysql "$D/mysql"
  mariadb-install-db --user=mysql --datadir="$D/mysql" --auth-root-authentication-method=socket \
      --skip-test-db >"$LOG/mariadb-install.log" 2>&1
fi
chown mysql:mysql "$RUN" 2>/dev/null || true; chmod 755 "$RUN"
start_bg mariadb /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$D/mysql" \
  --bind-address=$H --port=3306 --socket="$MYSOCK" --pid-file="$RUN/mariadbd.pid" \
  --skip-name-resolve --skip-log-bin --innodb-buffer-pool-size=128M --innodb-log-file-size=64M \
  --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 --innodb-flush-method=nosync \
  --max-connections=500 --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci
###########################################################################
# 3. RabbitMQ (epmd + node bound to loopback)
###########################################################################
mkdir -p "$D/rabbitmq" "$LOG/rabbitmq"; chown -R rabbitmq:rabbitmq "$D/rabbitmq" "$LOG/rabbitmq"
export RABBITMQ_NODENAME=rabbit@localhost RABBITMQ_NODE_IP_ADDRESS=$H RABBITMQ_NODE_PORT=5672 \
  RABBITMQ_DIST_PORT=25672 ERL_EPMD_ADDRESS=$H RABBITMQ_MNESIA_BASE=$D/rabbitmq/mnesia \
  RABBITMQ_LOG_BASE=$LOG/rabbitmq RABBITMQ_PID_FILE=$D/rabbitmq/rabbit.pid \
  RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
  RABBITMQ_ENABLED_PLUGINS_FILE=$D/rabbitmq/enabled_plugins
[ -f "$D/rabbitmq/enabled_plugins" ] || { echo '[].' > "$D/rabbitmq/enabled_plugins"; chown rabbitmq: "$D/rabbitmq/enabled_plugins"; }
RUSER="setpriv --reuid=rabbitmq --regid=rabbitmq --init-groups env HOME=/var/lib/rabbitmq"
start_bg epmd $RUSER /usr/bin/epmd -address $H
wait_port epmd 4369 20
start_bg rabbitmq $RUSER /usr/lib/rabbitmq/bin/rabbitmq-server

###########################################################################
# 4. config files
###########################################################################
mkdir -p "$ETC"/{keystone,placement,glance,nova,neutron,cinder} "$D/state"/{keystone,glance/images,nova,neutron,cinder,locks}
TRANSPORT=rabbit://guest:guest@$H:5672/
authtoken() { # section body for keystonemiddleware / service auth
  cat <<EOF
www_authenticate_uri = $KS
auth_url = $KS
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = $SVC_PW
region_name = RegionOne
EOF
}

cat > "$ETC/keystone/keystone.conf" <<EOF
[DEFAULT]
[database]
connection = $(dburl keystone)
[token]
provider = fernet
[fernet_tokens]
key_repository = $D/state/keystone/fernet-keys
[credential]
key_repository = $D/state/keystone/credential-keys
[cache]
enabled = false
[identity]
password_hash_rounds = 4
EOF

cat > "$ETC/placement/placement.conf" <<EOF
[DEFAULT]
[placement_database]
connection = $(dburl placement)
[api]
auth_strategy = keystone
[keystone_authtoken]
$(authtoken placement)
EOF

cat > "$ETC/glance/glance-api.conf" <<EOF
[DEFAULT]
bind_host = $H
bind_port = 9292
workers = 1
[database]
connection = $(dburl glance)
[glance_store]
stores = file
default_store = file
filesystem_store_datadir = $D/state/glance/images
[paste_deploy]
flavor = keystone
config_file = $PASTE/glance-common/glance-api-paste.ini
[keystone_authtoken]
$(authtoken glance)
[oslo_concurrency]
lock_path = $D/state/locks
[oslo_messaging_notifications]
driver = noop
EOF

cat > "$ETC/nova/nova.conf" <<EOF
[DEFAULT]
transport_url = $TRANSPORT
compute_driver = fake.FakeDriver
host = $COMPUTE_HOST
my_ip = $H
state_path = $D/state/nova
enabled_apis = osapi_compute
osapi_compute_listen = $H
osapi_compute_listen_port = 8774
osapi_compute_workers = 1
metadata_workers = 1
vif_plugging_is_fatal = false
vif_plugging_timeout = 0
instance_name_template = instance-%08x
heal_instance_info_cache_interval = -1
[api]
auth_strategy = keystone
[wsgi]
api_paste_config = $PASTE/nova-common/api-paste.ini
[api_database]
connection = $(dburl nova_api)
[database]
connection = $(dburl nova)
[keystone_authtoken]
$(authtoken nova)
service_token_roles_required = true
[service_user]
send_service_user_token = true
$(authtoken nova)
[placement]
$(authtoken nova)
[neutron]
$(authtoken nova)
[cinder]
os_region_name = RegionOne
$(authtoken nova)
[glance]
region_name = RegionOne
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 5
[vnc]
enabled = false
[spice]
enabled = false
[oslo_concurrency]
lock_path = $D/state/locks
[oslo_messaging_notifications]
driver = noop
[notifications]
notification_format = unversioned
EOF

# nova-compute gets no DB credentials (talks through conductor, as in devstack)
awk '/^\[/{skip=($0=="[database]"||$0=="[api_database]")} !skip' "$ETC/nova/nova.conf" > "$ETC/nova/nova-cpu.conf"

cat > "$ETC/neutron/neutron.conf" <<EOF
[DEFAULT]
bind_host = $H
bind_port = 9696
core_plugin = ml2
service_plugins = router
auth_strategy = keystone
transport_url = $TRANSPORT
api_workers = 1
rpc_workers = 0
rpc_state_report_workers = 0
api_paste_config = $PASTE/neutron-common/api-paste.ini
allow_overlapping_ips = true
dhcp_agent_notification = false
notify_nova_on_port_status_changes = true
notify_nova_on_port_data_changes = true
state_path = $D/state/neutron
[database]
connection = $(dburl neutron)
[keystone_authtoken]
$(authtoken neutron)
[nova]
$(authtoken neutron)
[placement]
$(authtoken neutron)
[oslo_concurrency]
lock_path = $D/state/locks
[oslo_messaging_notifications]
driver = noop
[ml2]
type_drivers = flat,vxlan
tenant_network_types = vxlan
mechanism_drivers = osci_fake
extension_drivers = port_security
[ml2_type_flat]
flat_networks = public
[ml2_type_vxlan]
vni_ranges = 1:10000
[securitygroup]
enable_security_group = true
EOF

cat > "$ETC/cinder/cinder.conf" <<EOF
[DEFAULT]
transport_url = $TRANSPORT
auth_strategy = keystone
host = $CINDER_HOST
my_ip = $H
osapi_volume_listen = $H
osapi_volume_listen_port = 8776
osapi_volume_workers = 1
api_paste_config = $PASTE/cinder-common/api-paste.ini
state_path = $D/state/cinder
enabled_backends = fake
default_volume_type = __DEFAULT__
glance_api_servers = http://$H:9292
[database]
connection = $(dburl cinder)
[keystone_authtoken]
$(authtoken cinder)
service_token_roles_required = true
[service_user]
send_service_user_token = true
$(authtoken cinder)
[nova]
$(authtoken cinder)
[oslo_concurrency]
lock_path = $D/state/locks
[oslo_messaging_notifications]
driver = noop
[coordination]
backend_url = file://$D/state/cinder
[fake]
volume_driver = osci_fake.cinder_driver.CIFakeVolumeDriver
volume_backend_name = fake
EOF

# --- agent-less ML2 mechanism driver + fake cinder backend -----------------
mkdir -p "$D/pylib/osci_fake" "$D/pylib/osci_fake-0.1.dist-info"
cat > "$D/pylib/osci_fake/__init__.py" <<'EOF'
EOF
cat > "$D/pylib/osci_fake/neutron_mech.py" <<'EOF'
"""ML2 mechanism driver that binds every port on any host, no agent (CI only)."""
from neutron_lib.api.definitions import portbindings
from neutron_lib import constants
from neutron_lib.plugins.ml2 import api


class AlwaysBindMechanismDriver(api.MechanismDriver):
    def initialize(self):
        pass

    @property
    def connectivity(self):
        return portbindings.CONNECTIVITY_L2

    def bind_port(self, context):
        for segment in context.segments_to_bind:
            context.set_binding(segment[api.ID], portbindings.VIF_TYPE_OVS,
                                {portbindings.CAP_PORT_FILTER: True,
                                 portbindings.OVS_HYBRID_PLUG: False},
                                status=constants.PORT_STATUS_ACTIVE)
            return
EOF
cat > "$D/pylib/osci_fake/cinder_driver.py" <<'EOF'
"""Fake cinder backend: cinder's own FakeLoggingVolumeDriver (shipped in
python3-cinder) plus working manage/unmanage and image copy no-ops (CI only)."""
from cinder import exception
from cinder.tests import fake_driver


class CIFakeVolumeDriver(fake_driver.FakeLoggingVolumeDriver):
    def manage_existing_get_size(self, volume, existing_ref):
        if not existing_ref or not ('source-name' in existing_ref or 'source-id' in existing_ref):
            raise exception.ManageExistingInvalidReference(
                existing_ref=existing_ref, reason='source-name or source-id required')
        return int(existing_ref.get('size', 1))

    def manage_existing(self, volume, existing_ref):
        return None

    def unmanage(self, volume):
        pass

    def copy_image_to_volume(self, context, volume, image_service, image_id, disable_sparse=False):
        pass

    def copy_volume_to_image(self, context, volume, image_service, image_meta):
        pass
EOF
cat > "$D/pylib/osci_fake-0.1.dist-info/METADATA" <<'EOF'
Metadata-Version: 2.1
Name: osci-fake
Version: 0.1
EOF
cat > "$D/pylib/osci_fake-0.1.dist-info/entry_points.txt" <<'EOF'
[neutron.ml2.mechanism_drivers]
osci_fake = osci_fake.neutron_mech:AlwaysBindMechanismDriver
EOF

###########################################################################
# 5. databases
###########################################################################
for i in $(seq 1 150); do
  mariadb --socket="$MYSOCK" -uroot -e 'select 1' >/dev/null 2>&1 && break
  alive mariadb || { tail -30 "$LOG/mariadb.log"; exit 1; }; sleep 0.2; done
wait_port mariadb 3306 30
{
  for db in keystone placement glance nova_api nova nova_cell0 neutron cinder; do
    echo "CREATE DATABASE IF NOT EXISTS $db CHARACTER SET utf8;"
  done
  echo "CREATE USER IF NOT EXISTS 'osci'@'127.0.0.1' IDENTIFIED BY '$DB_PW';"
  echo "CREATE USER IF NOT EXISTS 'osci'@'localhost' IDENTIFIED BY '$DB_PW';"
  echo "GRANT ALL PRIVILEGES ON *.* TO 'osci'@'127.0.0.1'; GRANT ALL PRIVILEGES ON *.* TO 'osci'@'localhost'; FLUSH PRIVILEGES;"
} | mariadb --socket="$MYSOCK" -uroot

ts "db sync (parallel)"
PIDS=()
( exec_py keystone-manage keystone.cmd.manage --config-file "$ETC/keystone/keystone.conf" db_sync >"$LOG/sync-keystone.log" 2>&1 ) & PIDS+=($!)
( exec_py placement-manage placement.cmd.manage --config-file "$ETC/placement/placement.conf" db sync >"$LOG/sync-placement.log" 2>&1 ) & PIDS+=($!)
( exec_py glance-manage glance.cmd.manage --config-file "$ETC/glance/glance-api.conf" db_sync >"$LOG/sync-glance.log" 2>&1 ) & PIDS+=($!)
( exec_py neutron-db-manage neutron.db.migration.cli --config-file "$ETC/neutron/neutron.conf" upgrade heads >"$LOG/sync-neutron.log" 2>&1 ) & PIDS+=($!)
( exec_py cinder-manage cinder.cmd.manage --config-file "$ETC/cinder/cinder.conf" db sync >"$LOG/sync-cinder.log" 2>&1 ) & PIDS+=($!)
( NM="exec_py nova-manage nova.cmd.manage --config-file $ETC/nova/nova.conf"
  $NM api_db sync && \
  { $NM cell_v2 list_cells 2>/dev/null | grep -q ' cell0 ' || $NM cell_v2 map_cell0 --database_connection "$(dburl nova_cell0)"; } && \
  { $NM cell_v2 list_cells 2>/dev/null | grep -q ' cell1 ' || $NM cell_v2 create_cell --name cell1 --verbose; } && \
  $NM db sync ) >"$LOG/sync-nova.log" 2>&1 & PIDS+=($!)
ok=1; for p in "${PIDS[@]}"; do wait "$p" || ok=0; done
[ $ok = 1 ] || { echo "!! a db sync failed:"; grep -il -E 'error|traceback' "$LOG"/sync-*.log; tail -20 "$LOG"/sync-*.log; exit 1; }
ts "db sync done"

###########################################################################
# 6. Keystone
###########################################################################
KM="exec_py keystone-manage keystone.cmd.manage --config-file $ETC/keystone/keystone.conf"
mkdir -p "$D/state/keystone/fernet-keys" "$D/state/keystone/credential-keys"
[ -f "$D/state/keystone/fernet-keys/0" ] || $KM fernet_setup --keystone-user root --keystone-group root >>"$LOG/keystone-manage.log" 2>&1
[ -f "$D/state/keystone/credential-keys/0" ] || $KM credential_setup --keystone-user root --keystone-group root >>"$LOG/keystone-manage.log" 2>&1
$KM bootstrap --bootstrap-password "$ADMIN_PW" --bootstrap-admin-url $KS/v3/ \
  --bootstrap-internal-url $KS/v3/ --bootstrap-public-url $KS/v3/ --bootstrap-region-id RegionOne >>"$LOG/keystone-manage.log" 2>&1

UWSGI="uwsgi --plugins python3 --master --processes 1 --threads 8 --enable-threads --lazy-apps \
  --die-on-term --need-app --buffer-size 65535 --add-header Connection:close"
start_bg keystone env OS_KEYSTONE_CONFIG_FILES="$ETC/keystone/keystone.conf" $UWSGI \
  --http-socket $H:5000 --wsgi-file /usr/bin/keystone-wsgi-public
start_bg placement env OS_PLACEMENT_CONFIG_DIR="$ETC/placement" $UWSGI \
  --http-socket $H:8778 --wsgi-file /usr/bin/placement-api
# services that need keystone only at request time start now, overlapping
# the catalog registration below.
wait_port rabbitmq 5672 120
NC="--config-file $ETC/nova/nova.conf"
start_bg glance-api   "$PY" -c "import sys; sys.argv[0]='glance-api'; from glance.cmd.api import main; sys.exit(main())" --config-file "$ETC/glance/glance-api.conf"
start_bg neutron-server env PYTHONPATH="$D/pylib" "$PY" -c "import sys; sys.argv[0]='neutron-server'; from neutron.cmd.eventlet.server import main; sys.exit(main())" --config-file "$ETC/neutron/neutron.conf"
start_bg nova-api     "$PY" -c "import sys; sys.argv[0]='nova-api'; from nova.cmd.api import main; sys.exit(main())" $NC
CC="--config-file $ETC/cinder/cinder.conf"
start_bg cinder-api       "$PY" -c "import sys; sys.argv[0]='cinder-api'; from cinder.cmd.api import main; sys.exit(main())" $CC
start_bg cinder-scheduler "$PY" -c "import sys; sys.argv[0]='cinder-scheduler'; from cinder.cmd.scheduler import main; sys.exit(main())" $CC
start_bg cinder-volume env PYTHONPATH="$D/pylib" "$PY" -c "import sys; sys.argv[0]='cinder-volume'; from cinder.cmd.volume import main; sys.exit(main())" $CC
wait_http keystone $KS/v3

# users / services / endpoints (idempotent, via keystoneauth REST)
export OS_AUTH_URL=$KS/v3 OS_USERNAME=admin OS_PASSWORD=$ADMIN_PW OS_PROJECT_NAME=admin \
  OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default OS_REGION_NAME=RegionOne OS_IDENTITY_API_VERSION=3
SVC_PW=$SVC_PW H=$H "$PY" - <<'EOF'
import os
from keystoneauth1.identity import v3
from keystoneauth1 import session
from keystoneclient.v3 import client
h = os.environ['H']
s = session.Session(auth=v3.Password(auth_url=os.environ['OS_AUTH_URL'], username='admin',
    password=os.environ['OS_PASSWORD'], project_name='admin', user_domain_name='Default',
    project_domain_name='Default'))
k = client.Client(session=s)
def one(lst): return lst[0] if lst else None
proj = one(k.projects.list(name='service')) or k.projects.create('service', 'default')
roles = {r.name: r for r in k.roles.list()}
for rn in ('service', 'member', 'reader'):
    if rn not in roles: roles[rn] = k.roles.create(rn)
for name in ('nova', 'neutron', 'cinder', 'glance', 'placement'):
    u = one(k.users.list(name=name, domain='default'))
    u = k.users.update(u, password=os.environ['SVC_PW']) if u else \
        k.users.create(name, domain='default', password=os.environ['SVC_PW'])
    for rn in ('admin', 'service'):
        k.roles.grant(roles[rn], user=u, project=proj)
cat = [('nova', 'compute', f'http://{h}:8774/v2.1'),
       ('neutron', 'network', f'http://{h}:9696'),
       ('cinderv3', 'volumev3', f'http://{h}:8776/v3/%(project_id)s'),
       ('glance', 'image', f'http://{h}:9292'),
       ('placement', 'placement', f'http://{h}:8778')]
for name, typ, url in cat:
    svc = one([x for x in k.services.list(type=typ) if x.name == name]) or k.services.create(name, type=typ)
    have = {e.interface for e in k.endpoints.list(service=svc)}
    for itf in ('public', 'internal', 'admin'):
        if itf not in have: k.endpoints.create(svc, url, interface=itf, region='RegionOne')
print('keystone users + catalog ok')
EOF
ts "keystone users/catalog registered"

###########################################################################
# 7. nova conductor/scheduler/compute check their placement credentials at
#    start-up (fatal in conductor/scheduler), so they start after the users exist
###########################################################################
start_bg nova-conductor "$PY" -c "import sys; sys.argv[0]='nova-conductor'; from nova.cmd.conductor import main; sys.exit(main())" $NC
start_bg nova-scheduler "$PY" -c "import sys; sys.argv[0]='nova-scheduler'; from nova.cmd.scheduler import main; sys.exit(main())" $NC
start_bg nova-compute "$PY" -c "import sys; sys.argv[0]='nova-compute'; from nova.cmd.compute import main; sys.exit(main())" --config-file "$ETC/nova/nova-cpu.conf"

wait_all_http placement=8778 glance-api=9292 neutron-server=9696 nova-api=8774 cinder-api=8776

# wait until nova-compute is up, map it into cell1, wait for cinder-volume
NM="exec_py nova-manage nova.cmd.manage $NC"
until_ok() { # what timeout_s cmd... (fails the script on timeout or a dead service)
  local what=$1 t=$2 end; shift 2; end=$(( $(date +%s) + t ))
  until "$@"; do
    for n in nova-compute nova-conductor nova-scheduler cinder-volume cinder-scheduler; do
      alive $n || { echo "!! $n died"; tail -40 "$LOG/$n.log"; exit 1; }; done
    [ "$(date +%s)" -gt $end ] && { echo "!! timeout: $what"; exit 1; }
    sleep 1
  done
  ts "$what"
}
compute_up() { openstack compute service list --service nova-compute -f value -c State 2>/dev/null | grep -q up; }
host_mapped() { $NM cell_v2 discover_hosts >>"$LOG/nova-discover.log" 2>&1; $NM cell_v2 list_hosts 2>/dev/null | grep -q " $COMPUTE_HOST "; }
volume_up() { openstack volume service list --service cinder-volume -f value -c State 2>/dev/null | grep -q up; }
until_ok "nova-compute up" 180 compute_up
until_ok "compute host mapped to cell1" 120 host_mapped
until_ok "cinder-volume up" 180 volume_up

# a tiny image (so boot-from-image works) -- fake virt driver never reads it
if ! openstack image show $IMAGE >/dev/null 2>&1; then
  head -c 1024 /dev/zero > "$D/state/tiny.img"
  openstack image create $IMAGE --disk-format raw --container-format bare --public --file "$D/state/tiny.img" >/dev/null
fi
# the external network every test shares (same name and CIDR as the simulator's):
# flat on physnet "public", router:external; there can be one per physnet
if ! openstack network show $EXT_NET >/dev/null 2>&1; then
  openstack network create $EXT_NET --external --provider-network-type flat \
    --provider-physical-network public >/dev/null
fi
if ! openstack subnet show $EXT_NET-subnet >/dev/null 2>&1; then
  openstack subnet create $EXT_NET-subnet --network $EXT_NET --subnet-range $EXT_CIDR --no-dhcp >/dev/null
fi
ts "image $IMAGE and external network $EXT_NET ($EXT_CIDR) present"

for n in $ALL; do alive "$n" || { echo "!! $n is not running:"; tail -30 "$LOG/$n.log"; exit 1; }; done

cat > "$D/openrc" <<EOF
export OS_AUTH_URL=$KS/v3
export OS_USERNAME=admin
export OS_PASSWORD=$ADMIN_PW
export OS_PROJECT_NAME=admin
export OS_USER_DOMAIN_NAME=Default
export OS_PROJECT_DOMAIN_NAME=Default
export OS_REGION_NAME=RegionOne
export OS_INTERFACE=public
export OS_IDENTITY_API_VERSION=3
export OS_COMPUTE_API_VERSION=2.79
export OS_VOLUME_API_VERSION=3.59
export OSCI_EXTERNAL_NETWORK=$EXT_NET
export OSCI_IMAGE=$IMAGE
export OSCI_VOLUME_BACKEND=$CINDER_HOST@fake#fake
export OSCI_VOLUME_TYPE=__DEFAULT__
export OSCI_AVAILABILITY_ZONE=nova
export OSCI_COMPUTE_HOST=$COMPUTE_HOST
EOF
ln -sf openrc "$D/adminrc"   # the name the shared material used
touch "$RUN/ready"
ts "OpenStack is up"
echo "KEYSTONE_URL=$KS/v3"
echo "OS_USERNAME=admin OS_PASSWORD=$ADMIN_PW OS_PROJECT_NAME=admin OS_USER_DOMAIN_NAME=Default OS_PROJECT_DOMAIN_NAME=Default OS_REGION_NAME=RegionOne"
echo "cinder manage-existing host: $CINDER_HOST@fake#fake ; nova compute host: $COMPUTE_HOST ; image: $IMAGE ; external network: $EXT_NET (flat physnet public)"
echo "openrc: $D/openrc ; logs: $LOG ; stop: down.sh"
