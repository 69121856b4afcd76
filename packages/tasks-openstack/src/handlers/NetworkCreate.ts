/**
 * `openstack/network.create`: a Neutron network with the protected network's
 * settings: name, description, admin state, shared and external flags, MTU
 * and, optionally, provider attributes (type, physical network, segment).
 * Without provider attributes Neutron picks its tenant network type.
 *
 * Identity: the description carries the task's marker (written with the
 * network; a tag is added too). A retry or a takeover adopts the marked
 * network of that name in the project.
 *
 * @since 0.1.0
 */
import { type TaskContext, type TaskError, TaskHandler } from "@migrator/core"
import { Effect, Schema } from "effect"
import * as Clouds from "../Clouds.ts"
import { mapErrors } from "../internal/handler.ts"
import {
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
  name: Schema.NonEmptyString,
  description: Schema.optional(Schema.String),
  /** Default true. */
  adminStateUp: Schema.optional(Schema.Boolean),
  /** Shared with every project. Default false. */
  shared: Schema.optional(Schema.Boolean),
  /** An external network (`router:external`), for router gateways and floating IPs. Default false. */
  external: Schema.optional(Schema.Boolean),
  /** Default: the largest the network type allows. */
  mtu: Schema.optional(Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(68)))),
  /** Provider attributes (admin); default: the cloud's tenant network type. */
  provider: Schema.optional(
    Schema.Struct({
      /** `flat`, `vlan`, `vxlan`, `geneve`, `gre`, `local`. */
      networkType: Schema.NonEmptyString,
      physicalNetwork: Schema.optional(Schema.NonEmptyString),
      segmentationId: Schema.optional(Schema.Int)
    })
  ),
  /** Port security on the network's ports by default (needs the `port-security` extension). */
  portSecurityEnabled: Schema.optional(Schema.Boolean)
})

/**
 * @category schemas
 * @since 0.1.0
 */
export const Output = Schema.Struct({
  networkId: Schema.String,
  name: Schema.String,
  projectId: Schema.String,
  mtu: Schema.optional(Schema.Number)
})

/**
 * @category definitions
 * @since 0.1.0
 */
export const definition = TaskHandler.make("openstack/network.create", {
  input: Input,
  output: Output,
  retry: { maxAttempts: 5 },
  timeout: "2 minutes",
  description: "Creates a Neutron network with its settings; adopts its own earlier network"
})

const NetworkView = Schema.Struct({
  ...MarkedResource.fields,
  name: Schema.String,
  mtu: Schema.optional(Schema.Number)
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
      const marker = yield* ownerMarker
      const projectId = yield* projectOf(client, input.projectId)
      const find = listAs(client, "network", "/networks", "networks", NetworkView, {
        name: input.name,
        project_id: projectId
      }).pipe(Effect.map((networks) => networks.find((n) => isMarked(n, marker))))
      const provider = input.provider
      const { value: network } = yield* findOrCreate(
        find,
        client
          .request("network", "POST", "/networks", {
            body: {
              network: {
                name: input.name,
                description: markedDescription(input.description, marker),
                project_id: projectId,
                admin_state_up: input.adminStateUp ?? true,
                ...(input.shared === undefined ? {} : { shared: input.shared }),
                ...(input.external === undefined ? {} : { "router:external": input.external }),
                ...(input.mtu === undefined ? {} : { mtu: input.mtu }),
                ...(input.portSecurityEnabled === undefined
                  ? {}
                  : { port_security_enabled: input.portSecurityEnabled }),
                ...(provider === undefined
                  ? {}
                  : {
                      "provider:network_type": provider.networkType,
                      ...(provider.physicalNetwork === undefined
                        ? {}
                        : { "provider:physical_network": provider.physicalNetwork }),
                      ...(provider.segmentationId === undefined
                        ? {}
                        : { "provider:segmentation_id": provider.segmentationId })
                    })
              }
            },
            schema: Schema.Struct({ network: NetworkView })
          })
          .pipe(Effect.map((body) => body.network))
      )
      yield* tagWith(client, "networks", network.id, marker)
      return {
        networkId: network.id,
        name: network.name,
        projectId,
        ...(network.mtu === undefined ? {} : { mtu: network.mtu })
      }
    })
  )

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = definition.toLayer(run)
