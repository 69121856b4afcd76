/**
 * Discovery (SPEC §4.2): the only reader of the job key space. Lists, then
 * watches from the list's revision; a periodic resync (and any watch
 * failure) reloads the picture. Other engine services read the resulting
 * `JobView` and are told which jobs changed.
 *
 * @since 0.2.0
 */
import { Cause, Context, type Duration, Effect, Layer, Option, type Scope, Stream } from "effect"
import * as JobView from "./internal/jobView.ts"
import * as Signal from "./internal/signal.ts"
import { isTerminal, type JobState } from "./Job.ts"
import * as Jobs from "./Jobs.ts"
import * as Keys from "./Keys.ts"
import { Store, type WatchEvent } from "./Store.ts"

export interface Options {
  readonly runnerId: string
  readonly prefix?: string
  readonly resyncInterval?: Duration.Input
}

export type Change = JobView.Applied

export class Monitor extends Context.Service<
  Monitor,
  {
    readonly view: JobView.JobView
    /** Jobs changed since the last call, each once. */
    readonly takeDirty: Effect.Effect<ReadonlyArray<string>>
    readonly markDirty: (job: string) => Effect.Effect<void>
    /** Fires when some job became dirty. */
    readonly wake: Signal.Signal
    /** Fires after every change the watch delivered. */
    readonly changed: Signal.Signal
    /** Looks at every task of `job` again once the view has caught up with `revision`. */
    readonly rescanAfter: (job: string, revision: number) => void
    /** Calls `listener` for every change of a claim or slot key (after the view has applied it). */
    readonly onChange: (listener: (change: Change) => Effect.Effect<void>) => Effect.Effect<void, never, Scope.Scope>
  }
>()("@migrator/core/Monitor") {}

