/**
 * A runner's warm-up: before it takes its lease, a runner runs jobs of no-op tasks through
 * engines of its own, so that the engine's hot paths are compiled when the first real job arrives.
 * A process just started otherwise runs its first thousand tasks at two to three times the CPU per
 * task of later ones (V8 compiles as it goes), and a standby runner meets a disaster with exactly
 * that first job.
 *
 * First in memory: two engines share the job, since code V8 compiled for one engine's closures
 * and records is thrown away when it first meets another's (the runner's own, at its first job:
 * half as many deoptimisations with two), and a runner in a fleet splits ready tasks as these two
 * do. Then in the store (`inStore`): a job on etcd itself, under a prefix of the runner's own
 * (`Keys.warmUp`) that no runner follows, through the etcd client, its watch and its transactions,
 * which a store in memory never exercises. Two engines share that job too, so that following
 * another runner's claims and results through the watch is compiled as well: with one engine
 * there, a runner's first real job still kept V8's background threads (its optimising compiler,
 * mostly) busy for 100-250 ms, and cost 0.49 ms of CPU per task in the bench (a runner that only
 * followed it, 0.22); with two, 0.38 (0.10), about what later jobs cost (0.32, 0.08). The job's
 * keys are deleted when it is done; those of a warm-up that died with its runner are deleted by
 * the next runner that starts. Nothing of either reaches the runners' view, the logs or the
 * metrics; `warmUpTasks: 0` and `warmUpStoreTasks: 0` turn them off.
 *
 * What they compile lasts until the runner's first full collection after them: V8 then throws away
 * optimised code that holds objects gone by then (these engines' closures, mostly); its memory
 * reducer runs three such collections some 50 s after a process goes quiet. Running the warm-up
 * through the runner's own engine would not keep it: the code compiled for a real job loses as much
 * after such a rest (126 functions optimised again, against 128-139 after these warm-ups). The
 * bench's `standby` case measures a runner's first job after that rest.
 *
 * @since 0.3.0
 */
import { Engine, JobBuilder, Jobs, Keys, Store, TaskHandler, TaskRegistry } from "@migrator/core"
import {
  Cause,
  Clock,
  Data,
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Metric,
  Option,
  References,
  Schema,
  Stream
} from "effect"

const NoOp = TaskHandler.make("migrator/warm-up", {
  input: Schema.Json,
  output: Schema.Json,
  description: "Outputs its input: the runner's warm-up."
})

const keys = Keys.make("warm-up/")
const JOB = "warm-up"

/** Independent tasks, and a chain passing outputs by `$ref`: the two paths real jobs take. */
export const document = (tasks: number) => {
  const chain = Math.min(50, Math.floor(tasks / 4))
  return {
    id: JOB,
    tasks: [
      ...Array.from({ length: tasks - chain }, (_, i) => ({ id: `t${i}`, type: NoOp.type, input: { i } })),
      ...Array.from({ length: chain }, (_, i) => ({
        id: `c${i}`,
        type: NoOp.type,
        dependencies: i === 0 ? [] : [`c${i - 1}`],
        input: i === 0 ? { v: 0 } : { v: { $ref: `c${i - 1}#/v` } }
      }))
    ]
  }
}

const completed = (keys: Keys.Layout) =>
  Effect.gen(function* () {
    const store = yield* Store.Store
    const from = yield* store.revision
    const done = (value: string) => (JSON.parse(value) as { state?: string }).state === "completed"
    const now = yield* store.get(keys.jobState(JOB))
    if (Option.isSome(now) && done(now.value.value)) return
    yield* store.watch(keys.jobState(JOB), { fromRevision: from + 1 }).pipe(
      Stream.filter((e) => e._tag === "put" && done(e.kv.value)),
      Stream.take(1),
      Stream.runDrain
    )
  })

/** The warm-up job under `keys`, run to completion by an engine per id in `runners`. */
const runJob = (keys: Keys.Layout, tasks: number, concurrency: number, runners: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    yield* Jobs.submit(keys, yield* JobBuilder.build(document(tasks)))
    const engines = yield* Effect.forEach(runners, (runnerId) =>
      Effect.forkChild(Engine.run({ runnerId, prefix: keys.prefix, concurrency, shutdownGrace: "0 millis" }))
    )
    yield* completed(keys)
    yield* Fiber.interruptAll(engines)
  })

const handler = NoOp.toLayer((input) => Effect.succeed(input)).pipe(Layer.provideMerge(TaskRegistry.layer))

// fresh: a store built elsewhere from the same layer (a test's, say) must not be shared
const inMemory = Layer.mergeAll(Layer.fresh(Store.layerMemory), handler)

/** A warm-up that did not complete: a bug, which costs the runner its head start, never its service. */
export class WarmUpFailed extends Data.TaggedError("WarmUpFailed")<{ readonly message: string }> {}

/** 2,000 tasks take under a second on a 2-core machine: a warm-up still going after this is stuck. */
export const LIMIT = Duration.minutes(1)

