#!/usr/bin/env bash
# The consumer test: the packages as a user installs them. Builds every package (tsc -b, the runner's
# bundle), packs each one, checks that `pnpm publish -r` would publish them (dry run), installs the
# tarballs with npm into a fresh project outside the workspace (examples/custom-runner: no workspace
# links, no tsx) and there:
#   (a) compiles the example's custom runner (@migrator/core, @migrator/etcd-store, two handler subpaths
#       of @migrator/tasks-openstack, a plugin package of its own) with tsc and runs it on Node against
#       a real etcd and the OpenStack simulator of the packed @migrator/openstack-simulator; a job must
#       complete with the expected outputs;
#   (b) runs the same runner.ts under Deno;
#   (c) runs the packed `migrator` binary with `--plugins` naming the plugin package;
# and reports the modules and bytes a runner with one handler loads. Every process it starts is
# stopped by PID and the temporary project is removed. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
DENO=$ROOT/node_modules/@deno/linux-x64-glibc/deno
WORK=$(mktemp -d "${TMPDIR:-/tmp}/migrator-packages-XXXXXX")
PIDS=()

cleanup() {
  local status=$?
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() { echo "!! $*" >&2; exit 1; }
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
# waits until a command succeeds (at most $1 seconds)
wait_for() {
  local limit=$1; shift
  local t0=$SECONDS
  until "$@" >/dev/null 2>&1; do
    [ $((SECONDS - t0)) -lt "$limit" ] || return 1
    sleep 0.2
  done
}

echo "== the README's runner is examples/custom-runner/runner.ts"
awk '/consumer test .* checks that this block/{getline; inside=1; next} inside && /^```$/{exit} inside' README.md |
  diff - examples/custom-runner/runner.ts || fail "README.md's runner differs from examples/custom-runner/runner.ts"

echo "== build (tsc -b) and the runner's bundle"
pnpm exec tsc -b tsconfig.json
pnpm --filter @migrator/runner run bundle >/dev/null

echo "== pack"
mkdir -p "$WORK/tarballs"
for dir in packages/*/; do
  (cd "$dir" && pnpm pack --pack-destination "$WORK/tarballs" >/dev/null)
done
for tgz in "$WORK"/tarballs/*.tgz; do
  name=$(basename "$tgz")
  entries=$(tar -tzf "$tgz" | wc -l)
  printf '  %-44s %6s KB  %4s files\n' "$name" "$(( $(stat -c %s "$tgz") / 1024 ))" "$entries"
  ! tar -tzf "$tgz" | grep -qE '^package/(src|test)/|\.tsbuildinfo$' || fail "$name ships sources, tests or build info"
done

echo "== publish dry run (pnpm publish -r --dry-run)"
pnpm publish -r --dry-run --no-git-checks --access public >"$WORK/publish.log" 2>&1 || { cat "$WORK/publish.log"; fail "publish dry run"; }
for dir in packages/*/; do
  name=$(node -p "require('./${dir}package.json').name")
  grep -q "$name" "$WORK/publish.log" || { cat "$WORK/publish.log"; fail "publish dry run did not include $name"; }
done

echo "== a fresh project outside the workspace: npm install of the tarballs"
cp -r examples/custom-runner "$WORK/project"
cp scripts/packages/*.mjs "$WORK/project/"
cd "$WORK/project"
(cd plugin-greet && npm pack --pack-destination "$WORK/tarballs" >/dev/null 2>&1)
npm install --no-audit --no-fund --loglevel=error "$WORK"/tarballs/*.tgz
[ ! -L node_modules/@migrator/core ] || fail "@migrator/core is a link, not an installed package"
node -e 'import("@migrator/core").then((m) => { if (!m.Engine) process.exit(1) })'

echo "== etcd and the OpenStack simulator"
ETCD_PORT=$(free_port)
PEER_PORT=$(free_port)
ETCD="http://127.0.0.1:$ETCD_PORT"
etcd --name consumer --logger=zap --log-level=error --data-dir "$WORK/etcd" \
  --listen-client-urls "$ETCD" --advertise-client-urls "$ETCD" \
  --listen-peer-urls "http://127.0.0.1:$PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$PEER_PORT" \
  --initial-cluster "consumer=http://127.0.0.1:$PEER_PORT" >"$WORK/etcd.log" 2>&1 &
PIDS+=($!)
wait_for 30 etcdctl --endpoints="$ETCD" endpoint health || { cat "$WORK/etcd.log"; fail "etcd did not start"; }
node simulator.mjs "$WORK/openrc" &
PIDS+=($!)
wait_for 60 test -f "$WORK/openrc" || fail "the simulator did not start"
# shellcheck disable=SC1091
. "$WORK/openrc"
export ETCD_ENDPOINTS=$ETCD

MIGRATOR=$WORK/project/node_modules/.bin/migrator
# runs one job with the runner given as arguments (under prefix $1) and checks its outputs
run_job() {
  local prefix=$1 job=$2; shift 2
  local expect=() runner=()
  while [ "$1" != "--" ]; do expect+=("$1"); shift; done
  shift
  runner=("$@")
  MIGRATOR_PREFIX=$prefix "${runner[@]}" >"$WORK/runner-${prefix%/}.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  local id
  id=$("$MIGRATOR" job submit "$job" --etcd "$ETCD" --prefix "$prefix")
  local t0=$SECONDS
  until "$MIGRATOR" job show "$id" --json --etcd "$ETCD" --prefix "$prefix" >"$WORK/job.json" &&
    node -e 'const j=JSON.parse(require("fs").readFileSync(0,"utf8")); process.exit(["completed","canceled"].includes(j.state)?0:1)' <"$WORK/job.json"; do
    if [ $((SECONDS - t0)) -ge 120 ] || ! kill -0 "$pid" 2>/dev/null; then
      cat "$WORK/job.json" "$WORK/runner-${prefix%/}.log" >&2 || true
      fail "job $id did not complete (runner: ${runner[*]})"
    fi
    sleep 0.5
  done
  node check-job.mjs "${expect[@]}" <"$WORK/job.json"
  kill "$pid"
  wait "$pid" || true
}

echo "== (a) the custom runner on Node $(node --version): tsc, then node dist/runner.js"
npx tsc -p .
run_job a/ job.json \
  --expect hello.greeting="hello dr-1" --expect hello.runner=acme-1 --expect net.networkId='*' \
  --expect subnet.cidr=10.20.0.0/24 -- node dist/runner.js

echo "== (b) the same runner.ts on $("$DENO" --version | head -1)"
run_job b/ job.json \
  --expect hello.greeting="hello dr-1" --expect hello.runner=acme-1 --expect net.networkId='*' \
  --expect subnet.cidr=10.20.0.0/24 -- "$DENO" run -A runner.ts

echo "== (c) the packed migrator binary with --plugins @acme/migrator-plugin-greet"
node -e 'const j=require("./job.json"); j.tasks=j.tasks.filter((t)=>t.type==="acme/greet"); delete j.target; console.log(JSON.stringify(j))' >greet-job.json
run_job c/ greet-job.json --expect hello.greeting="hello dr-1" --expect hello.runner=plugin-runner \
  -- "$MIGRATOR" run --etcd "$ETCD" --plugins @acme/migrator-plugin-greet --runner-id plugin-runner
# a plugin package that is not installed: exit 2, naming it
set +e
out=$("$MIGRATOR" run --etcd "$ETCD" --prefix d/ --plugins @acme/migrator-plugin-dns 2>&1)
code=$?
set -e
[ "$code" = 2 ] && grep -q "@acme/migrator-plugin-dns" <<<"$out" || fail "missing plugin package: exit $code: $out"

echo "== modules loaded by a runner with one handler"
MIGRATOR_MODULE_LOG=$WORK/modules.log node one-handler.mjs

echo "== consumer test passed"
