/**
 * The active-jobs index (`<prefix>active/<job>`, see `Keys.ts`): the jobs
 * some runner has work for. Discovery and resync read only these, so an idle
 * runner costs the same with ten or ten thousand finished jobs in the store.
 * Every write of a job state carries the op that keeps its entry in step, in
 * the same compare-and-swap transaction.
 */
import { Effect, Option } from "effect"
import * as Codec from "../Codec.ts"
import { isTerminal, JobSpec, JobState } from "../Job.ts"
import type * as Keys from "../Keys.ts"
import * as LayoutVersion from "../LayoutVersion.ts"
import { type Op, Store } from "../Store.ts"

const decodeState = Codec.decode(JobState)
const decodeSpec = Codec.decode(JobSpec)

/** The entry's value: its presence is what counts. */
export const ENTRY = "{}"

/**
 * Whether a job in `state` needs no runner until a user asks: finished, no operation pending,
 * and no drill's auto-rollback still to come (that one stays active until it has run).
 */
export const dormant = (state: JobState, spec: Pick<JobSpec, "autoRollbackAfterMs"> | undefined): boolean =>
  isTerminal(state.state) &&
  state.pending === undefined &&
  !(state.state === "completed" && spec?.autoRollbackAfterMs !== undefined)

/**
 * The op that keeps `job`'s entry in step with its new `state`, for the transaction that
 * writes the state; it goes last there, so a watcher drops the job after its last change.
 */
export const op = (
  keys: Keys.Layout,
  job: string,
  state: JobState,
  spec: Pick<JobSpec, "autoRollbackAfterMs"> | undefined
): Op =>
  dormant(state, spec)
    ? { _tag: "delete", key: keys.activeEntry(job) }
    : { _tag: "put", key: keys.activeEntry(job), value: ENTRY }

/**
 * Builds the index of a store written before it existed, once: every job whose index entry
 * is not dormant gets an entry (each a compare on that index entry, so a state written
 * meanwhile wins), then the layout marker is created. Two runners doing it at once write
 * the same entries; only one creates the marker. Returns whether this call created it; fails
 * on a marker of a layout this version does not know.
 */
export const upgrade = (store: Store["Service"], keys: Keys.Layout) =>
  Effect.gen(function* () {
    if ((yield* LayoutVersion.read(keys).pipe(Effect.provideService(Store, store))) === "current") return false
    const index = yield* store.range(keys.index)
    // once per store, but thousands of completed jobs each need their spec read: a few at a time
    yield* Effect.forEach(
      index.kvs,
      (kv) =>
        Effect.gen(function* () {
          const id = kv.key.slice(keys.index.length)
          const state = yield* Effect.option(decodeState(kv.key, kv.value))
          // an unreadable entry stays in view, so its records are reported and not silently lost
          if (Option.isSome(state) && (yield* dormantOnDisk(store, keys, id, state.value, index.revision))) return
          yield* store.txn({
            compare: [{ key: kv.key, target: "modRevision", op: "==", value: kv.modRevision }],
            success: [{ _tag: "put", key: keys.activeEntry(id), value: ENTRY }]
          })
        }),
      { concurrency: 16, discard: true }
    )
    const created = yield* store.txn({
      compare: [{ key: keys.layout, target: "createRevision", op: "==", value: 0 }],
      success: [{ _tag: "put", key: keys.layout, value: LayoutVersion.CURRENT }]
    })
    return created.succeeded
  })

/** `dormant`, reading the spec only for a completed job (whether a drill's rollback is due). */
const dormantOnDisk = (store: Store["Service"], keys: Keys.Layout, id: string, state: JobState, at: number) =>
  Effect.gen(function* () {
    if (!dormant(state, undefined)) return false
    if (state.state !== "completed") return true
    const kv = (yield* store.range(keys.jobSpec(id), { revision: at })).kvs[0]
    if (kv === undefined) return true
    const spec = yield* Effect.option(decodeSpec(kv.key, kv.value))
    return Option.isSome(spec) && dormant(state, spec.value)
  })
