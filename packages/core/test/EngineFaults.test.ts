/**
 * Regression tests for faults the engine once could not survive (issue 11):
 * each fails on the engine before the services split.
 */
import { assert, describe, it } from "@effect/vitest"
import { Store, StoreError, Task, TaskHandler, TaskRegistry } from "@migrator/core"
import { TestPlugin } from "@migrator/core/testing"
import { Deferred, Effect, Layer, Option, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import { awaitResult, awaitState, awaitTask, keys, runner, show, submit, terminal } from "./utils/engine.ts"
import { makeProbe } from "./utils/probe.ts"

/**
 * A store as one runner sees it, with faults a network causes: a transaction that commits
 * but whose answer is lost, reads that fail, and a watch that stops delivering (a frozen
 * process that has not yet noticed anything).
 */
const faulty = (store: Store.Service) => {
  const faults = {
    /** Transactions matching this commit, then fail as a cut connection does. */
    loseReply: undefined as ((request: Store.TxnRequest) => boolean) | undefined,
    failGets: 0
  }
  let frozen: Deferred.Deferred<void> | undefined
  const view: Store.Service = {
    ...store,
    txn: (request) =>
      Effect.gen(function* () {
        const result = yield* store.txn(request)
        if (faults.loseReply?.(request) === true) {
          faults.loseReply = undefined
          return yield* Effect.fail(StoreError.unavailable("txn", "connection reset after the request was sent"))
        }
        return result
      }),
    get: (key) =>
      Effect.suspend(() => {
        if (faults.failGets > 0) {
          faults.failGets--
          return Effect.fail(StoreError.unavailable("get", "connection reset"))
        }
        return store.get(key)
      }),
    watch: (prefix, options) =>
      store.watch(prefix, options).pipe(Stream.tap(() => (frozen === undefined ? Effect.void : Deferred.await(frozen))))
  }
  return {
    store: view,
    faults,
    freezeWatch: Effect.map(Deferred.make<void>(), (d) => {
      frozen = d
    })
  }
}

const claimsTask = (task: string) => (request: Store.TxnRequest) =>
  request.success.some((op) => op._tag === "put" && op.key.endsWith(`/${task}/claim`))

/** A handler that records how many of its executions overlap, per target. */
const makeLimited = Effect.gen(function* () {
  let active = 0
  let peak = 0
  const gate = yield* Deferred.make<void>()
  const Work = TaskHandler.make("limit/work", { input: Schema.Json, output: Schema.Json })
  const layer = Work.toLayer(() =>
    Effect.gen(function* () {
      active++
      peak = Math.max(peak, active)
      yield* Deferred.await(gate)
      return null
    }).pipe(Effect.ensuring(Effect.sync(() => active--)))
  )
  return { layer, open: Deferred.succeed(gate, undefined), peak: () => peak, active: () => active }
})

const setup = Effect.gen(function* () {
  const memory = yield* Store.makeMemory
  const probe = yield* makeProbe
  const limited = yield* makeLimited
  const registryOf = (layer: Layer.Layer<never, never, TaskRegistry.TaskRegistry>) =>
    Layer.build(layer.pipe(Layer.provideMerge(TaskRegistry.layer)))
  const full = yield* registryOf(Layer.mergeAll(TestPlugin.layer, probe.layer, limited.layer))
  const start = (id: string, options: { readonly registry?: typeof full; readonly targetConcurrency?: number } = {}) =>
    Effect.gen(function* () {
      const proc = faulty(memory.store)
      const fiber = yield* runner(
        id,
        options.targetConcurrency === undefined ? {} : { targetConcurrency: options.targetConcurrency }
      ).pipe(Effect.provideService(Store.Store, proc.store), Effect.provide(options.registry ?? full))
      return { fiber, ...proc }
    })
  const inStore = <A, E>(e: Effect.Effect<A, E, Store.Store>) => Effect.provideService(e, Store.Store, memory.store)
  return { memory, probe, limited, start, inStore, registryOf }
})

describe("engine faults", () => {
  it.effect("a shared task that fails retryably is retried like any task, and its record ends ready", () =>
    Effect.gen(function* () {
      const { start, inStore, memory } = yield* setup
      yield* start("r1")
      const id = yield* inStore(
        submit({
          id: "shared-retry",
          tasks: [
            { id: "net", type: "probe/work", shared: "cloud/net-1", input: { failTimes: 1, create: "net" } },
            { id: "vm", type: "probe/work", dependencies: ["net"], input: {} }
          ]
        })
      )
      yield* inStore(awaitTask(id, "net", (s) => s.status === "waiting" && s.attempt === 1))
      yield* TestClock.adjust("1 second")
      yield* inStore(awaitState(id, terminal))
      const view = yield* inStore(show(id))
      assert.strictEqual(view.state.outcome, "succeeded")
      const net = view.tasks.find((t) => t.spec.id === "net")
      assert.strictEqual(net?.result?.result, "success")
      assert.strictEqual(net?.result?.attempt, 2)
      const record = JSON.parse(Option.getOrThrow(yield* memory.store.get(keys.shared("cloud/net-1"))).value)
      assert.strictEqual(record.state, "ready")
      assert.deepStrictEqual(record.holders, [id])
    })
  )

  it.effect("a claim whose answer is lost is executed, not orphaned", () =>
    Effect.gen(function* () {
      const { start, inStore } = yield* setup
      const r1 = yield* start("r1")
      r1.faults.loseReply = claimsTask("t")
      const id = yield* inStore(submit({ id: "lost-claim", tasks: [{ id: "t", type: "probe/work", input: {} }] }))
      yield* inStore(awaitState(id, terminal))
      const t = (yield* inStore(show(id))).tasks[0]
      assert.strictEqual(t?.result?.result, "success")
      assert.strictEqual(t?.result?.attempt, 1)
    })
  )

  it.effect("a claim whose answer is lost and cannot be read back is resumed within one lease TTL", () =>
    Effect.gen(function* () {
      const { start, inStore } = yield* setup
      const r1 = yield* start("r1")
      r1.faults.loseReply = (request) => {
        if (!claimsTask("t")(request)) return false
        r1.faults.failGets = 1 // the read-back fails too
        return true
      }
      const id = yield* inStore(submit({ id: "orphan", tasks: [{ id: "t", type: "probe/work", input: {} }] }))
      yield* inStore(awaitTask(id, "t", (s) => s.status === "running"))
      yield* TestClock.adjust("2 seconds")
      yield* inStore(awaitState(id, terminal))
      const t = (yield* inStore(show(id))).tasks[0]
      assert.strictEqual(t?.result?.result, "success")
      assert.strictEqual(t?.result?.attempt, 1)
    })
  )

  it.effect("a result whose answer is lost stands, written once", () =>
    Effect.gen(function* () {
      const { start, inStore, probe } = yield* setup
      const r1 = yield* start("r1")
      r1.faults.loseReply = (request) => request.success.some((op) => op._tag === "put" && op.key.endsWith("/t/result"))
      const id = yield* inStore(submit({ id: "lost-result", tasks: [{ id: "t", type: "probe/work", input: {} }] }))
      yield* inStore(awaitState(id, terminal))
      // the runner retries the write whose answer it lost, finds it committed, and ends the attempt
      yield* TestClock.adjust("1 second")
      const view = yield* inStore(show(id))
      assert.strictEqual(view.state.outcome, "succeeded")
      assert.strictEqual(probe.starts.get(`${id}/run/t`), 1)
    })
  )

  it.effect("a frozen engine whose lease expired cannot write its result over its successor's", () =>
    Effect.gen(function* () {
      const { start, inStore, memory, probe } = yield* setup
      const a = yield* start("a")
      const id = yield* inStore(submit({ id: "stale", tasks: [{ id: "t", type: "probe/work", input: { gate: "s" } }] }))
      yield* inStore(awaitTask(id, "t", (s) => s.status === "running"))
      const first = Option.getOrThrow(yield* memory.store.get(keys.task(id, "run", "t", "claim")))
      // "a" stops seeing anything (frozen), then its lease expires on the server
      yield* a.freezeWatch
      yield* memory.control.expireLease(first.lease!)
      yield* start("b")
      const taken = yield* inStore(awaitTask(id, "t", (s) => s.runner === "b"))
      assert.strictEqual(taken.attempt, 2)
      const second = Option.getOrThrow(yield* memory.store.get(keys.task(id, "run", "t", "claim")))
      // both executions finish; the stale one's result transaction is fenced out
      yield* probe.open("s")
      yield* inStore(awaitState(id, terminal))
      const t = (yield* inStore(show(id))).tasks[0]
      assert.strictEqual(t?.result?.attempt, 2)
      assert.strictEqual((t?.result?.output as { token: number } | undefined)?.token, second.createRevision)
    })
  )

  it.effect(
    "a runner claims only task types it serves; a task nobody serves waits visibly until a runner that does joins",
    () =>
      Effect.gen(function* () {
        const { start, inStore, registryOf } = yield* setup
        const testOnly = yield* registryOf(TestPlugin.layer)
        yield* start("t1", { registry: testOnly })
        const id = yield* inStore(
          submit({
            id: "mixed",
            tasks: [
              { id: "a", type: "test/echo", input: { value: 1 } },
              { id: "p", type: "probe/work", dependencies: ["a"], input: {} }
            ]
          })
        )
        yield* inStore(awaitResult(id, "a"))
        yield* TestClock.adjust("5 seconds")
        const waiting = (yield* inStore(show(id))).tasks.find((t) => t.spec.id === "p")
        // never claimed: no status record, which reads as waiting, attempt 0
        assert.strictEqual(Task.statusOf(waiting?.status?.status, waiting?.result?.result), "waiting")
        assert.strictEqual(waiting?.status?.attempt ?? 0, 0)
        assert.strictEqual(waiting?.waitingFor, 'no live runner serves "probe/work"')
        yield* start("p1")
        yield* inStore(awaitState(id, terminal))
        const done = yield* inStore(show(id))
        assert.strictEqual(done.state.outcome, "succeeded")
        assert.strictEqual(done.tasks.find((t) => t.spec.id === "p")?.status?.runner, "p1")
      })
  )

  it.effect("a target's limit holds across runners, and tasks waiting for a slot stay unclaimed", () =>
    Effect.gen(function* () {
      const { start, inStore, limited } = yield* setup
      yield* start("r1", { targetConcurrency: 2 })
      yield* start("r2", { targetConcurrency: 2 })
      const id = yield* inStore(
        submit({
          id: "limited",
          target: "nova-1",
          tasks: Array.from({ length: 6 }, (_, i) => ({ id: `t${i}`, type: "limit/work", input: {} }))
        })
      )
      yield* inStore(awaitTask(id, "t0", () => true))
      yield* TestClock.adjust("1 second")
      const view = yield* inStore(show(id))
      assert.strictEqual(limited.active(), 2)
      assert.strictEqual(view.tasks.filter((t) => t.claim !== undefined).length, 2)
      yield* limited.open
      yield* inStore(awaitState(id, terminal))
      assert.strictEqual((yield* inStore(show(id))).state.outcome, "succeeded")
      assert.strictEqual(limited.peak(), 2)
    })
  )
})
