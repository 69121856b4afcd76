/**
 * The engine: one runner process's share of the work (SPEC §4.2-§4.6),
 * composed of the services that each own one concern:
 *
 * - `Monitor`: discovery, the cached view of jobs, shared records, runners and slots;
 * - `LeaderElection`: the runner session (one lease) and task claims;
 * - `SharedRefs`: the shared-record protocol;
 * - `ResultTxn`: the fenced, batched result write;
 * - `Scheduler`: readiness, settling, job transitions, within capacity;
 * - `RetryPolicy`: every decision to try again.
 *
 * This module executes claimed tasks and keeps sessions going: lease loss
 * interrupts every task in flight and starts a new session.
 *
 * @since 0.1.0
 */
import { Cause, Clock, Duration, Effect, Fiber, Layer, Metric, Option, Scope, Semaphore } from "effect"
import * as EngineMetrics from "./EngineMetrics.ts"
import * as Attempt from "./internal/attempt.ts"
import * as JobWrites from "./internal/jobWrites.ts"
import * as ResultWrites from "./internal/resultWrites.ts"
import * as TaskShare from "./internal/taskShare.ts"
import * as Jobs from "./Jobs.ts"
import * as Keys from "./Keys.ts"
import type { UnknownLayout } from "./LayoutVersion.ts"
import * as LeaderElectionModule from "./LeaderElection.ts"
import { type Claim, LeaderElection, type Session } from "./LeaderElection.ts"
import * as MonitorModule from "./Monitor.ts"
import { Monitor } from "./Monitor.ts"
import * as ResultTxnModule from "./ResultTxn.ts"
import { ResultTxn } from "./ResultTxn.ts"
import * as Scheduler from "./Scheduler.ts"
import * as SharedRefsModule from "./SharedRefs.ts"
import { SharedRefs } from "./SharedRefs.ts"
import { Store } from "./Store.ts"
import { TaskError } from "./TaskError.ts"
import { TaskRegistry } from "./TaskRegistry.ts"

export interface Options {
  readonly runnerId: string
  readonly prefix?: string
  readonly leaseTtl?: Duration.Input
  /** Tasks in flight on this runner. */
  readonly concurrency?: number
  /** Tasks in flight per job target (e.g. per recovery cluster), across every runner of the fleet. */
  readonly targetConcurrency?: number
  readonly resyncInterval?: Duration.Input
  /** How long in-flight tasks may finish on shutdown before they are interrupted. */
  readonly shutdownGrace?: Duration.Input
}

/** The store with the latency of its transactions recorded. */
const instrumented = (store: Store["Service"]): Store["Service"] => ({
  ...store,
  txn: (request) =>
    Effect.gen(function* () {
      const start = yield* Clock.currentTimeMillis
      const result = yield* store.txn(request)
      yield* Metric.update(EngineMetrics.storeLatency, (yield* Clock.currentTimeMillis) - start)
      return result
    })
})

/** The engine's services for one runner, on the given store. */
export const layer = (
  options: Options & { readonly types: ReadonlyArray<string> }
): Layer.Layer<Monitor | LeaderElection | SharedRefs | ResultTxn, never, Store> =>
  Layer.mergeAll(SharedRefsModule.layer(options), ResultTxnModule.layer).pipe(
    Layer.provideMerge(Layer.mergeAll(MonitorModule.layer(options), LeaderElectionModule.layer(options)))
  )

/**
 * Runs the engine until interrupted; survives lease loss and store outages. Fails only when the
 * prefix is (or is moved to) a key layout this version does not know: its tasks are then
 * stopped as on shutdown.
 */
export const run = (options: Options): Effect.Effect<never, UnknownLayout, Store | TaskRegistry> =>
  Effect.gen(function* () {
    const store = instrumented(yield* Store)
    const registry = yield* TaskRegistry
    const services = layer({ ...options, types: registry.types() })
    return yield* Effect.gen(function* () {
      const monitor = yield* Monitor
      return yield* Effect.raceFirst(sessions(options), monitor.refused)
    }).pipe(Effect.provide(services), Effect.provideService(Store, store))
  })

