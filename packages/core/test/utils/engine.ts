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
    const current = yield* store.get(keys.jobState(id))
    const from = yield* store.revision
    if (Option.isSome(current) && predicate(JSON.parse(current.value.value).state)) return
    yield* store.watch(keys.jobState(id), { fromRevision: from + 1 }).pipe(
      Stream.filter((e) => e._tag === "put" && predicate(JSON.parse(e.kv.value).state)),
      Stream.take(1),
      Stream.runDrain
    )
  })

export const terminal = (s: string) => ["completed", "canceled", "cleared", "clear-failed"].includes(s)

export const show = (id: string) => Jobs.read(keys, id)

/** Waits until a run task has a result (by watch): what says it is done. */
export const awaitResult = (job: string, task: string) =>
  Effect.gen(function* () {
    const store = yield* Store.Store
    const key = keys.task(job, "run", task, "result")
    const from = yield* store.revision
    const now = yield* store.get(key)
    if (Option.isSome(now)) return JSON.parse(now.value.value) as { result: string; attempt: number }
    return yield* store.watch(key, { fromRevision: from + 1 }).pipe(
      Stream.filter((e) => e._tag === "put"),
      Stream.map((e) =>
        e._tag === "put" ? (JSON.parse(e.kv.value) as { result: string; attempt: number }) : undefined
      ),
      Stream.runHead,
      Effect.map(Option.getOrThrow)
    )
  })

/** Waits until a task's status satisfies `predicate` (by watch). */
export const awaitTask = (
  job: string,
  task: string,
  predicate: (status: { status: string; runner?: string; attempt: number }) => boolean
) =>
  Effect.gen(function* () {
    const store = yield* Store.Store
    const key = keys.task(job, "run", task, "status")
    const from = yield* store.revision
    const now = yield* store.get(key)
    if (Option.isSome(now) && predicate(JSON.parse(now.value.value))) return JSON.parse(now.value.value)
    return yield* store.watch(key, { fromRevision: from + 1 }).pipe(
      Stream.filter((e) => e._tag === "put" && predicate(JSON.parse(e.kv.value))),
      Stream.map((e) => (e._tag === "put" ? JSON.parse(e.kv.value) : undefined)),
      Stream.runHead,
      Effect.map(Option.getOrThrow)
    )
  })
