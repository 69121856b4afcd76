/**
 * `openstack/floating-ip.create`: a floating IP on an external network,
 * optionally at a given address (the protected one, when the recovery side
 * can offer it) or from a given subnet. It is not associated here:
 * `instance.create` associates it with the instance's port once the instance
 * exists.
 *
 * Identity: the description carries the task's marker (written with the
 * floating IP; a tag is added too). A retry or a takeover adopts the marked
 * floating IP of the project on that network. An address that someone else
 * holds is a permanent failure.
 *
 * @since 0.1.0
 */
import { type TaskContext, TaskError, TaskHandler } from "@migrator/core"
import { Effect, Schema } from "effect"
import * as Clouds from "../Clouds.ts"
import { mapErrors } from "../internal/handler.ts"
import {
  externalNetworkId,
  findOrCreate,
  isMarked,
  listAs,
  MarkedResource,
  markedDescription,
  ownerMarker,
  projectOf,
  tagWith
} from "../internal/neutronHandler.ts"

/**
 * @category schemas
 * @since 0.1.0
 */
export const Input = Schema.Struct({
  /** The project (the output of `tenant.create`); default: the project of the cloud's credentials. */
  projectId: Schema.optional(Schema.String),
  /** The external network (`router:external`) of the recovery cloud: its id, or its name. */
  networkId: Schema.NonEmptyString,
  /** The address to take (admin); default: any free one. */
  floatingIpAddress: Schema.optional(Schema.NonEmptyString),
  /** The external subnet to take it from; default: any. */
  subnetId: Schema.optional(Schema.NonEmptyString),
  description: Schema.optional(Schema.String)
})

/**
 * @category schemas
 * @since 0.1.0
 */
export const Output = Schema.Struct({
  floatingIpId: Schema.String,
  floatingIpAddress: Schema.String,
  networkId: Schema.String
})

/**
 * @category definitions
 * @since 0.1.0
 */
export const definition = TaskHandler.make("openstack/floating-ip.create", {
  input: Input,
  output: Output,
  retry: { maxAttempts: 5 },
  timeout: "2 minutes",
  description:
    "Allocates a floating IP on an external network (optionally at a given address); adopts its own earlier one"
})

const FloatingIpView = Schema.Struct({
  ...MarkedResource.fields,
  floating_network_id: Schema.String,
  floating_ip_address: Schema.String
})

/**
 * @category handlers
 * @since 0.1.0
 */
export const run = (
  given: typeof Input.Type
): Effect.Effect<typeof Output.Type, TaskError.TaskError, Clouds.Clouds | TaskContext.TaskContext> =>
  mapErrors(
    Effect.gen(function* () {
      const client = yield* Clouds.current
      const input = { ...given, networkId: yield* externalNetworkId(client, given.networkId) }
      const marker = yield* ownerMarker
      const projectId = yield* projectOf(client, input.projectId)
      const find = listAs(client, "network", "/floatingips", "floatingips", FloatingIpView, {
        floating_network_id: input.networkId,
        project_id: projectId
      }).pipe(Effect.map((fips) => fips.find((f) => isMarked(f, marker))))
      const { value: fip } = yield* findOrCreate(
        find,
        client
          .request("network", "POST", "/floatingips", {
            body: {
              floatingip: {
                floating_network_id: input.networkId,
                project_id: projectId,
                description: markedDescription(input.description, marker),
                ...(input.floatingIpAddress === undefined ? {} : { floating_ip_address: input.floatingIpAddress }),
                ...(input.subnetId === undefined ? {} : { subnet_id: input.subnetId })
              }
            },
            schema: Schema.Struct({ floatingip: FloatingIpView })
          })
          .pipe(
            Effect.map((body) => body.floatingip),
            Effect.catchIf(
              (e) =>
                e.reason._tag === "Conflict" &&
                input.floatingIpAddress !== undefined &&
                /already allocated|in use/i.test(e.reason.message),
              (e) =>
                // ours from an earlier attempt (findOrCreate looks again), or someone else's
                Effect.flatMap(find, (mine) =>
                  mine !== undefined
                    ? Effect.succeed(mine)
                    : Effect.fail(
                        TaskError.permanent(
                          "openstack.address-in-use",
                          `floating IP address ${input.floatingIpAddress} is taken on network ${input.networkId}: ${e.reason.message}`
                        )
                      )
                )
            )
          )
      )
      yield* tagWith(client, "floatingips", fip.id, marker)
      return { floatingIpId: fip.id, floatingIpAddress: fip.floating_ip_address, networkId: fip.floating_network_id }
    })
  )

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = definition.toLayer(run)
