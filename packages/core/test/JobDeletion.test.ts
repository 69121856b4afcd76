/**
 * `JobDeletion.remove` on the memory store: only finished jobs go, every key
 * of the job goes with them in one transaction, shared holders are refused
 * or released, and a job that moves meanwhile is not deleted.
 */
import { assert, describe, it } from "@effect/vitest"
import { Job, JobArchive, JobDeletion, Jobs, Store, type StoreError } from "@migrator/core"
import { Effect, Option } from "effect"
import { awaitState, keys, runner, submit, terminal } from "./utils/engine.ts"
import { allKeys, echo, finish, inEnv } from "./utils/retention.ts"

const remove = (id: string, options: Partial<JobDeletion.Options> = {}) =>
  JobDeletion.remove(keys, id, { removedBy: "delete", ...options })

const refusal = <A, R>(effect: Effect.Effect<A, JobDeletion.DeleteError | StoreError.StoreError, R>) =>
  Effect.flatMap(Effect.flip(effect), (e) =>
    e._tag === "DeleteError" ? Effect.succeed(e) : Effect.die(`expected a DeleteError, got ${e.message}`)
  )

const putState = (id: string, state: Job.JobState) =>
  Effect.gen(function* () {
    const value = Jobs.encodeState(state)
    yield* Store.put(keys.jobState(id), value)
    yield* Store.put(keys.indexEntry(id), value)
  })

const keysOf = (id: string) =>
  Effect.map(allKeys, (all) =>
    all.filter(
      (k) =>
        k.startsWith(keys.job(id)) || k.startsWith(keys.events(id)) || k === keys.indexEntry(id) || k.endsWith(`/${id}`)
    )
  )

