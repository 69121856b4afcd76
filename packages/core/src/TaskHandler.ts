/**
 * The plugin contract (SPEC §5). `make` describes a handler (wire type id,
 * input and output Schemas, retry policy, timeout) and returns a value;
 * `toLayer(run)` registers the implementation in the runner's registry for
 * the life of the layer. Delivery is at least once: handlers must be
 * idempotent.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Layer, type Schema } from "effect"
import type { TaskContext } from "./TaskContext.ts"
import type { TaskError } from "./TaskError.ts"
import { TaskRegistry } from "./TaskRegistry.ts"

export type { Registered } from "./TaskRegistry.ts"

export interface RetryPolicy {
  /** Total attempts, including the first (default 5). */
  readonly maxAttempts: number
  /** First backoff delay; doubles per attempt, with jitter (default 1 s). */
  readonly baseDelay: Duration.Duration
  /** Upper bound of one backoff delay (default 1 min). */
  readonly maxDelay: Duration.Duration
}

export const defaultRetry: RetryPolicy = {
  maxAttempts: 5,
  baseDelay: Duration.seconds(1),
  maxDelay: Duration.minutes(1)
}

export const defaultTimeout: Duration.Duration = Duration.minutes(10)

export type AnySchema = Schema.Top & { readonly DecodingServices: never; readonly EncodingServices: never }

export interface Definition<I extends AnySchema, O extends AnySchema> {
  readonly type: string
  readonly input: I
  readonly output: O
  readonly retry: RetryPolicy
  readonly timeout: Duration.Duration
  readonly description: string | undefined
  /** Registers `run` for this type while the layer is alive. */
  readonly toLayer: <R>(
    run: (input: I["Type"]) => Effect.Effect<O["Type"], TaskError, R | TaskContext>
  ) => Layer.Layer<never, never, TaskRegistry | Exclude<R, TaskContext>>
}

export const make = <I extends AnySchema, O extends AnySchema>(
  type: string,
  options: {
    readonly input: I
    readonly output: O
    readonly retry?: Partial<RetryPolicy>
    readonly timeout?: Duration.Input
    readonly description?: string
  }
): Definition<I, O> => {
  const definition: Definition<I, O> = {
    type,
    input: options.input,
    output: options.output,
    retry: { ...defaultRetry, ...options.retry },
    timeout: options.timeout === undefined ? defaultTimeout : Duration.fromInputUnsafe(options.timeout),
    description: options.description,
    toLayer: <R>(run: (input: I["Type"]) => Effect.Effect<O["Type"], TaskError, R | TaskContext>) =>
      Layer.effectDiscard(
        Effect.gen(function* () {
          // Capture the handler's own services now, so the engine only provides TaskContext.
          const services = yield* Effect.context<Exclude<R, TaskContext>>()
          const registry = yield* TaskRegistry
          yield* registry.register({
            definition: definition as unknown as Definition<AnySchema, AnySchema>,
            run: (input) =>
              Effect.provideContext(run(input as I["Type"]), services) as Effect.Effect<unknown, TaskError, TaskContext>
          })
        })
      )
  }
  return definition
}
