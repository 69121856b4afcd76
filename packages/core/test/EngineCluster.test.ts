import { assert, describe, it } from "@effect/vitest"
import { Jobs, Store, TaskRegistry } from "@migrator/core"
import { TestPlugin } from "@migrator/core/testing"
import { Duration, Effect, Fiber, Layer, Option } from "effect"
import { TestClock } from "effect/testing"
import { crashable } from "./utils/crashable.ts"
import { awaitResult, awaitState, awaitTask, keys, runner, show, submit, terminal } from "./utils/engine.ts"
import { makeProbe } from "./utils/probe.ts"

const setup = Effect.gen(function* () {
  const memory = yield* Store.makeMemory
  const probe = yield* makeProbe
  const registry = yield* Layer.build(
    Layer.mergeAll(TestPlugin.layer, probe.layer).pipe(Layer.provideMerge(TaskRegistry.layer))
  )
  /** Starts a runner whose process can be crashed. */
  const start = (id: string) =>
    Effect.gen(function* () {
      const proc = crashable(memory.store)
      const fiber = yield* runner(id).pipe(Effect.provideService(Store.Store, proc.store), Effect.provide(registry))
      return { fiber, crash: proc.crash }
    })
  const inStore = <A, E>(e: Effect.Effect<A, E, Store.Store>) => Effect.provideService(e, Store.Store, memory.store)
  return { memory, probe, start, inStore }
})

