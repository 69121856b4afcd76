/**
 * `openstack/security-group.delete`: removes a security group; Neutron
 * removes its rules, and the rules of other groups that name it as remote,
 * with it. A group still used by a port is a retryable conflict (the ports
 * go with the instances, which are deleted first). Gone is success.
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
  /** The group (the output of `security-group.create`). */
  securityGroupId: Schema.optional(Schema.String),
  /** The `security-group.create` task: the groups it marked are deleted too (e.g. when it has no output). */
  createdBy: Schema.optional(Schema.String),
  /** The group's project (narrows the search by `createdBy`). */
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
export const definition = TaskHandler.make("openstack/security-group.delete", {
  input: Input,
  output: Output,
  retry: { maxAttempts: 5 },
  timeout: "2 minutes",
  description: "Deletes a security group with its rules; gone is success"
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
      const ids = yield* idsToDelete(client, "security-groups", {
        id: input.securityGroupId,
        createdBy: input.createdBy,
        projectId: input.projectId
      })
      const deleted: Array<string> = []
      for (const id of ids) {
        if (yield* removeIfPresent(client, "network", `/security-groups/${encodeURIComponent(id)}`)) deleted.push(id)
      }
      return { deleted }
    })
  )

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = definition.toLayer(run)