export const make = (options: Options): Effect.Effect<Monitor["Service"], never, Store | Scope.Scope> =>
  Effect.gen(function* () {
    const store = yield* Store
    const keys = Keys.make(options.prefix ?? Keys.DEFAULT_PREFIX)
    const view = JobView.make(keys)
    const dirty = new Set<string>()
    const rescans = new Map<string, number>()
    const listeners = new Set<(change: Change) => Effect.Effect<void>>()
    const wake = yield* Signal.make
    const changed = yield* Signal.make

    const markDirty = (job: string) =>
      Effect.suspend(() => {
        dirty.add(job)
        return wake.fire
      })

    const reportProblems = (from: JobView.JobView) =>
      Effect.forEach(
        from.takeProblems(),
        (e) => Effect.logWarning(e.message).pipe(Effect.annotateLogs({ runner: options.runnerId, key: e.key })),
        { discard: true }
      )

    const applied = (a: JobView.Applied) =>
      Effect.gen(function* () {
        if (a.job !== undefined) dirty.add(a.job)
        if (a.claim !== undefined || a.slot !== undefined) for (const l of listeners) yield* l(a)
      })

    // a job (or the whole picture) is read in full before anyone may look at it
    const fetchJob = (id: string) =>
      Effect.gen(function* () {
        const head = yield* store.range(`${keys.job(id)}s`)
        const tasks = yield* store.range(keys.tasks(id), { revision: head.revision })
        const fresh = JobView.make(keys)
        for (const kv of [...head.kvs, ...tasks.kvs]) fresh.apply(kv, kv.key)
        yield* reportProblems(fresh)
        const slot = fresh.jobs.get(id)
        if (slot === undefined) return
        slot.loadedAt = head.revision
        view.jobs.set(id, slot)
        dirty.add(id)
        yield* announceClaims(slot)
      })

    /** Tells the listeners about every claim of a job that entered the view in one piece. */
    const announceClaims = (slot: JobView.JobSlot) =>
      Effect.forEach(
        (["run", "clear"] as const).flatMap((phase) =>
          [...slot.tasks[phase]].flatMap(([task, t]) =>
            t.claim === undefined ? [] : [{ job: slot.id, claim: { job: slot.id, phase, task, entry: t.claim } }]
          )
        ),
        applied,
        { discard: true }
      )

    /**
     * Finished jobs no runner has anything to do for, by the mod revision of their index entry:
     * a resync skips them without reading (or decoding) anything but that entry. A user's
     * operation rewrites the entry, so the job is looked at again.
     */
    const dormant = new Map<string, number>()

    /** Whether a job in `state` needs no runner until a user asks (reads its spec only if completed). */
    const isDormant = (id: string, state: JobState, at: number) =>
      Effect.gen(function* () {
        if (!isTerminal(state.state) || state.pending !== undefined) return false
        if (state.state !== "completed") return true
        // a drill's auto-rollback is due later: the Scheduler must see the job to set its timer
        const spec = (yield* store.range(keys.jobSpec(id), { revision: at })).kvs[0]
        if (spec === undefined) return true
        const decoded = yield* Effect.option(Jobs.decodeSpec(spec.key, spec.value))
        return Option.isSome(decoded) && decoded.value.autoRollbackAfterMs === undefined
      })

    const load = Effect.gen(function* () {
      const index = yield* store.range(keys.index)
      const at = index.revision
      const fresh = JobView.make(keys)
      const ids: Array<string> = []
      const seen = new Set<string>()
      for (const kv of index.kvs) {
        const id = kv.key.slice(keys.index.length)
        seen.add(id)
        if (dormant.get(id) === kv.modRevision) continue
        const state = yield* Effect.option(Jobs.decodeState(kv.key, kv.value))
        if (Option.isSome(state) && (yield* isDormant(id, state.value, at))) {
          dormant.set(id, kv.modRevision)
          continue
        }
        dormant.delete(id)
        // "<job>/s" covers spec and state; tasks separately: the event log is never read here
        const head = yield* store.range(`${keys.job(id)}s`, { revision: at })
        const tasks = yield* store.range(keys.tasks(id), { revision: at })
        for (const kv of [...head.kvs, ...tasks.kvs]) fresh.apply(kv, kv.key)
        ids.push(id)
      }
      for (const prefix of [keys.sharedPrefix, keys.runners, keys.slots]) {
        for (const kv of (yield* store.range(prefix, { revision: at })).kvs) fresh.apply(kv, kv.key)
      }
      yield* reportProblems(fresh)
      for (const id of dormant.keys()) if (!seen.has(id)) dormant.delete(id)
      fresh.revision = at
      for (const id of ids) fresh.slot(id).loadedAt = at
      view.replace(fresh)
      for (const id of ids) dirty.add(id)
      for (const slot of view.jobs.values()) yield* announceClaims(slot)
      yield* wake.fire
      return at
    })

    const onEvent = (event: WatchEvent) =>
      Effect.gen(function* () {
        const key = event._tag === "put" ? event.kv.key : event.key
        yield* applied(view.apply(event._tag === "put" ? event.kv : undefined, key, event.revision))
        yield* reportProblems(view)
        // a submission commits with its spec; tasks written before the watch began were
        // never seen, so a new job is read in full once, unless the watch delivered them all
        const parsed = keys.parse(key)
        if (event._tag === "put" && parsed?._tag === "jobSpec") {
          const slot = view.slot(parsed.job)
          if (slot.loadedAt === 0 && !JobView.complete(slot)) yield* fetchJob(parsed.job)
          else if (slot.loadedAt === 0) slot.loadedAt = event.revision
        } else if (event._tag === "put" && parsed?._tag === "jobState" && dormant.delete(parsed.job)) {
          // a finished job a user moves again (rollback, retry) was left out of the view: its
          // state change brings it back in, read in full
          yield* fetchJob(parsed.job)
        }
        view.revision = Math.max(view.revision, event.revision)
        for (const [id, at] of rescans) {
          if (at > view.revision) continue
          rescans.delete(id)
          const slot = view.jobs.get(id)
          if (slot !== undefined) slot.scan = true
          dirty.add(id)
        }
        yield* changed.fire
        if (dirty.size > 0) yield* wake.fire
      })

    const follow = Effect.gen(function* () {
      const at = yield* load
      yield* store.watch(keys.prefix, { fromRevision: at + 1 }).pipe(Stream.runForEach(onEvent))
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
    yield* Effect.forkScoped(follow)

    return Monitor.of({
      view,
      takeDirty: Effect.sync(() => {
        const out = [...dirty]
        dirty.clear()
        return out
      }),
      markDirty,
      wake,
      changed,
      rescanAfter: (job, revision) => {
        rescans.set(job, revision)
      },
      onChange: (listener) =>
        Effect.acquireRelease(
          Effect.sync(() => listeners.add(listener)),
          () => Effect.sync(() => listeners.delete(listener))
        ).pipe(Effect.asVoid)
    })
  })

export const layer = (options: Options): Layer.Layer<Monitor, never, Store> => Layer.effect(Monitor, make(options))
