/**
 * The engine: one runner process's share of the work (SPEC §4.2-§4.6).
 *
 * - Discovery: list, then watch the key space from the list's revision; a
 *   periodic resync (and any watch failure) reloads the view.
 * - One lease per runner. A task is claimed by creating its claim key on the
 *   lease in a txn that also checks the task is still claimable; the claim's
 *   create revision is the fencing token, compared by every later write.
 * - Lease loss interrupts every task in flight and starts a new session.
 * - Decisions come from the cached view (fed by the watch); every write
 *   that depends on it is a compare-and-swap, so a stale view costs a retry,
 *   never a wrong write.
 *
 * @since 0.1.0
 */

import { Resolver } from "@migrator/resolver"
import {
  Cause,
  Clock,
  Deferred,
  Duration,
  Effect,
  Exit,
  Fiber,
  Metric,
  Option,
  Queue,
  Random,
  Ref,
  Schedule,
  Schema,
  Scope,
  Semaphore,
  Stream
} from "effect"
import * as Codec from "./Codec.ts"
import * as EngineMetrics from "./EngineMetrics.ts"
import { type JobSpec, JobState, type Outcome } from "./Job.ts"
import { JobEvent } from "./JobEvent.ts"
import * as Jobs from "./Jobs.ts"
import * as Keys from "./Keys.ts"
import { type Reason, make as reason } from "./Reason.ts"
import { SharedRecord } from "./SharedResource.ts"
import {
  type Compare,
  type KeyValue,
  type Lease,
  type Op,
  Store,
  type TxnRequest,
  type TxnResult,
  type WatchEvent
} from "./Store.ts"
import type { StoreError } from "./StoreError.ts"
import { type Phase, type Result, TaskResult, type TaskSpec, TaskStatus } from "./Task.ts"
import { TaskContext } from "./TaskContext.ts"
import { TaskError } from "./TaskError.ts"
import { TaskRegistry } from "./TaskRegistry.ts"

export interface Options {
  readonly runnerId: string
  readonly prefix?: string
  readonly leaseTtl?: Duration.Input
  /** Tasks in flight on this runner. */
  readonly concurrency?: number
  /** Tasks in flight on this runner per job target (e.g. per recovery cluster). */
  readonly targetConcurrency?: number
  readonly resyncInterval?: Duration.Input
  /** How long in-flight tasks may finish on shutdown before they are interrupted. */
  readonly shutdownGrace?: Duration.Input
}

interface Entry<A> {
  readonly value: A
  readonly mod: number
  readonly create: number
}

interface TaskSlot {
  spec?: TaskSpec
  status?: Entry<TaskStatus>
  result?: Entry<TaskResult>
  claim?: Entry<string>
  /**
   * Its status or result record exists but cannot be decoded (reported by key): the task is
   * left alone until the record is rewritten, instead of failing a claim on every change.
   */
  unreadable?: { status?: true; result?: true }
}

interface JobSlot {
  readonly id: string
  spec?: JobSpec
  state?: Entry<JobState>
  readonly tasks: { readonly run: Map<string, TaskSlot>; readonly clear: Map<string, TaskSlot> }
  /** Tasks to look at on the next evaluation ("phase/id"); everything when `scan` is set. */
  readonly candidates: Set<string>
  scan: boolean
  readonly dependents: { readonly run: Map<string, Array<string>>; readonly clear: Map<string, Array<string>> }
  readonly finished: { run: number; clear: number }
  /** Revision the job was read at in full; older watch events for it are stale. */
  loadedAt: number
}

interface Running {
  readonly fiber: Fiber.Fiber<void>
  readonly token: number
  readonly attempt: number
  readonly target: string | undefined
}

const { decodeSpec: decodeJobSpec, decodeState: decodeJobState, decodeTask, decodeStatus, decodeResult } = Jobs
const decodeShared = Codec.decode(SharedRecord)
const encodeShared = Codec.encode(SharedRecord)

/** Tasks claimed per transaction: 3 compares and 3 writes each, under etcd's 128 operations. */
const CLAIM_BATCH = 25

/**
 * Results committed per transaction under load: 4 writes each, under etcd's 128 operations,
 * and well under its 1.5 MiB request limit.
 */
const FINISH_BATCH = 30
const FINISH_BATCH_BYTES = 1024 * 1024
/** Result transactions in flight at once; each takes whatever queued meanwhile. */
const FINISH_WORKERS = 2

const done = (r: Result | undefined) => r === "success" || r === "skipped"

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

