/**
 * The fenced result write (SPEC §4.3-§4.4): an attempt ends with one
 * transaction that compares the claim's create revision, writes the result
 * (or a retry's `waiting` status), and deletes the claim. Under load the
 * results of many tasks share one transaction: each worker commits what
 * queued while the previous commit was in flight, and a lone result goes at
 * once.
 *
 * Outages are retried. A transaction whose answer was lost may have
 * committed: when its retry finds the claim gone, what it wrote is read back
 * before the result is called lost.
 *
 * @since 0.2.0
 */
import { Context, Deferred, Effect, Exit, Layer, Option, Queue, Schedule, type Scope } from "effect"
import { type Compare, type Op, Store, type TxnRequest, type TxnResult } from "./Store.ts"
import type { StoreError } from "./StoreError.ts"

export interface ResultWrite {
  readonly claimKey: string
  readonly token: number
  readonly compare: ReadonlyArray<Compare>
  /** The result's writes; the claim's deletion is added here. */
  readonly ops: ReadonlyArray<Op>
  /** Commit alone, not in a group: its conflicts are answered by deciding again (shared records). */
  readonly alone?: boolean
  /**
   * Writes that may go with the result if their compares hold (claims of the dependants it
   * makes ready): they save those tasks a round trip; if they fail, the result goes without them.
   */
  readonly also?: { readonly compare: ReadonlyArray<Compare>; readonly ops: ReadonlyArray<Op> }
}

export interface Written {
  /** `conflict`: the claim is still ours but another compare failed (e.g. a shared record moved). */
  readonly status: "written" | "lost" | "conflict"
  readonly revision: number
  /** The `also` writes committed with the result. */
  readonly also?: boolean
}

export class ResultTxn extends Context.Service<
  ResultTxn,
  { readonly write: (result: ResultWrite) => Effect.Effect<Written> }
>()("@migrator/core/ResultTxn") {}

/** Results committed per transaction: ~3 writes each, under etcd's 128 operations and 1.5 MiB. */
const BATCH = 30
const BATCH_BYTES = 1024 * 1024
/** Result transactions in flight at once; each takes whatever queued meanwhile. */
const WORKERS = 2

interface Queued {
  readonly request: TxnRequest
  readonly bytes: number
  readonly done: Deferred.Deferred<TxnResult, StoreError>
}

const keysOf = (ops: ReadonlyArray<Op>) =>
  ops.flatMap((op) => (op._tag === "put" || op._tag === "delete" ? [op.key] : []))

export const make: Effect.Effect<ResultTxn["Service"], never, Store | Scope.Scope> = Effect.gen(function* () {
  const store = yield* Store
  const queue = yield* Queue.unbounded<Queued>()
  const commit = (request: TxnRequest) =>
    store.txn(request).pipe(Effect.retry({ while: (e) => e.retryable, schedule: Schedule.spaced("200 millis") }))

  const commitGroup = (group: ReadonlyArray<Queued>) =>
    Effect.gen(function* () {
      if (group.length === 1) return yield* Deferred.done(group[0]!.done, yield* Effect.exit(commit(group[0]!.request)))
      const exit = yield* Effect.exit(
        commit({ compare: group.flatMap((f) => f.request.compare), success: group.flatMap((f) => f.request.success) })
      )
      if (Exit.isSuccess(exit) && exit.value.succeeded) {
        const written: TxnResult = { succeeded: true, revision: exit.value.revision, results: [] }
        for (const f of group) yield* Deferred.succeed(f.done, written)
        return
      }
      // a fence moved under one of them: each goes alone, so one lost claim holds back no other
      yield* Effect.forEach(
        group,
        (f) => Effect.flatMap(Effect.exit(commit(f.request)), (e) => Deferred.done(f.done, e)),
        {
          concurrency: "unbounded",
          discard: true
        }
      )
    })

  const worker = Effect.gen(function* () {
    for (;;) {
      const taken = yield* Queue.takeBetween(queue, 1, BATCH)
      let group: Array<Queued> = []
      let bytes = 0
      const written = new Set<string>()
      for (const f of taken) {
        const keys = keysOf(f.request.success)
        // two writes for one task (its result, then a cancel's) go one after the other, in order:
        // the second then meets the first's fence
        if (group.length > 0 && (bytes + f.bytes > BATCH_BYTES || keys.some((k) => written.has(k)))) {
          yield* commitGroup(group)
          group = []
          bytes = 0
          written.clear()
        }
        group.push(f)
        bytes += f.bytes
        for (const k of keys) written.add(k)
      }
      yield* commitGroup(group)
    }
  })
  for (let i = 0; i < WORKERS; i++) yield* Effect.forkScoped(worker)

  const batched = (request: TxnRequest) =>
    Effect.gen(function* () {
      let bytes = 0
      for (const op of request.success) bytes += op._tag === "put" ? op.key.length + op.value.length : 64
      const done = yield* Deferred.make<TxnResult, StoreError>()
      yield* Queue.offer(queue, { request, bytes, done })
      return yield* Deferred.await(done)
    })

  /** Whether the first write of `ops` is in the store as written (an earlier, unanswered commit). */
  const committedBefore = (ops: ReadonlyArray<Op>) => {
    const first = ops.find((op) => op._tag === "put")
    if (first?._tag !== "put") return Effect.succeed(Option.none<number>())
    return Effect.map(store.get(first.key), (kv) =>
      Option.isSome(kv) && kv.value.value === first.value ? Option.some(kv.value.modRevision) : Option.none()
    )
  }

  const write = (result: ResultWrite): Effect.Effect<Written> =>
    Effect.gen(function* () {
      const fenced: Compare = { key: result.claimKey, target: "createRevision", op: "==", value: result.token }
      const also = result.also
      const request: TxnRequest = {
        compare: [fenced, ...result.compare, ...(also?.compare ?? [])],
        success: [...result.ops, { _tag: "delete", key: result.claimKey }, ...(also?.ops ?? [])],
        failure: [{ _tag: "get", key: result.claimKey }]
      }
      const r = result.alone === true || also !== undefined ? yield* commit(request) : yield* batched(request)
      if (r.succeeded) return { status: "written", revision: r.revision, also: also !== undefined } satisfies Written
      const current = r.results[0]
      if (current?._tag === "get" && current.kv?.createRevision === result.token) {
        // still ours: the extra writes' compares (or another) failed; the result goes without them
        if (also !== undefined) {
          const { also: _dropped, ...alone } = result
          return yield* write(alone)
        }
        return { status: "conflict", revision: r.revision } satisfies Written
      }
      const earlier = yield* committedBefore(result.ops)
      // (an earlier commit of this very request: the extra writes went with it)
      if (Option.isSome(earlier)) {
        return { status: "written", revision: earlier.value, also: also !== undefined } satisfies Written
      }
      return { status: "lost", revision: r.revision } satisfies Written
    }).pipe(
      // only a non-retryable store error ends here (a bug or a refused request): the claim
      // then expires with the lease or is released by the orphan sweep
      Effect.catch((e) =>
        Effect.logError("result transaction refused", e.message).pipe(
          Effect.as({ status: "lost", revision: 0 } as Written)
        )
      )
    )

  return ResultTxn.of({ write })
})

export const layer: Layer.Layer<ResultTxn, never, Store> = Layer.effect(ResultTxn, make)
