import { assert, describe, it } from "@effect/vitest"
import { Codec, JobBuilder, Jobs, Keys, Reason, Store, Task, TaskPages, TaskTally } from "@migrator/core"
import { Effect } from "effect"

const keys = Keys.make("pages/")
// more tasks than one scan chunk holds keys (4,000), so the scan crosses chunk boundaries
const RUN = 1100
const id = (i: number) => `t${String(i).padStart(4, "0")}`
const failed = new Set([3, 905, 999, 1000, 1099])
const canceled = new Set([500])
const running = new Set([903, 1001])

const result = (r: Task.Result, i: number) =>
  Codec.encode(Task.TaskResult)(
    new Task.TaskResult({
      result: r,
      ...(r === "failed" ? { reason: Reason.make("handler.failed", `boom ${i}`) } : { output: { i } }),
      attempt: 1,
      finishedAt: 1
    })
  )
const status = (s: Task.Status) =>
  Codec.encode(Task.TaskStatus)(new Task.TaskStatus({ status: s, attempt: 1, runner: "r1", updatedAt: 1 }))

/** A job of RUN run tasks and 3 clear tasks: the first 900 done (some failed or canceled), more failed, two running. */
const setup = Effect.gen(function* () {
  const built = yield* JobBuilder.build({
    id: "big",
    tasks: Array.from({ length: RUN }, (_, i) => ({ id: id(i), type: "test/echo", input: { i } })),
    clearTasks: [0, 1, 2].map((i) => ({ id: `u${i}`, type: "test/echo", undoes: id(i) }))
  })
  yield* Jobs.submit(keys, built)
  const store = yield* Store.Store
  const put = (key: string, value: string) => store.txn({ compare: [], success: [{ _tag: "put", key, value }] })
  for (let i = 0; i < RUN; i++) {
    const r: Task.Result | undefined = failed.has(i)
      ? "failed"
      : canceled.has(i)
        ? "canceled"
        : i < 900
          ? "success"
          : undefined
    if (r !== undefined) {
      yield* put(keys.task("big", "run", id(i), "status"), status("done"))
      yield* put(keys.task("big", "run", id(i), "result"), result(r, i))
    } else if (running.has(i)) {
      yield* put(keys.task("big", "run", id(i), "status"), status("running"))
      yield* put(keys.task("big", "run", id(i), "claim"), "r1")
    }
  }
})

const cursors = (page: TaskPages.Page) => page.tasks.map((t) => `${t.spec.phase}/${t.spec.id}`)

/** Every page from the start, following `next`. */
const walk = (limit: number, filter?: TaskPages.Filter) =>
  Effect.gen(function* () {
    const seen: Array<string> = []
    let after: string | undefined
    let pages = 0
    for (;;) {
      const page = yield* TaskPages.page(keys, "big", { after, limit, filter })
      assert.isAtMost(page.tasks.length, limit)
      seen.push(...cursors(page))
      pages++
      if (page.next === undefined) return { seen, pages }
      assert.strictEqual(page.next, seen[seen.length - 1])
      after = page.next
    }
  })

