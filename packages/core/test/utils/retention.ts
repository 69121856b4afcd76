import { Store, type TaskRegistry } from "@migrator/core"
import { Effect, Layer, type Scope } from "effect"
import { awaitState, handlers, keys, runner, submit, terminal } from "./engine.ts"

/** The memory store, optionally seen through `wrap`, with the test plugin's handlers. */
export const env = (wrap?: (store: Store.Service) => Store.Service) =>
  Effect.gen(function* () {
    const memory = yield* Store.makeMemory
    const store = wrap === undefined ? memory.store : wrap(memory.store)
    return yield* Layer.build(handlers.pipe(Layer.provideMerge(Layer.succeed(Store.Store, store))))
  })

/** Runs `effect` in a fresh `env`. */
export const inEnv = <A, E>(
  effect: Effect.Effect<A, E, Store.Store | TaskRegistry.TaskRegistry | Scope.Scope>,
  wrap?: (store: Store.Service) => Store.Service
) => Effect.flatMap(env(wrap), (context) => Effect.provide(effect, context))

/** Submits a job and lets one runner take it to a terminal state; the runner stops after. */
export const finish = (document: unknown) =>
  Effect.scoped(
    Effect.gen(function* () {
      yield* runner("r1")
      const id = yield* submit(document)
      yield* awaitState(id, terminal)
      return id
    })
  )

/** Every key of the store under the test prefix. */
export const allKeys = Effect.map(
  Store.Store.use((s) => s.range(keys.prefix)),
  (r) => r.kvs.map((kv) => kv.key)
)

export const echo = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  type: "test/echo",
  input: { id },
  ...extra
})
