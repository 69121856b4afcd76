/**
 * The event log lives apart from the job's other keys, after every key runners follow, so their
 * watch ends where it begins; entries a store wrote under the job's keys before it moved are
 * still read, first.
 */
import { assert, describe, it } from "@effect/vitest"
import { Jobs, Store } from "@migrator/core"
import { Effect, Stream } from "effect"
import { keys } from "./utils/engine.ts"
import { allKeys, echo, finish, inEnv } from "./utils/retention.ts"

/** Every key the store's watches delivered, whoever watched. */
const delivered: Array<string> = []
const recording = (store: Store.Service): Store.Service => ({
  ...store,
  watch: (prefix, options) =>
    store.watch(prefix, options).pipe(
      Stream.tap((e) =>
        Effect.sync(() => {
          delivered.push(e._tag === "put" ? e.kv.key : e.key)
        })
      )
    )
})

describe("event log", () => {
  it("sorts after every other key of the prefix, and parses", () => {
    const entry = keys.event("j1", "000000000000001-r1-0")
    const others = [
      keys.jobState("j1"),
      keys.task("j1", "run", "t", "status"),
      keys.activeEntry("j1"),
      keys.runner("r"),
      keys.slot("x", 1),
      keys.shared("net"),
      keys.archiveEntry("j1"),
      keys.expiryEntry("j1", 1),
      keys.layout
    ]
    for (const other of others) assert.isTrue(other < keys.followedEnd, other)
    assert.isTrue(entry >= keys.followedEnd && entry.startsWith(keys.prefix))
    assert.deepStrictEqual(keys.parse(entry), { _tag: "event", job: "j1", id: "000000000000001-r1-0" })
    assert.deepStrictEqual(keys.parse(`${keys.legacyEvents("j1")}x`), { _tag: "event", job: "j1", id: "x" })
  })

  it.effect("a job's entries are written to the log; older ones under the job's keys come first", () =>
    Effect.gen(function* () {
      // a store written before the log moved: one entry under the job's keys
      const legacy = `${keys.legacyEvents("done1")}000000000000001-client-0`
      yield* Store.put(legacy, JSON.stringify({ at: 1, type: "job.note", message: "from before the move" }))
      const id = yield* finish({ id: "done1", tasks: [echo("a"), echo("b")] })
      const all = yield* allKeys
      const written = all.filter((k) => k.startsWith(keys.events(id)))
      assert.isAbove(written.length, 4, "submission, start, two tasks, completion")
      assert.deepStrictEqual(
        all.filter((k) => k.startsWith(keys.legacyEvents(id))),
        [legacy],
        "nothing new under the job's keys"
      )
      for (const k of written) assert.isTrue(k >= keys.followedEnd, k)
      const log = yield* Jobs.events(keys, id)
      assert.strictEqual(log.length, written.length + 1)
      assert.strictEqual(log[0]!.message, "from before the move")
      assert.strictEqual(log[1]!.type, "job.submitted")
      assert.strictEqual(log[log.length - 1]!.type, "job.completed")
      assert.deepStrictEqual(
        (yield* Jobs.events(keys, id, 2)).map((e) => e.type),
        ["job.note", "job.submitted"]
      )
    }).pipe(inEnv)
  )

  it.effect("a runner's watch follows the job but never delivers its log", () =>
    Effect.gen(function* () {
      delivered.length = 0
      const id = yield* finish({ id: "followed", tasks: [echo("a"), echo("b", { dependencies: ["a"] })] })
      assert.isAbove((yield* Jobs.events(keys, id)).length, 4)
      assert.isTrue(
        delivered.some((k) => k === keys.task(id, "run", "b", "result")),
        "the runner saw the job's changes"
      )
      assert.deepStrictEqual(
        delivered.filter((k) => k.startsWith(keys.followedEnd)),
        [],
        "no log entry reached the runner"
      )
    }).pipe((effect) => inEnv(effect, recording))
  )
})
