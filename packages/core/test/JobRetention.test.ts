/**
 * The retention of finished jobs on the memory store with TestClock: jobs are
 * archived after the retention and not before, holders of shared resources
 * are kept, stale expiry entries are dropped, runners racing archive each
 * job once, and a sweep with nothing due costs one small range request.
 */
import { assert, describe, it } from "@effect/vitest"
import { JobArchive, JobRetention, Jobs, Store } from "@migrator/core"
import { Deferred, Effect, Exit, Fiber, Option } from "effect"
import { TestClock } from "effect/testing"
import { awaitState, keys, runner, submit, terminal } from "./utils/engine.ts"
import { allKeys, echo, finish, inEnv } from "./utils/retention.ts"

const DAY = 24 * 3_600_000
const options = { prefix: keys.prefix, retention: "30 days" } as const
const sweep = (extra: Partial<JobRetention.Options> = {}) => JobRetention.sweep({ ...options, ...extra })
const exists = (id: string) => Effect.map(Store.getValue(keys.jobState(id)), Option.isSome)
const expiryEntries = Effect.map(allKeys, (all) => all.filter((k) => k.startsWith(keys.expiry)))

describe("job retention", () => {
  it.effect("archives a finished job once the retention has passed, not before", () =>
    Effect.gen(function* () {
      const id = yield* finish({ id: "old", labels: { env: "dr" }, tasks: [echo("a"), echo("b")] })
      yield* TestClock.adjust(DAY)
      const newer = yield* finish({ id: "newer", tasks: [echo("a")] })
      assert.deepStrictEqual((yield* sweep()).archived, [])
      yield* TestClock.adjust(29 * DAY - 1)
      assert.deepStrictEqual((yield* sweep()).archived, [], "one millisecond early")
      assert.isTrue(yield* exists(id))
      yield* TestClock.adjust(1)
      assert.deepStrictEqual((yield* sweep()).archived, [id])
      assert.isFalse(yield* exists(id))
      assert.isTrue(yield* exists(newer))
      assert.isFalse((yield* allKeys).some((k) => k.startsWith(keys.job(id)) || k === keys.indexEntry(id)))
      const archived = Option.getOrThrow(yield* JobArchive.read(keys, id))
      assert.strictEqual(archived.removedBy, "retention")
      assert.strictEqual(archived.finishedAt, 0)
      assert.strictEqual(archived.removedAt, 30 * DAY)
      assert.deepStrictEqual(archived.results.run, { success: 2 })
      assert.deepStrictEqual(archived.labels, { env: "dr" })
      yield* TestClock.adjust(DAY)
      assert.deepStrictEqual((yield* sweep()).archived, [newer])
      assert.deepStrictEqual(yield* expiryEntries, [])
    }).pipe(inEnv)
  )

  it.effect("keeps a job holding shared resources, and says so once", () =>
    Effect.gen(function* () {
      const holder = yield* finish({ id: "holder", tasks: [echo("net", { shared: "c1/net/x" })] })
      const plain = yield* finish({ id: "plain", tasks: [echo("a")] })
      yield* TestClock.adjust(31 * DAY)
      const first = yield* sweep()
      assert.deepStrictEqual(first.archived, [plain])
      assert.deepStrictEqual(first.kept, [{ job: holder, shared: ["c1/net/x"] }])
      assert.isTrue(yield* exists(holder))
      const second = yield* sweep()
      assert.deepStrictEqual(second.kept, [], "its expiry entry went: it is not looked at (or logged) again")
      assert.deepStrictEqual(second.archived, [])
      assert.isTrue(yield* exists(holder))
    }).pipe(inEnv)
  )

  it.effect("an entry older than the job's last finish is dropped; the job is archived by its newer one", () =>
    Effect.gen(function* () {
      const id = yield* finish({ id: "twice", tasks: [echo("a")] })
      yield* TestClock.adjust(10 * DAY)
      // a user rolls the completed job back ten days later: it finishes again (cleared)
      yield* Jobs.request(keys, id, "rollback")
      yield* Effect.scoped(
        Effect.andThen(
          runner("r1"),
          awaitState(id, (s) => s === "cleared")
        )
      )
      assert.strictEqual((yield* expiryEntries).length, 2)
      yield* TestClock.adjust(21 * DAY)
      const early = yield* sweep()
      assert.deepStrictEqual(early.archived, [])
      assert.strictEqual(early.dropped, 1)
      assert.isTrue(yield* exists(id))
      yield* TestClock.adjust(10 * DAY)
      assert.deepStrictEqual((yield* sweep()).archived, [id])
      assert.strictEqual(Option.getOrThrow(yield* JobArchive.read(keys, id)).state, "cleared")
    }).pipe(inEnv)
  )

  it.effect("two runners sweeping at once archive every job exactly once", () => {
    // both runners read the first job before either deletes it: the second's compare fails
    let waiting = 0
    let deletes = 0
    const bothRead = Deferred.makeUnsafe<void>()
    const racing = (store: Store.Service): Store.Service => ({
      ...store,
      txn: (request) =>
        Effect.gen(function* () {
          if (!request.success.some((op) => op._tag === "deletePrefix")) return yield* store.txn(request)
          if (++waiting === 2) Deferred.doneUnsafe(bothRead, Exit.void)
          yield* Deferred.await(bothRead)
          const r = yield* store.txn(request)
          if (r.succeeded) deletes++
          return r
        })
    })
    return Effect.gen(function* () {
      const ids: Array<string> = []
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* runner("r1")
          for (let i = 0; i < 12; i++) ids.push(yield* submit({ id: `j${i}`, tasks: [echo("a")] }))
          for (const id of ids) yield* awaitState(id, terminal)
        })
      )
      yield* TestClock.adjust(31 * DAY)
      const [a, b] = yield* Effect.all(
        [sweep({ runnerId: "r1", pageSize: 5 }), sweep({ runnerId: "r2", pageSize: 5 })],
        { concurrency: 2 }
      )
      assert.isAtLeast(waiting, 2, "the two sweeps raced for a job")
      assert.deepStrictEqual([...a.archived, ...b.archived].sort(), [...ids].sort(), "each once, none twice")
      assert.strictEqual(deletes, 12)
      assert.strictEqual((yield* JobArchive.list(keys)).length, 12)
      assert.deepStrictEqual(yield* Jobs.list(keys), [])
      assert.deepStrictEqual(yield* expiryEntries, [])
    }).pipe((e) => inEnv(e, racing))
  })

  it.effect("with 10,000 finished jobs none due, a sweep is one range request of one key", () => {
    const ranges: Array<{ prefix: string; keys: number }> = []
    const counting = (store: Store.Service): Store.Service => ({
      ...store,
      range: (prefix, rangeOptions) =>
        Effect.map(store.range(prefix, rangeOptions), (r) => {
          ranges.push({ prefix, keys: r.kvs.length })
          return r
        })
    })
    return Effect.gen(function* () {
      const store = yield* Store.Store
      for (let i = 0; i < 10_000; i += 100) {
        const ops: Array<Store.Op> = []
        for (let j = i; j < i + 100; j++) ops.push({ _tag: "put", key: keys.expiryEntry(`j${j}`, j), value: `j${j}` })
        yield* store.txn({ compare: [], success: ops })
      }
      ranges.length = 0
      const r = yield* sweep()
      assert.deepStrictEqual(r, { archived: [], kept: [], dropped: 0 })
      assert.deepStrictEqual(ranges, [{ prefix: keys.expiry, keys: 1 }])
    }).pipe((e) => inEnv(e, counting))
  })

  it.effect("run sweeps every interval, and a job finished later is archived in its turn", () =>
    Effect.gen(function* () {
      const fiber = yield* Effect.forkChild(JobRetention.run({ ...options, interval: "1 hour" }))
      const id = yield* finish({ id: "a", tasks: [echo("a")] })
      yield* TestClock.adjust(30 * DAY - 3_600_000)
      assert.isTrue(yield* exists(id))
      yield* TestClock.adjust(3_600_000)
      assert.isFalse(yield* exists(id))
      yield* Fiber.interrupt(fiber)
    }).pipe(inEnv)
  )

  it.effect("jobs that finished before expiry entries existed get theirs once per store, then expire", () =>
    Effect.gen(function* () {
      const old = yield* finish({ id: "old", tasks: [echo("a")] })
      const running = yield* submit({ id: "waiting", tasks: [echo("a")] })
      // as a store written by an older version: no expiry entry
      const store = yield* Store.Store
      yield* store.txn({ compare: [], success: [{ _tag: "deletePrefix", prefix: keys.expiry }] })
      yield* TestClock.adjust(31 * DAY)
      assert.deepStrictEqual((yield* sweep()).archived, [])
      assert.strictEqual(yield* JobRetention.backfill(options), 1)
      assert.deepStrictEqual(yield* expiryEntries, [keys.expiryEntry(old, 0)])
      assert.strictEqual(yield* JobRetention.backfill(options), 0, "once: the marker is there")
      assert.deepStrictEqual((yield* sweep()).archived, [old])
      assert.isTrue(yield* exists(running))
    }).pipe(inEnv)
  )
})
