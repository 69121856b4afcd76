#!/usr/bin/env bash
# Runs the runtime-neutral suites under Deno: the Store conformance suite (and
# the driver's integration tests) against a real etcd through the etcd driver,
# the resolver, and the OpenStack client, handlers and plan builder against the
# simulator. MIGRATOR_EXPECT_RUNTIME makes a test prove it ran on Deno.
set -euo pipefail
cd "$(dirname "$0")/.."
DENO=node_modules/@deno/linux-x64-glibc/deno
"$DENO" --version | head -1
projects=(--project etcd-store --project tasks-openstack)
if compgen -G "packages/resolver/test/*.test.ts" >/dev/null; then projects+=(--project resolver); fi
MIGRATOR_EXPECT_RUNTIME=deno "$DENO" run -A node_modules/vitest/vitest.mjs run "${projects[@]}"
