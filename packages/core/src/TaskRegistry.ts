/**
 * The runner's registry of task handlers, filled by `TaskHandler.toLayer`.
 * Registration is scoped: a handler disappears when its layer closes.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Option, Schema, type Scope } from "effect"
import type { TaskContext } from "./TaskContext.ts"
import type { TaskError } from "./TaskError.ts"
import type { AnySchema, Definition } from "./TaskHandler.ts"

/** A registered handler with its types erased, as the engine sees it. */
export interface Registered {
  readonly definition: Definition<AnySchema, AnySchema>
  readonly run: (input: unknown) => Effect.Effect<unknown, TaskError, TaskContext>
}

export class TaskRegistryError extends Schema.TaggedError<TaskRegistryError>()("TaskRegistryError", {
  reason: Schema.Literals(["DuplicateType"]),
  type: Schema.String
}) {
  override get message(): string {
    return `task type "${this.type}" is registered twice`
  }
}

export class TaskRegistry extends Context.Service<
  TaskRegistry,
  {
    readonly register: (handler: Registered) => Effect.Effect<void, never, Scope.Scope>
    readonly get: (type: string) => Option.Option<Registered>
    readonly types: () => ReadonlyArray<string>
  }
>()("@migrator/core/TaskRegistry") {}

export const make = Effect.sync(() => {
  const handlers = new Map<string, Registered>()
  return TaskRegistry.of({
    register: (handler) =>
      Effect.acquireRelease(
        Effect.suspend(() => {
          if (handlers.has(handler.definition.type)) {
            // a duplicate is a wiring bug of the runner, not a runtime condition
            return Effect.die(new TaskRegistryError({ reason: "DuplicateType", type: handler.definition.type }))
          }
          handlers.set(handler.definition.type, handler)
          return Effect.void
        }),
        () => Effect.sync(() => handlers.delete(handler.definition.type))
      ),
    get: (type) => Option.fromUndefinedOr(handlers.get(type)),
    types: () => [...handlers.keys()].sort()
  })
})

export const layer: Layer.Layer<TaskRegistry> = Layer.effect(TaskRegistry, make)