describe("job delete", () => {
  it.effect("refuses every job that may still move, and leaves it as it was", () =>
    Effect.gen(function* () {
      const id = yield* submit({ id: "busy", tasks: [echo("a")] })
      const drill = yield* submit({ id: "drill", autoRollbackAfterMs: 3_600_000, tasks: [echo("a")] })
      const cases: ReadonlyArray<readonly [string, Job.JobState]> = [
        ...(["pending", "running", "paused", "canceling", "clearing"] as const).map(
          (state) => [id, new Job.JobState({ state, updatedAt: 1 })] as const
        ),
        [
          id,
          new Job.JobState({
            state: "clear-failed",
            pending: new Job.RequestedOperation({ operation: "retry", requestedAt: 1 }),
            updatedAt: 1
          })
        ],
        [drill, new Job.JobState({ state: "completed", outcome: "succeeded", completedAt: 1, updatedAt: 1 })]
      ]
      for (const [job, state] of cases) {
        yield* putState(job, state)
        const before = yield* allKeys
        const e = yield* refusal(remove(job))
        assert.strictEqual(e.reason, "NotFinished", `${job} ${state.state}`)
        assert.include(e.message, "not finished")
        assert.deepStrictEqual(yield* allKeys, before)
      }
      assert.include((yield* refusal(remove(drill))).message, "drill whose automatic rollback is due")
    }).pipe(inEnv)
  )

  it.effect("an unknown job is not found", () =>
    Effect.gen(function* () {
      assert.strictEqual((yield* refusal(remove("nobody"))).reason, "NotFound")
    }).pipe(inEnv)
  )

  it.effect("a finished job goes whole: tasks, events, state, index and expiry entry; its summary is archived", () =>
    Effect.gen(function* () {
      const id = yield* finish({
        id: "done",
        labels: { team: "dr" },
        tasks: [echo("a"), echo("b", { dependencies: ["a"] }), { id: "f", type: "test/fail", input: { message: "no" } }]
      })
      const other = yield* finish({ id: "done2", tasks: [echo("a")] })
      const before = yield* keysOf(id)
      assert.isTrue(
        before.some((k) => k.startsWith(keys.expiry)),
        "the finishing transaction wrote an expiry entry"
      )
      assert.isTrue(before.some((k) => k.startsWith(keys.events(id))))
      const otherKeys = yield* keysOf(other)

      // an active entry left behind (none is, normally) goes with the job, and so does the log a
      // store written before the log moved keeps under the job's keys
      yield* Store.put(keys.activeEntry(id), "{}")
      yield* Store.put(`${keys.legacyEvents(id)}000000000000001-client-0`, "{}")
      const summary = yield* remove(id, { actor: "alice@host", reason: "drill kept long enough" })
      assert.deepStrictEqual(yield* keysOf(id), [keys.archiveEntry(id)])
      assert.deepStrictEqual(yield* keysOf(other), otherKeys, "another job is untouched")
      assert.deepStrictEqual(summary.results.run, { success: 2, failed: 1 })
      assert.strictEqual(summary.state, "completed")
      assert.strictEqual(summary.outcome, "partial")
      assert.deepStrictEqual(summary.labels, { team: "dr" })

      const archived = Option.getOrThrow(yield* JobArchive.read(keys, id))
      assert.strictEqual(archived.removedBy, "delete")
      assert.strictEqual(archived.actor, "alice@host")
      assert.strictEqual(archived.reason, "drill kept long enough")
      assert.deepStrictEqual(
        (yield* JobArchive.list(keys)).map((j) => j.id),
        [id]
      )
      assert.deepStrictEqual(
        (yield* Jobs.list(keys)).map((j) => j.id),
        [other]
      )
      // deleting it again: it is not there any more
      assert.strictEqual((yield* refusal(remove(id))).reason, "NotFound")
    }).pipe(inEnv)
  )

  it.effect("a job holding shared resources is refused, or released from them with releaseShared", () =>
    Effect.gen(function* () {
      const net = "c1/net/a"
      const id = yield* finish({ id: "holder", tasks: [echo("net", { shared: net }), echo("vm")] })
      const record = () => Effect.map(Store.getValue(keys.shared(net)), (v) => JSON.parse(Option.getOrThrow(v)))
      assert.deepStrictEqual((yield* record()).holders, [id])
      const before = yield* allKeys

      const e = yield* refusal(remove(id))
      assert.strictEqual(e.reason, "HoldsShared")
      assert.deepStrictEqual(e.shared, [net])
      assert.include(e.message, net)
      assert.deepStrictEqual(yield* allKeys, before)

      const summary = yield* remove(id, { releaseShared: true })
      assert.deepStrictEqual(summary.releasedShared, [net])
      const after = yield* record()
      assert.deepStrictEqual(after.holders, [], "the holder entry is gone")
      assert.strictEqual(after.state, "ready", "the resource itself is left as it is")
      assert.deepStrictEqual(yield* keysOf(id), [keys.archiveEntry(id)])
    }).pipe(inEnv)
  )

  it.effect("a job a user moves between the check and the delete is not deleted", () => {
    // the user's rollback lands just before the delete's transaction
    let interfere: Effect.Effect<void, unknown, Store.Store> | undefined
    const wrap = (store: Store.Service): Store.Service => {
      return {
        ...store,
        txn: (request) =>
          Effect.gen(function* () {
            if (interfere !== undefined && request.success.some((op) => op._tag === "deletePrefix")) {
              const once = interfere
              interfere = undefined
              yield* Effect.orDie(Effect.provideService(once, Store.Store, store))
            }
            return yield* store.txn(request)
          })
      }
    }
    return Effect.gen(function* () {
      const id = yield* finish({ id: "moving", tasks: [echo("a")] })
      interfere = Effect.asVoid(Jobs.request(keys, id, "rollback", { actor: "bob" }))
      const e = yield* refusal(remove(id))
      assert.strictEqual(e.reason, "NotFinished")
      assert.include(e.message, "clearing")
      assert.isTrue(Option.isSome(yield* Store.getValue(keys.jobSpec(id))))
      assert.isTrue(Option.isNone(yield* Store.getValue(keys.archiveEntry(id))))
    }).pipe((e) => inEnv(e, wrap))
  })

  it.effect("a running runner survives the deletion of a job it has seen; the id can be used again", () =>
    Effect.gen(function* () {
      yield* runner("r1")
      const id = yield* submit({ id: "again", tasks: [echo("a"), echo("b", { dependencies: ["a"] })] })
      yield* awaitState(id, terminal)
      yield* remove(id)
      // the same id, submitted again, runs from the start on the same runner
      yield* submit({ id, tasks: [echo("c")] })
      yield* awaitState(id, terminal)
      const view = yield* Jobs.read(keys, id)
      assert.strictEqual(view.state.outcome, "succeeded")
      assert.deepStrictEqual(
        view.tasks.map((t) => t.spec.id),
        ["c"]
      )
      // the archive still holds the first one until the second is deleted
      assert.deepStrictEqual(Option.getOrThrow(yield* JobArchive.read(keys, id)).results.run, { success: 2 })
    }).pipe(inEnv)
  )
})
