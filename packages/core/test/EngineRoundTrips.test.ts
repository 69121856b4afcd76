/**
 * What a task costs in round trips: a chain claims each level in the result transaction of the
 * level before.
 */
import { assert, describe, it } from "@effect/vitest"
import { Store, TaskRegistry } from "@migrator/core"
import { TestPlugin } from "@migrator/core/testing"
import { Clock, Deferred, Effect, Fiber, Layer, Stream } from "effect"
import { TestClock } from "effect/testing"
import { crashable } from "./utils/crashable.ts"
import { awaitState, keys, runner, show, submit, terminal } from "./utils/engine.ts"

const setup = Effect.gen(function* () {
  const memory = yield* Store.makeMemory
  const registry = yield* Layer.build(TestPlugin.layer.pipe(Layer.provideMerge(TaskRegistry.layer)))
  const start = (id: string) =>
    Effect.gen(function* () {
      const proc = crashable(memory.store)
      const fiber = yield* runner(id).pipe(Effect.provideService(Store.Store, proc.store), Effect.provide(registry))
      return { fiber, crash: proc.crash }
    })
  const inStore = <A, E>(e: Effect.Effect<A, E, Store.Store>) => Effect.provideService(e, Store.Store, memory.store)
  return { memory, start, inStore }
})

/** The revision of each task's `task.started` and `task.succeeded` event, by task id. */
const eventRevisions = (memory: Store.MemoryStore, job: string) =>
  Effect.gen(function* () {
    const { kvs } = yield* memory.store.range(keys.events(job))
    const started = new Map<string, number>()
    const succeeded = new Map<string, number>()
    for (const kv of kvs) {
      const e = JSON.parse(kv.value) as { type: string; taskId?: string }
      if (e.taskId === undefined) continue
      if (e.type === "task.started") started.set(e.taskId, kv.createRevision)
      if (e.type === "task.succeeded") succeeded.set(e.taskId, kv.createRevision)
    }
    return { started, succeeded }
  })

/** Waits for the job to end while the test clock moves in small steps; the clock's time then. */
const settle = (id: string) =>
  Effect.gen(function* () {
    const driver = yield* Effect.forkChild(
      Effect.forever(
        TestClock.adjust("10 millis").pipe(
          Effect.andThen(Effect.sleep("0 millis").pipe(Effect.andThen(Effect.yieldNow)))
        )
      )
    )
    yield* awaitState(id, terminal)
    yield* Fiber.interrupt(driver)
    return yield* Clock.currentTimeMillis
  })

