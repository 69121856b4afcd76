/**
 * Discovery (SPEC §4.2): the only reader of the job key space. Lists the
 * active jobs (`active/`, never the finished ones), then watches from the
 * list's revision; a periodic resync (and any watch failure, such as a
 * compacted revision) reloads the picture. Other engine services read the resulting
 * `JobView` and are told which jobs changed. A prefix in a key layout this version does not
 * know, found at the start or moved to later, stops the following (`refused`).
 *
 * @since 0.2.0
 */
import { Cause, Context, Deferred, type Duration, Effect, Layer, type Scope, Stream } from "effect"
import * as ActiveIndex from "./internal/activeIndex.ts"
import * as JobView from "./internal/jobView.ts"
import * as Signal from "./internal/signal.ts"
import * as Keys from "./Keys.ts"
import * as LayoutVersion from "./LayoutVersion.ts"
import { type Compare, Store, type WatchEvent } from "./Store.ts"
import { Conflict, type StoreError, make as storeError } from "./StoreError.ts"
import { Phase } from "./Task.ts"

export interface Options {
  readonly runnerId: string
  readonly prefix?: string
  readonly resyncInterval?: Duration.Input
}

export type Change = JobView.Applied

/** What a change requires of a listener (undefined: nothing). */
export type Listener = (change: Change) => Effect.Effect<void> | undefined

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
    /** Logs the records found undecodable since the last report (a status is decoded when first read). */
    readonly reportProblems: Effect.Effect<void>
    /**
     * Looks at `tasks` of `job`'s `phase` again once the view has caught up with `revision` (at
     * once if it has): tasks of a refused claim, which another runner may have won.
     */
    readonly lookAgainAfter: (job: string, phase: Phase, revision: number, tasks: Iterable<string>) => void
    /**
     * Calls `listener` for every change of a claim or slot key, once the view has applied the
     * batch that holds it. The listener decides synchronously whether the change concerns it and
     * returns the effect to run, if any: a runner follows two claim changes of every task others
     * run, and almost none needs an effect.
     */
    readonly onChange: (listener: Listener) => Effect.Effect<void, never, Scope.Scope>
    /** Fails once the prefix is found in a key layout this version does not know; never succeeds. */
    readonly refused: Effect.Effect<never, LayoutVersion.UnknownLayout>
  }
>()("@migrator/core/Monitor") {}

