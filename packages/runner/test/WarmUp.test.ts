import { assert, describe, it } from "@effect/vitest"
import { EngineMetrics, Store } from "@migrator/core"
import { Effect, Logger, Metric } from "effect"
import * as WarmUp from "../src/WarmUp.ts"

describe("a runner's warm-up", () => {
  it.live("runs its job to completion on a store of its own: nothing reaches the runner's store, logs or metrics", () =>
    Effect.gen(function* () {
      const store = yield* Store.Store
      const logged: Array<unknown> = []
      const registry = new Map()
      const ms = yield* WarmUp.run(300, 16).pipe(
        Effect.provide(Logger.layer([Logger.make((entry) => logged.push(entry.message))])),
        Effect.provideService(Metric.MetricRegistry, registry)
      )
      assert.isAtLeast(ms, 0)
      assert.deepStrictEqual((yield* store.range("")).kvs, [], "the runner's store holds nothing of it")
      assert.deepStrictEqual(logged, [], "it logs nothing")
      const claims = yield* Metric.value(EngineMetrics.claims).pipe(
        Effect.provideService(Metric.MetricRegistry, registry)
      )
      assert.strictEqual(claims.count, 0, "its claims are not the runner's")
    }).pipe(Effect.provide(Store.layerMemory))
  )

  it.live("a warm-up that does not complete in time is a typed failure: the runner serves without it", () =>
    Effect.gen(function* () {
      const failed = yield* WarmUp.run(2000, 16, "1 millis").pipe(Effect.flip)
      assert.strictEqual(failed._tag, "WarmUpFailed")
      assert.include(failed.message, "not done after")
    })
  )

  it.live("0 tasks: no warm-up", () =>
    Effect.gen(function* () {
      assert.strictEqual(yield* WarmUp.run(0, 16), 0)
    })
  )

  it("its job holds the two paths real jobs take: independent tasks and a chain of outputs", () => {
    const doc = WarmUp.document(2000)
    assert.strictEqual(doc.tasks.length, 2000)
    assert.strictEqual(doc.tasks.filter((t) => "dependencies" in t && t.dependencies.length > 0).length, 49)
    assert.deepStrictEqual(doc.tasks.at(-1)?.input, { v: { $ref: "c48#/v" } })
  })
})
