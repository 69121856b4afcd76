import { Engine, JobBuilder, Jobs, Keys, Store, TaskRegistry } from "@migrator/core"
import { TestPlugin } from "@migrator/core/testing"
import { Effect, Layer, Option, Stream } from "effect"

export const keys = Keys.make("t/")

/** Registry with the test plugin, on top of whatever store the test provides. */
export const handlers = TestPlugin.layer.pipe(Layer.provideMerge(TaskRegistry.layer))

export const runner = (runnerId: string, options: Partial<Engine.Options> = {}) =>
  Engine.run({ runnerId, prefix: keys.prefix, leaseTtl: "2 seconds", ...options }).pipe(Effect.forkScoped)

export const submit = (document: unknown) =>
  JobBuilder.build(document).pipe(Effect.flatMap((built) => Jobs.submit(keys, built)))

/** Waits (by watching, not polling) until the job state satisfies `predicate`. */
export const awaitState = (id: string, predicate: (state: string) => boolean) =>
  Effect.gen(function* () {
    const store = yield* Store.Store
    // the revision first: a change between the two reads is then seen by the watch
    const from = yield* store.revision
    const current = yield* store.get(keys.jobState(id))
    if (Option.isSome(current) && predicate(JSON.parse(current.value.value).state)) return
    yield* store.watch(keys.jobState(id), { fromRevision: from + 1 }).pipe(
      Stream.filter((e) => e._tag === "put" && predicate(JSON.parse(e.kv.value).state)),
      Stream.take(1),
      Stream.runDrain
    )
  })

export const terminal = (s: string) => ["completed", "canceled", "cleared", "clear-failed"].includes(s)

export const show = (id: string) => Jobs.read(keys, id)

/** Waits (by watch) until a run task's `record` is put with a value that satisfies `predicate`. */
const awaitRecord = <A>(job: string, task: string, record: "status" | "result", predicate: (value: A) => boolean) =>
  Effect.gen(function* () {
    const store = yield* Store.Store
    const key = keys.task(job, "run", task, record)
    const from = yield* store.revision
    const now = yield* store.get(key)
    if (Option.isSome(now)) {
      const value = JSON.parse(now.value.value) as A
      if (predicate(value)) return value
    }
    return yield* store.watch(key, { fromRevision: from + 1 }).pipe(
      Stream.filter((e) => e._tag === "put"),
      Stream.map((e) => JSON.parse(e.kv.value) as A),
      Stream.filter(predicate),
      Stream.runHead,
      Effect.map(Option.getOrThrow)
    )
  })

/** Waits until a run task has a result: what says it is done. */
export const awaitResult = (job: string, task: string) =>
  awaitRecord<{ result: string; attempt: number }>(job, task, "result", () => true)

/** Waits until a run task's status satisfies `predicate`. */
export const awaitTask = (
  job: string,
  task: string,
  predicate: (status: { status: string; runner?: string; attempt: number }) => boolean
) => awaitRecord(job, task, "status", predicate)