describe("round trips per task", () => {
  it.effect(
    "a job's first claims are none refused: the one that starts it goes first, the others after its answer",
    () =>
      Effect.gen(function* () {
        const memory = yield* Store.makeMemory
        const registry = yield* Layer.build(TestPlugin.layer.pipe(Layer.provideMerge(TaskRegistry.layer)))
        // every claim transaction, and whether etcd's compare let it through
        const claims: Array<{ readonly tasks: number; readonly succeeded: boolean }> = []
        const counted: Store.Service = {
          ...memory.store,
          txn: (request) =>
            Effect.tap(memory.store.txn(request), (r) =>
              Effect.sync(() => {
                const tasks = request.success.filter((op) => op._tag === "put" && op.key.endsWith("/claim")).length
                if (tasks > 0) claims.push({ tasks, succeeded: r.succeeded })
              })
            )
        }
        yield* runner("r1", { concurrency: 64 }).pipe(
          Effect.provideService(Store.Store, counted),
          Effect.provide(registry)
        )
        const tasks = Array.from({ length: 60 }, (_, i) => ({ id: `t${i}`, type: "test/echo", input: { n: i } }))
        const id = yield* submit({ id: "wide", tasks }).pipe(Effect.provideService(Store.Store, memory.store))
        yield* awaitState(id, terminal).pipe(Effect.provideService(Store.Store, memory.store))
        assert.strictEqual(
          (yield* show(id).pipe(Effect.provideService(Store.Store, memory.store))).state.outcome,
          "succeeded"
        )
        assert.deepStrictEqual(
          claims.filter((c) => !c.succeeded),
          [],
          "no claim refused"
        )
        // all 60 were ready at once: three batches of at most 25, the first of which started the job
        assert.deepStrictEqual(
          claims.map((c) => c.tasks),
          [25, 25, 10]
        )
      })
  )

  it.effect("a refused claim's tasks are looked at again at once when the view has already seen the winner", () =>
    Effect.gen(function* () {
      const memory = yield* Store.makeMemory
      const registry = yield* Layer.build(TestPlugin.layer.pipe(Layer.provideMerge(TaskRegistry.layer)))
      const inStore = <A, E>(e: Effect.Effect<A, E, Store.Store>) => Effect.provideService(e, Store.Store, memory.store)
      const ghost = keys.task("won", "run", "t0", "claim")
      const refused: Array<number> = []
      // another runner wins t0 just before the claim that starts the job goes, and the runner's
      // view shows that claim before the refusal comes back: no later change will come
      const racing: Store.Service = {
        ...memory.store,
        txn: (request) => {
          const claims = request.success.filter((op) => op._tag === "put" && op.key.endsWith("/claim")).length
          if (
            claims === 0 ||
            refused.length > 0 ||
            !request.success.some((op) => op._tag === "put" && op.key === ghost)
          )
            return memory.store.txn(request)
          return memory.store.txn({ compare: [], success: [{ _tag: "put", key: ghost, value: "elsewhere" }] }).pipe(
            Effect.andThen(Effect.replicateEffect(Effect.yieldNow, 50)),
            Effect.andThen(memory.store.txn(request)),
            Effect.tap((r) => Effect.sync(() => r.succeeded || refused.push(claims)))
          )
        }
      }
      yield* runner("r1", { concurrency: 64 }).pipe(
        Effect.provideService(Store.Store, racing),
        Effect.provide(registry)
      )
      const tasks = Array.from({ length: 30 }, (_, i) => ({ id: `t${i}`, type: "test/echo", input: { n: i } }))
      const from = yield* memory.store.revision
      const id = yield* inStore(submit({ id: "won", tasks }))
      // every task but the one held elsewhere runs, with no other change in the store to wake the runner
      yield* memory.store.watch(keys.tasks(id), { fromRevision: from + 1 }).pipe(
        Stream.filter((e) => e._tag === "put" && e.kv.key.endsWith("/result")),
        Stream.take(29),
        Stream.runDrain
      )
      assert.deepStrictEqual(refused, [25])
      // the other runner lets t0 go: it is claimed here and the job completes
      yield* memory.store.txn({ compare: [], success: [{ _tag: "delete", key: ghost }] })
      yield* inStore(awaitState(id, terminal))
      assert.strictEqual((yield* inStore(show(id))).state.outcome, "succeeded")
    })
  )

  it.effect("claims in flight and waiting hold their capacity: a job decided next gets only what is left", () =>
    Effect.gen(function* () {
      const memory = yield* Store.makeMemory
      const registry = yield* Layer.build(TestPlugin.layer.pipe(Layer.provideMerge(TaskRegistry.layer)))
      const release = yield* Deferred.make<void>()
      const secondJobClaim = yield* Deferred.make<number>()
      const claimed = (request: Store.TxnRequest) =>
        request.success.filter((op) => op._tag === "put" && op.key.endsWith("/claim")).length
      // the claim that starts job "a" is answered only once job "b" has made its first claim
      const gated: Store.Service = {
        ...memory.store,
        txn: (request) => {
          const tasks = claimed(request)
          if (tasks > 0 && request.success.some((op) => op._tag === "put" && op.key === keys.jobState("a"))) {
            return Deferred.await(release).pipe(Effect.andThen(memory.store.txn(request)))
          }
          if (tasks > 0 && request.success.some((op) => op._tag === "put" && op.key.startsWith(keys.tasks("b")))) {
            return Deferred.succeed(secondJobClaim, tasks).pipe(Effect.andThen(memory.store.txn(request)))
          }
          return memory.store.txn(request)
        }
      }
      yield* runner("r1", { concurrency: 64 }).pipe(Effect.provideService(Store.Store, gated), Effect.provide(registry))
      const tasks = Array.from({ length: 60 }, (_, i) => ({ id: `t${i}`, type: "test/echo", input: { n: i } }))
      const inStore = <A, E>(e: Effect.Effect<A, E, Store.Store>) => Effect.provideService(e, Store.Store, memory.store)
      yield* inStore(submit({ id: "a", tasks }))
      yield* inStore(submit({ id: "b", tasks }))
      // "a" holds 25 tasks in its first claim and 35 waiting for it (whether "b" is decided in the
      // same pass or later): 4 of 64 are left for "b"
      assert.strictEqual(yield* Deferred.await(secondJobClaim), 4)
      yield* Deferred.succeed(release, undefined)
      for (const id of ["a", "b"]) {
        yield* inStore(awaitState(id, terminal))
        assert.strictEqual((yield* inStore(show(id))).state.outcome, "succeeded")
      }
    })
  )

  it.effect("a chain is claimed level by level in the result transaction of the level before", () =>
    Effect.gen(function* () {
      const { memory, start, inStore } = yield* setup
      yield* start("r1")
      const tasks = Array.from({ length: 12 }, (_, i) => ({
        id: `t${i}`,
        type: "test/echo",
        ...(i === 0 ? {} : { dependencies: [`t${i - 1}`] }),
        input: { n: i }
      }))
      const id = yield* inStore(submit({ id: "chain", tasks }))
      yield* inStore(awaitState(id, terminal))
      assert.strictEqual((yield* inStore(show(id))).state.outcome, "succeeded")
      const { started, succeeded } = yield* eventRevisions(memory, id)
      for (let i = 1; i < 12; i++) {
        assert.strictEqual(started.get(`t${i}`), succeeded.get(`t${i - 1}`), `t${i} claimed with t${i - 1}'s result`)
      }
    })
  )

  it.effect("a task that reads its dependency's output is claimed with that result and gets the output", () =>
    Effect.gen(function* () {
      const { memory, start, inStore } = yield* setup
      yield* start("r1")
      const tasks = Array.from({ length: 8 }, (_, i) => ({
        id: `t${i}`,
        type: "test/echo",
        ...(i === 0 ? {} : { dependencies: [`t${i - 1}`] }),
        input: i === 0 ? { n: 0 } : { n: i, before: { $ref: `t${i - 1}#/n` } }
      }))
      const id = yield* inStore(submit({ id: "refs", tasks }))
      yield* inStore(awaitState(id, terminal))
      const view = yield* inStore(show(id))
      assert.strictEqual(view.state.outcome, "succeeded")
      const { started, succeeded } = yield* eventRevisions(memory, id)
      for (let i = 1; i < 8; i++) {
        assert.deepStrictEqual(view.tasks.find((t) => t.spec.id === `t${i}`)?.result?.output, { n: i, before: i - 1 })
        assert.strictEqual(started.get(`t${i}`), succeeded.get(`t${i - 1}`), `t${i} claimed with t${i - 1}'s result`)
      }
    })
  )

  it.effect("a join reads the output handed over with its claim and the other from the view", () =>
    Effect.gen(function* () {
      const { memory, start, inStore } = yield* setup
      yield* start("r1")
      const id = yield* inStore(
        submit({
          id: "join-refs",
          tasks: [
            { id: "a", type: "test/echo", input: { from: "a" } },
            { id: "b", type: "test/sleep", input: { ms: 300 } },
            {
              id: "j",
              type: "test/echo",
              dependencies: ["a", "b"],
              input: { a: { $ref: "a#/from" }, b: { $ref: "b#" } }
            }
          ]
        })
      )
      yield* inStore(settle(id))
      const view = yield* inStore(show(id))
      assert.strictEqual(view.state.outcome, "succeeded")
      const b = view.tasks.find((t) => t.spec.id === "b")?.result?.output
      assert.deepStrictEqual(view.tasks.find((t) => t.spec.id === "j")?.result?.output, { a: "a", b: b ?? null })
      const { started, succeeded } = yield* eventRevisions(memory, id)
      assert.strictEqual(started.get("j"), succeeded.get("b"))
    })
  )

  it.effect("a result whose reply comes after the watch showed it still starts the dependants it claimed", () =>
    Effect.gen(function* () {
      const { memory, start, inStore } = yield* setup
      yield* start("r1")
      const tasks = Array.from({ length: 6 }, (_, i) => ({
        id: `t${i}`,
        type: "test/echo",
        ...(i === 0 ? {} : { dependencies: [`t${i - 1}`] }),
        input: i === 0 ? { n: 0 } : { n: { $ref: `t${i - 1}#/n` } }
      }))
      const started = yield* Clock.currentTimeMillis
      const id = yield* inStore(submit({ id: "late", tasks }))
      // every reply is 50 ms late: the watch shows each result (and the claim it deletes) first
      yield* memory.control.delayRepliesNext(1000, "50 millis")
      const ended = yield* inStore(settle(id))
      // replies still on their way arrive (the runner's shutdown waits for its tasks' writes)
      yield* memory.control.delayRepliesNext(0, "0 millis")
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* inStore(show(id))).state.outcome, "succeeded")
      const { started: claimedAt, succeeded } = yield* eventRevisions(memory, id)
      for (let i = 1; i < 6; i++) assert.strictEqual(claimedAt.get(`t${i}`), succeeded.get(`t${i - 1}`))
      // a claim left unstarted would wait for the orphan sweep (a third of the 2 s lease)
      assert.isBelow(ended - started, 600)
    })
  )

  it.effect("a join is claimed with the result of its last dependency, not before", () =>
    Effect.gen(function* () {
      const { memory, start, inStore } = yield* setup
      yield* start("r1")
      const id = yield* inStore(
        submit({
          id: "join",
          tasks: [
            { id: "a", type: "test/echo", input: 1 },
            { id: "b", type: "test/sleep", input: { ms: 300 } },
            { id: "j", type: "test/echo", dependencies: ["a", "b"], input: 2 }
          ]
        })
      )
      yield* inStore(settle(id))
      const view = yield* inStore(show(id))
      assert.strictEqual(view.state.outcome, "succeeded")
      const { started, succeeded } = yield* eventRevisions(memory, id)
      assert.strictEqual(started.get("j"), succeeded.get("b"))
      assert.isAbove(started.get("j")!, succeeded.get("a")!)
    })
  )

  it.effect("claims the watch showed before their replies came are not read back once the view saw them end", () =>
    Effect.gen(function* () {
      const { memory, inStore } = yield* setup
      // claim keys read back: a claim of ours that nothing executes is looked up in the store
      let claimReads = 0
      const counted: Store.Store["Service"] = {
        ...memory.store,
        get: (key) =>
          Effect.suspend(() => {
            if (key.endsWith("/claim")) claimReads++
            return memory.store.get(key)
          })
      }
      const registry = yield* Layer.build(TestPlugin.layer.pipe(Layer.provideMerge(TaskRegistry.layer)))
      yield* runner("r1").pipe(Effect.provideService(Store.Store, counted), Effect.provide(registry))
      const tasks = Array.from({ length: 20 }, (_, i) => ({ id: `t${i}`, type: "test/echo", input: i }))
      const id = yield* inStore(submit({ id: "claims-seen-first", tasks }))
      // every reply is late: the watch shows each claim of ours before the claim's own answer
      yield* memory.control.delayRepliesNext(1000, "50 millis")
      yield* inStore(settle(id))
      yield* memory.control.delayRepliesNext(0, "0 millis")
      // several sweeps of claims nothing executes (a third of the 2 s lease each)
      for (let i = 0; i < 30; i++) yield* TestClock.adjust("100 millis")
      assert.strictEqual((yield* inStore(show(id))).state.outcome, "succeeded")
      assert.strictEqual(claimReads, 0)
    })
  )
})
