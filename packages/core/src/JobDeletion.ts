/**
 * Deleting a finished job (`migrator job delete`, and the retention of
 * finished jobs): every key of the job goes, and a compact summary is
 * archived, in one transaction guarded by the mod revision of the job state
 * it was decided on. A job a user moves meanwhile is not deleted.
 *
 * A job whose completed run still holds shared resources (SPEC §4.5) is
 * refused unless its holder entries are released in the same transaction;
 * the cloud resources themselves are never touched here.
 *
 * @since 0.3.0
 */
import { Clock, Effect, Option, Schema } from "effect"
import * as Codec from "./Codec.ts"
import { isTerminal, type JobSpec, type JobState } from "./Job.ts"
import { ArchivedJob, encode as encodeArchived } from "./JobArchive.ts"
import * as Jobs from "./Jobs.ts"
import type * as Keys from "./Keys.ts"
import { SharedRecord } from "./SharedResource.ts"
import { type Compare, type Op, Store } from "./Store.ts"
import type { Phase } from "./Task.ts"

export class DeleteError extends Schema.TaggedError<DeleteError>()("DeleteError", {
  job: Schema.String,
  /**
   * NotFound: no such job; NotFinished: it may still move; HoldsShared: it holds shared
   * records (named in `shared`); Stale: it finished again after the expiry entry that asked;
   * Conflict: it kept changing.
   */
  reason: Schema.Literals(["NotFound", "NotFinished", "HoldsShared", "Stale", "Conflict"]),
  message: Schema.String,
  shared: Schema.optional(Schema.Array(Schema.String))
}) {}

export interface Options {
  readonly removedBy: "delete" | "retention"
  readonly actor?: string | undefined
  readonly reason?: string | undefined
  /** Remove the job from the holders of the shared records it holds instead of refusing. */
  readonly releaseShared?: boolean
  /** Only delete the job if it finished at this time (retention: the time of its expiry entry). */
  readonly finishedAt?: number
}

/**
 * Why a job may still move (a runner or a timer has something to do), or undefined when it is
 * finished: terminal, no operation pending, and not a drill whose automatic rollback is due.
 */
export const unfinished = (spec: JobSpec, state: JobState): string | undefined => {
  if (!isTerminal(state.state)) return `it is ${state.state}`
  if (state.pending !== undefined) return `a ${state.pending.operation} is pending`
  if (state.state === "completed" && spec.autoRollbackAfterMs !== undefined && state.completedAt !== undefined) {
    const due = new Date(state.completedAt + spec.autoRollbackAfterMs).toISOString()
    return `it is a drill whose automatic rollback is due at ${due}`
  }
  return undefined
}

/** When a finished job finished: the time of the transition into its terminal state. */
export const finishedAt = (state: JobState): number => state.updatedAt

const decodeShared = Codec.decode(SharedRecord)
const encodeShared = Codec.encode(SharedRecord)

/** etcd refuses transactions of more than 128 operations by default. */
const MAX_RELEASED = 100

