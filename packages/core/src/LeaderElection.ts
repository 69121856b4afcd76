/**
 * Leader election per task (SPEC §4.3). A runner session is one lease; the
 * runner's registration (with the task types it serves) lives on it. A task
 * is claimed by creating its claim key on the lease in a transaction that
 * also checks the task is still claimable; the claim's create revision is
 * the fencing token every later write for the task compares.
 *
 * Every claim also compares the prefix's layout marker (`LayoutVersion`): once a newer version
 * moves the prefix to a layout this one does not know, its claims are refused.
 *
 * A claim transaction whose answer is lost (timeout, connection cut after
 * the request left) is resolved by reading back what it wrote: a claim key
 * on our lease is ours, whatever the error said.
 *
 * @since 0.2.0
 */
import { Context, Data, Duration, Effect, Layer, Option, type Schema, type Scope } from "effect"
import type { Entry } from "./internal/jobView.ts"
import * as Records from "./internal/records.ts"
import { encodeRegistration } from "./internal/registration.ts"
import type { JobState } from "./Job.ts"
import { JobEvent } from "./JobEvent.ts"
import * as Jobs from "./Jobs.ts"
import * as Keys from "./Keys.ts"
import * as LayoutVersion from "./LayoutVersion.ts"
import { type Compare, type Lease, type Op, Store } from "./Store.ts"
import type { StoreError } from "./StoreError.ts"
import { type Phase, type TaskSpec, TaskStatus } from "./Task.ts"

/** A task this runner holds: the fencing token is the claim's create revision. */
export class Claim extends Data.Class<{
  readonly job: string
  readonly phase: Phase
  readonly task: string
  readonly token: number
  readonly attempt: number
  readonly spec: TaskSpec
  /** The cluster-wide target slot taken with the claim, released with the result. */
  readonly slot: string | undefined
  /**
   * The output of the dependency whose result transaction took this claim: the view may not
   * have seen that result yet when this task resolves its input.
   */
  readonly upstream?: { readonly task: string; readonly output: Schema.Json } | undefined
}> {
  get key(): string {
    return `${this.job}/${this.phase}/${this.task}`
  }
}

export interface ClaimRequest {
  readonly job: string
  readonly phase: Phase
  /** The job state the claim was decided on: the claim fails if it moved. */
  readonly decided: Entry<JobState>
  /** Writes that go with the claim (the first claim of a job also starts it). */
  readonly with: ReadonlyArray<Op>
  readonly tasks: ReadonlyArray<{
    readonly spec: TaskSpec
    readonly status: Entry<TaskStatus> | undefined
    readonly slot: string | undefined
  }>
}

export interface ClaimResult {
  /** Empty when something changed under the decision (another runner won, the job moved). */
  readonly claims: ReadonlyArray<Claim>
  readonly revision: number
}

export interface Session {
  readonly lease: Lease
  readonly claim: (request: ClaimRequest) => Effect.Effect<ClaimResult, StoreError>
  /**
   * The compares and writes of a claim, to go in another transaction (a result's, which then
   * also claims the dependants it makes ready); `claims` are what they hold once committed.
   */
  readonly claimOps: (request: Omit<ClaimRequest, "with"> & { readonly with?: ReadonlyArray<Op> }) => Effect.Effect<{
    readonly compare: ReadonlyArray<Compare>
    readonly ops: ReadonlyArray<Op>
    readonly claims: (token: number) => ReadonlyArray<Claim>
    readonly claimOf: (i: number, token: number) => Claim
  }>
  /** Gives a claim up without a result (fenced: a claim that moved on is left alone). */
  readonly release: (claim: {
    readonly job: string
    readonly phase: Phase
    readonly task: string
    readonly token: number
    readonly slot?: string | undefined
  }) => Effect.Effect<void, StoreError>
}

export interface Options {
  readonly runnerId: string
  readonly prefix?: string
  readonly leaseTtl?: Duration.Input
  /** Task types this runner serves, advertised so a task nobody serves is visibly waiting. */
  readonly types: ReadonlyArray<string>
}

export class LeaderElection extends Context.Service<
  LeaderElection,
  {
    readonly runnerId: string
    readonly ttl: Duration.Duration
    /** Starts a session: a lease, kept alive while the scope is open, with the registration on it. */
    readonly session: Effect.Effect<Session, StoreError, Scope.Scope>
  }
>()("@migrator/core/LeaderElection") {}

/** The compares that say a task is claimable as the view saw it. */
export const claimable = (
  keys: Keys.Layout,
  job: string,
  phase: Phase,
  task: string,
  status: Entry<TaskStatus> | undefined
): ReadonlyArray<Compare> => [
  { key: keys.task(job, phase, task, "status"), target: "modRevision", op: "==", value: status?.mod ?? 0 },
  { key: keys.task(job, phase, task, "result"), target: "createRevision", op: "==", value: 0 },
  { key: keys.task(job, phase, task, "claim"), target: "createRevision", op: "==", value: 0 }
]

