/**
 * `openstack/floating-ip.delete`: releases a floating IP (Neutron
 * disassociates it first if it is still on a port). Gone is success.
 *
 * @since 0.1.0
 */
import { type TaskContext, type TaskError, TaskHandler } from "@migrator/core"
import { Effect, Schema } from "effect"
import * as Clouds from "../Clouds.ts"
import { mapErrors } from "../internal/handler.ts"
import { DeleteOutput, idsToDelete, removeIfPresent } from "../internal/neutronHandler.ts"

/**
 * @category schemas
 * @since 0.1.0
 */
export const Input = Schema.Struct({
  /** The floating IP (the output of `floating-ip.create`). */
  floatingIpId: Schema.optional(Schema.String),
  /** The `floating-ip.create` task: the floating IPs it marked are released too (e.g. when it has no output). */
  createdBy: Schema.optional(Schema.String),
  /** The floating IP's project (narrows the search by `createdBy`). */
  projectId: Schema.optional(Schema.String)
})

/**
 * @category schemas
 * @since 0.1.0
 */
export const Output = DeleteOutput

/**
 * @category definitions
 * @since 0.1.0
 */
export const definition = TaskHandler.make("openstack/floating-ip.delete", {
  input: Input,
  output: Output,
  retry: { maxAttempts: 5 },
  timeout: "2 minutes",
  description: "Releases a floating IP; gone is success"
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
      const ids = yield* idsToDelete(client, "floatingips", {
        id: input.floatingIpId,
        createdBy: input.createdBy,
        projectId: input.projectId
      })
      const deleted: Array<string> = []
      for (const id of ids) {
        if (yield* removeIfPresent(client, "network", `/floatingips/${encodeURIComponent(id)}`)) deleted.push(id)
      }
      return { deleted }
    })
  )

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = definition.toLayer(run)