/** Runs the engine until interrupted; survives lease loss and store outages. */
export const run = (options: Options): Effect.Effect<never, never, Store | TaskRegistry> =>
  Effect.gen(function* () {
    const store = instrumented(yield* Store)
    const registry = yield* TaskRegistry
    const keys = Keys.make(options.prefix ?? Keys.DEFAULT_PREFIX)
    const runnerId = options.runnerId
    const ttl = Duration.fromInputUnsafe(options.leaseTtl ?? "10 seconds")
    const limit = yield* Semaphore.make(options.concurrency ?? 16)
    const targetLimits = new Map<string, Semaphore.Semaphore>()
    const targetLimit = (target: string | undefined) => {
      if (target === undefined || options.targetConcurrency === undefined) return undefined
      let s = targetLimits.get(target)
      if (s === undefined) {
        s = Semaphore.makeUnsafe(options.targetConcurrency)
        targetLimits.set(target, s)
      }
      return s
    }

    const session = Effect.gen(function* () {
      const lease = yield* store.lease(ttl)
      yield* store.txn({
        compare: [],
        success: [
          { _tag: "put", key: keys.runner(runnerId), value: JSON.stringify({ runner: runnerId }), lease: lease.id }
        ]
      })
      yield* Effect.logInfo("runner session started").pipe(Effect.annotateLogs({ runner: runnerId, lease: lease.id }))
      yield* sessionLoop(lease)
    }).pipe(Effect.scoped)

    const sessionLoop = (lease: Lease) =>
      Effect.gen(function* () {
        const jobs = new Map<string, JobSlot>()
        const shared = new Map<string, Entry<SharedRecord>>()
        let viewRevision = 0
        const dirty = new Set<string>()
        const wake = yield* Deferred.make<void>().pipe(Effect.flatMap(Ref.make))
        const changed = yield* Deferred.make<void>().pipe(Effect.flatMap(Ref.make))
        const busy = new Map<string, number>() // action key -> revision the view must reach first
        const running = new Map<string, Running>()
        const timers = new Set<string>()
        const starved = new Set<string>() // jobs with ready tasks left unclaimed for lack of capacity
        const rescans = new Map<string, number>() // job -> revision after which to look at all its tasks
        let claiming = 0 // tasks in claim transactions not yet answered
        let stopping = false

        const signal = (ref: Ref.Ref<Deferred.Deferred<void>>) =>
          Effect.flatMap(Deferred.make<void>(), (next) =>
            Ref.getAndSet(ref, next).pipe(Effect.flatMap((d) => Deferred.succeed(d, undefined)))
          )
        const markDirty = (job: string) =>
          Effect.suspend(() => {
            dirty.add(job)
            return signal(wake)
          })

        const slotOf = (job: string): JobSlot => {
          let s = jobs.get(job)
          if (s === undefined) {
            s = {
              id: job,
              tasks: { run: new Map(), clear: new Map() },
              candidates: new Set(),
              scan: true,
              dependents: { run: new Map(), clear: new Map() },
              finished: { run: 0, clear: 0 },
              loadedAt: 0
            }
            jobs.set(job, s)
          }
          return s
        }
        const taskSlot = (job: JobSlot, phase: Phase, task: string) => {
          let t = job.tasks[phase].get(task)
          if (t === undefined) {
            t = {}
            job.tasks[phase].set(task, t)
          }
          return t
        }
        const entry = <A>(kv: KeyValue, value: A): Entry<A> => ({
          value,
          mod: kv.modRevision,
          create: kv.createRevision
        })

        const report = (error: Codec.DecodeError) =>
          Effect.logWarning(error.message).pipe(Effect.annotateLogs({ runner: runnerId, key: error.key }))

        // Applies one put or delete to the view; returns the job it touched.
        const apply = (kv: KeyValue | undefined, key: string, revision?: number) =>
          Effect.gen(function* () {
            if (key.startsWith(keys.sharedPrefix)) {
              if (kv === undefined) shared.delete(key)
              else {
                const v = yield* Effect.option(Effect.tapError(decodeShared(key, kv.value), report))
                if (Option.isSome(v)) shared.set(key, entry(kv, v.value))
              }
              return undefined
            }
            const parsed = keys.parse(key)
            if (parsed === undefined || parsed._tag === "event") return undefined
            const job = slotOf(parsed.job)
            if (revision !== undefined && revision <= job.loadedAt) return parsed.job
            if (parsed._tag === "jobSpec") {
              if (kv === undefined) jobs.delete(parsed.job)
              else {
                const v = yield* Effect.option(Effect.tapError(decodeJobSpec(key, kv.value), report))
                if (Option.isSome(v)) job.spec = v.value
              }
            } else if (parsed._tag === "jobState") {
              if (kv !== undefined) {
                const v = yield* Effect.option(Effect.tapError(decodeJobState(key, kv.value), report))
                if (Option.isSome(v)) job.state = entry(kv, v.value)
                job.scan = true
              }
            } else {
              const t = taskSlot(job, parsed.phase, parsed.task)
              job.candidates.add(`${parsed.phase}/${parsed.task}`)
              switch (parsed.record) {
                case "spec": {
                  if (kv !== undefined) {
                    const v = yield* Effect.option(Effect.tapError(decodeTask(key, kv.value), report))
                    if (Option.isSome(v) && t.spec === undefined) {
                      t.spec = v.value
                      for (const dep of v.value.dependencies) {
                        const list = job.dependents[parsed.phase].get(dep) ?? []
                        list.push(parsed.task)
                        job.dependents[parsed.phase].set(dep, list)
                      }
                    }
                  }
                  break
                }
                case "status": {
                  if (kv === undefined) delete t.status
                  else {
                    const v = yield* Effect.option(Effect.tapError(decodeStatus(key, kv.value), report))
                    if (Option.isSome(v)) t.status = entry(kv, v.value)
                    else t.unreadable = { ...t.unreadable, status: true }
                  }
                  if (kv === undefined || t.status?.mod === kv.modRevision) delete t.unreadable?.status
                  break
                }
                case "result": {
                  const had = t.result !== undefined
                  if (kv === undefined) delete t.result
                  else {
                    const v = yield* Effect.option(Effect.tapError(decodeResult(key, kv.value), report))
                    if (Option.isSome(v)) t.result = entry(kv, v.value)
                    else t.unreadable = { ...t.unreadable, result: true }
                  }
                  if (kv === undefined || t.result?.mod === kv.modRevision) delete t.unreadable?.result
                  job.finished[parsed.phase] += (t.result !== undefined ? 1 : 0) - (had ? 1 : 0)
                  for (const d of job.dependents[parsed.phase].get(parsed.task) ?? []) {
                    job.candidates.add(`${parsed.phase}/${d}`)
                  }
                  break
                }
                case "claim": {
                  if (kv === undefined) delete t.claim
                  else t.claim = entry(kv, kv.value)
                  // our claim is gone (lease revoked, task reset): stop executing at once
                  const mine = running.get(`${parsed.job}/${parsed.phase}/${parsed.task}`)
                  if (mine !== undefined && t.claim?.create !== mine.token) {
                    yield* Effect.forkIn(Fiber.interrupt(mine.fiber), sessionScope)
                  }
                  break
                }
              }
            }
            return parsed.job
          })

        const fetchJob = (id: string) =>
          Effect.gen(function* () {
            const head = yield* store.range(`${keys.job(id)}s`)
            const tasks = yield* store.range(keys.tasks(id), { revision: head.revision })
            const slot = slotOf(id)
            for (const kv of [...head.kvs, ...tasks.kvs]) yield* apply(kv, kv.key)
            slot.loadedAt = head.revision
            slot.scan = true
          })

        const load = Effect.gen(function* () {
          const index = yield* store.range(keys.index)
          const at = index.revision
          // read everything first, then replace the view in one go
          const kvs: Array<KeyValue> = []
          const ids: Array<string> = []
          for (const kv of index.kvs) {
            const id = kv.key.slice(keys.index.length)
            const state = yield* Effect.option(decodeJobState(kv.key, kv.value))
            if (Option.isSome(state) && state.value.state === "cleared") continue
            // "<job>/s" covers spec and state; tasks separately: the event log is never read here
            const head = yield* store.range(`${keys.job(id)}s`, { revision: at })
            const tasks = yield* store.range(keys.tasks(id), { revision: at })
            kvs.push(...head.kvs, ...tasks.kvs)
            ids.push(id)
          }
          const sharedKvs = yield* store.range(keys.sharedPrefix, { revision: at })
          jobs.clear()
          shared.clear()
          for (const kv of [...kvs, ...sharedKvs.kvs]) yield* apply(kv, kv.key)
          for (const id of ids) {
            slotOf(id).loadedAt = at
            dirty.add(id)
          }
          viewRevision = at
          yield* signal(wake)
          return at
        })

        const follow = (from: number) =>
          store.watch(keys.prefix, { fromRevision: from + 1 }).pipe(
            Stream.runForEach((event: WatchEvent) =>
              Effect.gen(function* () {
                const key = event._tag === "put" ? event.kv.key : event.key
                const job = yield* apply(event._tag === "put" ? event.kv : undefined, key, event.revision)
                // a submission commits with its spec; tasks written before the watch began
                // were never seen, so a new job is read in full once
                const parsed = keys.parse(key)
                if (event._tag === "put" && parsed?._tag === "jobSpec" && slotOf(parsed.job).loadedAt === 0) {
                  yield* fetchJob(parsed.job)
                }
                viewRevision = Math.max(viewRevision, event.revision)
                if (job !== undefined) dirty.add(job)
                for (const [id, at] of rescans) if (at <= viewRevision) dirty.add(id)
                yield* signal(changed)
                yield* signal(wake)
              })
            )
          )

        const view = Effect.gen(function* () {
          const at = yield* load
          yield* follow(at)
        }).pipe(
          // a periodic resync repairs anything a watch could have missed
          Effect.timeoutOption(options.resyncInterval ?? "30 seconds"),
          Effect.catchCause((cause) =>
            Cause.hasInterruptsOnly(cause)
              ? Effect.void
              : Effect.logWarning("view reload", Cause.pretty(cause)).pipe(Effect.andThen(Effect.sleep("200 millis")))
          ),
          Effect.forever
        )

        const now = Clock.currentTimeMillis

        const event = (
          job: string,
          phase: Phase | undefined,
          task: string | undefined,
          type: string,
          message: string,
          data?: Schema.Json
        ) =>
          Effect.flatMap(now, (at) =>
            Jobs.eventOp(
              keys,
              job,
              runnerId,
              new JobEvent({
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

        /** Runs an action once at a time per key; the view must catch up with its txn before the key is retried. */
        const isBusy = (key: string) => {
          const until = busy.get(key)
          return until !== undefined && (until < 0 || until > viewRevision)
        }
        const act = (
          key: string | ReadonlyArray<string>,
          job: string,
          action: Effect.Effect<number | undefined, StoreError>
        ) =>
          Effect.suspend(() => {
            const all = typeof key === "string" ? [key] : key
            if (all.some(isBusy)) return Effect.void
            for (const k of all) busy.set(k, -1)
            return action.pipe(
              Effect.tap((revision) =>
                Effect.sync(() => {
                  for (const k of all) busy.set(k, revision ?? 0)
                })
              ),
              Effect.catch((error) =>
                // the key stays busy while backing off, so failures cannot multiply the retries
                Effect.logDebug("action failed", error.message).pipe(
                  Effect.andThen(Effect.sleep(error.retryable ? "100 millis" : "1 second")),
                  Effect.andThen(
                    Effect.sync(() => {
                      for (const k of all) busy.delete(k)
                      const slot = jobs.get(job)
                      if (slot !== undefined) slot.scan = true
                    })
                  ),
                  Effect.andThen(markDirty(job))
                )
              ),
              Effect.forkIn(sessionScope),
              Effect.asVoid
            )
          })

        const txn = (compare: ReadonlyArray<Compare>, success: ReadonlyArray<Op>) =>
          Effect.map(store.txn({ compare, success }), (r) => r.revision)

        const statusIs = (job: string, phase: Phase, task: string, t: TaskSlot): ReadonlyArray<Compare> => [
          { key: keys.task(job, phase, task, "status"), target: "modRevision", op: "==", value: t.status?.mod ?? 0 },
          { key: keys.task(job, phase, task, "result"), target: "createRevision", op: "==", value: 0 },
          { key: keys.task(job, phase, task, "claim"), target: "createRevision", op: "==", value: 0 }
        ]

        /** Settles an unclaimed task without running it (ignored, skipped, canceled). */
        const settle = (job: JobSlot, phase: Phase, task: string, t: TaskSlot, result: Result, why: Reason) =>
          Effect.gen(function* () {
            const at = yield* now
            const attempt = t.status?.value.attempt ?? 0
            return yield* txn(statusIs(job.id, phase, task, t), [
              {
                _tag: "put",
                key: keys.task(job.id, phase, task, "result"),
                value: Jobs.encodeResult(new TaskResult({ result, reason: why, attempt, finishedAt: at }))
              },
              {
                _tag: "put",
                key: keys.task(job.id, phase, task, "status"),
                value: Jobs.encodeStatus(new TaskStatus({ status: "done", attempt, updatedAt: at }))
              },
              yield* event(job.id, phase, task, `task.${result}`, why.message)
            ])
          })

        /**
         * The CAS that moves a job from the state `next` was computed from. That state's revision is
         * taken now, when the decision is made, not when the forked action runs: by then the view may
         * hold a newer state (another runner's transition, a user's operation), which must not be
         * overwritten with a decision taken on the older one.
         */
        const transition = (job: JobSlot, next: JobState, type: string, message: string, from = job.state!.mod) =>
          Effect.gen(function* () {
            const value = Jobs.encodeState(next)
            return yield* txn(
              [{ key: keys.jobState(job.id), target: "modRevision", op: "==", value: from }],
              [
                { _tag: "put", key: keys.jobState(job.id), value },
                { _tag: "put", key: keys.indexEntry(job.id), value },
                yield* event(job.id, undefined, undefined, type, message)
              ]
            )
          })

        const sessionScope = yield* Effect.scope
        // tasks live in a scope made before the shutdown finalizer, so on shutdown that finalizer
        // (which gives them the grace period) runs before the scope that interrupts them closes
        const taskScope = yield* Scope.fork(sessionScope)

        // ---- deciding -------------------------------------------------------

        const evaluate = (job: JobSlot) =>
          Effect.gen(function* () {
            const spec = job.spec
            const state = job.state?.value
            if (spec === undefined || state === undefined) return // half-written or unreadable
            const at = yield* now
            switch (state.state) {
              case "pending":
                // the first claim starts the job in the same transaction
                return yield* schedulePhase(job, "run", spec.runTasks, at)
              case "running":
                if (state.pending?.operation === "retry") return yield* resetFailed(job, "run", state)
                return yield* schedulePhase(job, "run", spec.runTasks, at)
              case "clearing":
                if (state.pending?.operation === "retry") return yield* resetFailed(job, "clear", state)
                return yield* schedulePhase(job, "clear", spec.clearTasks, at)
              case "canceling":
                return yield* cancelPhase(job, at)
              case "paused":
                return
              case "completed": {
                if (spec.autoRollbackAfterMs === undefined || state.completedAt === undefined) return
                const due = state.completedAt + spec.autoRollbackAfterMs
                if (at < due) return yield* wakeAt(`${job.id}/auto-rollback`, job.id, due, at)
                const { outcome: _o, pending: _p, ...rest } = state
                return yield* act(
                  `${job.id}/state`,
                  job.id,
                  transition(
                    job,
                    new JobState({ ...rest, state: "clearing", clearMode: "rollback", updatedAt: at }),
                    "job.rollback",
                    "automatic rollback of a drill"
                  )
                )
              }
              default:
                return
            }
          })

        const wakeAt = (key: string, job: string, due: number, at: number, candidate?: string) =>
          Effect.suspend(() => {
            const timer = `${key}@${due}`
            if (timers.has(timer)) return Effect.void
            timers.add(timer)
            return Effect.sleep(Duration.millis(Math.max(0, due - at))).pipe(
              Effect.andThen(
                Effect.sync(() => {
                  timers.delete(timer)
                  const slot = jobs.get(job)
                  if (slot === undefined) return
                  if (candidate === undefined) slot.scan = true
                  else slot.candidates.add(candidate)
                })
              ),
              Effect.andThen(markDirty(job)),
              Effect.forkIn(sessionScope),
              Effect.asVoid
            )
          })

        const schedulePhase = (job: JobSlot, phase: Phase, expected: number, at: number) =>
          Effect.gen(function* () {
            const tasks = job.tasks[phase]
            const rescan = rescans.get(job.id)
            if (rescan !== undefined && rescan <= viewRevision) {
              rescans.delete(job.id)
              job.scan = true
            }
            if (job.scan) {
              job.scan = false
              job.candidates.clear()
              for (const id of tasks.keys()) job.candidates.add(`${phase}/${id}`)
            }
            // candidates are looked at only while there is room for what they may start: the rest
            // wait for a freed slot, so a job with thousands of ready tasks costs little per change
            const room = Math.max(0, (options.concurrency ?? 16) - running.size - claiming)
            const ready: Array<readonly [string, TaskSlot]> = []
            for (const candidate of job.candidates) {
              if (ready.length >= room) {
                starved.add(job.id)
                break
              }
              job.candidates.delete(candidate)
              if (!candidate.startsWith(`${phase}/`)) continue
              const id = candidate.slice(phase.length + 1)
              const t = tasks.get(id)
              if (t?.spec === undefined || t.result !== undefined) continue
              yield* considerTask(job, phase, id, t, at, ready)
            }
            // claims go in batches: one transaction for many ready tasks
            const take = ready.slice(0, room)
            for (let i = 0; i < take.length; i += CLAIM_BATCH) {
              const batch = take.slice(i, i + CLAIM_BATCH)
              yield* act(
                batch.map(([id]) => `${job.id}/${phase}/${id}`),
                job.id,
                claim(job, phase, batch)
              )
            }
            if (job.finished[phase] === expected && tasks.size >= expected) {
              const results: Array<Result> = []
              for (const t of tasks.values()) if (t.result !== undefined) results.push(t.result.value.result)
              yield* complete(job, phase, results, at)
            }
          })

        const considerTask = (
          job: JobSlot,
          phase: Phase,
          id: string,
          t: TaskSlot,
          at: number,
          ready: Array<readonly [string, TaskSlot]>
        ) =>
          Effect.gen(function* () {
            const spec = t.spec!
            const state = job.state!.value
            if (t.claim !== undefined) return // someone holds it (maybe us)
            if (t.unreadable?.status === true || t.unreadable?.result === true) return // reported when read
            const key = `${job.id}/${phase}/${id}`
            const deps = spec.dependencies.map((d) => ({
              id: d,
              result: job.tasks[phase].get(d)?.result?.value.result
            }))
            if (deps.some((d) => d.result === undefined)) return
            const failed = deps.filter((d) => !done(d.result))
            if (failed.length > 0) {
              const why = reason(
                "dependency.failed",
                `dependencies did not succeed: ${failed.map((d) => `${d.id} (${d.result})`).join(", ")}`,
                { dependencies: failed.map((d) => d.id) }
              )
              return yield* act(key, job.id, settle(job, phase, id, t, "ignored", why))
            }
            if (phase === "clear") {
              const undone = spec.undoes === undefined ? undefined : job.tasks.run.get(spec.undoes)
              if (state.clearMode === "confirm" && spec.runOnConfirm !== true) {
                return yield* act(
                  key,
                  job.id,
                  settle(job, phase, id, t, "skipped", reason("confirm.kept", "kept on confirm"))
                )
              }
              if (undone !== undefined && (undone.status?.value.attempt ?? 0) === 0) {
                return yield* act(
                  key,
                  job.id,
                  settle(
                    job,
                    phase,
                    id,
                    t,
                    "skipped",
                    reason("run.not-started", `run task ${spec.undoes} never started`)
                  )
                )
              }
            }
            const notBefore = t.status?.value.notBefore
            if (notBefore !== undefined && notBefore > at) {
              return yield* wakeAt(key, job.id, notBefore, at, `${phase}/${id}`)
            }
            if (stopping || running.has(key)) return
            // capacity is checked here and taken for real when the task starts
            if (!isBusy(key)) ready.push([id, t])
          })

        const complete = (job: JobSlot, phase: Phase, results: ReadonlyArray<Result>, at: number) =>
          Effect.gen(function* () {
            const state = job.state!.value
            const { pending: _p, ...rest } = state
            if (phase === "run") {
              const ok = results.filter(done).length
              const outcome: Outcome =
                ok === results.length ? "succeeded" : results.some((r) => r === "success") ? "partial" : "failed"
              const elapsed = at - (state.startedAt ?? at)
              const rto = job.spec!.rtoMs
              const next = new JobState({
                ...rest,
                state: "completed",
                outcome,
                completedAt: at,
                elapsedMs: elapsed,
                ...(rto === undefined ? {} : { rtoMet: elapsed <= rto }),
                updatedAt: at
              })
              return yield* act(
                `${job.id}/state`,
                job.id,
                transition(job, next, "job.completed", `completed: ${outcome}`)
              )
            }
            const ok = results.every(done)
            const next = new JobState({ ...rest, state: ok ? "cleared" : "clear-failed", updatedAt: at })
            return yield* act(
              `${job.id}/state`,
              job.id,
              transition(job, next, ok ? "job.cleared" : "job.clear-failed", ok ? "cleared" : "clear phase failed")
            )
          })

        const cancelPhase = (job: JobSlot, at: number) =>
          Effect.gen(function* () {
            const phase: Phase = "run"
            let open = 0
            for (const [id, t] of job.tasks[phase]) {
              if (t.spec === undefined || t.result !== undefined) continue
              open++
              if (t.unreadable?.status === true || t.unreadable?.result === true) continue // left alone, see considerTask
              const key = `${job.id}/${phase}/${id}`
              const mine = running.get(key)
              if (mine !== undefined) {
                yield* act(
                  `${key}/cancel`,
                  job.id,
                  Fiber.interrupt(mine.fiber).pipe(
                    Effect.andThen(finish(job.id, phase, id, mine.token, mine.attempt, { _tag: "canceled" })),
                    Effect.map((w) => w.revision)
                  )
                )
              } else if (t.claim === undefined) {
                yield* act(
                  key,
                  job.id,
                  settle(job, phase, id, t, "canceled", reason("job.canceled", "job canceled before the task ran"))
                )
              }
            }
            if (open === 0) {
              const { pending: _p, ...rest } = job.state!.value
              yield* act(
                `${job.id}/state`,
                job.id,
                transition(job, new JobState({ ...rest, state: "canceled", updatedAt: at }), "job.canceled", "canceled")
              )
            }
          })

        const resetFailed = (job: JobSlot, phase: Phase, state: JobState, from = job.state!.mod) =>
          act(
            `${job.id}/state`,
            job.id,
            Effect.gen(function* () {
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
                compare.push({
                  key: keys.task(job.id, phase, id, "result"),
                  target: "modRevision",
                  op: "==",
                  value: r.mod
                })
                ops.push(
                  { _tag: "delete", key: keys.task(job.id, phase, id, "result") },
                  { _tag: "put", key: keys.task(job.id, phase, id, "status"), value: waiting }
                )
                if (ops.length >= 100) yield* flush
              }
              yield* flush
              const { pending: _p, ...rest } = state
              const r = yield* transition(
                job,
                new JobState({ ...rest, updatedAt: at }),
                "job.retrying",
                `retrying the failed tasks of the ${phase} phase`,
                from
              )
              return Math.max(last, r)
            })
          )

        // ---- claiming and executing -----------------------------------------

        const claim = (job: JobSlot, phase: Phase, batch: ReadonlyArray<readonly [string, TaskSlot]>) => {
          // the job state and task statuses the claim was decided on (see `transition`); the
          // statuses also give the attempt, which the watch may bump before the claim's answer comes
          const decided = job.state!
          const tasks = batch.map(([id, t]) => ({ id, spec: t.spec!, status: t.status }))
          return Effect.gen(function* () {
            const at = yield* now
            const state = decided.value
            const compare: Array<Compare> = [
              { key: keys.jobState(job.id), target: "modRevision", op: "==", value: decided.mod }
            ]
            const ops: Array<Op> = []
            // the first claim of a job also starts it
            if (state.state === "pending") {
              const running = Jobs.encodeState(
                new JobState({ ...state, state: "running", startedAt: at, updatedAt: at })
              )
              ops.push(
                { _tag: "put", key: keys.jobState(job.id), value: running },
                { _tag: "put", key: keys.indexEntry(job.id), value: running },
                yield* event(job.id, undefined, undefined, "job.started", "job started")
              )
            }
            for (const { id, status } of tasks) {
              const attempt = (status?.value.attempt ?? 0) + 1
              compare.push(...statusIs(job.id, phase, id, status === undefined ? {} : { status }))
              ops.push(
                { _tag: "put", key: keys.task(job.id, phase, id, "claim"), value: runnerId, lease: lease.id },
                {
                  _tag: "put",
                  key: keys.task(job.id, phase, id, "status"),
                  value: Jobs.encodeStatus(
                    new TaskStatus({ status: "running", attempt, runner: runnerId, startedAt: at, updatedAt: at })
                  )
                },
                yield* event(
                  job.id,
                  phase,
                  id,
                  attempt > 1 ? "task.retried" : "task.started",
                  `attempt ${attempt} on ${runnerId}`
                )
              )
            }
            claiming += batch.length
            const r = yield* store.txn({ compare, success: ops }).pipe(
              Effect.ensuring(
                Effect.sync(() => {
                  claiming -= batch.length
                })
              )
            )
            if (!r.succeeded) {
              // some task changed under the view (another runner won it): once the view has seen
              // that change, every task of the job is looked at again, not only the changed ones
              rescans.set(job.id, r.revision)
              return r.revision
            }
            for (const { id, spec, status } of tasks) {
              const attempt = (status?.value.attempt ?? 0) + 1
              yield* Metric.update(EngineMetrics.claims, 1)
              yield* Metric.update(Metric.withAttributes(EngineMetrics.tasksStarted, { type: spec.type }), 1)
              if (status?.value.status === "running") yield* Metric.update(EngineMetrics.takeovers, 1)
              yield* start(job, phase, id, spec, r.revision, attempt)
            }
            return r.revision
          })
        }

        const start = (job: JobSlot, phase: Phase, id: string, spec: TaskSpec, token: number, attempt: number) =>
          Effect.gen(function* () {
            const key = `${job.id}/${phase}/${id}`
            const target = job.spec!.target
            const perTarget = targetLimit(target)
            const body = execute(job, phase, spec, token, attempt).pipe(
              limit.withPermits(1),
              (e) => (perTarget === undefined ? e : perTarget.withPermits(1)(e)),
              Effect.ensuring(
                Effect.sync(() => {
                  running.delete(key)
                  for (const id of starved) dirty.add(id)
                  starved.clear()
                })
              ),
              Effect.andThen(markDirty(job.id)),
              Effect.asVoid
            )
            const fiber = yield* Effect.forkIn(body, taskScope)
            running.set(key, { fiber, token, attempt, target })
          })

        type AttemptOutcome =
          | { readonly _tag: "success"; readonly output: Schema.Json; readonly shared?: SharedUpdate }
          | { readonly _tag: "failure"; readonly error: TaskError; readonly shared?: SharedUpdate }
          | { readonly _tag: "skipped"; readonly reason: Reason; readonly shared: SharedUpdate }
          | { readonly _tag: "canceled" }

        interface SharedUpdate {
          readonly key: string
          readonly compare: Compare
          readonly op: Op
        }

        const execute = (
          job: JobSlot,
          phase: Phase,
          spec: TaskSpec,
          token: number,
          attempt: number
        ): Effect.Effect<void> =>
          Effect.gen(function* () {
            const started = yield* now
            const type = { type: spec.type }
            // a decision on a shared record that moved meanwhile is taken again
            for (;;) {
              const outcome = yield* attemptTask(job, phase, spec, token, attempt).pipe(
                // an engine failure must not leave the claim held forever: the attempt fails, retryably
                Effect.catchCause((cause) =>
                  Cause.hasInterruptsOnly(cause)
                    ? Effect.failCause(cause)
                    : Effect.logError("task attempt", Cause.pretty(cause)).pipe(
                        Effect.as({
                          _tag: "failure",
                          error: new TaskError({
                            code: "engine.error",
                            message: Cause.pretty(cause).split("\n")[0] ?? "engine error",
                            retryable: true
                          })
                        } satisfies AttemptOutcome)
                      )
                )
              )
              const written = yield* finish(job.id, phase, spec.id, token, attempt, outcome)
              if (written.status === "conflict") continue
              if (outcome._tag === "failure" && written.status === "written") {
                // one structured line with job, task and the reason (which names the field)
                yield* Effect.logWarning(
                  `attempt ${attempt} of task ${spec.id} of job ${job.id} failed: ${outcome.error.code}: ${outcome.error.message}`
                ).pipe(
                  Effect.annotateLogs({
                    runner: runnerId,
                    job: job.id,
                    phase,
                    task: spec.id,
                    attempt,
                    code: outcome.error.code
                  })
                )
              }
              const result =
                outcome._tag === "success" ? "success" : outcome._tag === "failure" ? "failed" : outcome._tag
              yield* Metric.update(Metric.withAttributes(EngineMetrics.tasksFinished, { ...type, result }), 1)
              yield* Metric.update(Metric.withAttributes(EngineMetrics.taskDuration, type), (yield* now) - started)
              return
            }
          }).pipe(
            Effect.catchCause((cause) =>
              Cause.hasInterruptsOnly(cause) ? Effect.interrupt : Effect.logError("task execution", Cause.pretty(cause))
            )
          )

        const attemptTask = (job: JobSlot, phase: Phase, spec: TaskSpec, token: number, attempt: number) =>
          Effect.gen(function* () {
            const handler = registry.get(spec.type)
            if (Option.isNone(handler)) {
              return {
                _tag: "failure",
                error: new TaskError({
                  code: "handler.unknown",
                  message: `no handler for task type "${spec.type}" on runner ${runnerId}`,
                  retryable: false
                })
              } satisfies AttemptOutcome
            }
            const definition = handler.value.definition
            const maxAttempts = spec.retry?.maxAttempts ?? definition.retry.maxAttempts
            if (attempt > maxAttempts) {
              return {
                _tag: "failure",
                error: new TaskError({
                  code: "attempts.exhausted",
                  message: `${attempt - 1} attempts used (max ${maxAttempts})`,
                  retryable: false
                })
              } satisfies AttemptOutcome
            }
            // shared resources: adopt, wait, take over, or release
            let sharedUpdate: ((output: Schema.Json | undefined, ok: boolean) => SharedUpdate) | undefined
            if (spec.shared !== undefined) {
              const decision = yield* sharedDecision(job, phase, spec, token).pipe(
                Effect.retry({ while: (e) => e.retryable, schedule: Schedule.spaced("200 millis") })
              )
              if (decision._tag === "lost") return yield* Effect.interrupt
              if (decision._tag === "adopt")
                return { _tag: "success", output: decision.output, shared: decision.update } satisfies AttemptOutcome
              if (decision._tag === "skip")
                return { _tag: "skipped", reason: decision.reason, shared: decision.update } satisfies AttemptOutcome
              sharedUpdate = decision.after
            }
            const input = yield* resolveInput(job, phase, spec)
            if (input._tag === "Left")
              return {
                _tag: "failure",
                error: input.error,
                ...(sharedUpdate === undefined ? {} : { shared: sharedUpdate(undefined, false) })
              } satisfies AttemptOutcome
            const ctx = TaskContext.of({
              jobId: job.id,
              taskId: spec.id,
              phase,
              type: spec.type,
              attempt,
              fencingToken: token,
              target: job.spec!.target,
              runnerId,
              shared: spec.shared
            })
            const timeout = spec.timeoutMs === undefined ? definition.timeout : Duration.millis(spec.timeoutMs)
            const exit = yield* Schema.decodeUnknownEffect(definition.input)(input.value).pipe(
              Effect.mapError(
                (e) =>
                  new TaskError({
                    code: "input.invalid",
                    message: `input does not match ${spec.type}: ${Codec.describeIssue(e.issue).field} ${Codec.describeIssue(e.issue).detail}`,
                    retryable: false
                  })
              ),
              Effect.flatMap((decoded) => handler.value.run(decoded).pipe(Effect.provideService(TaskContext, ctx))),
              Effect.timeoutOrElse({
                duration: timeout,
                orElse: () =>
                  Effect.fail(
                    new TaskError({
                      code: "task.timeout",
                      message: `attempt timed out after ${Duration.format(timeout)}`,
                      retryable: true
                    })
                  )
              }),
              Effect.flatMap((output) =>
                Schema.encodeUnknownEffect(definition.output)(output).pipe(
                  Effect.mapError(
                    (e) =>
                      new TaskError({
                        code: "output.invalid",
                        message: `output does not match ${spec.type}: ${Codec.describeIssue(e.issue).field} ${Codec.describeIssue(e.issue).detail}`,
                        retryable: false
                      })
                  )
                )
              ),
              Effect.exit
            )
            if (Exit.isSuccess(exit)) {
              const output = exit.value as Schema.Json
              return {
                _tag: "success",
                output,
                ...(sharedUpdate === undefined ? {} : { shared: sharedUpdate(output, true) })
              } satisfies AttemptOutcome
            }
            if (Cause.hasInterruptsOnly(exit.cause)) return yield* Effect.interrupt
            const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
            const error =
              failure?._tag === "Fail"
                ? failure.error
                : new TaskError({
                    code: "handler.defect",
                    message: Cause.pretty(exit.cause).split("\n")[0] ?? "handler defect",
                    retryable: false
                  })
            return {
              _tag: "failure",
              error,
              ...(sharedUpdate === undefined ? {} : { shared: sharedUpdate(undefined, false) })
            } satisfies AttemptOutcome
          })

        const resolveInput = (job: JobSlot, phase: Phase, spec: TaskSpec) => {
          // outputs of the referenced tasks: dependencies, and for clear tasks any run task
          const outputs = new Map<string, unknown>()
          const ids = Resolver.referencedTaskIds(spec.input)
          for (const id of ids._tag === "Success" ? ids.success : []) {
            const r = (job.tasks[phase].get(id) ?? job.tasks.run.get(id))?.result?.value
            if (r?.output !== undefined) outputs.set(id, r.output)
          }
          return Resolver.resolve(spec.input, outputs).pipe(
            Effect.map((value) => ({ _tag: "Right" as const, value })),
            Effect.catch((e) =>
              Effect.succeed({
                _tag: "Left" as const,
                error: new TaskError({ code: "input.unresolved", message: e.message, retryable: false })
              })
            )
          )
        }

        type SharedDecision =
          | { readonly _tag: "adopt"; readonly output: Schema.Json; readonly update: SharedUpdate }
          | { readonly _tag: "skip"; readonly reason: Reason; readonly update: SharedUpdate }
          | { readonly _tag: "run"; readonly after: (output: Schema.Json | undefined, ok: boolean) => SharedUpdate }
          | { readonly _tag: "lost" }

        /** Decides what a task with a shared key does; loops while another live creator works. */
        const sharedDecision = (
          job: JobSlot,
          phase: Phase,
          spec: TaskSpec,
          token: number
        ): Effect.Effect<SharedDecision, StoreError> =>
          Effect.gen(function* () {
            const key = keys.shared(spec.shared!)
            const fenced: Compare = {
              key: keys.task(job.id, phase, spec.id, "claim"),
              target: "createRevision",
              op: "==",
              value: token
            }
            const stillMine = Effect.map(
              store.get(keys.task(job.id, phase, spec.id, "claim")),
              (kv) => Option.isSome(kv) && kv.value.createRevision === token
            )
            for (;;) {
              const waitFor = yield* Ref.get(changed).pipe(Effect.map(Deferred.await))
              const kv = yield* store.get(key)
              const at = yield* now
              const record = Option.isNone(kv)
                ? undefined
                : Option.getOrUndefined(yield* Effect.option(decodeShared(key, kv.value.value)))
              const mod = Option.isNone(kv) ? 0 : kv.value.modRevision
              const same: Compare = { key, target: "modRevision", op: "==", value: mod }
              const write = (r: SharedRecord): Op => ({ _tag: "put", key, value: encodeShared(r) })
              /**
               * Takes the record under our fence; the attempt's result then writes `last` if the
               * record has not moved. Undefined: it moved first, decide again.
               */
              const own = (first: SharedRecord, last: (output: Schema.Json | undefined, ok: boolean) => Op) =>
                Effect.gen(function* () {
                  const r = yield* store.txn({ compare: [fenced, same], success: [write(first)] })
                  if (!r.succeeded) return (yield* stillMine) ? undefined : ({ _tag: "lost" } satisfies SharedDecision)
                  const mark: Compare = { key, target: "modRevision", op: "==", value: r.revision }
                  return {
                    _tag: "run",
                    after: (output: Schema.Json | undefined, ok: boolean) => ({
                      key,
                      compare: mark,
                      op: last(output, ok)
                    })
                  } satisfies SharedDecision
                })
              const mine = (state: SharedRecord["state"], holders: ReadonlyArray<string>, output?: Schema.Json) =>
                new SharedRecord({
                  state,
                  job: job.id,
                  task: spec.id,
                  phase,
                  token,
                  holders,
                  updatedAt: at,
                  ...(output === undefined ? {} : { output })
                })
              if (phase === "clear") {
                if (record === undefined) {
                  const absent: Compare = { key, target: "createRevision", op: "==", value: 0 }
                  return {
                    _tag: "run",
                    after: () => ({ key, compare: absent, op: { _tag: "delete", key } })
                  } satisfies SharedDecision
                }
                const others = record.holders.filter((h) => h !== job.id)
                if (others.length > 0) {
                  const update = {
                    key,
                    compare: same,
                    op: write(new SharedRecord({ ...record, holders: others, updatedAt: at }))
                  }
                  return {
                    _tag: "skip",
                    reason: reason("shared.in-use", `in use by jobs ${others.join(", ")}`, { holders: others }),
                    update
                  } satisfies SharedDecision
                }
                // last holder: mark deleting (fenced), delete; the record goes with the result
                const deleting = yield* own(mine("deleting", []), (_o, ok) =>
                  ok ? { _tag: "delete", key } : write(mine("deleting", []))
                )
                if (deleting === undefined) continue
                return deleting
              }
              if (record?.state === "ready") {
                const holders = record.holders.includes(job.id) ? record.holders : [...record.holders, job.id]
                return {
                  _tag: "adopt",
                  output: record.output ?? null,
                  update: { key, compare: same, op: write(new SharedRecord({ ...record, holders, updatedAt: at })) }
                } satisfies SharedDecision
              }
              // liveness from the store itself: a cached view may be stale or still loading
              const creatorAlive =
                record !== undefined &&
                (record.state === "creating" || record.state === "deleting") &&
                (record.job !== job.id || record.task !== spec.id) &&
                Option.exists(
                  yield* store.get(keys.task(record.job, record.phase, record.task, "claim")),
                  (claim) => claim.createRevision === record.token
                )
              if (creatorAlive) {
                yield* waitFor.pipe(Effect.timeout(ttl), Effect.ignore)
                continue
              }
              // nobody, a failed or a dead creator: create (or take over) under our fence
              const holders = record?.holders.filter((h) => h !== job.id) ?? []
              const creating = yield* own(mine("creating", holders), (output, ok) =>
                write(ok ? mine("ready", [...holders, job.id], output) : mine("failed", holders))
              )
              if (creating === undefined) continue
              return creating
            }
          })

        /** The fenced write that ends an attempt. Retries through store outages; gives up when fenced out. */
        // Under load the results of many tasks share one transaction: each worker commits what
        // queued while the previous commit was in flight, and a lone result goes at once.
        interface Finishing {
          readonly request: TxnRequest
          readonly bytes: number
          readonly done: Deferred.Deferred<TxnResult, StoreError>
        }
        const finishing = yield* Queue.unbounded<Finishing>()
        const commit = (request: TxnRequest) =>
          store.txn(request).pipe(Effect.retry({ while: (e) => e.retryable, schedule: Schedule.spaced("200 millis") }))
        const commitBatched = (request: TxnRequest) =>
          Effect.gen(function* () {
            let bytes = 0
            for (const op of request.success) bytes += op._tag === "put" ? op.key.length + op.value.length : 64
            const done = yield* Deferred.make<TxnResult, StoreError>()
            yield* Queue.offer(finishing, { request, bytes, done })
            return yield* Deferred.await(done)
          })
        const commitGroup = (group: ReadonlyArray<Finishing>) =>
          Effect.gen(function* () {
            const exit =
              group.length === 1
                ? yield* Effect.exit(commit(group[0]!.request))
                : yield* Effect.exit(
                    commit({
                      compare: group.flatMap((f) => f.request.compare),
                      success: group.flatMap((f) => f.request.success)
                    })
                  )
            if (group.length === 1) return yield* Deferred.done(group[0]!.done, exit)
            if (Exit.isSuccess(exit) && exit.value.succeeded) {
              const written: TxnResult = { succeeded: true, revision: exit.value.revision, results: [] }
              for (const f of group) yield* Deferred.succeed(f.done, written)
              return
            }
            // a fence moved under one of them: each goes alone, so one lost claim holds back no other
            yield* Effect.forEach(
              group,
              (f) => Effect.flatMap(Effect.exit(commit(f.request)), (e) => Deferred.done(f.done, e)),
              { concurrency: "unbounded", discard: true }
            )
          })
        const finishWorker = Effect.gen(function* () {
          for (;;) {
            const taken = yield* Queue.takeBetween(finishing, 1, FINISH_BATCH)
            let group: Array<Finishing> = []
            let bytes = 0
            const written = new Set<string>()
            for (const f of taken) {
              const keys = f.request.success.flatMap((op) =>
                op._tag === "put" || op._tag === "delete" ? [op.key] : []
              )
              // two writes for one task (its result, then a cancel's) go one after the other, in order:
              // the second then meets the first's fence
              if (group.length > 0 && (bytes + f.bytes > FINISH_BATCH_BYTES || keys.some((k) => written.has(k)))) {
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
        for (let i = 0; i < FINISH_WORKERS; i++) yield* Effect.forkIn(finishWorker, sessionScope)

        const finish = (
          jobId: string,
          phase: Phase,
          task: string,
          token: number,
          attempt: number,
          outcome: AttemptOutcome
        ) =>
          Effect.gen(function* () {
            const at = yield* now
            const spec = jobs.get(jobId)?.tasks[phase].get(task)?.spec
            const claimKey = keys.task(jobId, phase, task, "claim")
            const fenced: Compare = { key: claimKey, target: "createRevision", op: "==", value: token }
            const put = (record: "result" | "status", value: string): Op => ({
              _tag: "put",
              key: keys.task(jobId, phase, task, record),
              value
            })
            const doneStatus = put(
              "status",
              Jobs.encodeStatus(new TaskStatus({ status: "done", attempt, updatedAt: at }))
            )
            let ops: Array<Op>
            const compare: Array<Compare> = [fenced]
            const result = (r: Result, extra: Partial<ConstructorParameters<typeof TaskResult>[0]>) =>
              put("result", Jobs.encodeResult(new TaskResult({ result: r, attempt, finishedAt: at, ...extra })))
            switch (outcome._tag) {
              case "success":
                ops = [
                  result("success", { output: outcome.output }),
                  doneStatus,
                  yield* event(jobId, phase, task, "task.succeeded", `succeeded on attempt ${attempt}`)
                ]
                break
              case "skipped":
                ops = [
                  result("skipped", { reason: outcome.reason }),
                  doneStatus,
                  yield* event(jobId, phase, task, "task.skipped", outcome.reason.message)
                ]
                break
              case "canceled":
                ops = [
                  result("canceled", { reason: reason("job.canceled", "interrupted by cancel") }),
                  doneStatus,
                  yield* event(jobId, phase, task, "task.canceled", "interrupted by cancel")
                ]
                break
              case "failure": {
                const e = outcome.error
                const definition =
                  spec === undefined ? undefined : Option.getOrUndefined(registry.get(spec.type))?.definition
                const max = spec?.retry?.maxAttempts ?? definition?.retry.maxAttempts ?? 1
                const why = reason(e.code, e.message, e.details)
                if (e.retryable && attempt < max && outcome.shared === undefined) {
                  const base =
                    spec?.retry?.baseDelayMs ?? Duration.toMillis(definition?.retry.baseDelay ?? Duration.seconds(1))
                  const cap = Duration.toMillis(definition?.retry.maxDelay ?? Duration.minutes(1))
                  const jitter = yield* Random.nextBetween(0.5, 1)
                  const delay = Math.min(cap, base * 2 ** (attempt - 1)) * jitter
                  ops = [
                    put(
                      "status",
                      Jobs.encodeStatus(
                        new TaskStatus({ status: "waiting", attempt, updatedAt: at, notBefore: at + Math.round(delay) })
                      )
                    ),
                    yield* event(
                      jobId,
                      phase,
                      task,
                      "task.attempt-failed",
                      `attempt ${attempt} failed, retrying in ${Math.round(delay)} ms: ${e.message}`,
                      { code: e.code }
                    )
                  ]
                } else {
                  ops = [
                    result("failed", { reason: why, retryable: e.retryable }),
                    doneStatus,
                    yield* event(jobId, phase, task, "task.failed", e.message, { code: e.code })
                  ]
                }
                break
              }
            }
            if (outcome._tag !== "canceled" && outcome.shared !== undefined) {
              compare.push(outcome.shared.compare)
              ops.push(outcome.shared.op)
            }
            ops.push({ _tag: "delete", key: claimKey })
            const request: TxnRequest = { compare, success: ops, failure: [{ _tag: "get", key: claimKey }] }
            // a shared-record update decides alone: its conflicts are answered by deciding again
            const r =
              outcome._tag !== "canceled" && outcome.shared !== undefined
                ? yield* commit(request)
                : yield* commitBatched(request)
            if (!r.succeeded) {
              const current = r.results[0]
              const stillOurs = current?._tag === "get" && current.kv?.createRevision === token
              if (stillOurs && outcome._tag !== "canceled" && outcome.shared !== undefined) {
                // the shared record moved under us (another job adopted meanwhile): decide again
                return { status: "conflict", revision: r.revision } as const
              }
              yield* Effect.logWarning("result not written: claim lost").pipe(
                Effect.annotateLogs({ job: jobId, task, token })
              )
            }
            return { status: r.succeeded ? "written" : "lost", revision: r.revision } as const
          })

        // ---- the loops --------------------------------------------------------

        yield* Effect.forkScoped(view)
        yield* Effect.forkScoped(
          Effect.gen(function* () {
            const waitFor = yield* Ref.get(wake).pipe(Effect.map(Deferred.await))
            const batch = [...dirty]
            dirty.clear()
            for (const id of batch) {
              const job = jobs.get(id)
              if (job !== undefined) yield* evaluate(job)
            }
            if (busy.size > 10_000) {
              for (const [key, until] of busy) if (until >= 0 && until <= viewRevision) busy.delete(key)
            }
            yield* waitFor
          }).pipe(Effect.forever)
        )

        yield* Effect.addFinalizer(() =>
          Effect.gen(function* () {
            stopping = true
            const fibers = [...running.values()].map((r) => r.fiber)
            // tasks may finish within the grace period, but never past the loss of the lease
            yield* Fiber.awaitAll(fibers).pipe(
              Effect.timeout(options.shutdownGrace ?? "10 seconds"),
              Effect.ignore,
              Effect.raceFirst(Effect.asVoid(lease.lost))
            )
            yield* Fiber.interruptAll(fibers)
          })
        )
        const lost = yield* lease.lost
        yield* Metric.update(EngineMetrics.leaseLosses, 1)
        yield* Effect.logWarning("lease lost; interrupting tasks in flight", lost.message).pipe(
          Effect.annotateLogs({ runner: runnerId })
        )
        yield* Fiber.interruptAll([...running.values()].map((r) => r.fiber))
      })

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