export const make = (options: Options): Effect.Effect<LeaderElection["Service"], never, Store> =>
  Effect.gen(function* () {
    const store = yield* Store
    const keys = Keys.make(options.prefix ?? Keys.DEFAULT_PREFIX)
    const runnerId = options.runnerId
    const ttl = Duration.fromInputUnsafe(options.leaseTtl ?? "10 seconds")

    const session = Effect.gen(function* () {
      const lease = yield* store.lease(ttl)
      yield* store.txn({
        compare: [],
        success: [
          {
            _tag: "put",
            key: keys.runner(runnerId),
            value: encodeRegistration({ runner: runnerId, types: options.types }),
            lease: lease.id
          }
        ]
      })
      yield* Effect.logInfo("runner session started").pipe(Effect.annotateLogs({ runner: runnerId, lease: lease.id }))

      const claimOps: Session["claimOps"] = (request) =>
        Effect.gen(function* () {
          const at = yield* Effect.clockWith((c) => c.currentTimeMillis)
          const { job, phase } = request
          const compare: Array<Compare> = [
            { key: keys.jobState(job), target: "modRevision", op: "==", value: request.decided.mod },
            // a prefix moved to a layout this version does not know is not claimed from
            LayoutVersion.guard(keys)
          ]
          const ops: Array<Op> = [...(request.with ?? [])]
          const attempts = request.tasks.map((t) => (t.status?.value.attempt ?? 0) + 1)
          for (const [i, { spec, status, slot }] of request.tasks.entries()) {
            const attempt = attempts[i]!
            compare.push(...claimable(keys, job, phase, spec.id, status))
            ops.push(
              { _tag: "put", key: keys.task(job, phase, spec.id, "claim"), value: runnerId, lease: lease.id },
              {
                _tag: "put",
                key: keys.task(job, phase, spec.id, "status"),
                value: Jobs.encodeStatus(
                  Records.make(TaskStatus, {
                    status: "running",
                    attempt,
                    runner: runnerId,
                    startedAt: at,
                    updatedAt: at
                  })
                )
              },
              yield* Jobs.eventOp(
                keys,
                job,
                runnerId,
                Records.make(JobEvent, {
                  at,
                  type: attempt > 1 ? "task.retried" : "task.started",
                  message: `attempt ${attempt} on ${runnerId}`,
                  runner: runnerId,
                  taskId: spec.id,
                  phase
                })
              )
            )
            if (slot !== undefined) {
              compare.push({ key: slot, target: "createRevision", op: "==", value: 0 })
              ops.push({ _tag: "put", key: slot, value: `${job}/${phase}/${spec.id}`, lease: lease.id })
            }
          }
          const claimOf = (i: number, token: number) => {
            const t = request.tasks[i]!
            return new Claim({ job, phase, task: t.spec.id, token, attempt: attempts[i]!, spec: t.spec, slot: t.slot })
          }
          return { compare, ops, claims: (token: number) => request.tasks.map((_, i) => claimOf(i, token)), claimOf }
        })

      const claim = (request: ClaimRequest) =>
        Effect.gen(function* () {
          const { job, phase } = request
          const { compare, ops, claimOf } = yield* claimOps(request)
          const answer = yield* Effect.result(store.txn({ compare, success: ops }))
          if (answer._tag === "Success") {
            const r = answer.success
            return {
              claims: r.succeeded ? request.tasks.map((_, i) => claimOf(i, r.revision)) : [],
              revision: r.revision
            }
          }
          // the answer is lost, not necessarily the claim: what is on our lease is ours
          const claims: Array<Claim> = []
          let revision = 0
          for (const [i, { spec }] of request.tasks.entries()) {
            const kv = yield* store.get(keys.task(job, phase, spec.id, "claim"))
            if (Option.isSome(kv) && kv.value.lease === lease.id) {
              claims.push(claimOf(i, kv.value.createRevision))
              revision = Math.max(revision, kv.value.createRevision)
            }
          }
          yield* Effect.logWarning(
            `claim answer lost; ${claims.length} of ${request.tasks.length} claims found ours`
          ).pipe(Effect.annotateLogs({ runner: runnerId, job, error: answer.failure.message }))
          return { claims, revision }
        })

      const release: Session["release"] = (c) =>
        Effect.asVoid(
          store.txn({
            compare: [
              { key: keys.task(c.job, c.phase, c.task, "claim"), target: "createRevision", op: "==", value: c.token }
            ],
            success: [
              { _tag: "delete", key: keys.task(c.job, c.phase, c.task, "claim") },
              ...(c.slot === undefined ? [] : [{ _tag: "delete", key: c.slot } as const])
            ]
          })
        )

      return { lease, claim, claimOps, release } satisfies Session
    })

    return LeaderElection.of({ runnerId, ttl, session })
  })

export const layer = (options: Options): Layer.Layer<LeaderElection, never, Store> =>
  Layer.effect(LeaderElection, make(options))