const sessions = (options: Options) =>
  Effect.gen(function* () {
    const election = yield* LeaderElection
    const session = Effect.gen(function* () {
      const s = yield* election.session
      yield* sessionLoop(options, s)
    }).pipe(Effect.scoped)
    return yield* session.pipe(
      Effect.catchCause((cause) =>
        Cause.hasInterruptsOnly(cause)
          ? Effect.interrupt
          : Effect.logWarning("runner session ended", Cause.pretty(cause)).pipe(
              Effect.andThen(Effect.sleep("500 millis"))
            )
      ),
      Effect.forever
    )
  })

interface Running {
  readonly fiber: Fiber.Fiber<void>
  readonly claim: Claim
}

const sessionLoop = (options: Options, session: Session) =>
  Effect.gen(function* () {
    const store = yield* Store
    const registry = yield* TaskRegistry
    const monitor = yield* Monitor
    const election = yield* LeaderElection
    const shared = yield* SharedRefs
    const results = yield* ResultTxn
    const keys = Keys.make(options.prefix ?? Keys.DEFAULT_PREFIX)
    const runnerId = election.runnerId
    const writer = JobWrites.make(store, keys, runnerId)
    const concurrency = options.concurrency ?? 16
    const limit = yield* Semaphore.make(concurrency)
    const running = new Map<string, Running>()
    const runningKeys = new Set<string>()
    // running tasks whose result is being written: the write is fenced, and the watch may show
    // the claim's deletion by that very write before its answer arrives
    const writing = new Set<string>()
    let stopping = false

    const sessionScope = yield* Effect.scope
    // tasks live in a scope made before the shutdown finalizer, so on shutdown that finalizer
    // (which gives them the grace period) runs before the scope that interrupts them closes
    const taskScope = yield* Scope.fork(sessionScope)

    // ---- ending an attempt ------------------------------------------------

    /**
     * Writes the attempt's result. What follows a committed write (starting the dependants it
     * claimed) runs uninterruptibly: a claim committed but never started would wait for the
     * orphan sweep.
     */
    const finish = (claim: Claim, outcome: Attempt.Outcome) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function* () {
          const write = yield* ResultWrites.of({ keys, writer, registry }, claim, outcome)
          // a success claims the dependants it makes ready in the same transaction
          const next =
            outcome._tag === "success" ? scheduler.successors(claim, yield* Clock.currentTimeMillis) : undefined
          const claims =
            next === undefined ? undefined : yield* session.claimOps({ job: claim.job, phase: "run", ...next })
          writing.add(claim.key)
          const written = yield* restore(
            results.write(
              claims === undefined ? write : { ...write, also: { compare: claims.compare, ops: claims.ops } }
            )
          )
          yield* afterWrite(claim, outcome, written, claims)
          return written
        })
      )

    const afterWrite = (
      claim: Claim,
      outcome: Attempt.Outcome,
      written: ResultTxnModule.Written,
      claims: Effect.Success<ReturnType<Session["claimOps"]>> | undefined
    ) =>
      Effect.gen(function* () {
        if (written.status === "conflict") writing.delete(claim.key)
        if (written.also === true && claims !== undefined) {
          const upstream = outcome._tag === "success" ? { task: claim.task, output: outcome.output } : undefined
          const taken = claims.claims(written.revision).map((c) => new LeaderElectionModule.Claim({ ...c, upstream }))
          for (const c of taken) {
            yield* Metric.update(EngineMetrics.claims, 1)
            yield* Metric.update(EngineMetrics.tasksStartedOf({ type: c.spec.type }), 1)
          }
          yield* start(taken)
        }
        if (written.status === "lost") {
          yield* Effect.logWarning("result not written: claim lost").pipe(
            Effect.annotateLogs({ job: claim.job, task: claim.task, token: claim.token })
          )
        }
      })

    const execute = (claim: Claim): Effect.Effect<void> =>
      Effect.gen(function* () {
        const started = yield* Clock.currentTimeMillis
        const type = { type: claim.spec.type }
        const job = monitor.view.slot(claim.job)
        // a decision on a shared record that moved meanwhile is taken again
        for (;;) {
          const outcome = yield* Attempt.run({ runnerId, registry, shared }, job, claim).pipe(
            // an engine failure must not leave the claim held forever: the attempt fails, retryably
            Effect.catchCause((cause) =>
              Cause.hasInterruptsOnly(cause)
                ? Effect.failCause(cause)
                : Effect.logError("task attempt", Cause.pretty(cause)).pipe(
                    Effect.as<Attempt.Outcome>({
                      _tag: "failure",
                      error: new TaskError({
                        code: "engine.error",
                        message: Cause.pretty(cause).split("\n")[0] ?? "engine error",
                        retryable: true
                      })
                    })
                  )
            )
          )
          const written = yield* finish(claim, outcome)
          if (written.status === "conflict") continue
          if (outcome._tag === "failure" && written.status === "written") {
            // one structured line with job, task and the reason (which names the field)
            yield* Effect.logWarning(
              `attempt ${claim.attempt} of task ${claim.task} of job ${claim.job} failed: ${outcome.error.code}: ${outcome.error.message}`
            ).pipe(
              Effect.annotateLogs({
                runner: runnerId,
                job: claim.job,
                phase: claim.phase,
                task: claim.task,
                attempt: claim.attempt,
                code: outcome.error.code
              })
            )
          }
          const result = outcome._tag === "success" ? "success" : outcome._tag === "failure" ? "failed" : outcome._tag
          yield* Metric.update(EngineMetrics.tasksFinishedOf({ ...type, result }), 1)
          yield* Metric.update(EngineMetrics.taskDurationOf(type), (yield* Clock.currentTimeMillis) - started)
          return
        }
      }).pipe(
        Effect.catchCause((cause) =>
          Cause.hasInterruptsOnly(cause) ? Effect.interrupt : Effect.logError("task execution", Cause.pretty(cause))
        )
      )

    const start = (claims: ReadonlyArray<Claim>) =>
      Effect.forEach(
        claims,
        (claim) =>
          Effect.gen(function* () {
            const key = claim.key
            if (runningKeys.has(key)) return
            // the watch often shows a claim before its answer comes: answered, it is no suspect
            if (suspects.get(key) === claim.token) suspects.delete(key)
            const body = execute(claim).pipe(
              limit.withPermits(1),
              Effect.ensuring(
                Effect.suspend(() => {
                  running.delete(key)
                  runningKeys.delete(key)
                  writing.delete(key)
                  return scheduler.freed(claim)
                })
              ),
              Effect.andThen(monitor.markDirty(claim.job))
            )
            runningKeys.add(key)
            const fiber = yield* Effect.forkIn(body, taskScope)
            running.set(key, { fiber, claim })
          }),
        { discard: true }
      )

    const cancel = (key: string) =>
      Effect.suspend(() => {
        const mine = running.get(key)
        if (mine === undefined) return Effect.succeed(undefined)
        return Fiber.interrupt(mine.fiber).pipe(
          Effect.andThen(finish(mine.claim, { _tag: "canceled" })),
          Effect.map((w) => w.revision)
        )
      })

    // task keys possibly claimed by us that nothing here executes, with the claim's token when
    // the view showed it (none when a claim's answer was lost before the view saw anything)
    const suspects = new Map<string, number | undefined>()
    const scheduler = Scheduler.make({
      keys,
      monitor,
      session,
      writer,
      executions: { running: runningKeys, start, cancel, suspect: (key) => suspects.set(key, undefined) },
      serves: (type) => Option.isSome(registry.get(type)),
      concurrency,
      targetConcurrency: options.targetConcurrency,
      stopping: () => stopping,
      scope: sessionScope,
      share: TaskShare.make(runnerId, () => monitor.view.runners)
    })

    // ---- reacting to claims and slots ---------------------------------------

    yield* monitor.onChange((change) => {
      const slotChanged = change.slot === undefined ? undefined : scheduler.slotChanged(change.slot)
      const c = change.claim
      // most claim changes are other runners' tasks, while this runner executes none of them
      if (c === undefined || (running.size === 0 && c.entry?.value !== runnerId)) return slotChanged
      const key = `${c.job}/${c.phase}/${c.task}`
      const mine = running.get(key)
      if (c.entry?.value === runnerId && mine === undefined) suspects.set(key, c.entry.create)
      // our claim is gone (lease revoked, task reset): stop executing at once
      if (mine !== undefined && c.entry?.create !== mine.claim.token && !writing.has(key)) {
        const stop = Effect.forkIn(Fiber.interrupt(mine.fiber), sessionScope)
        return slotChanged === undefined ? stop : Effect.andThen(slotChanged, stop)
      }
      return slotChanged
    })

    /**
     * A claim of ours that nothing here executes (its claim transaction's answer was lost and
     * could not be read back) is resumed if it is on this session's lease, released otherwise:
     * the store, not the view, decides.
     */
    const settleSuspect = (key: string, seen: number | undefined) =>
      Effect.gen(function* () {
        if (runningKeys.has(key) || stopping) return
        const [job, phase, task] = key.split("/") as [string, "run" | "clear", string]
        // the view showed the claim and has seen it end since (most often: the watch showed it
        // before its answer came, and the task has finished): a later claim of ours is a suspect anew
        if (seen !== undefined && monitor.view.jobs.get(job)?.tasks[phase].get(task)?.claim?.create !== seen) return
        const current = yield* store.get(keys.task(job, phase, task, "claim"))
        if (Option.isNone(current) || current.value.value !== runnerId) return
        const token = current.value.createRevision
        const spec = monitor.view.jobs.get(job)?.tasks[phase].get(task)?.spec
        const statusKv = yield* store.get(keys.task(job, phase, task, "status"))
        const status = Option.isSome(statusKv)
          ? Option.getOrUndefined(yield* Effect.option(Jobs.decodeStatus(statusKv.value.key, statusKv.value.value)))
          : undefined
        const resumable =
          spec !== undefined &&
          status?.status === "running" &&
          current.value.lease === session.lease.id &&
          !(yield* session.lease.isLost)
        if (resumable) {
          yield* Effect.logWarning("resuming a claim nothing was executing").pipe(Effect.annotateLogs({ job, task }))
          return yield* start([
            new LeaderElectionModule.Claim({
              job,
              phase,
              task,
              token,
              attempt: status.attempt,
              spec,
              slot: [...monitor.view.slots].find(([, s]) => s.value === key)?.[0]
            })
          ])
        }
        yield* session.release({ job, phase, task, token })
      })
    // claims of ours from an earlier session (its lease presumed lost, maybe still alive) too
    for (const job of monitor.view.jobs.values()) {
      for (const phase of ["run", "clear"] as const) {
        for (const [task, t] of job.tasks[phase]) {
          if (t.claim?.value === runnerId) suspects.set(`${job.id}/${phase}/${task}`, t.claim.create)
        }
      }
    }
    // a suspect whose check or release meets a store error is looked at again next time
    const sweep = Effect.suspend(() =>
      Effect.forEach(
        [...suspects],
        ([key, seen]) =>
          settleSuspect(key, seen).pipe(
            // (unless it became a suspect anew meanwhile)
            Effect.andThen(Effect.sync(() => suspects.get(key) === seen && suspects.delete(key))),
            Effect.catch(() => Effect.void)
          ),
        { discard: true }
      )
    )
    yield* sweep.pipe(
      Effect.andThen(Effect.sleep(Duration.millis(Duration.toMillis(election.ttl) / 3))),
      Effect.forever,
      Effect.forkIn(sessionScope)
    )

    // ---- the loop -----------------------------------------------------------

    yield* Effect.forkIn(
      Effect.gen(function* () {
        const wake = yield* monitor.wake.next
        for (const id of yield* monitor.takeDirty) {
          const job = monitor.view.jobs.get(id)
          if (job !== undefined) yield* scheduler.evaluate(job)
        }
        yield* monitor.reportProblems
        scheduler.tidy()
        yield* wake
      }).pipe(Effect.forever),
      sessionScope
    )
    // a new session looks at every job again
    for (const id of monitor.view.jobs.keys()) yield* monitor.markDirty(id)

    yield* Effect.addFinalizer(() =>
      Effect.gen(function* () {
        stopping = true
        const fibers = [...running.values()].map((r) => r.fiber)
        // tasks may finish within the grace period, but never past the loss of the lease
        yield* Fiber.awaitAll(fibers).pipe(
          Effect.timeout(options.shutdownGrace ?? "10 seconds"),
          Effect.ignore,
          Effect.raceFirst(Effect.asVoid(session.lease.lost))
        )
        yield* Fiber.interruptAll(fibers)
      })
    )
    const lost = yield* session.lease.lost
    yield* Metric.update(EngineMetrics.leaseLosses, 1)
    yield* Effect.logWarning("lease lost; interrupting tasks in flight", lost.message).pipe(
      Effect.annotateLogs({ runner: runnerId })
    )
    yield* Fiber.interruptAll([...running.values()].map((r) => r.fiber))
  })