describe("TaskPages", () => {
  it.effect("pages walk every task once, run phase then clear, in key order", () =>
    Effect.gen(function* () {
      yield* setup
      const { seen, pages } = yield* walk(250)
      const expected = [
        ...Array.from({ length: RUN }, (_, i) => `run/${id(i)}`),
        ...["clear/u0", "clear/u1", "clear/u2"]
      ]
      assert.deepStrictEqual(seen, expected)
      assert.strictEqual(pages, Math.ceil(expected.length / 250))
    }).pipe(Effect.provide(Store.layerMemory))
  )

  it.effect("a page carries each task's status, result and claim; after and limit select it", () =>
    Effect.gen(function* () {
      yield* setup
      const page = yield* TaskPages.page(keys, "big", { after: `run/${id(901)}`, limit: 6 })
      assert.deepStrictEqual(
        cursors(page),
        [902, 903, 904, 905, 906, 907].map((i) => `run/${id(i)}`)
      )
      assert.strictEqual(page.next, `run/${id(907)}`)
      const [t902, t903, , t905] = page.tasks
      assert.isUndefined(t902!.result)
      assert.strictEqual(t903!.status?.status, "running")
      assert.strictEqual(t903!.claim, "r1")
      assert.strictEqual(t905!.result?.result, "failed")
      assert.strictEqual(t905!.result?.reason?.message, "boom 905")
      // a bare task id is a run task; the clear phase follows the last run task
      const bare = yield* TaskPages.page(keys, "big", { after: id(RUN - 1), limit: 10 })
      assert.deepStrictEqual(cursors(bare), ["clear/u0", "clear/u1", "clear/u2"])
      assert.isUndefined(bare.next)
    }).pipe(Effect.provide(Store.layerMemory))
  )

  it.effect("filters: failed, problems (failed, ignored, canceled), running, waiting", () =>
    Effect.gen(function* () {
      yield* setup
      assert.deepStrictEqual(
        (yield* walk(2, "failed")).seen,
        [...failed].map((i) => `run/${id(i)}`)
      )
      assert.deepStrictEqual(
        (yield* walk(10, "problems")).seen,
        [3, 500, 905, 999, 1000, 1099].map((i) => `run/${id(i)}`)
      )
      assert.deepStrictEqual(
        (yield* walk(10, "running")).seen,
        [903, 1001].map((i) => `run/${id(i)}`)
      )
      // not done and not running: 900..1099 less the failed and running ones, and the clear tasks
      assert.strictEqual((yield* walk(64, "waiting")).seen.length, 200 - 4 - 2 + 3)
    }).pipe(Effect.provide(Store.layerMemory))
  )

  it.effect("summary: counts per phase and state, the first problems and the first tasks", () =>
    Effect.gen(function* () {
      yield* setup
      const s = yield* TaskPages.summary(keys, "big", 3)
      assert.deepStrictEqual(s.counts.run, {
        total: RUN,
        waiting: 200 - 4 - 2,
        running: 2,
        success: 900 - 2,
        failed: 5,
        ignored: 0,
        canceled: 1,
        skipped: 0
      })
      assert.deepStrictEqual(s.counts.clear, { ...TaskPages.emptyCounts(), total: 3, waiting: 3 })
      assert.deepStrictEqual(
        cursors(s.problems),
        [3, 500, 905].map((i) => `run/${id(i)}`)
      )
      assert.strictEqual(s.problems.next, `run/${id(905)}`)
      assert.deepStrictEqual(
        cursors(s.first),
        [0, 1, 2].map((i) => `run/${id(i)}`)
      )
      assert.strictEqual(s.state.state, "pending")
    }).pipe(Effect.provide(Store.layerMemory))
  )

  it.effect("a tally starts from the scan's counts and moves one task per status or result change", () =>
    Effect.gen(function* () {
      yield* setup
      const store = yield* Store.Store
      const tally = yield* TaskTally.tally(keys, "big")
      assert.deepStrictEqual(tally.counts, yield* TaskPages.counts(keys, "big"))
      const key = (i: number, record: "status" | "result") => keys.task("big", "run", id(i), record)
      let revision = 1000
      /** Writes the change to the store and hands the tally the watch event it makes. */
      const change = (k: string, value: string | undefined) =>
        Effect.gen(function* () {
          yield* store.txn({
            compare: [],
            success: [value === undefined ? { _tag: "delete", key: k } : { _tag: "put", key: k, value }]
          })
          revision++
          return tally.apply(
            value === undefined
              ? { _tag: "delete", key: k, revision }
              : {
                  _tag: "put",
                  kv: { key: k, value, createRevision: revision, modRevision: revision, version: 1, lease: undefined },
                  revision
                }
          )
        })
      const waiting = tally.counts.run.waiting
      // a waiting task starts (a count moves), then is done and fails
      assert.isTrue(yield* change(key(950, "status"), status("running")))
      assert.strictEqual(tally.counts.run.running, 3)
      // the result is written with the done status: counted by its result
      yield* change(key(950, "status"), status("done"))
      assert.isTrue(yield* change(key(950, "result"), result("failed", 950)))
      assert.strictEqual(tally.counts.run.failed, 6)
      // a failed task is retried: its result deleted (waiting again, from its status), then it succeeds
      assert.isTrue(yield* change(key(3, "result"), undefined))
      assert.isTrue(yield* change(key(3, "result"), result("success", 3)))
      // a spec or another job's record counts nothing
      assert.isFalse(tally.apply({ _tag: "delete", key: keys.task("big", "run", id(4), "spec"), revision }))
      assert.isFalse(
        tally.apply({ _tag: "delete", key: keys.task("other", "run", id(4), "result"), revision: revision + 1 })
      )
      assert.strictEqual(tally.counts.run.waiting, waiting - 1)
      assert.deepStrictEqual(tally.counts, yield* TaskPages.counts(keys, "big"))
    }).pipe(Effect.provide(Store.layerMemory))
  )

  it.effect("an unknown job or a malformed cursor is a JobError naming the job", () =>
    Effect.gen(function* () {
      yield* setup
      const missing = yield* Effect.flip(TaskPages.page(keys, "nope", { limit: 5 }))
      assert.strictEqual(missing.reason, "NotFound")
      const bad = yield* Effect.flip(TaskPages.page(keys, "big", { limit: 5, after: "later/x" }))
      assert.strictEqual(bad.reason, "InvalidOperation")
      assert.include(bad.message, "later/x")
    }).pipe(Effect.provide(Store.layerMemory))
  )
})
