/**
 * `openstack/keypair.delete`: removes the key pair `keypair.create` made
 * (undo). Already gone is success.
 *
 * @since 0.1.0
 */
import { type TaskContext, type TaskError, TaskHandler } from "@migrator/core"
import { Effect, Schema } from "effect"
import * as Clouds from "../Clouds.ts"
import { mapErrors } from "../internal/handler.ts"
import * as OpenStackError from "../OpenStackError.ts"
import { keypairMicroversion } from "./KeypairCreate.ts"

/**
 * @category schemas
 * @since 0.1.0
 */
export const Input = Schema.Struct({
  name: Schema.NonEmptyString,
  /** Owner of the key pair (`keypair.create`'s output); default: the runner's user. */
  userId: Schema.optional(Schema.String)
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
export const definition = TaskHandler.make("openstack/keypair.delete", {
  input: Input,
  output: Output,
  retry: { maxAttempts: 5 },
  timeout: "2 minutes",
  description: "Deletes a Nova key pair; already gone is success"
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
        .request("compute", "DELETE", `/os-keypairs/${encodeURIComponent(input.name)}`, {
          ...(input.userId === undefined ? {} : { query: { user_id: input.userId } }),
          microversion: keypairMicroversion
        })
        .pipe(OpenStackError.catchNotFound(() => undefined))
      return {}
    })
  )

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = definition.toLayer(run)
