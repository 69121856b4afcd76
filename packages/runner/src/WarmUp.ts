/**
 * A runner's warm-up: before it takes its lease, a runner runs one job of no-op tasks through
 * engines of its own on a store in memory, so that the engine's hot paths are compiled when the
 * first real job arrives. A process just started otherwise runs its first thousand tasks at two
 * to three times the CPU per task of later ones (V8 compiles as it goes), and a standby runner
 * meets a disaster with exactly that first job. Two engines share the job: code V8 compiled for
 * one engine's closures and records is thrown away when it first meets another's (the runner's
 * own, at its first job: half as many deoptimisations with two), and a runner in a fleet splits
 * ready tasks as these two do. Nothing of the warm-up reaches etcd, the logs or the metrics;
 * `warmUpTasks: 0` turns it off.
 *
 * @since 0.3.0
 */
import { Engine, JobBuilder, Jobs, Keys, Store, TaskHandler, TaskRegistry } from "@migrator/core"
import { Cause, Clock, Data, Duration, Effect, Fiber, Layer, Metric, Option, References, Schema, Stream } from "effect"

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

const completed = Effect.gen(function* () {
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

// fresh: a store built elsewhere from the same layer (a test's, say) must not be shared
const inMemory = Layer.mergeAll(
  Layer.fresh(Store.layerMemory),
  NoOp.toLayer((input) => Effect.succeed(input)).pipe(Layer.provideMerge(TaskRegistry.layer))
)

/** A warm-up that did not complete: a bug, which costs the runner its head start, never its service. */
export class WarmUpFailed extends Data.TaggedError("WarmUpFailed")<{ readonly message: string }> {}

/** 2,000 tasks take under a second on a 2-core machine: a warm-up still going after this is stuck. */
export const LIMIT = Duration.minutes(1)

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
    : Effect.gen(function* () {
        const start = yield* Clock.currentTimeMillis
        yield* Jobs.submit(keys, yield* JobBuilder.build(document(tasks)))
        const engines = yield* Effect.forEach(["a", "b"], (id) =>
          Effect.forkChild(
            Engine.run({ runnerId: `${JOB}-${id}`, prefix: keys.prefix, concurrency, shutdownGrace: "0 millis" })
          )
        )
        yield* completed
        yield* Fiber.interruptAll(engines)
        return (yield* Clock.currentTimeMillis) - start
      }).pipe(
        Effect.provide(inMemory),
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
