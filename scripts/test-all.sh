#!/usr/bin/env bash
# The whole test suite: type check, lint, every vitest project on Node (real etcd
# started by the tests themselves), then the Deno runs. Exits non-zero on any failure.
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
echo "== all checks passed"
