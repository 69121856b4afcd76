import { constants, PerformanceObserver } from "node:perf_hooks"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as Heap from "../src/Heap.ts"

interface GcEntry {
  readonly detail?: { readonly kind?: number }
}

/** Resolves with the first major collection's entry seen from now on. */
const nextMajorCollection = () =>
  Effect.callback<void>((resume) => {
    const observer = new PerformanceObserver((list) => {
      if (
        list.getEntries().some((e) => (e as unknown as GcEntry).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)
      ) {
        observer.disconnect()
        resume(Effect.void)
      }
    })
    observer.observe({ entryTypes: ["gc"] })
    return Effect.sync(() => observer.disconnect())
  })

describe("the runner's heap policy", () => {
  it("grows by 30% of what survived, but up to the floor", () => {
    assert.strictEqual(Heap.growingPercent(40), 220, "a runner at rest: up to 128 MB")
    assert.strictEqual(Heap.growingPercent(64), 100)
    assert.strictEqual(Heap.growingPercent(Heap.FLOOR_MB / 1.3), Heap.GROWING_PERCENT)
    assert.strictEqual(Heap.growingPercent(400), Heap.GROWING_PERCENT, "a large job: the share bounds the RSS")
    assert.strictEqual(Heap.growingPercent(0), (Heap.FLOOR_MB - 1) * 100, "an empty reading is not a division by zero")
  })

  it.live("leaves a heap the operator sized alone, and collects in full once it manages the heap", () =>
    Effect.gen(function* () {
      assert.isFalse(Heap.install(["--max-old-space-size=512"]), "the operator's heap flags stand")
      assert.isFalse(yield* Heap.collect, "no collection on a heap it does not manage")
      assert.isTrue(Heap.install(["--stack-size=2000"]))
      const collected = yield* Effect.forkChild(nextMajorCollection().pipe(Effect.timeout("10 seconds")))
      yield* Effect.yieldNow
      assert.isTrue(yield* Heap.collect)
      yield* Fiber.join(collected)
    })
  )
})
