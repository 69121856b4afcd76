/**
 * The shared-record protocol (SPEC §4.5): a resource several jobs use is
 * created once, adopted by the others, and deleted by its last holder.
 * Each decision here returns the compare and the write that the task's
 * result transaction carries, so holders change exactly once however often
 * a task is retried.
 *
 * A creation (or deletion) that fails retryably leaves the record
 * `creating` (`deleting`) under a claim that is then released: the next
 * attempt, of this job or of another one holding the same key, takes it
 * over and finds the half-made resource by its idempotency key.
 *
 * @since 0.2.0
 */
import { Context, Effect, Layer, Option, type Schema } from "effect"
import * as Codec from "./Codec.ts"
import * as Keys from "./Keys.ts"
import type { Claim } from "./LeaderElection.ts"
import { LeaderElection } from "./LeaderElection.ts"
import { Monitor } from "./Monitor.ts"
import { type Reason, make as reason } from "./Reason.ts"
import { SharedRecord } from "./SharedResource.ts"
import { type Compare, type Op, Store } from "./Store.ts"
import type { StoreError } from "./StoreError.ts"

/** The compare and write a result transaction carries for the shared record. */
export interface Update {
  readonly compare: Compare
  readonly op: Op
}

/** How the attempt that owns the record ended. */
export type End =
  | { readonly _tag: "success"; readonly output: Schema.Json }
  | { readonly _tag: "failure" }
  /** Failed retryably with attempts left: the record stays as it is for the next attempt. */
  | { readonly _tag: "retry" }

export type Decision =
  | { readonly _tag: "adopt"; readonly output: Schema.Json; readonly update: Update }
  | { readonly _tag: "skip"; readonly reason: Reason; readonly update: Update }
  | { readonly _tag: "run"; readonly after: (end: End) => Update | undefined }
  /** Our claim is gone: the attempt must stop. */
  | { readonly _tag: "lost" }

export class SharedRefs extends Context.Service<
  SharedRefs,
  {
    /** Decides what a claimed task with a shared key does; waits while another live creator works. */
    readonly decide: (claim: Claim) => Effect.Effect<Decision, StoreError>
  }
>()("@migrator/core/SharedRefs") {}

const decodeShared = Codec.decode(SharedRecord)
const encodeShared = Codec.encode(SharedRecord)

export const make = (options: { readonly prefix?: string }) =>
  Effect.gen(function* () {
    const store = yield* Store
    const monitor = yield* Monitor
    const { ttl } = yield* LeaderElection
    const keys = Keys.make(options.prefix ?? Keys.DEFAULT_PREFIX)

    const decide = (claim: Claim): Effect.Effect<Decision, StoreError> =>
      Effect.gen(function* () {
        const { job, phase, token } = claim
        const task = claim.spec.id
        const key = keys.shared(claim.spec.shared!)
        const claimKey = keys.task(job, phase, task, "claim")
        const fenced: Compare = { key: claimKey, target: "createRevision", op: "==", value: token }
        const stillMine = Effect.map(
          store.get(claimKey),
          (kv) => Option.isSome(kv) && kv.value.createRevision === token
        )
        for (;;) {
          const changed = yield* monitor.changed.next
          const kv = yield* store.get(key)
          const at = yield* Effect.clockWith((c) => c.currentTimeMillis)
          const record = Option.isNone(kv)
            ? undefined
            : Option.getOrUndefined(yield* Effect.option(decodeShared(key, kv.value.value)))
          const same: Compare = {
            key,
            target: "modRevision",
            op: "==",
            value: Option.isNone(kv) ? 0 : kv.value.modRevision
          }
          const write = (r: SharedRecord): Op => ({ _tag: "put", key, value: encodeShared(r) })
          const mine = (state: SharedRecord["state"], holders: ReadonlyArray<string>, output?: Schema.Json) =>
            new SharedRecord({
              state,
              job,
              task,
              phase,
              token,
              holders,
              updatedAt: at,
              ...(output === undefined ? {} : { output })
            })
          /**
           * Takes the record under our fence; the attempt's result then writes `last` if the
           * record has not moved. Undefined: it moved first, decide again.
           */
          const own = (first: SharedRecord, last: (end: End) => Op | undefined) =>
            Effect.gen(function* () {
              const r = yield* store.txn({ compare: [fenced, same], success: [write(first)] })
              if (!r.succeeded) return (yield* stillMine) ? undefined : ({ _tag: "lost" } satisfies Decision)
              const mark: Compare = { key, target: "modRevision", op: "==", value: r.revision }
              return {
                _tag: "run",
                after: (end: End) => {
                  const op = last(end)
                  return op === undefined ? undefined : { compare: mark, op }
                }
              } satisfies Decision
            })

          if (phase === "clear") {
            if (record === undefined) {
              const absent: Compare = { key, target: "createRevision", op: "==", value: 0 }
              return {
                _tag: "run",
                after: (end) => (end._tag === "retry" ? undefined : { compare: absent, op: { _tag: "delete", key } })
              } satisfies Decision
            }
            const others = record.holders.filter((h) => h !== job)
            if (others.length > 0) {
              return {
                _tag: "skip",
                reason: reason("shared.in-use", `in use by jobs ${others.join(", ")}`, { holders: others }),
                update: { compare: same, op: write(new SharedRecord({ ...record, holders: others, updatedAt: at })) }
              } satisfies Decision
            }
            // last holder: mark deleting (fenced), delete; the record goes with the result
            const deleting = yield* own(mine("deleting", []), (end) =>
              end._tag === "success"
                ? { _tag: "delete", key }
                : end._tag === "retry"
                  ? undefined
                  : write(mine("deleting", []))
            )
            if (deleting === undefined) continue
            return deleting
          }
          if (record?.state === "ready") {
            const holders = record.holders.includes(job) ? record.holders : [...record.holders, job]
            return {
              _tag: "adopt",
              output: record.output ?? null,
              update: { compare: same, op: write(new SharedRecord({ ...record, holders, updatedAt: at })) }
            } satisfies Decision
          }
          // liveness from the store itself: a cached view may be stale or still loading
          const creatorAlive =
            record !== undefined &&
            (record.state === "creating" || record.state === "deleting") &&
            (record.job !== job || record.task !== task) &&
            Option.exists(
              yield* store.get(keys.task(record.job, record.phase, record.task, "claim")),
              (c) => c.createRevision === record.token
            )
          if (creatorAlive) {
            yield* changed.pipe(Effect.timeout(ttl), Effect.ignore)
            continue
          }
          // nobody, a failed or a dead creator: create (or take over) under our fence
          const holders = record?.holders.filter((h) => h !== job) ?? []
          const creating = yield* own(mine("creating", holders), (end) =>
            end._tag === "success"
              ? write(mine("ready", [...holders, job], end.output))
              : end._tag === "retry"
                ? undefined
                : write(mine("failed", holders))
          )
          if (creating === undefined) continue
          return creating
        }
      })

    return SharedRefs.of({ decide })
  })

export const layer = (options: {
  readonly prefix?: string
}): Layer.Layer<SharedRefs, never, Store | Monitor | LeaderElection> => Layer.effect(SharedRefs, make(options))