/** Runs `work` as a warm-up: its own metrics, no logs, within `limit`; the milliseconds it took. */
const warmUp = <E, R>(work: Effect.Effect<void, E, R>, limit: Duration.Input): Effect.Effect<number, WarmUpFailed, R> =>
  Effect.gen(function* () {
    const start = yield* Clock.currentTimeMillis
    yield* work
    return (yield* Clock.currentTimeMillis) - start
  }).pipe(
    // its tasks are not the runner's: they count in a registry of their own, and log nothing
    Effect.provideService(Metric.MetricRegistry, new Map()),
    Effect.provideService(References.MinimumLogLevel, "None"),
    Effect.timeoutOption(limit),
    Effect.catchCause((cause) =>
      Cause.hasInterruptsOnly(cause)
        ? Effect.interrupt
        : Effect.fail(new WarmUpFailed({ message: Cause.pretty(cause).split("\n")[0] ?? "failed" }))
    ),
    Effect.flatMap((done) =>
      Option.isSome(done)
        ? Effect.succeed(done.value)
        : Effect.fail(
            new WarmUpFailed({ message: `not done after ${Duration.format(Duration.fromInputUnsafe(limit))}` })
          )
    )
  )

/**
 * Runs `tasks` no-op tasks with `concurrency` in flight on a store of its own; returns the
 * milliseconds it took (0 when `tasks` is 0).
 */
export const run = (
  tasks: number,
  concurrency: number,
  limit: Duration.Input = LIMIT
): Effect.Effect<number, WarmUpFailed> =>
  tasks <= 0
    ? Effect.succeed(0)
    : warmUp(runJob(keys, tasks, concurrency, [`${JOB}-a`, `${JOB}-b`]), limit).pipe(Effect.provide(inMemory))

/** The second engine of the warm-up in the store: its runner id is the runner's with this suffix. */
export const PEER = "~warm-up-peer"

export interface InStoreOptions {
  readonly tasks: number
  readonly concurrency: number
  /** The runners' prefix: the job runs under `Keys.warmUp(runnerId)` of it. */
  readonly prefix: string
  readonly runnerId: string
  readonly limit?: Duration.Input | undefined
}

/**
 * Runs `tasks` no-op tasks on the runners' store, under a prefix of this runner's own that no
 * runner follows, then deletes the job's keys; first it deletes what warm-ups that died with their
 * runners left there (this runner's own, and any other older than the limit, by then stuck or
 * gone). Returns the milliseconds it took (0 when `tasks` is 0).
 */
export const inStore = (options: InStoreOptions): Effect.Effect<number, WarmUpFailed, Store.Store> => {
  const limit = options.limit ?? LIMIT
  const layout = Keys.make(options.prefix)
  const own = Keys.make(layout.warmUp(options.runnerId))
  const clear = (prefix: string) =>
    Effect.gen(function* () {
      yield* (yield* Store.Store).txn({ compare: [], success: [{ _tag: "deletePrefix", prefix }] })
    })
  return options.tasks <= 0
    ? Effect.succeed(0)
    : warmUp(
        Effect.gen(function* () {
          yield* clearLeftovers(layout, Duration.toMillis(Duration.fromInputUnsafe(limit)))
          yield* clear(own.prefix)
          yield* runJob(own, options.tasks, options.concurrency, [options.runnerId, `${options.runnerId}${PEER}`])
          yield* clear(own.prefix)
        }).pipe(
          Effect.provide(handler),
          // a warm-up cut short (the limit, a failure, the runner stopping) leaves nothing behind it
          Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : Effect.ignore(clear(own.prefix))))
        ),
        limit
      )
}

const decodeCreatedAt = (value: string) =>
  Option.map(
    Schema.decodeUnknownOption(Schema.fromJsonString(Schema.Struct({ createdAt: Schema.Number })))(value),
    (spec) => spec.createdAt
  )

/**
 * Deletes the warm-ups under `layout` whose job was submitted more than `olderThan` ms ago: a
 * warm-up that takes longer is cut short and deletes its keys itself, so these were left by
 * runners that died or froze on the way. Each is deleted only if its spec is the one read.
 */
const clearLeftovers = (layout: Keys.Layout, olderThan: number) =>
  Effect.gen(function* () {
    const store = yield* Store.Store
    const now = yield* Clock.currentTimeMillis
    const suffix = `/jobs/${JOB}/spec`
    for (const kv of (yield* store.range(layout.warmUps)).kvs) {
      if (!kv.key.endsWith(suffix)) continue
      // (a spec that cannot be read is no warm-up that may still run)
      const createdAt = Option.getOrUndefined(decodeCreatedAt(kv.value))
      if (createdAt !== undefined && now - createdAt <= olderThan) continue
      const prefix = kv.key.slice(0, kv.key.length - suffix.length + 1)
      yield* store.txn({
        compare: [{ key: kv.key, target: "modRevision", op: "==", value: kv.modRevision }],
        success: [{ _tag: "deletePrefix", prefix }]
      })
    }
  })
