/**
 * The engine's writes that move jobs and settle unclaimed tasks, each one
 * compare-and-swap against the revision the decision was taken on. Which
 * state follows comes from the lifecycle table in `Job.ts`.
 */
import { Clock, Effect, type Schema } from "effect"
import { type Event, isTerminal, JobState, next, type Outcome } from "../Job.ts"
import { JobEvent } from "../JobEvent.ts"
import * as Jobs from "../Jobs.ts"
import type * as Keys from "../Keys.ts"
import { claimable } from "../LeaderElection.ts"
import type { Reason } from "../Reason.ts"
import type { Compare, Op, Store } from "../Store.ts"
import type { StoreError } from "../StoreError.ts"
import { type Phase, type Result, TaskResult, TaskStatus } from "../Task.ts"
import * as ActiveIndex from "./activeIndex.ts"
import type { JobSlot, TaskSlot } from "./jobView.ts"
import * as Records from "./records.ts"

type Fields = Omit<ConstructorParameters<typeof JobState>[0], "pending">

export const done = (r: Result | undefined) => r === "success" || r === "skipped"

export interface Writer {
  readonly event: (
    job: string,
    phase: Phase | undefined,
    task: string | undefined,
    type: string,
    message: string,
    data?: Schema.Json
  ) => Effect.Effect<Op>
  /** Settles an unclaimed task without running it (ignored, skipped, canceled). */
  readonly settle: (
    job: JobSlot,
    phase: Phase,
    task: string,
    t: TaskSlot,
    result: Result,
    why: Reason
  ) => Effect.Effect<number, StoreError>
  /**
   * Moves a job by `event` from the state it has in the view now. The state's revision is taken
   * when the decision is made, not when the (forked) write runs: a newer state by then (another
   * runner's transition, a user's operation) must not be overwritten by a decision on the older.
   */
  readonly transition: (
    job: JobSlot,
    event: Event,
    /** The new state's fields from the current ones (without the pending operation). */
    build: (current: Fields) => Fields,
    type: string,
    message: string
  ) => Effect.Effect<number, StoreError>
  /** The writes that start a pending job, carried by its first claim. */
  readonly startOps: (job: string, state: JobState) => Effect.Effect<ReadonlyArray<Op>>
  /** The run phase is over: completed with its outcome, elapsed time and RTO. */
  readonly complete: (job: JobSlot, results: ReadonlyArray<Result>, at: number) => Effect.Effect<number, StoreError>
  /** Resets the failed and ignored tasks of a phase for a retry, then clears the pending operation. */
  readonly resetFailed: (job: JobSlot, phase: Phase) => Effect.Effect<number, StoreError>
}

