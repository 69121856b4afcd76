/**
 * Deciding (SPEC §4.2-§4.4): for a job that changed, which tasks are ready,
 * which are `ignored` or `skipped`, which are claimed now (within this
 * runner's concurrency, the target's cluster-wide slots and the task types
 * this runner serves), and when the job moves on. Every decision becomes a
 * compare-and-swap against the revision it was taken on.
 *
 * @since 0.2.0
 */
import { Resolver } from "@migrator/resolver"
import { Duration, Effect, Metric, Result as Outcome, type Schema, type Scope } from "effect"
import * as EngineMetrics from "./EngineMetrics.ts"
import type { JobSlot, TaskSlot } from "./internal/jobView.ts"
import { done, type Writer } from "./internal/jobWrites.ts"
import type { TaskShare } from "./internal/taskShare.ts"
import type * as Keys from "./Keys.ts"
import type { Claim, Session } from "./LeaderElection.ts"
import type { Monitor } from "./Monitor.ts"
import { make as reason } from "./Reason.ts"
import type { StoreError } from "./StoreError.ts"
import { Phase, type Result, type TaskSpec } from "./Task.ts"

/** Tasks claimed per transaction: ~4 compares and 3 writes each, under etcd's 128 operations. */
const CLAIM_BATCH = 25

/** What the scheduler needs of the tasks this runner executes. */
export interface Executions {
  /** Task keys (`job/phase/task`) being executed. */
  readonly running: ReadonlySet<string>
  readonly start: (claims: ReadonlyArray<Claim>) => Effect.Effect<void>
  /** Interrupts a running task and writes its `canceled` result. */
  readonly cancel: (key: string) => Effect.Effect<number | undefined, StoreError>
  /** A claim of this task may be ours without our knowing (its answer was lost): look again soon. */
  readonly suspect: (key: string) => void
}

export interface Options {
  readonly keys: Keys.Layout
  readonly monitor: Monitor["Service"]
  readonly session: Session
  readonly writer: Writer
  readonly executions: Executions
  /** Task types this runner serves: others are left to runners that do. */
  readonly serves: (type: string) => boolean
  readonly concurrency: number
  /** Tasks in flight per job target across the whole fleet. */
  readonly targetConcurrency: number | undefined
  readonly stopping: () => boolean
  /** Where forked writes and timers live (the session). */
  readonly scope: Scope.Scope
  /** Which ready tasks this runner tries first. */
  readonly share: TaskShare
}

/** Dependants a result can claim in its own transaction, and the job state they were decided on. */
export interface Successors {
  readonly decided: NonNullable<JobSlot["state"]>
  readonly tasks: ReadonlyArray<{
    readonly spec: TaskSpec
    readonly status: TaskSlot["status"]
    readonly slot: undefined
  }>
}

export interface Scheduler {
  /** What a task about to succeed here can claim with its result (see `successors` below). */
  readonly successors: (claim: Claim, at: number) => Successors | undefined
  readonly evaluate: (job: JobSlot) => Effect.Effect<void>
  /** A task ended here: its capacity and slot are free again. */
  readonly freed: (claim: Claim) => Effect.Effect<void>
  /** A target slot changed somewhere in the fleet. */
  readonly slotChanged: (slot: string) => Effect.Effect<void>
  /** Drops bookkeeping of writes the view has caught up with. */
  readonly tidy: () => void
}

