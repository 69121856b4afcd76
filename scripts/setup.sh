#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian machine with Node 20 and npm:
# etcd (server + client), Chromium, Graphviz and `script` from apt, pnpm from npm, then the locked
# node modules.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v etcd >/dev/null 2>&1 || ! command -v etcdctl >/dev/null 2>&1; then
  echo "setup: installing etcd-server and etcd-client"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq etcd-server etcd-client >/dev/null
fi

# the runner's dashboard test drives a real headless Chromium
if [ ! -x /usr/bin/chromium ]; then
  echo "setup: installing chromium"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
fi

# the DOT output of `migrator job graph` is checked with Graphviz; the terminal test runs under `script`
if ! command -v dot >/dev/null 2>&1 || ! command -v script >/dev/null 2>&1; then
  echo "setup: installing graphviz and bsdutils (script)"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq graphviz bsdutils >/dev/null
fi

if ! command -v pnpm >/dev/null 2>&1; then
  echo "setup: installing pnpm"
  npm install -g pnpm@12.21.0 >/dev/null 2>&1 || as_root npm install -g pnpm@12.21.0 >/dev/null
fi

# a failed install fails the setup (its log is shown then; only the summary otherwise)
install_log=$(mktemp "${TMPDIR:-/tmp}/migrator-setup-XXXXXX")
if ! pnpm install --frozen-lockfile --reporter=append-only >"$install_log" 2>&1; then
  cat "$install_log" >&2
  rm -f "$install_log"
  echo "setup: pnpm install failed" >&2
  exit 1
fi
grep -E '^(Done|Already up to date|Lockfile)' "$install_log" || true
rm -f "$install_log"
test -d node_modules/effect
# the migrator binary runs from a bundle (plain JavaScript) while no source is newer
pnpm --filter @migrator/runner run bundle >/dev/null
