import { assert, describe, it } from "@effect/vitest"
import * as Heap from "../src/Heap.ts"

describe("the runner's heap policy", () => {
  it("grows by 30% of what survived, but up to the floor", () => {
    assert.strictEqual(Heap.growingPercent(40), 220, "a runner at rest: up to 128 MB")
    assert.strictEqual(Heap.growingPercent(64), 100)
    assert.strictEqual(Heap.growingPercent(Heap.FLOOR_MB / 1.3), Heap.GROWING_PERCENT)
    assert.strictEqual(Heap.growingPercent(400), Heap.GROWING_PERCENT, "a large job: the share bounds the RSS")
    assert.strictEqual(Heap.growingPercent(0), (Heap.FLOOR_MB - 1) * 100, "an empty reading is not a division by zero")
  })

  it("leaves a heap the operator sized alone", () => {
    for (const flag of ["--max-old-space-size=512", "--heap-growing-percent=50", "--initial-old-space-size=64"]) {
      assert.isFalse(Heap.install(["--stack-size=2000", flag]), flag)
    }
    assert.isTrue(Heap.install(["--stack-size=2000"]), "other flags: the policy applies")
  })
})