export const make = (options: Options): Scheduler => {
  const { keys, monitor, session, writer, executions } = options
  const view = monitor.view
  const busy = new Map<string, number>() // action key -> revision the view must reach first (-1: in flight)
  const timers = new Set<string>()
  const starved = new Set<string>() // jobs with ready tasks left unclaimed for lack of capacity
  const slotWaiters = new Set<string>() // jobs with ready tasks waiting for a target slot
  const reserved = new Set<string>() // target slots in our claims and executions
  let claiming = 0 // tasks decided to be claimed whose claim transactions are not answered yet
  const isBusy = (key: string) => {
    const until = busy.get(key)
    return until !== undefined && (until < 0 || until > view.revision)
  }
  /**
   * Runs an action once at a time per key; the view must catch up with its txn before the key is
   * retried. A claim's action `holds` this runner's capacity for its tasks from the decision on,
   * not from when the forked action first runs, or the next job decided in the same pass would be
   * given the same room again.
   */
  const act = (
    key: string | ReadonlyArray<string>,
    job: string,
    action: Effect.Effect<number | undefined, StoreError>,
    holds = 0
  ) =>
    Effect.suspend(() => {
      const all = typeof key === "string" ? [key] : key
      if (all.some(isBusy)) return Effect.void
      for (const k of all) busy.set(k, -1)
      claiming += holds
      const held =
        holds === 0
          ? action
          : Effect.ensuring(
              action,
              Effect.sync(() => (claiming -= holds))
            )
      return held.pipe(
        Effect.tap((revision) =>
          Effect.suspend(() => {
            for (const k of all) busy.set(k, revision ?? 0)
            // the view may have applied this write while the key was still marked in flight,
            // and skipped the job for it: look again
            return (revision ?? 0) <= view.revision ? monitor.markDirty(job) : Effect.void
          })
        ),
        Effect.catch((error) =>
          // the key stays busy while backing off, so failures cannot multiply the retries
          Effect.logDebug("action failed", error.message).pipe(
            Effect.andThen(Effect.sleep(error.retryable ? "100 millis" : "1 second")),
            Effect.andThen(
              Effect.sync(() => {
                for (const k of all) busy.delete(k)
                const slot = view.jobs.get(job)
                if (slot !== undefined) slot.scan = true
              })
            ),
            Effect.andThen(monitor.markDirty(job))
          )
        ),
        Effect.forkIn(options.scope),
        Effect.asVoid
      )
    })

  const wakeAt = (
    key: string,
    job: string,
    due: number,
    at: number,
    candidate?: { readonly phase: Phase; readonly id: string }
  ) =>
    Effect.suspend(() => {
      const timer = `${key}@${due}`
      if (timers.has(timer)) return Effect.void
      timers.add(timer)
      return Effect.sleep(Duration.millis(Math.max(0, due - at))).pipe(
        Effect.andThen(
          Effect.sync(() => {
            timers.delete(timer)
            const slot = view.jobs.get(job)
            if (slot === undefined) return
            if (candidate === undefined) slot.scan = true
            else slot.candidates[candidate.phase].add(candidate.id)
          })
        ),
        Effect.andThen(monitor.markDirty(job)),
        Effect.forkIn(options.scope),
        Effect.asVoid
      )
    })

  /** A free cluster-wide slot of the job's target; undefined when the target has no limit. */
  const freeSlot = (job: JobSlot): string | undefined | null => {
    const target = job.spec?.target
    if (target === undefined || options.targetConcurrency === undefined) return undefined
    for (let n = 0; n < options.targetConcurrency; n++) {
      const key = keys.slot(target, n)
      if (!view.slots.has(key) && !reserved.has(key)) return key
    }
    return null
  }

  // nothing new to look at in the phase being scheduled, which is not over: most evaluations then run no effect
  const idle = (job: JobSlot): boolean => {
    const state = job.state?.value
    if (job.scan || job.spec === undefined || state === undefined || state.pending !== undefined) return false
    const phase =
      state.state === "clearing" ? "clear" : state.state === "running" || state.state === "pending" ? "run" : null
    if (phase === null || job.candidates[phase].size > 0 || job.othersShare.tasks[phase].size > 0) return false
    return !phaseOver(job, phase, phase === "run" ? job.spec.runTasks : job.spec.clearTasks)
  }
  // every task of the phase has its result (`expected`: the spec's count of them)
  const phaseOver = (job: JobSlot, phase: Phase, expected: number) =>
    job.finished[phase] === expected && job.tasks[phase].size >= expected

  const evaluate = (job: JobSlot) => (idle(job) ? Effect.void : evaluateNow(job))

  const evaluateNow = (job: JobSlot) =>
    Effect.gen(function* () {
      const spec = job.spec
      const state = job.state?.value
      if (spec === undefined || state === undefined) return // half-written or unreadable
      const at = yield* Effect.clockWith((c) => c.currentTimeMillis)
      switch (state.state) {
        case "pending":
          // the first claim starts the job in the same transaction
          return yield* schedulePhase(job, "run", spec.runTasks, at)
        case "running":
          if (state.pending?.operation === "retry")
            return yield* act(`${job.id}/state`, job.id, writer.resetFailed(job, "run"))
          return yield* schedulePhase(job, "run", spec.runTasks, at)
        case "clearing":
          if (state.pending?.operation === "retry")
            return yield* act(`${job.id}/state`, job.id, writer.resetFailed(job, "clear"))
          return yield* schedulePhase(job, "clear", spec.clearTasks, at)
        case "canceling":
          return yield* cancelPhase(job)
        case "completed": {
          if (spec.autoRollbackAfterMs === undefined || state.completedAt === undefined) return
          const due = state.completedAt + spec.autoRollbackAfterMs
          if (at < due) return yield* wakeAt(`${job.id}/auto-rollback`, job.id, due, at)
          return yield* act(
            `${job.id}/state`,
            job.id,
            writer.transition(
              job,
              "auto-rollback",
              ({ outcome: _o, ...rest }) => ({ ...rest, clearMode: "rollback", updatedAt: at }),
              "job.rollback",
              "automatic rollback of a drill"
            )
          )
        }
        default:
          return
      }
    })

  const schedulePhase = (job: JobSlot, phase: Phase, expected: number, at: number) =>
    Effect.gen(function* () {
      const tasks = job.tasks[phase]
      if (job.scan) {
        job.scan = false
        for (const p of Phase.literals) {
          job.candidates[p].clear()
          job.othersShare.tasks[p].clear()
        }
        for (const id of tasks.keys()) job.candidates[phase].add(id)
      }
      // only the phase being scheduled is looked at: the other's candidates wait for a scan (the
      // job state moves from one phase to the other, and every change of it is one)
      const candidates = job.candidates[phase]
      const othersTasks = job.othersShare.tasks[phase]
      // candidates are looked at only while there is room for what they may start: the rest
      // wait for a freed slot, so a job with thousands of ready tasks costs little per change
      const room = Math.max(0, options.concurrency - executions.running.size - claiming)
      const ready: Array<{ readonly id: string; readonly t: TaskSlot; readonly slot: string | undefined }> = []
      /** Looks at the tasks `ids` in turn, each taken out of `from` (where it waited) as it is looked at. */
      const visit = (ids: Iterable<string>, from: Set<string>) =>
        Effect.gen(function* () {
          for (const id of ids) {
            if (ready.length >= room) {
              starved.add(job.id)
              return
            }
            from.delete(id)
            const t = tasks.get(id)
            if (t?.spec === undefined || t.result !== undefined || !mayBeReady(job, phase, t)) continue
            const decision = considerTask(job, phase, id, t, at)
            if (decision === false) continue
            if (decision !== true) {
              yield* decision
              continue
            }
            const slot = freeSlot(job)
            if (slot === null) {
              // no slot of the target is free: the task is not claimed, so any runner may take it later
              candidates.add(id)
              slotWaiters.add(job.id)
              return
            }
            if (slot !== undefined) reserved.add(slot)
            ready.push({ id, t, slot })
          }
        })
      // a candidate of another runner's share is set aside once, not sorted at every evaluation
      // (while the others take theirs, thousands of them would be); when the fleet changes, all
      // of them are candidates again, a runner left alone included
      const shared = options.share.shared()
      const others = job.othersShare
      if (others.version !== options.share.version()) {
        for (const p of Phase.literals) {
          for (const id of others.tasks[p]) job.candidates[p].add(id)
          others.tasks[p].clear()
        }
        others.version = options.share.version()
      }
      if (!shared) yield* visit(candidates, candidates)
      else {
        // this runner's share first; the others' only when it has nothing of its own (see TaskShare)
        const own: Array<string> = []
        for (const id of candidates) {
          const t = tasks.get(id)
          if (t?.spec === undefined || t.result !== undefined || !mayBeReady(job, phase, t)) {
            // taken, finished or still blocked: dropped here, as a visit would
            candidates.delete(id)
            continue
          }
          if (own.length >= room) {
            starved.add(job.id)
            break
          }
          if (options.share.mine(`${job.id}/${phase}/${id}`, t.spec.type)) own.push(id)
          else {
            candidates.delete(id)
            othersTasks.add(id)
          }
        }
        yield* visit(own, candidates)
        if (ready.length === 0) yield* visit(othersTasks, othersTasks)
      }
      // claims go in batches: one transaction for many ready tasks
      const batches: Array<typeof ready> = []
      for (let i = 0; i < ready.length; i += CLAIM_BATCH) batches.push(ready.slice(i, i + CLAIM_BATCH))
      if (batches.length > 1 && job.state!.value.state === "pending") {
        yield* actClaiming(job, phase, ready, claimStarting(job, phase, batches))
      } else {
        for (const batch of batches) yield* actClaiming(job, phase, batch, claim(job, phase, batch, job.state!))
      }
      if (phaseOver(job, phase, expected)) {
        const results: Array<Result> = []
        for (const t of tasks.values()) if (t.result !== undefined) results.push(t.result.value.result)
        if (phase === "run") return yield* act(`${job.id}/state`, job.id, writer.complete(job, results, at))
        const ok = results.every(done)
        return yield* act(
          `${job.id}/state`,
          job.id,
          writer.transition(
            job,
            ok ? "cleared" : "clear-failed",
            (current) => ({ ...current, updatedAt: at }),
            ok ? "job.cleared" : "job.clear-failed",
            ok ? "cleared" : "clear phase failed"
          )
        )
      }
    })

  /**
   * The first look at a candidate: most (tasks other runners hold, tasks whose dependencies are
   * still open) stop here; `considerTask` looks further at the others.
   */
  const mayBeReady = (job: JobSlot, phase: Phase, t: TaskSlot) => {
    if (t.claim !== undefined) return false // someone holds it (maybe us)
    if (t.unreadable?.status === true || t.unreadable?.result === true) return false // reported when read
    for (const d of t.spec!.dependencies) if (job.tasks[phase].get(d)?.result === undefined) return false
    return true
  }

  /**
   * The dependants of a task about to succeed here that its result makes ready for this runner
   * now, to be claimed in the result's own transaction (a chain then costs one transaction per
   * level, not two, and no trip through the watch). Only plain cases: the run phase of a running
   * job, no backoff, no target slot; the scheduler handles everything else when the result comes
   * back through the watch.
   */
  const successors = (claim: Claim, at: number): Successors | undefined => {
    if (claim.phase !== "run" || options.stopping()) return undefined
    const job = view.jobs.get(claim.job)
    const decided = job?.state
    if (job === undefined || decided === undefined) return undefined
    if (decided.value.state !== "running" || decided.value.pending !== undefined) return undefined
    if (freeSlot(job) !== undefined) return undefined
    const room = options.concurrency - executions.running.size - claiming + 1
    const out: Array<Successors["tasks"][number]> = []
    for (const id of job.dependents.run.get(claim.task) ?? []) {
      if (out.length >= Math.min(room, CLAIM_BATCH)) break
      const t = job.tasks.run.get(id)
      const spec = t?.spec
      if (t === undefined || spec === undefined || t.result !== undefined || t.claim !== undefined) continue
      if (t.unreadable?.status === true || t.unreadable?.result === true) continue
      const others = spec.dependencies.filter((d) => d !== claim.task)
      if (!others.every((d) => done(job.tasks.run.get(d)?.result?.value.result))) continue
      // it reads outputs from the view, which has not yet seen the result this claim goes with:
      // that one output is handed over with the claim, every other must be in the view already
      const refs = Resolver.referencedTaskIds(spec.input)
      if (Outcome.isFailure(refs)) continue
      if (!refs.success.every((r) => r === claim.task || job.tasks.run.get(r)?.result !== undefined)) continue
      if (t.status?.value.notBefore !== undefined && t.status.value.notBefore > at) continue
      const key = `${job.id}/run/${id}`
      if (!options.serves(spec.type) || executions.running.has(key) || isBusy(key)) continue
      out.push({ spec, status: t.status, slot: undefined })
    }
    return out.length === 0 ? undefined : { decided, tasks: out }
  }

  /**
   * For a task `mayBeReady` let through, settles what can be settled without running: `true` when
   * the task is ready to be claimed here, `false` when it is not (yet), or the effect that settles
   * it or wakes the job later (the task is not claimed then). Most candidates need no effect: none
   * is built for them.
   */
  const considerTask = (
    job: JobSlot,
    phase: Phase,
    id: string,
    t: TaskSlot,
    at: number
  ): boolean | Effect.Effect<void> => {
    const spec = t.spec!
    const state = job.state!.value
    const tasks = job.tasks[phase]
    let failed: Array<{ readonly id: string; readonly result: Result }> | undefined
    for (const d of spec.dependencies) {
      const result = tasks.get(d)!.result!.value.result // (every one has a result: see mayBeReady)
      if (!done(result)) {
        failed ??= []
        failed.push({ id: d, result })
      }
    }
    const key = `${job.id}/${phase}/${id}`
    const settle = (result: Result, code: string, message: string, details?: Schema.Json) =>
      act(key, job.id, writer.settle(job, phase, id, t, result, reason(code, message, details)))
    if (failed !== undefined) {
      return settle(
        "ignored",
        "dependency.failed",
        `dependencies did not succeed: ${failed.map((d) => `${d.id} (${d.result})`).join(", ")}`,
        { dependencies: failed.map((d) => d.id) }
      )
    }
    if (phase === "clear") {
      if (state.clearMode === "confirm" && spec.runOnConfirm !== true) {
        return settle("skipped", "confirm.kept", "kept on confirm")
      }
      const undone = spec.undoes === undefined ? undefined : job.tasks.run.get(spec.undoes)
      if (undone !== undefined && (undone.status?.value.attempt ?? 0) === 0) {
        return settle("skipped", "run.not-started", `run task ${spec.undoes} never started`)
      }
    }
    const notBefore = t.status?.value.notBefore
    if (notBefore !== undefined && notBefore > at) return wakeAt(key, job.id, notBefore, at, { phase, id })
    // a type this runner does not serve is left to one that does (or waits for one to join)
    if (!options.serves(spec.type)) return false
    return !options.stopping() && !executions.running.has(key) && !isBusy(key)
  }

  type Batch = ReadonlyArray<{ readonly id: string; readonly t: TaskSlot; readonly slot: string | undefined }>

  /** `act` for a claim of `batch`'s tasks, which it holds this runner's capacity for. */
  const actClaiming = (
    job: JobSlot,
    phase: Phase,
    batch: Batch,
    claim: Effect.Effect<number | undefined, StoreError>
  ) =>
    act(
      batch.map(({ id }) => `${job.id}/${phase}/${id}`),
      job.id,
      claim,
      batch.length
    )

  /**
   * The first claims of a job: the batch that starts it moves the state every claim compares, so
   * the others are sent once its answer came, compared with the state it wrote (sent together,
   * all but one would be refused and the job scanned again).
   */
  const claimStarting = (job: JobSlot, phase: Phase, batches: ReadonlyArray<Batch>) => {
    const decided = job.state!
    let sent = 1
    return Effect.gen(function* () {
      const first = yield* claimBatch(job, phase, batches[0]!, decided)
      if (first.claimed === 0) {
        // the batches never sent wait with the refused one
        monitor.lookAgainAfter(job.id, phase, first.revision, batches.slice(1).flatMap(idsOf))
        return first.revision
      }
      sent = batches.length
      const started: Decided = { ...decided, mod: first.revision, starts: false }
      // each batch ends on its own (one failing interrupts no other: its claim may have committed)
      const rest = yield* Effect.forEach(
        batches.slice(1),
        (batch) => Effect.result(claim(job, phase, batch, started)),
        {
          concurrency: "unbounded"
        }
      )
      let revision = first.revision
      for (const r of rest) {
        if (r._tag === "Failure") return yield* Effect.fail(r.failure)
        revision = Math.max(revision, r.success)
      }
      return revision
    }).pipe(
      // the target slots reserved for batches never sent are free again
      Effect.ensuring(
        Effect.sync(() => {
          for (const batch of batches.slice(sent))
            for (const { slot } of batch) if (slot !== undefined) reserved.delete(slot)
        })
      )
    )
  }

  const idsOf = (batch: Batch) => batch.map(({ id }) => id)

  const claim = (job: JobSlot, phase: Phase, batch: Batch, decided: Decided) =>
    Effect.map(claimBatch(job, phase, batch, decided), (r) => r.revision)

  /** The job state a claim was decided on; a claim decided on a `pending` state starts the job, unless told not to. */
  type Decided = NonNullable<JobSlot["state"]> & { readonly starts?: false }

  const claimBatch = (job: JobSlot, phase: Phase, batch: Batch, decided: Decided) => {
    // the task statuses the claim was decided on: the watch may move them before it runs
    const tasks = batch.map(({ t, slot }) => ({ spec: t.spec!, status: t.status, slot }))
    return Effect.gen(function* () {
      // the first claim of a job also starts it
      const starts =
        decided.value.state === "pending" && decided.starts !== false
          ? yield* writer.startOps(job.id, decided.value)
          : []
      const r = yield* session.claim({ job: job.id, phase, decided, with: starts, tasks })
      const taken = new Set(r.claims.map((c) => c.slot))
      for (const { slot } of tasks) if (slot !== undefined && !taken.has(slot)) reserved.delete(slot)
      if (r.claims.length === 0) {
        // some task changed under the view (another runner won it): once the view has seen that
        // change, the batch's tasks are candidates again (those won by others are dropped then)
        monitor.lookAgainAfter(job.id, phase, r.revision, idsOf(batch))
        return { revision: r.revision, claimed: 0 }
      }
      for (const c of r.claims) {
        yield* Metric.update(EngineMetrics.claims, 1)
        yield* Metric.update(EngineMetrics.tasksStartedOf({ type: c.spec.type }), 1)
        if (c.attempt > 1 && tasks.find((t) => t.spec.id === c.task)?.status?.value.status === "running") {
          yield* Metric.update(EngineMetrics.takeovers, 1)
        }
      }
      yield* executions.start(r.claims)
      return { revision: r.revision, claimed: r.claims.length }
    }).pipe(
      Effect.tapError(() =>
        Effect.sync(() => {
          for (const { slot, spec } of tasks) {
            if (slot !== undefined) reserved.delete(slot)
            executions.suspect(`${job.id}/${phase}/${spec.id}`)
          }
        })
      )
    )
  }

  const cancelPhase = (job: JobSlot) =>
    Effect.gen(function* () {
      const phase: Phase = "run"
      let open = 0
      for (const [id, t] of job.tasks[phase]) {
        if (t.spec === undefined || t.result !== undefined) continue
        open++
        if (t.unreadable?.status === true || t.unreadable?.result === true) continue // left alone, see mayBeReady
        const key = `${job.id}/${phase}/${id}`
        if (executions.running.has(key)) yield* act(`${key}/cancel`, job.id, executions.cancel(key))
        else if (t.claim === undefined) {
          yield* act(
            key,
            job.id,
            writer.settle(job, phase, id, t, "canceled", reason("job.canceled", "job canceled before the task ran"))
          )
        }
      }
      if (open === 0) {
        const at = yield* Effect.clockWith((c) => c.currentTimeMillis)
        yield* act(
          `${job.id}/state`,
          job.id,
          writer.transition(job, "canceled", (current) => ({ ...current, updatedAt: at }), "job.canceled", "canceled")
        )
      }
    })

  const wakeAll = (jobs: Set<string>) =>
    Effect.suspend(() => {
      const ids = [...jobs]
      jobs.clear()
      return Effect.forEach(ids, monitor.markDirty, { discard: true })
    })

  return {
    evaluate,
    successors,
    freed: (claim) =>
      Effect.suspend(() => {
        if (claim.slot !== undefined) reserved.delete(claim.slot)
        return wakeAll(starved)
      }),
    slotChanged: () => (slotWaiters.size === 0 ? Effect.void : wakeAll(slotWaiters)),
    tidy: () => {
      if (busy.size > 10_000) {
        for (const [key, until] of busy) if (until >= 0 && until <= view.revision) busy.delete(key)
      }
    }
  }
}
