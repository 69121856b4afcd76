#!/usr/bin/env bash
# The whole test suite: type check, lint, every vitest project on Node (real etcd
# started by the tests themselves), the Deno runs, the consumer test of the packed packages,
# then the OpenStack suites against a real OpenStack control plane on loopback.
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
echo "== type check (tsc -b)"
pnpm exec tsc -b tsconfig.json
echo "== lint (biome)"
pnpm exec biome check .
echo "== tests (Node)"
pnpm exec vitest run
echo "== tests (Deno)"
bash scripts/test-deno.sh
echo "== consumer test (packed packages installed with npm into a project outside the workspace)"
bash scripts/test-packages.sh
echo "== tests (real OpenStack: the handler suite and the end-to-end run, then the cloud is brought down)"
# without OS_AUTH_URL the suites would run on the simulator again: that must fail here
bash scripts/test-openstack.sh -- bash -c \
  'test -n "${OS_AUTH_URL:-}" || { echo "!! OS_AUTH_URL is empty: not pointed at the real cloud" >&2; exit 1; }
   pnpm exec vitest run --project tasks-openstack && pnpm exec vitest run --project runner test/OpenStackE2E'
echo "== all checks passed"
