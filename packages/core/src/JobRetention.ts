/**
 * The retention of finished jobs: every runner archives the jobs that
 * finished longer ago than the retention (see JobDeletion.ts) and removes
 * their keys, so history does not grow in etcd without end.
 *
 * A job that finishes writes `<prefix>expiry/<finish time>/<job>` in the
 * transaction that finishes it (internal/jobWrites.ts). The keys sort by
 * time, so a sweep reads a few of the oldest and stops at the first that is
 * not due: one small range request per sweep however many finished jobs etcd
 * holds. An entry that no longer matches its job (it was deleted, retried,
 * rolled back since) is dropped; the job writes a new one when it finishes
 * again. Several runners may sweep at once: the deletion is a
 * compare-and-swap, so the second finds nothing left to do.
 *
 * @since 0.3.0
 */
import { Duration, Effect, Option, Schedule } from "effect"
import { isTerminal } from "./Job.ts"
import * as JobDeletion from "./JobDeletion.ts"
import * as Jobs from "./Jobs.ts"
import * as Keys from "./Keys.ts"
import { type Op, Store } from "./Store.ts"

export interface Options {
  readonly prefix?: string
  /** Finished jobs older than this are archived. */
  readonly retention: Duration.Input
  /** Time between sweeps (default a tenth of the retention, between one second and one minute). */
  readonly interval?: Duration.Input
  /** Expiry entries read per request (default 50). */
  readonly pageSize?: number
  readonly runnerId?: string
}

export interface SweepResult {
  /** Jobs archived and removed. */
  readonly archived: ReadonlyArray<string>
  /** Finished jobs kept because they hold shared resources (logged once: their entry is dropped). */
  readonly kept: ReadonlyArray<{ readonly job: string; readonly shared: ReadonlyArray<string> }>
  /** Expiry entries dropped because they no longer matched their job. */
  readonly dropped: number
}

/** Archives every job that finished before `now - retention`; returns what it did. */
export const sweep = Effect.fn("JobRetention.sweep")(function* (options: Options) {
  const store = yield* Store
  const keys = Keys.make(options.prefix ?? Keys.DEFAULT_PREFIX)
  const pageSize = options.pageSize ?? 50
  const cutoff = (yield* Effect.clockWith((c) => c.currentTimeMillis)) - Duration.toMillis(options.retention)
  const archived: Array<string> = []
  const kept: Array<{ job: string; shared: ReadonlyArray<string> }> = []
  let dropped = 0
  // the entry goes only if nobody rewrote it meanwhile
  const drop = (key: string, mod: number) =>
    Effect.map(
      store.txn({
        compare: [{ key, target: "modRevision", op: "==", value: mod }],
        success: [{ _tag: "delete", key }]
      }),
      (r) => {
        if (r.succeeded) dropped++
      }
    )
  // the oldest entry alone first: when it is not due (the usual case) nothing more is read
  let limit = 1
  for (;;) {
    const { kvs } = yield* store.range(keys.expiry, { limit })
    let handled = 0
    let conflicts = 0
    for (const kv of kvs) {
      const entry = keys.parseExpiry(kv.key)
      if (entry === undefined) {
        yield* drop(kv.key, kv.modRevision)
        handled++
        continue
      }
      if (entry.finishedAt > cutoff) return { archived, kept, dropped } satisfies SweepResult
      handled++
      const outcome = yield* JobDeletion.remove(keys, entry.job, {
        removedBy: "retention",
        actor: options.runnerId === undefined ? "retention" : `retention (${options.runnerId})`,
        finishedAt: entry.finishedAt
      }).pipe(Effect.result)
      if (outcome._tag === "Success") {
        archived.push(entry.job)
        continue
      }
      const e = outcome.failure
      if (e._tag !== "DeleteError") return yield* Effect.fail(e)
      if (e.reason === "Conflict") {
        conflicts++ // it kept moving: the next sweep looks again
        continue
      }
      if (e.reason === "HoldsShared") {
        kept.push({ job: entry.job, shared: e.shared ?? [] })
        yield* Effect.logWarning(
          `retention keeps job ${entry.job}: it holds shared resources ${(e.shared ?? []).join(", ")}; ` +
            "roll it back or delete it with `migrator job delete --release-shared`"
        ).pipe(Effect.annotateLogs({ job: entry.job }))
      }
      // gone, moving again, finished again later, or kept: this entry has nothing more to say
      yield* drop(kv.key, kv.modRevision)
    }
    if (kvs.length < limit || handled === 0 || conflicts > 0) return { archived, kept, dropped } satisfies SweepResult
    limit = pageSize
  }
})

/**
 * Gives the jobs that finished before expiry entries existed theirs, once per store: the first
 * runner to start reads the index once, the others find the marker. Writing an entry again is
 * harmless (same key, same value), and one that no longer matches its job is dropped by a sweep.
 */
export const backfill = Effect.fn("JobRetention.backfill")(function* (options: { readonly prefix?: string }) {
  const store = yield* Store
  const keys = Keys.make(options.prefix ?? Keys.DEFAULT_PREFIX)
  if (Option.isSome(yield* store.get(keys.expiryBackfilled))) return 0
  const { kvs } = yield* store.range(keys.index)
  let ops: Array<Op> = []
  let written = 0
  const flush = Effect.suspend(() => {
    const success = ops
    ops = []
    written += success.length
    return success.length === 0 ? Effect.void : Effect.asVoid(store.txn({ compare: [], success }))
  })
  for (const kv of kvs) {
    const id = kv.key.slice(keys.index.length)
    const state = yield* Effect.option(Jobs.decodeState(kv.key, kv.value))
    if (Option.isNone(state) || !isTerminal(state.value.state) || state.value.pending !== undefined) continue
    ops.push({ _tag: "put", key: keys.expiryEntry(id, JobDeletion.finishedAt(state.value)), value: id })
    if (ops.length >= 100) yield* flush
  }
  yield* flush
  yield* store.txn({
    compare: [{ key: keys.expiryBackfilled, target: "createRevision", op: "==", value: 0 }],
    success: [{ _tag: "put", key: keys.expiryBackfilled, value: String(written) }]
  })
  return written
})

/** Backfills once, then sweeps now and every `interval` for the life of the fiber; failures are logged and retried. */
export const run = (options: Options): Effect.Effect<never, never, Store> => {
  const interval =
    options.interval ?? Duration.millis(Math.min(60_000, Math.max(1000, Duration.toMillis(options.retention) / 10)))
  const once = backfill(options).pipe(
    Effect.tap((n) => (n === 0 ? Effect.void : Effect.logInfo(`retention: ${n} finished jobs given an expiry entry`))),
    Effect.tapCause((cause) => Effect.logWarning("retention backfill failed", cause)),
    Effect.retry(Schedule.spaced(interval)),
    Effect.ignore
  )
  const sweeps = sweep(options).pipe(
    Effect.tap((r) =>
      r.archived.length === 0
        ? Effect.void
        : Effect.logInfo(`retention archived ${r.archived.length} finished jobs: ${r.archived.join(", ")}`)
    ),
    Effect.catchCause((cause) => Effect.logWarning("retention sweep failed", cause)),
    Effect.repeat(Schedule.spaced(interval))
  )
  return Effect.andThen(once, sweeps).pipe(
    Effect.annotateLogs(options.runnerId === undefined ? {} : { runner: options.runnerId }),
    Effect.andThen(Effect.never)
  ) as Effect.Effect<never, never, Store>
}