export const make = (store: Store["Service"], keys: Keys.Layout, runnerId: string): Writer => {
  const txn = (compare: ReadonlyArray<Compare>, success: ReadonlyArray<Op>) =>
    Effect.map(store.txn({ compare, success }), (r) => r.revision)
  const now = Clock.currentTimeMillis

  const event: Writer["event"] = (job, phase, task, type, message, data) =>
    Effect.flatMap(now, (at) =>
      Jobs.eventOp(
        keys,
        job,
        runnerId,
        Records.make(JobEvent, {
          at,
          type,
          message,
          runner: runnerId,
          ...(task === undefined ? {} : { taskId: task }),
          ...(phase === undefined ? {} : { phase }),
          ...(data === undefined ? {} : { data })
        })
      )
    )

  const settle: Writer["settle"] = (job, phase, task, t, result, why) =>
    Effect.gen(function* () {
      const at = yield* now
      const attempt = t.status?.value.attempt ?? 0
      return yield* txn(claimable(keys, job.id, phase, task, t.status), [
        {
          _tag: "put",
          key: keys.task(job.id, phase, task, "result"),
          value: Jobs.encodeResult(new TaskResult({ result, reason: why, attempt, finishedAt: at }))
        },
        yield* event(job.id, phase, task, `task.${result}`, why.message)
      ])
    })

  const transition: Writer["transition"] = (job, on, build, type, message) => {
    const from = job.state!
    const to = next(from.value.state, on)
    if (to === undefined) return Effect.die(`job ${job.id}: ${on} is not allowed in state ${from.value.state}`)
    return Effect.gen(function* () {
      const { pending: _p, ...rest } = from.value
      const state = Records.make(JobState, { ...build(rest), state: to })
      const value = Jobs.encodeState(state)
      // a job that finishes is found by the retention of finished jobs through its expiry entry
      const expiry: ReadonlyArray<Op> = isTerminal(to)
        ? [{ _tag: "put", key: keys.expiryEntry(job.id, state.updatedAt), value: job.id }]
        : []
      return yield* txn(
        [{ key: keys.jobState(job.id), target: "modRevision", op: "==", value: from.mod }],
        [
          { _tag: "put", key: keys.jobState(job.id), value },
          { _tag: "put", key: keys.indexEntry(job.id), value },
          yield* event(job.id, undefined, undefined, type, message),
          ...expiry,
          ActiveIndex.op(keys, job.id, state, job.spec)
        ]
      )
    })
  }

  const complete: Writer["complete"] = (job, results, at) => {
    const state = job.state!.value
    const ok = results.filter(done).length
    const outcome: Outcome =
      ok === results.length ? "succeeded" : results.some((r) => r === "success") ? "partial" : "failed"
    const elapsed = at - (state.startedAt ?? at)
    const rto = job.spec!.rtoMs
    return transition(
      job,
      "complete",
      (current) => ({
        ...current,
        outcome,
        completedAt: at,
        elapsedMs: elapsed,
        ...(rto === undefined ? {} : { rtoMet: elapsed <= rto }),
        updatedAt: at
      }),
      "job.completed",
      `completed: ${outcome}`
    )
  }

  const resetFailed: Writer["resetFailed"] = (job, phase) => {
    const from = job.state!
    return Effect.gen(function* () {
      const at = yield* now
      const waiting = Jobs.encodeStatus(new TaskStatus({ status: "waiting", attempt: 0, updatedAt: at }))
      let compare: Array<Compare> = []
      let ops: Array<Op> = []
      let last = 0
      const flush = Effect.gen(function* () {
        if (ops.length === 0) return
        last = yield* txn(compare, ops)
        compare = []
        ops = []
      })
      for (const [id, t] of job.tasks[phase]) {
        const r = t.result
        if (r === undefined || done(r.value.result)) continue
        compare.push({ key: keys.task(job.id, phase, id, "result"), target: "modRevision", op: "==", value: r.mod })
        ops.push(
          { _tag: "delete", key: keys.task(job.id, phase, id, "result") },
          { _tag: "put", key: keys.task(job.id, phase, id, "status"), value: waiting }
        )
        if (ops.length >= 100) yield* flush
      }
      yield* flush
      // the retry stays in the state it re-entered; only the pending operation goes
      const { pending: _p, ...rest } = from.value
      const state = Records.make(JobState, { ...rest, updatedAt: at })
      const value = Jobs.encodeState(state)
      const r = yield* txn(
        [{ key: keys.jobState(job.id), target: "modRevision", op: "==", value: from.mod }],
        [
          { _tag: "put", key: keys.jobState(job.id), value },
          { _tag: "put", key: keys.indexEntry(job.id), value },
          yield* event(job.id, undefined, undefined, "job.retrying", `retrying the failed tasks of the ${phase} phase`),
          ActiveIndex.op(keys, job.id, state, job.spec)
        ]
      )
      return Math.max(last, r)
    })
  }

  const startOps: Writer["startOps"] = (job, state) =>
    Effect.gen(function* () {
      const at = yield* now
      const { pending: _p, ...rest } = state
      const started = Records.make(JobState, {
        ...rest,
        state: next(state.state, "start")!,
        startedAt: at,
        updatedAt: at
      })
      const value = Jobs.encodeState(started)
      return [
        { _tag: "put", key: keys.jobState(job), value },
        { _tag: "put", key: keys.indexEntry(job), value },
        yield* event(job, undefined, undefined, "job.started", "job started"),
        // a job submitted by an older client has no entry yet
        ActiveIndex.op(keys, job, started, undefined)
      ] satisfies Array<Op>
    })

  return { event, settle, transition, startOps, complete, resetFailed }
}
