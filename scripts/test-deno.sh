#!/usr/bin/env bash
# Runs the runtime-neutral suites under Deno: the resolver, and the Store
# conformance suite against a real etcd through the etcd driver.
set -euo pipefail
cd "$(dirname "$0")/.."
DENO=node_modules/@deno/linux-x64-glibc/deno
"$DENO" --version | head -1
"$DENO" run -A node_modules/vitest/vitest.mjs run --project resolver --project etcd-store