/** Deletes a finished job and archives its summary; fails with a DeleteError saying why not. */
export const remove = Effect.fn("JobDeletion.remove")(function* (keys: Keys.Layout, id: string, options: Options) {
  const store = yield* Store
  const fail = (reason: DeleteError["reason"], message: string, shared?: ReadonlyArray<string>) =>
    Effect.fail(new DeleteError({ job: id, reason, message, ...(shared === undefined ? {} : { shared }) }))
  for (let round = 0; round < 5; round++) {
    // "<job>/s" covers spec and state, read at one revision with the tasks
    const head = yield* store.range(`${keys.job(id)}s`)
    const specKv = head.kvs.find((kv) => kv.key === keys.jobSpec(id))
    const stateKv = head.kvs.find((kv) => kv.key === keys.jobState(id))
    if (specKv === undefined || stateKv === undefined) return yield* fail("NotFound", `no job "${id}"`)
    const unreadable = (e: Codec.DecodeError) =>
      new DeleteError({ job: id, reason: "NotFinished", message: `job "${id}" is unreadable: ${e.message}` })
    const spec = yield* Effect.mapError(Jobs.decodeSpec(specKv.key, specKv.value), unreadable)
    const state = yield* Effect.mapError(Jobs.decodeState(stateKv.key, stateKv.value), unreadable)
    const why = unfinished(spec, state)
    if (why !== undefined) return yield* fail("NotFinished", `job "${id}" is not finished: ${why}`)
    const finished = finishedAt(state)
    if (options.finishedAt !== undefined && options.finishedAt !== finished) {
      return yield* fail("Stale", `job "${id}" finished again at ${new Date(finished).toISOString()}`)
    }

    const tasks = yield* store.range(keys.tasks(id), { revision: head.revision })
    const results = { run: {} as Record<string, number>, clear: {} as Record<string, number> }
    const withResult = new Set<string>()
    const sharedKeys = new Set<string>()
    const specs: Array<{ readonly phase: Phase; readonly task: string }> = []
    for (const kv of tasks.kvs) {
      const parsed = keys.parse(kv.key)
      if (parsed?._tag !== "task") continue
      if (parsed.record === "spec") {
        specs.push(parsed)
        const task = yield* Effect.option(Jobs.decodeTask(kv.key, kv.value))
        if (Option.isSome(task) && task.value.shared !== undefined) sharedKeys.add(task.value.shared)
      } else if (parsed.record === "result") {
        const r = yield* Effect.option(Jobs.decodeResult(kv.key, kv.value))
        const name = Option.isSome(r) ? r.value.result : "unreadable"
        results[parsed.phase][name] = (results[parsed.phase][name] ?? 0) + 1
        withResult.add(`${parsed.phase}/${parsed.task}`)
      }
    }
    for (const t of specs) {
      if (!withResult.has(`${t.phase}/${t.task}`)) results[t.phase].none = (results[t.phase].none ?? 0) + 1
    }

    // the shared records its tasks name that still list the job as a holder
    const held: Array<{
      readonly name: string
      readonly key: string
      readonly mod: number
      readonly record: SharedRecord
    }> = []
    for (const name of [...sharedKeys].sort()) {
      const kv = yield* store.get(keys.shared(name))
      if (Option.isNone(kv)) continue
      const record = yield* Effect.option(decodeShared(kv.value.key, kv.value.value))
      if (Option.isSome(record) && record.value.holders.includes(id)) {
        held.push({ name, key: kv.value.key, mod: kv.value.modRevision, record: record.value })
      }
    }
    const names = held.map((h) => h.name)
    if (held.length > 0 && options.releaseShared !== true) {
      return yield* fail(
        "HoldsShared",
        `job "${id}" still holds shared resources ${names.join(", ")} (roll it back, or release them with --release-shared)`,
        names
      )
    }
    if (held.length > MAX_RELEASED) {
      return yield* fail(
        "HoldsShared",
        `job "${id}" holds ${held.length} shared resources: at most ${MAX_RELEASED}`,
        names
      )
    }

    const now = yield* Clock.currentTimeMillis
    const summary = new ArchivedJob({
      id,
      labels: spec.labels,
      ...(spec.target === undefined ? {} : { target: spec.target }),
      state: state.state,
      ...(state.outcome === undefined ? {} : { outcome: state.outcome }),
      ...(state.clearMode === undefined ? {} : { clearMode: state.clearMode }),
      runTasks: spec.runTasks,
      clearTasks: spec.clearTasks,
      results,
      submittedAt: spec.createdAt,
      ...(state.startedAt === undefined ? {} : { startedAt: state.startedAt }),
      ...(state.completedAt === undefined ? {} : { completedAt: state.completedAt }),
      finishedAt: finished,
      ...(state.elapsedMs === undefined ? {} : { elapsedMs: state.elapsedMs }),
      ...(state.rtoMet === undefined ? {} : { rtoMet: state.rtoMet }),
      removedBy: options.removedBy,
      removedAt: now,
      ...(options.actor === undefined ? {} : { actor: options.actor }),
      ...(options.reason === undefined || options.reason === "" ? {} : { reason: options.reason }),
      ...(held.length === 0 ? {} : { releasedShared: names })
    })
    const compare: Array<Compare> = [
      { key: keys.jobState(id), target: "modRevision", op: "==", value: stateKv.modRevision },
      ...held.map((h): Compare => ({ key: h.key, target: "modRevision", op: "==", value: h.mod }))
    ]
    const success: Array<Op> = [
      // (the job's keys hold the event log of a store written before it moved)
      { _tag: "deletePrefix", prefix: keys.job(id) },
      { _tag: "deletePrefix", prefix: keys.events(id) },
      { _tag: "delete", key: keys.indexEntry(id) },
      // a finished job normally has none; one written by a racing operation must not outlive the job
      { _tag: "delete", key: keys.activeEntry(id) },
      { _tag: "delete", key: keys.expiryEntry(id, finished) },
      { _tag: "put", key: keys.archiveEntry(id), value: encodeArchived(summary) },
      ...held.map(
        (h): Op => ({
          _tag: "put",
          key: h.key,
          value: encodeShared(
            new SharedRecord({ ...h.record, holders: h.record.holders.filter((j) => j !== id), updatedAt: now })
          )
        })
      )
    ]
    const r = yield* store.txn({ compare, success })
    if (r.succeeded) return summary
    // the job (or a shared record) moved since it was read: decide again on what it is now
  }
  return yield* fail("Conflict", `job "${id}" kept changing; try again`)
})
