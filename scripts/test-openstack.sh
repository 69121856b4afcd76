#!/usr/bin/env bash
# Runs the tasks-openstack test suite against a real OpenStack control plane
# (Zed from Debian 12 packages, every port on 127.0.0.1; see tools/openstack-ci/):
# brings the cloud up, exports the admin user's openrc variables (plus
# OSCI_EXTERNAL_NETWORK, OSCI_IMAGE, OSCI_VOLUME_BACKEND, OSCI_VOLUME_TYPE,
# OSCI_AVAILABILITY_ZONE, OSCI_COMPUTE_HOST), runs the tests, and always brings
# the cloud down again. Exits with the status of the tests.
#
#   scripts/test-openstack.sh                    # vitest --project tasks-openstack
#   scripts/test-openstack.sh test/RealCloud     # ... with vitest file filters
#   scripts/test-openstack.sh -- <command...>    # any command, with the cloud up and the env set
#
# Needs root on Debian 12 (up.sh installs ~345 packages with apt the first time:
# ~3.5 min and ~2 GiB of RAM on 2 cores; ~70 s once they are installed).
# Env: OSCI_DIR (state, default /tmp/migrator-openstack-ci), OSCI_KEEP=1 (leave
# the cloud running at the end; a later run then reuses it at once),
# OSCI_PURGE=1 (delete the state directory on the way down: every run starts
# from an empty cloud).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TOOLS=$ROOT/tools/openstack-ci

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo --preserve-env=OSCI_DIR,OSCI_PURGE,OSCI_FORCE "$@"; fi; }

cmd=()
if [ "${1:-}" = "--" ]; then
  shift
  [ $# -gt 0 ] || { echo "usage: $0 [vitest filters...] | -- <command...>" >&2; exit 2; }
  cmd=("$@")
else
  if ! command -v pnpm >/dev/null 2>&1 || [ ! -d node_modules/effect ]; then bash scripts/setup.sh || exit 1; fi
  cmd=(pnpm exec vitest run --project tasks-openstack "$@")
fi

down() {
  local status=$?
  trap - EXIT INT TERM
  if [ "${OSCI_KEEP:-0}" = 1 ]; then
    echo "== OpenStack left running (OSCI_KEEP=1); stop it with: tools/openstack-ci/down.sh"
  else
    echo "== OpenStack down"
    local t0=$SECONDS
    as_root bash "$TOOLS/down.sh" >/dev/null || echo "!! down.sh failed" >&2
    echo "== OpenStack stopped in $((SECONDS - t0)) s"
  fi
  exit "$status"
}
trap down EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "== OpenStack up"
t0=$SECONDS
as_root bash "$TOOLS/up.sh" || { echo "!! OpenStack did not come up (logs: ${OSCI_DIR:-/tmp/migrator-openstack-ci}/log)" >&2; exit 1; }
echo "== OpenStack ready in $((SECONDS - t0)) s"

D=${OSCI_DIR:-/tmp/migrator-openstack-ci}
# shellcheck disable=SC1091
set -a && . "$D/openrc" && set +a
# the state directory is root's; the tests only need the variables
echo "== running: ${cmd[*]} (OS_AUTH_URL=$OS_AUTH_URL)"
t0=$SECONDS
"${cmd[@]}"
status=$?
echo "== command exited with $status after $((SECONDS - t0)) s"
exit "$status"
