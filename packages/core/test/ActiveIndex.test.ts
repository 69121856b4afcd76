/**
 * The active-jobs index (`active/<job>`): written with every state that needs
 * a runner, removed with the one that makes a job dormant; what the Monitor
 * lists and resyncs from; built once for a store written before it existed.
 * Memory store, test clock.
 */
import { assert, describe, it } from "@effect/vitest"
import { Job, Jobs, LayoutVersion, Monitor, Store } from "@migrator/core"
import { Effect, Layer, Option } from "effect"
import { TestClock } from "effect/testing"
import * as ActiveIndex from "../src/internal/activeIndex.ts"
import { awaitState, handlers, keys, runner, submit, terminal } from "./utils/engine.ts"

const env = handlers.pipe(Layer.provideMerge(Store.layerMemory))

const activeIds = Effect.gen(function* () {
  const store = yield* Store.Store
  return (yield* store.range(keys.active)).kvs.map((kv) => kv.key.slice(keys.active.length))
})

const echo = (id: string) => ({ id, type: "test/echo", input: 1 })

describe("the active index as jobs move", () => {
  it.effect("a submitted job is active; one that completes is not", () =>
    Effect.gen(function* () {
      yield* submit({ id: "j1", tasks: [echo("a")] })
      assert.deepStrictEqual(yield* activeIds, ["j1"])
      yield* runner("r1")
      yield* awaitState("j1", terminal)
      assert.deepStrictEqual(yield* activeIds, [])
    }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.effect("a canceled job leaves the index; a rollback of it brings it back until it is cleared", () =>
    Effect.gen(function* () {
      yield* submit({ id: "c1", tasks: [echo("a")], clearTasks: [{ ...echo("a-del"), undoes: "a" }] })
      yield* Jobs.request(keys, "c1", "cancel")
      assert.deepStrictEqual(yield* activeIds, ["c1"], "canceling: a runner still has to settle its tasks")
      yield* runner("r1")
      yield* awaitState("c1", (s) => s === "canceled")
      assert.deepStrictEqual(yield* activeIds, [])
      yield* Jobs.request(keys, "c1", "rollback")
      assert.deepStrictEqual(yield* activeIds, ["c1"])
      yield* awaitState("c1", (s) => s === "cleared")
      assert.deepStrictEqual(yield* activeIds, [])
    }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.effect("a completed drill stays active until its auto-rollback has run", () =>
    Effect.gen(function* () {
      yield* runner("r1")
      yield* submit({
        id: "drill",
        autoRollbackAfterMs: 60_000,
        tasks: [echo("a")],
        clearTasks: [{ ...echo("a-del"), undoes: "a" }]
      })
      yield* awaitState("drill", terminal)
      assert.deepStrictEqual(yield* activeIds, ["drill"])
      yield* TestClock.adjust("61 seconds")
      yield* awaitState("drill", (s) => s === "cleared")
      assert.deepStrictEqual(yield* activeIds, [])
    }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.effect("a retry of a finished job makes it active again", () =>
    Effect.gen(function* () {
      yield* runner("r1")
      yield* submit({
        id: "r",
        tasks: [{ id: "bad", type: "test/fail", input: { message: "no", retryable: false } }]
      })
      yield* awaitState("r", terminal)
      assert.deepStrictEqual(yield* activeIds, [])
      yield* Jobs.request(keys, "r", "retry")
      assert.deepStrictEqual(yield* activeIds, ["r"])
      // the runner resets the failed task, runs it again (it fails again) and the job finishes
      yield* awaitState("r", (s) => s === "running")
      yield* awaitState("r", terminal)
      assert.deepStrictEqual(yield* activeIds, [])
    }).pipe(Effect.scoped, Effect.provide(env))
  )

  it("dormant: finished with nothing pending, and no drill's rollback to come", () => {
    const state = (s: Job.State, extra: Partial<Job.JobState> = {}) =>
      new Job.JobState({ state: s, updatedAt: 0, ...extra })
    const drill = { autoRollbackAfterMs: 1 }
    assert.isTrue(ActiveIndex.dormant(state("completed"), {}))
    assert.isFalse(ActiveIndex.dormant(state("completed"), drill))
    assert.isTrue(ActiveIndex.dormant(state("cleared"), drill))
    assert.isTrue(ActiveIndex.dormant(state("canceled"), undefined))
    assert.isTrue(ActiveIndex.dormant(state("clear-failed"), undefined))
    for (const s of ["pending", "running", "paused", "canceling", "clearing"] as const) {
      assert.isFalse(ActiveIndex.dormant(state(s), undefined), s)
    }
    const retry = new Job.RequestedOperation({ operation: "retry", requestedAt: 0 })
    assert.isFalse(ActiveIndex.dormant(state("completed", { pending: retry }), {}))
  })
})

/** A store that records the prefix of every range it is asked for. */
const counted = Effect.gen(function* () {
  const memory = yield* Store.makeMemory
  const ranges: Array<string> = []
  const store: Store.Store["Service"] = {
    ...memory.store,
    range: (prefix, opts) =>
      Effect.suspend(() => {
        ranges.push(prefix)
        return memory.store.range(prefix, opts)
      })
  }
  return { ranges, store }
})

const options = { runnerId: "r1", prefix: keys.prefix, resyncInterval: "10 seconds" } as const

/** Waits until the monitor's view satisfies `ok`. */
const until = (monitor: Monitor.Monitor["Service"], ok: () => boolean) =>
  Effect.gen(function* () {
    for (;;) {
      // a load fires `wake`, a watched change `changed`
      const changed = yield* monitor.changed.next
      const wake = yield* monitor.wake.next
      if (ok()) return
      yield* Effect.raceFirst(changed, wake)
    }
  })

/** Writes a job's state as a runner of the given layout would: with its index entry, and its active entry if `indexed`. */
const setState = (id: string, state: Job.JobState, indexed: boolean, spec?: { autoRollbackAfterMs?: number }) =>
  Effect.gen(function* () {
    const store = yield* Store.Store
    const value = Jobs.encodeState(state)
    yield* store.txn({
      compare: [],
      success: [
        { _tag: "put", key: keys.jobState(id), value },
        { _tag: "put", key: keys.indexEntry(id), value },
        ...(indexed ? [ActiveIndex.op(keys, id, state, spec)] : [])
      ]
    })
  })

const finished = (s: "completed" | "canceled") =>
  new Job.JobState({ state: s, updatedAt: 0, ...(s === "completed" ? { completedAt: 0, outcome: "succeeded" } : {}) })

describe("the Monitor reads the active index", () => {
  it.effect(
    "lists and resyncs only active jobs; a job made dormant leaves the view; a user's rollback brings it back",
    () =>
      Effect.gen(function* () {
        const { ranges, store } = yield* counted
        yield* Effect.gen(function* () {
          yield* Store.put(keys.layout, LayoutVersion.CURRENT) // a store of this layout
          for (let i = 0; i < 5; i++) {
            yield* submit({ id: `old${i}`, tasks: [echo("a")] })
            yield* setState(`old${i}`, finished(i % 2 === 0 ? "completed" : "canceled"), true)
          }
          yield* submit({ id: "live", tasks: [echo("a")] })
          const monitor = yield* Monitor.make(options)
          yield* until(monitor, () => monitor.view.jobs.has("live"))
          yield* TestClock.adjust("10 seconds") // a resync
          yield* submit({ id: "later", tasks: [echo("a")] })
          yield* until(monitor, () => monitor.view.jobs.get("later")?.spec !== undefined)
          assert.deepStrictEqual([...monitor.view.jobs.keys()].sort(), ["later", "live"])
          // neither the index nor any key of a finished job was read, at the first load or the resync
          assert.isFalse(ranges.includes(keys.index))
          assert.isFalse(ranges.some((p) => p.startsWith(keys.job("old"))))
          assert.strictEqual(ranges.filter((p) => p === keys.active).length, 2)

          // finished as the engine writes it: the job leaves the view with that transaction
          yield* setState("live", finished("canceled"), true)
          yield* until(monitor, () => !monitor.view.jobs.has("live"))
          // a user's operation on a finished job brings it back, read in full
          yield* Jobs.request(keys, "old1", "rollback")
          yield* until(monitor, () => monitor.view.jobs.get("old1")?.tasks.run.get("a")?.spec !== undefined)
          assert.strictEqual(monitor.view.jobs.get("old1")?.state?.value.state, "clearing")
        }).pipe(Effect.scoped, Effect.provideService(Store.Store, store))
      })
  )

  it.effect("removes the entry of a dormant job an older runner finished without removing it", () =>
    Effect.gen(function* () {
      yield* submit({ id: "stale", tasks: [echo("a")] })
      yield* setState("stale", finished("canceled"), false) // the old runner did not touch active/
      assert.deepStrictEqual(yield* activeIds, ["stale"])
      const monitor = yield* Monitor.make(options)
      yield* until(monitor, () => true)
      yield* TestClock.adjust("10 seconds")
      assert.deepStrictEqual(yield* activeIds, [])
      yield* until(monitor, () => !monitor.view.jobs.has("stale"))
    }).pipe(Effect.scoped, Effect.provide(Store.layerMemory))
  )

  it.effect("removes the entry of a job that no longer exists", () =>
    Effect.gen(function* () {
      yield* Store.put(keys.activeEntry("ghost"), ActiveIndex.ENTRY)
      const monitor = yield* Monitor.make(options)
      yield* until(monitor, () => true)
      yield* TestClock.adjust("10 seconds")
      assert.deepStrictEqual(yield* activeIds, [])
      assert.isFalse(monitor.view.jobs.has("ghost"))
    }).pipe(Effect.scoped, Effect.provide(Store.layerMemory))
  )
})

describe("upgrading a store written before the active index", () => {
  /** Jobs as an older runner left them: index entries, no `active/`, no layout marker. */
  const oldStore = Effect.gen(function* () {
    const store = yield* Store.Store
    yield* submit({ id: "pending", tasks: [echo("a")] })
    yield* submit({ id: "done", tasks: [echo("a")] })
    yield* setState("done", finished("completed"), false)
    yield* submit({ id: "gone", tasks: [echo("a")] })
    yield* setState("gone", finished("canceled"), false)
    yield* submit({ id: "drill", autoRollbackAfterMs: 60_000, tasks: [echo("a")] })
    yield* setState("drill", finished("completed"), false)
    yield* submit({ id: "retrying", tasks: [echo("a")] })
    yield* setState(
      "retrying",
      new Job.JobState({
        ...finished("completed"),
        state: "running",
        pending: new Job.RequestedOperation({ operation: "retry", requestedAt: 0 })
      }),
      false
    )
    // what the older layout looks like: no active index, no marker
    yield* store.txn({ compare: [], success: [{ _tag: "deletePrefix", prefix: keys.active }] })
  })

  it.effect("builds active/ for the jobs that need a runner, then writes the marker; a runner finds them", () =>
    Effect.gen(function* () {
      yield* oldStore
      const store = yield* Store.Store
      assert.isTrue(Option.isNone(yield* store.get(keys.layout)))
      const monitor = yield* Monitor.make(options)
      yield* until(monitor, () => monitor.view.jobs.has("pending"))
      assert.deepStrictEqual((yield* activeIds).sort(), ["drill", "pending", "retrying"])
      assert.strictEqual(Option.getOrThrow(yield* store.get(keys.layout)).value, LayoutVersion.CURRENT)
      assert.deepStrictEqual([...monitor.view.jobs.keys()].sort(), ["drill", "pending", "retrying"])
      // once marked, the index is never scanned again
      assert.isFalse(yield* ActiveIndex.upgrade(store, keys))
    }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.effect("two runners upgrading at once: the same entries, one marker", () =>
    Effect.gen(function* () {
      yield* oldStore
      const store = yield* Store.Store
      const [a, b] = yield* Effect.all([ActiveIndex.upgrade(store, keys), ActiveIndex.upgrade(store, keys)], {
        concurrency: 2
      })
      assert.deepStrictEqual([a, b].filter(Boolean).length, 1)
      assert.deepStrictEqual((yield* activeIds).sort(), ["drill", "pending", "retrying"])
      const marker = Option.getOrThrow(yield* store.get(keys.layout))
      assert.strictEqual(marker.version, 1, "created once, never overwritten")
    }).pipe(Effect.provide(env))
  )

  it.effect("a job whose state changes during the upgrade keeps what its newer writer decided", () =>
    Effect.gen(function* () {
      yield* oldStore
      const store = yield* Store.Store
      // a new-layout writer finishes "pending" between the upgrade's read of the index and its write
      const raced: Store.Store["Service"] = {
        ...store,
        range: (prefix, opts) =>
          store
            .range(prefix, opts)
            .pipe(
              Effect.tap(() =>
                prefix === keys.index
                  ? setState("pending", finished("canceled"), true).pipe(Effect.provideService(Store.Store, store))
                  : Effect.void
              )
            )
      }
      yield* ActiveIndex.upgrade(raced, keys)
      assert.deepStrictEqual((yield* activeIds).sort(), ["drill", "retrying"])
    }).pipe(Effect.provide(env))
  )
})
