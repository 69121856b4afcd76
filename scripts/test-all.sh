#!/usr/bin/env bash
# The whole test suite: type check, lint, every vitest project on Node (real etcd
# started by the tests themselves), the Deno runs, then the OpenStack suites against
# a real OpenStack control plane on loopback. Exits non-zero on any failure.
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
echo "== tests (real OpenStack: the handler suite and the end-to-end run, then the cloud is brought down)"
bash scripts/test-openstack.sh -- bash -c \
  'pnpm exec vitest run --project tasks-openstack && pnpm exec vitest run --project runner test/OpenStackE2E'
echo "== all checks passed"