export const make = (options: Options): Effect.Effect<Monitor["Service"], never, Store | Scope.Scope> =>
  Effect.gen(function* () {
    const store = yield* Store
    const keys = Keys.make(options.prefix ?? Keys.DEFAULT_PREFIX)
    const view = JobView.make(keys)
    const dirty = new Set<string>()
    // candidates to look at again, and the revision the view must reach first
    const lookAgain = new Map<string, { at: number; readonly tasks: JobView.ByPhase<Set<string>> }>()
    const listeners = new Set<Listener>()
    const wake = yield* Signal.make
    const changed = yield* Signal.make
    const refused = yield* Deferred.make<never, LayoutVersion.UnknownLayout>()
    // the engine stops on it; what found the layout waits here until the following is interrupted
    const refuse = (e: LayoutVersion.UnknownLayout) => Deferred.fail(refused, e).pipe(Effect.andThen(Effect.never))

    const addCandidates = (id: string, phase: Phase, tasks: Iterable<string>) => {
      const slot = view.jobs.get(id)
      if (slot === undefined) return
      for (const task of tasks) slot.candidates[phase].add(task)
      dirty.add(id)
    }

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

    /** Asks the listeners what a claim or slot change requires of them; what does goes in `effects`. */
    const tell = (a: JobView.Applied, effects: Array<Effect.Effect<void, StoreError>>) => {
      if (a.claim === undefined && a.slot === undefined) return
      for (const l of listeners) {
        const effect = l(a)
        if (effect !== undefined) effects.push(effect)
      }
    }

    const applied = (a: JobView.Applied) =>
      Effect.suspend(() => {
        if (a.job !== undefined) dirty.add(a.job)
        const effects: Array<Effect.Effect<void>> = []
        tell(a, effects)
        return Effect.all(effects, { discard: true })
      })

    // a job (or the whole picture) is read in full before anyone may look at it
    const fetchJob = (id: string) =>
      Effect.gen(function* () {
        const head = yield* store.range(`${keys.job(id)}s`)
        const tasks = yield* store.range(keys.tasks(id), { revision: head.revision })
        const fresh = JobView.make(keys, undefined, view.problems)
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

    // a store written before the active index gets it built once, before it is first read
    let upgraded = false
    const upgrade = Effect.gen(function* () {
      if (upgraded) return
      const created = yield* ActiveIndex.upgrade(store, keys).pipe(Effect.catchTag("UnknownLayout", refuse))
      if (created) {
        yield* Effect.logInfo("built the index of active jobs").pipe(Effect.annotateLogs({ runner: options.runnerId }))
      }
      upgraded = true
    })

    /**
     * Removes the entry of a job that needs no runner, compared against the state it was
     * decided on (one finished by a runner of an older version, which did not remove it),
     * or of a job that no longer exists.
     */
    const tidy = (id: string, slot: JobView.JobSlot | undefined) => {
      const state = slot?.state
      const compare: ReadonlyArray<Compare> | undefined =
        slot === undefined
          ? [
              { key: keys.jobSpec(id), target: "createRevision", op: "==", value: 0 },
              { key: keys.jobState(id), target: "createRevision", op: "==", value: 0 }
            ]
          : state !== undefined && ActiveIndex.dormant(state.value, slot.spec)
            ? [{ key: keys.jobState(id), target: "modRevision", op: "==", value: state.mod }]
            : undefined
      if (compare === undefined) return Effect.void
      return store.txn({ compare, success: [{ _tag: "delete", key: keys.activeEntry(id) }] }).pipe(Effect.ignore)
    }

    /** Reads every job of the active index (never a finished job), shared records, runners and slots. */
    const load = Effect.gen(function* () {
      yield* upgrade
      const active = yield* store.range(keys.active)
      const at = active.revision
      const fresh = JobView.make(keys, view)
      const ids: Array<string> = []
      const gone: Array<string> = []
      for (const kv of active.kvs) {
        const id = kv.key.slice(keys.active.length)
        // "<job>/s" covers spec and state; tasks separately: the event log is never read here
        const head = yield* store.range(`${keys.job(id)}s`, { revision: at })
        const tasks = yield* store.range(keys.tasks(id), { revision: at })
        if (head.kvs.length === 0 && tasks.kvs.length === 0) {
          gone.push(id)
          continue
        }
        for (const kv of [...head.kvs, ...tasks.kvs]) fresh.apply(kv, kv.key)
        ids.push(id)
      }
      for (const prefix of [keys.sharedPrefix, keys.runners, keys.slots]) {
        for (const kv of (yield* store.range(prefix, { revision: at })).kvs) fresh.apply(kv, kv.key)
      }
      yield* reportProblems(fresh)
      fresh.revision = at
      for (const id of ids) fresh.slot(id).loadedAt = at
      view.replace(fresh)
      for (const id of ids) dirty.add(id)
      for (const slot of view.jobs.values()) yield* announceClaims(slot)
      for (const slot of view.jobs.values()) yield* tidy(slot.id, slot)
      for (const id of gone) yield* tidy(id, undefined)
      yield* wake.fire
      return at
    })

    /**
     * Applies what one watch response delivered in one go: the view changes synchronously, and
     * the effects (listeners, a new job's first read, the signals) run once per batch, not per
     * event, as most events need none of them.
     */
    // (after the batch's reads: a job read whole is dirty only then)
    const wakeIfDirty = Effect.suspend(() => (dirty.size > 0 ? wake.fire : Effect.void))

    const onEvents = (events: ReadonlyArray<WatchEvent>) =>
      Effect.suspend(() => {
        const changes: Array<JobView.Applied> = []
        const fetch: Array<string> = []
        const leaving = new Set<string>()
        let layout: { readonly found: string | undefined } | undefined
        for (const event of events) {
          const key = event._tag === "put" ? event.kv.key : event.key
          const a = view.apply(event._tag === "put" ? event.kv : undefined, key, event.revision)
          if (a.job !== undefined) dirty.add(a.job)
          if ((a.claim !== undefined || a.slot !== undefined) && listeners.size > 0) changes.push(a)
          // a submission commits with its spec; tasks written before the watch began were
          // never seen, so a new job is read in full once, unless the watch delivered them all
          if (a.jobSpec !== undefined) {
            const slot = view.slot(a.jobSpec)
            if (slot.loadedAt === 0 && !JobView.complete(slot)) fetch.push(a.jobSpec)
            else if (slot.loadedAt === 0) slot.loadedAt = event.revision
          } else if (a.job === undefined && key.startsWith(keys.active)) {
            const id = key.slice(keys.active.length)
            // a finished job a user moves again (rollback, retry) comes back, read in full once;
            // one that became dormant leaves with the transaction that made it so (its last one),
            // once the batch holding that transaction is applied
            if (event._tag === "delete") leaving.add(id)
            else {
              leaving.delete(id)
              if ((view.jobs.get(id)?.loadedAt ?? 0) === 0) fetch.push(id)
            }
          } else if (key === keys.layout) {
            layout = { found: event._tag === "put" ? event.kv.value : undefined }
          }
          view.revision = Math.max(view.revision, event.revision)
        }
        for (const id of leaving) view.jobs.delete(id)
        if (lookAgain.size > 0) {
          for (const [id, { at, tasks }] of lookAgain) {
            if (at > view.revision) continue
            lookAgain.delete(id)
            for (const phase of Phase.literals) if (tasks[phase].size > 0) addCandidates(id, phase, tasks[phase])
          }
        }
        const effects: Array<Effect.Effect<void, StoreError>> = []
        if (layout !== undefined && layout.found !== LayoutVersion.CURRENT) effects.push(layoutMoved(layout.found))
        if (view.hasProblems()) effects.push(reportProblems(view))
        for (const a of changes) tell(a, effects)
        // (a job's spec later in the batch may have shown it whole: only what is still unread)
        const unread = new Set(fetch.filter((id) => (view.jobs.get(id)?.loadedAt ?? 0) === 0))
        for (const id of unread) {
          // what the batch showed of it is partial: nobody decides on it before it is read whole
          view.jobs.delete(id)
          dirty.delete(id)
        }
        if (unread.size > 0) effects.push(Effect.forEach(unread, fetchJob, { discard: true }))
        effects.push(changed.fire, wakeIfDirty)
        return effects.length === 1 ? effects[0]! : Effect.all(effects, { discard: true })
      })

    /**
     * The marker moved under a running runner: to a layout this version does not know (a newer
     * version took the prefix over), or away (deleted by hand: the view is reloaded, which puts
     * it back, as claims compare it meanwhile and are refused).
     */
    const layoutMoved = (found: string | undefined) =>
      found === undefined
        ? Effect.suspend(() => {
            upgraded = false
            return Effect.fail(storeError("watch", new Conflict({ message: "the layout marker was deleted" })))
          })
        : refuse(LayoutVersion.unknownLayout(keys.prefix, found))

    const follow = Effect.gen(function* () {
      const at = yield* load
      // everything under the prefix but the event log, which nothing here reads
      yield* store
        .watch(keys.prefix, { fromRevision: at + 1, end: keys.followedEnd })
        .pipe(Stream.runForEachArray(onEvents))
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
    yield* Effect.forkScoped(Effect.raceFirst(follow, Deferred.await(refused)).pipe(Effect.ignore))

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
      reportProblems: Effect.suspend(() => (view.hasProblems() ? reportProblems(view) : Effect.void)),
      lookAgainAfter: (job, phase, revision, tasks) => {
        const waiting = lookAgain.get(job)
        if (waiting === undefined && revision <= view.revision) return addCandidates(job, phase, tasks)
        const later = waiting ?? { at: revision, tasks: JobView.byPhase(() => new Set<string>()) }
        later.at = Math.max(later.at, revision)
        for (const task of tasks) later.tasks[phase].add(task)
        lookAgain.set(job, later)
      },
      refused: Deferred.await(refused),
      onChange: (listener) =>
        Effect.acquireRelease(
          Effect.sync(() => listeners.add(listener)),
          () => Effect.sync(() => listeners.delete(listener))
        ).pipe(Effect.asVoid)
    })
  })

export const layer = (options: Options): Layer.Layer<Monitor, never, Store> => Layer.effect(Monitor, make(options))
