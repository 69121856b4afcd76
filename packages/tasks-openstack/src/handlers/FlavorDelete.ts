/**
 * `openstack/flavor.delete`: removes the flavor `flavor.create` made (undo).
 * Already gone is success. Nova deletes a flavor at once (instances keep a
 * copy of theirs).
 *
 * @since 0.1.0
 */
import { type TaskContext, type TaskError, TaskHandler } from "@migrator/core"
import { Effect, Schema } from "effect"
import * as Clouds from "../Clouds.ts"
import { mapErrors } from "../internal/handler.ts"
import * as OpenStackError from "../OpenStackError.ts"

/**
 * @category schemas
 * @since 0.1.0
 */
export const Input = Schema.Struct({
  flavorId: Schema.NonEmptyString
})

/**
 * @category schemas
 * @since 0.1.0
 */
export const Output = Schema.Struct({})

/**
 * @category definitions
 * @since 0.1.0
 */
export const definition = TaskHandler.make("openstack/flavor.delete", {
  input: Input,
  output: Output,
  retry: { maxAttempts: 5 },
  timeout: "2 minutes",
  description: "Deletes a Nova flavor; already gone is success"
})

/**
 * @category handlers
 * @since 0.1.0
 */
export const run = (
  input: typeof Input.Type
): Effect.Effect<typeof Output.Type, TaskError.TaskError, Clouds.Clouds | TaskContext.TaskContext> =>
  mapErrors(
    Effect.gen(function* () {
      const client = yield* Clouds.current
      yield* client
        .request("compute", "DELETE", `/flavors/${encodeURIComponent(input.flavorId)}`)
        .pipe(OpenStackError.catchNotFound(() => undefined))
      return {}
    })
  )

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = definition.toLayer(run)
