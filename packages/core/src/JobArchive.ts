/**
 * The archive: what is left of a finished job once `migrator job delete` or
 * the retention of finished jobs has removed its keys. One small record per
 * job (`<prefix>archive/<job>`), so history stays listable for the cost of a
 * few hundred bytes a job instead of every task's records.
 *
 * @since 0.3.0
 */
import { Effect, Option, Schema } from "effect"
import * as Codec from "./Codec.ts"
import { ClearMode, Outcome, State } from "./Job.ts"
import type * as Keys from "./Keys.ts"
import { Store } from "./Store.ts"

/** Tasks of one phase by result (`success`, `failed`, …); tasks without a result count as `none`. */
export const Counts = Schema.Record(Schema.String, Schema.Int)
export type Counts = typeof Counts.Type

export class ArchivedJob extends Schema.Class<ArchivedJob>("@migrator/core/ArchivedJob")({
  id: Schema.String,
  labels: Schema.Record(Schema.String, Schema.String),
  target: Schema.optional(Schema.String),
  state: State,
  outcome: Schema.optional(Outcome),
  clearMode: Schema.optional(ClearMode),
  runTasks: Schema.Int,
  clearTasks: Schema.Int,
  results: Schema.Struct({ run: Counts, clear: Counts }),
  /** When the job was submitted, started, completed its run phase and became finished (ms). */
  submittedAt: Schema.Number,
  startedAt: Schema.optional(Schema.Number),
  completedAt: Schema.optional(Schema.Number),
  finishedAt: Schema.Number,
  elapsedMs: Schema.optional(Schema.Number),
  rtoMet: Schema.optional(Schema.Boolean),
  /** How its keys went: a user's `job delete`, or the retention of finished jobs. */
  removedBy: Schema.Literals(["delete", "retention"]),
  removedAt: Schema.Number,
  actor: Schema.optional(Schema.String),
  reason: Schema.optional(Schema.String),
  /** Shared records (SPEC §4.5) the job was released from with `--release-shared`. */
  releasedShared: Schema.optional(Schema.Array(Schema.String))
}) {}

export const encode = Codec.encode(ArchivedJob)
export const decode = Codec.decode(ArchivedJob)

/** The archived summary of `id`, if it was deleted or expired. */
export const read = Effect.fn("JobArchive.read")(function* (keys: Keys.Layout, id: string) {
  const store = yield* Store
  const kv = yield* store.get(keys.archiveEntry(id))
  if (Option.isNone(kv)) return Option.none<ArchivedJob>()
  return yield* Effect.option(decode(kv.value.key, kv.value.value))
})

/** Every archived summary, oldest finish first; records that cannot be decoded are left out. */
export const list = Effect.fn("JobArchive.list")(function* (keys: Keys.Layout) {
  const store = yield* Store
  const { kvs } = yield* store.range(keys.archive)
  const out: Array<ArchivedJob> = []
  for (const kv of kvs) {
    const job = yield* Effect.option(decode(kv.key, kv.value))
    if (Option.isSome(job)) out.push(job.value)
  }
  return out.sort((a, b) => a.finishedAt - b.finishedAt || (a.id < b.id ? -1 : 1))
})
