/**
 * The test plugin: handlers used by tests, benchmarks and the engine demo.
 *
 * - `test/echo`: the output is the resolved input.
 * - `test/sleep`: input `{"ms": n}`, waits (interruptible), outputs `{"slept": n}`.
 * - `test/fail`: input `{"message": s, "retryable": b}`, always fails with it.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Layer, Schema } from "effect"
import * as TaskError from "../TaskError.ts"
import * as TaskHandler from "../TaskHandler.ts"

export const Echo = TaskHandler.make("test/echo", {
  input: Schema.Json,
  output: Schema.Json,
  retry: { maxAttempts: 3, baseDelay: Duration.millis(100) },
  description: "Outputs its resolved input."
})

export const Sleep = TaskHandler.make("test/sleep", {
  input: Schema.Struct({ ms: Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0))) }),
  output: Schema.Struct({ slept: Schema.Int }),
  retry: { maxAttempts: 3, baseDelay: Duration.millis(100) },
  description: "Waits `ms` milliseconds; interruptible."
})

export const Fail = TaskHandler.make("test/fail", {
  input: Schema.Struct({ message: Schema.String, retryable: Schema.optional(Schema.Boolean) }),
  output: Schema.Never,
  retry: { maxAttempts: 3, baseDelay: Duration.millis(100) },
  description: "Fails with the given message, retryable or not."
})

export const layer = Layer.mergeAll(
  Echo.toLayer((input) => Effect.succeed(input)),
  Sleep.toLayer(({ ms }) => Effect.sleep(Duration.millis(ms)).pipe(Effect.as({ slept: ms }))),
  Fail.toLayer(({ message, retryable }) =>
    Effect.fail(
      retryable === true ? TaskError.retryable("test.fail", message) : TaskError.permanent("test.fail", message)
    )
  )
)

export const definitions = [Echo, Sleep, Fail] as const