describe("engine with several runners", () => {
  it.effect("three runners share a wide DAG; every task runs exactly once", () =>
    Effect.gen(function* () {
      const { probe, start, inStore } = yield* setup
      yield* start("r1")
      yield* start("r2")
      yield* start("r3")
      const tasks = [
        { id: "root", type: "probe/work", input: {} },
        ...Array.from({ length: 60 }, (_, i) => ({
          id: `t${i}`,
          type: "probe/work",
          dependencies: ["root"],
          input: {}
        })),
        { id: "join", type: "probe/work", dependencies: Array.from({ length: 60 }, (_, i) => `t${i}`), input: {} }
      ]
      const id = yield* inStore(submit({ id: "wide", tasks }))
      yield* inStore(awaitState(id, terminal))
      const view = yield* inStore(show(id))
      assert.strictEqual(view.state.outcome, "succeeded")
      assert.strictEqual(probe.starts.size, 62)
      for (const [task, n] of probe.starts) assert.strictEqual(n, 1, task)
      assert.deepStrictEqual(probe.overlaps, [])
      // the work really was shared: the 60 middle tasks ran on more than one runner
      const runners = new Set(view.tasks.map((t) => t.status?.runner))
      assert.isFalse(runners.has(undefined))
      assert.isAbove(runners.size, 1)
    })
  )

  it.effect("three runners with little room finish a job far wider than their room (no resync needed)", () =>
    Effect.gen(function* () {
      const { memory, inStore } = yield* setup
      const registry = yield* Layer.build(TestPlugin.layer.pipe(Layer.provideMerge(TaskRegistry.layer)))
      for (const id of ["r1", "r2", "r3"]) {
        // two in flight each: most ready tasks wait, set aside as other runners' shares
        yield* runner(id, { concurrency: 2, resyncInterval: "1 hour" }).pipe(
          Effect.provideService(Store.Store, memory.store),
          Effect.provide(registry)
        )
      }
      const tasks = Array.from({ length: 300 }, (_, i) => ({ id: `t${i}`, type: "test/echo", input: i }))
      const id = yield* inStore(submit({ id: "wide-little-room", tasks }))
      const driver = yield* Effect.forkChild(
        Effect.forever(TestClock.adjust("10 millis").pipe(Effect.andThen(Effect.yieldNow)))
      )
      const ended = yield* inStore(awaitState(id, terminal)).pipe(Effect.timeoutOption("60 seconds"))
      yield* Fiber.interrupt(driver)
      assert.isTrue(Option.isSome(ended), "the job ended without waiting for a resync")
      assert.strictEqual((yield* inStore(show(id))).state.outcome, "succeeded")
    })
  )

  it.effect("ready tasks of a runner that left before claiming its share run without waiting for a resync", () =>
    Effect.gen(function* () {
      const { memory, inStore } = yield* setup
      const registry = yield* Layer.build(TestPlugin.layer.pipe(Layer.provideMerge(TaskRegistry.layer)))
      // another runner, registered but claiming nothing: r1 sets its share aside
      const lease = yield* memory.store.grantLease(Duration.seconds(30))
      yield* memory.store.txn({
        compare: [],
        success: [
          {
            _tag: "put",
            key: keys.runner("r2"),
            value: JSON.stringify({ runner: "r2", types: ["test/sleep"] }),
            lease
          }
        ]
      })
      yield* runner("r1", { concurrency: 8, resyncInterval: "1 hour" }).pipe(
        Effect.provideService(Store.Store, memory.store),
        Effect.provide(registry)
      )
      const tasks = Array.from({ length: 40 }, (_, i) => ({ id: `t${i}`, type: "test/sleep", input: { ms: 100 } }))
      const id = yield* inStore(submit({ id: "share-left-behind", tasks }))
      // r1 runs its first tasks; as each ends it looks for the next, setting aside r2's on the way
      yield* inStore(awaitState(id, (s) => s === "running"))
      for (let i = 0; i < 25; i++) yield* TestClock.adjust("10 millis").pipe(Effect.andThen(Effect.yieldNow))
      // r2 goes while r1 is busy with its own share: r1 is alone from then on
      yield* memory.store.revokeLease(lease)
      const driver = yield* Effect.forkChild(
        Effect.forever(TestClock.adjust("10 millis").pipe(Effect.andThen(Effect.yieldNow)))
      )
      const ended = yield* inStore(awaitState(id, terminal)).pipe(Effect.timeoutOption("30 seconds"))
      yield* Fiber.interrupt(driver)
      assert.isTrue(Option.isSome(ended), "the job ended without waiting for a resync")
      assert.strictEqual((yield* inStore(show(id))).state.outcome, "succeeded")
    })
  )

  it.effect("a crashed runner's task is taken over within one lease TTL, continuing the attempt count", () =>
    Effect.gen(function* () {
      const { probe, start, inStore } = yield* setup
      const a = yield* start("a")
      const id = yield* inStore(
        submit({ id: "takeover", tasks: [{ id: "slow", type: "probe/work", input: { gate: "g" } }] })
      )
      const claimed = yield* inStore(awaitTask(id, "slow", (s) => s.status === "running"))
      assert.strictEqual(claimed.runner, "a")
      yield* a.crash
      // (a dead process: its store calls fail; its fiber is left to notice the lease loss)
      yield* Effect.forkChild(Fiber.interrupt(a.fiber))
      yield* start("b")
      // before the TTL the claim is still held by the dead runner
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* inStore(awaitTask(id, "slow", () => true))).runner, "a")
      yield* TestClock.adjust("1500 millis")
      const taken = yield* inStore(awaitTask(id, "slow", (s) => s.runner === "b"))
      assert.strictEqual(taken.attempt, 2)
      yield* probe.open("g")
      yield* inStore(awaitState(id, terminal))
      const view = yield* inStore(show(id))
      assert.strictEqual(view.state.outcome, "succeeded")
      assert.strictEqual(view.tasks[0]?.result?.attempt, 2)
      assert.deepStrictEqual(probe.overlaps, [])
    })
  )

  it.effect("graceful shutdown hands tasks over at once (no TTL wait)", () =>
    Effect.gen(function* () {
      const { probe, start, inStore } = yield* setup
      const a = yield* start("a")
      const id = yield* inStore(
        submit({ id: "handover", tasks: [{ id: "slow", type: "probe/work", input: { gate: "h", ms: 0 } }] })
      )
      yield* inStore(awaitTask(id, "slow", (s) => s.status === "running"))
      yield* start("b")
      const stopping = yield* Effect.forkChild(Fiber.interrupt(a.fiber))
      // the grace period passes, the task is interrupted and the lease revoked
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(stopping)
      assert.deepStrictEqual(probe.interrupted, [`${id}/run/slow`])
      const taken = yield* inStore(awaitTask(id, "slow", (s) => s.runner === "b"))
      assert.strictEqual(taken.attempt, 2)
      yield* probe.open("h")
      yield* inStore(awaitState(id, terminal))
    })
  )

  it.effect("a task that finishes within the shutdown grace period keeps its result", () =>
    Effect.gen(function* () {
      const { probe, start, inStore } = yield* setup
      const a = yield* start("a")
      const id = yield* inStore(
        submit({ id: "graceful", tasks: [{ id: "slow", type: "probe/work", input: { gate: "g" } }] })
      )
      yield* inStore(awaitTask(id, "slow", (s) => s.status === "running"))
      const stopping = yield* Effect.forkChild(Fiber.interrupt(a.fiber))
      yield* TestClock.adjust("1 second")
      // still within the grace period: the task may finish and its result is written
      yield* probe.open("g")
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(stopping)
      assert.deepStrictEqual(probe.interrupted, [])
      const view = yield* inStore(show(id))
      const slow = view.tasks.find((t) => t.spec.id === "slow")
      assert.strictEqual(slow?.result?.result, "success")
      assert.strictEqual(slow?.result?.attempt, 1)
    })
  )

  it.effect("a runner that loses its lease interrupts its tasks and a successor's result stands", () =>
    Effect.gen(function* () {
      const { memory, probe, start, inStore } = yield* setup
      yield* start("a")
      const id = yield* inStore(
        submit({ id: "lost", tasks: [{ id: "slow", type: "probe/work", input: { gate: "l" } }] })
      )
      yield* inStore(awaitTask(id, "slow", (s) => s.status === "running"))
      const claim = yield* inStore(Store.getValue(keys.task(id, "run", "slow", "claim")))
      assert.deepStrictEqual(claim, Option.some("a"))
      const kv = Option.getOrThrow(yield* memory.store.get(keys.task(id, "run", "slow", "claim")))
      yield* memory.control.expireLease(kv.lease!)
      yield* TestClock.adjust("1 second")
      assert.deepStrictEqual(probe.interrupted, [`${id}/run/slow`])
      // a new session of the same runner claims it again, as attempt 2
      const again = yield* inStore(awaitTask(id, "slow", (s) => s.status === "running" && s.attempt === 2))
      assert.strictEqual(again.runner, "a")
      yield* probe.open("l")
      yield* inStore(awaitState(id, terminal))
      assert.strictEqual((yield* inStore(show(id))).state.outcome, "succeeded")
    })
  )

  it.effect("shared resources are created once, adopted by other jobs and deleted by the last holder", () =>
    Effect.gen(function* () {
      const { probe, start, inStore } = yield* setup
      yield* start("r1")
      yield* start("r2")
      const job = (id: string) => ({
        id,
        tasks: [
          { id: "net", type: "probe/work", shared: "cluster/network/src-1", input: { create: "net" } },
          { id: "vm", type: "probe/work", dependencies: ["net"], input: {} }
        ],
        clearTasks: [
          { id: "vm-del", type: "probe/work", undoes: "vm", input: {} },
          {
            id: "net-del",
            type: "probe/work",
            undoes: "net",
            shared: "cluster/network/src-1",
            dependencies: ["vm-del"],
            input: { remove: "net" }
          }
        ]
      })
      const j1 = yield* inStore(submit(job("j1")))
      yield* inStore(awaitState(j1, terminal))
      const j2 = yield* inStore(submit(job("j2")))
      yield* inStore(awaitState(j2, terminal))
      assert.strictEqual(probe.created.get("net"), 1, "the second job adopts, no second creation")
      const adopted = (yield* inStore(show(j2))).tasks.find((t) => t.spec.id === "net")
      assert.strictEqual(adopted?.result?.result, "success")
      const record = () => inStore(Store.getValue(keys.shared("cluster/network/src-1")))
      assert.deepStrictEqual(JSON.parse(Option.getOrThrow(yield* record())).holders, ["j1", "j2"])

      yield* inStore(Jobs.request(keys, j1, "rollback"))
      yield* inStore(awaitState(j1, (s) => s === "cleared" || s === "clear-failed"))
      const skipped = (yield* inStore(show(j1))).tasks.find((t) => t.spec.id === "net-del")
      assert.strictEqual(skipped?.result?.result, "skipped")
      assert.include(skipped?.result?.reason?.message ?? "", "j2")
      assert.deepStrictEqual(probe.deleted, [])
      assert.deepStrictEqual(JSON.parse(Option.getOrThrow(yield* record())).holders, ["j2"])

      yield* inStore(Jobs.request(keys, j2, "rollback"))
      yield* inStore(awaitState(j2, (s) => s === "cleared" || s === "clear-failed"))
      assert.strictEqual((yield* inStore(show(j2))).state.state, "cleared")
      assert.deepStrictEqual(probe.deleted, ["net"])
      assert.isTrue(Option.isNone(yield* record()))
    })
  )

  it.effect("pause stops new claims; resume continues", () =>
    Effect.gen(function* () {
      const { probe, start, inStore } = yield* setup
      yield* start("r1")
      const id = yield* inStore(
        submit({
          id: "p",
          tasks: [
            { id: "first", type: "probe/work", input: { gate: "p1" } },
            { id: "second", type: "probe/work", dependencies: ["first"], input: {} }
          ]
        })
      )
      yield* inStore(awaitTask(id, "first", (s) => s.status === "running"))
      yield* inStore(Jobs.request(keys, id, "pause"))
      yield* inStore(awaitState(id, (s) => s === "paused"))
      yield* probe.open("p1")
      yield* inStore(awaitResult(id, "first"))
      yield* TestClock.adjust("5 seconds")
      assert.isFalse(probe.starts.has(`${id}/run/second`), "nothing new starts while paused")
      yield* inStore(Jobs.request(keys, id, "resume"))
      yield* inStore(awaitState(id, terminal))
      assert.strictEqual((yield* inStore(show(id))).state.outcome, "succeeded")
    })
  )

  it.effect("retry-failed resets failed and ignored tasks and the job can still succeed", () =>
    Effect.gen(function* () {
      const { start, inStore } = yield* setup
      yield* start("r1")
      const id = yield* inStore(
        submit({
          id: "again",
          tasks: [
            { id: "flaky", type: "probe/work", input: { failTimes: 2 }, retry: { maxAttempts: 1 } },
            { id: "after", type: "probe/work", dependencies: ["flaky"], input: {} }
          ]
        })
      )
      yield* inStore(awaitState(id, terminal))
      assert.strictEqual((yield* inStore(show(id))).state.outcome, "failed")
      yield* inStore(Jobs.request(keys, id, "retry"))
      yield* inStore(awaitState(id, (s) => s === "running"))
      yield* inStore(awaitState(id, terminal))
      assert.strictEqual((yield* inStore(show(id))).state.outcome, "failed")
      yield* inStore(Jobs.request(keys, id, "retry"))
      yield* inStore(awaitState(id, (s) => s === "running"))
      yield* inStore(awaitState(id, terminal))
      const view = yield* inStore(show(id))
      assert.strictEqual(view.state.outcome, "succeeded")
    })
  )
})
