import { assert, it } from "@effect/vitest"

// Recorded so the Deno run of this suite can prove it ran under Deno (scripts/test-deno.sh sets MIGRATOR_EXPECT_RUNTIME).
it("runs on the expected runtime", () => {
  const deno = (globalThis as { Deno?: { version: { deno: string } } }).Deno
  const expected = process.env.MIGRATOR_EXPECT_RUNTIME ?? "node"
  assert.strictEqual(deno === undefined ? "node" : "deno", expected)
})
