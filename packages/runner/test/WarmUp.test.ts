import { assert, describe, it } from "@effect/vitest"
import { EngineMetrics, Keys, Store } from "@migrator/core"
import { Clock, Effect, Logger, Metric, Option, Stream } from "effect"
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

  it.live(
    "on the store: runs its job under the runner's own prefix, outside what runners follow, and leaves nothing",
    () =>
      Effect.gen(function* () {
        const store = yield* Store.Store
        const keys = Keys.make("m/")
        const seen: Array<string> = []
        const claimedBy = new Set<string>()
        const from = (yield* store.revision) + 1
        const logged: Array<unknown> = []
        const registry = new Map()
        const ms = yield* WarmUp.inStore({ tasks: 300, concurrency: 16, prefix: keys.prefix, runnerId: "r/1" }).pipe(
          Effect.provide(Logger.layer([Logger.make((entry) => logged.push(entry.message))])),
          Effect.provideService(Metric.MetricRegistry, registry)
        )
        assert.isAtLeast(ms, 0)
        // every key it wrote is under its own prefix, which sorts past the range runners watch
        const until = yield* store.revision
        yield* store.watch("", { fromRevision: from }).pipe(
          Stream.takeUntil((e) => e.revision >= until),
          Stream.runForEach((e) =>
            Effect.sync(() => {
              seen.push(e._tag === "put" ? e.kv.key : e.key)
              if (e._tag === "put" && e.kv.key.endsWith("/claim")) claimedBy.add(e.kv.value)
            })
          )
        )
        assert.isAbove(seen.length, 300 * 4, "it ran its tasks on this store")
        // two engines shared them, as a fleet does: following a peer's tasks is warmed up too
        assert.deepStrictEqual([...claimedBy].sort(), ["r/1", `r/1${WarmUp.PEER}`])
        const own = keys.warmUp("r/1")
        assert.isTrue(own.startsWith(keys.warmUps) && own > keys.followedEnd && !own.includes("r/1"))
        assert.deepStrictEqual(
          seen.filter((k) => !k.startsWith(own)),
          [],
          "nothing outside its prefix"
        )
        assert.deepStrictEqual((yield* store.range(keys.prefix)).kvs, [], "its keys are gone")
        assert.deepStrictEqual(logged, [], "it logs nothing")
        const claims = yield* Metric.value(EngineMetrics.claims).pipe(
          Effect.provideService(Metric.MetricRegistry, registry)
        )
        assert.strictEqual(claims.count, 0, "its claims are not the runner's")
      }).pipe(Effect.provide(Store.layerMemory))
  )

  it.live("on the store: what a warm-up that died left is deleted by the next runner's, unless it may still run", () =>
    Effect.gen(function* () {
      const store = yield* Store.Store
      const now = yield* Clock.currentTimeMillis
      const keys = Keys.make("m/")
      const leftover = (runner: string, createdAt: number) =>
        store.txn({
          compare: [],
          success: [
            { _tag: "put", key: `${keys.warmUp(runner)}jobs/warm-up/spec`, value: JSON.stringify({ createdAt }) },
            { _tag: "put", key: `${keys.warmUp(runner)}jobs/warm-up/tasks/run/t0/status`, value: "{}" }
          ]
        })
      yield* leftover("dead", now - 61_000)
      yield* leftover("starting", now - 5_000)
      yield* leftover("me", now - 1_000)
      yield* store.txn({
        compare: [],
        success: [{ _tag: "put", key: `${keys.warmUp("garbled")}jobs/warm-up/spec`, value: "{not json" }]
      })
      yield* WarmUp.inStore({ tasks: 0, concurrency: 4, prefix: keys.prefix, runnerId: "me" })
      assert.strictEqual((yield* store.range(keys.warmUps)).kvs.length, 7, "no tasks: nothing done at all")
      yield* WarmUp.inStore({ tasks: 20, concurrency: 4, prefix: keys.prefix, runnerId: "me" })
      const left = (yield* store.range(keys.warmUps)).kvs.map((kv) => kv.key)
      assert.deepStrictEqual(left, [
        `${keys.warmUp("starting")}jobs/warm-up/spec`,
        `${keys.warmUp("starting")}jobs/warm-up/tasks/run/t0/status`
      ])
      assert.isTrue(Option.isNone(yield* store.get(`${keys.warmUp("dead")}jobs/warm-up/spec`)))
    }).pipe(Effect.provide(Store.layerMemory))
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
