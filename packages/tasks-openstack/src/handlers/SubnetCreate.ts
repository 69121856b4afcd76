/**
 * `openstack/subnet.create`: a subnet of a recovered network with the
 * protected subnet's addressing: CIDR, IP version, gateway (or none),
 * allocation pools, DNS servers, host routes and DHCP. Subnets have no delete
 * task: `network.delete` removes them with their network.
 *
 * Identity: the description carries the task's marker (written with the
 * subnet; a tag is added too). A retry or a takeover adopts the marked subnet
 * of the network. A CIDR that overlaps another subnet of the network is a
 * permanent failure.
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
  tagWith
} from "../internal/neutronHandler.ts"

const Route = Schema.Struct({ destination: Schema.NonEmptyString, nexthop: Schema.NonEmptyString })

/**
 * @category schemas
 * @since 0.1.0
 */
export const Input = Schema.Struct({
  /** The network (the output of `network.create`). */
  networkId: Schema.NonEmptyString,
  /** The project (the output of `tenant.create`); default: the network's. */
  projectId: Schema.optional(Schema.String),
  name: Schema.String,
  description: Schema.optional(Schema.String),
  cidr: Schema.NonEmptyString,
  /** Default: the family of `cidr`. */
  ipVersion: Schema.optional(Schema.Literals([4, 6])),
  /** The gateway address; `null` for a subnet without a gateway; absent for Neutron's default (the first address). */
  gatewayIp: Schema.optional(Schema.NullOr(Schema.NonEmptyString)),
  /** Default: every address but the gateway's. */
  allocationPools: Schema.optional(
    Schema.Array(Schema.Struct({ start: Schema.NonEmptyString, end: Schema.NonEmptyString }))
  ),
  dnsNameservers: Schema.optional(Schema.Array(Schema.NonEmptyString)),
  hostRoutes: Schema.optional(Schema.Array(Route)),
  /** Default true. */
  enableDhcp: Schema.optional(Schema.Boolean),
  /** IPv6 only: `slaac`, `dhcpv6-stateful`, `dhcpv6-stateless`. */
  ipv6AddressMode: Schema.optional(Schema.NonEmptyString),
  ipv6RaMode: Schema.optional(Schema.NonEmptyString)
})

/**
 * @category schemas
 * @since 0.1.0
 */
export const Output = Schema.Struct({
  subnetId: Schema.String,
  networkId: Schema.String,
  name: Schema.String,
  cidr: Schema.String,
  gatewayIp: Schema.NullOr(Schema.String)
})

/**
 * @category definitions
 * @since 0.1.0
 */
export const definition = TaskHandler.make("openstack/subnet.create", {
  input: Input,
  output: Output,
  retry: { maxAttempts: 5 },
  timeout: "2 minutes",
  description:
    "Creates a subnet with its addressing (gateway, pools, DNS, host routes, DHCP); adopts its own earlier subnet"
})

const SubnetView = Schema.Struct({
  ...MarkedResource.fields,
  name: Schema.String,
  network_id: Schema.String,
  cidr: Schema.String,
  gateway_ip: Schema.optional(Schema.NullOr(Schema.String))
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
      // the subnet belongs to the network's project (an admin's would otherwise be the admin's)
      const projectId =
        input.projectId ??
        (yield* client.request("network", "GET", `/networks/${encodeURIComponent(input.networkId)}`, {
          schema: Schema.Struct({ network: Schema.Struct({ project_id: Schema.String }) })
        })).network.project_id
      const find = listAs(client, "network", "/subnets", "subnets", SubnetView, { network_id: input.networkId }).pipe(
        Effect.map((subnets) => subnets.find((s) => s.network_id === input.networkId && isMarked(s, marker)))
      )
      const { value: subnet } = yield* findOrCreate(
        find,
        client
          .request("network", "POST", "/subnets", {
            body: {
              subnet: {
                network_id: input.networkId,
                name: input.name,
                description: markedDescription(input.description, marker),
                cidr: input.cidr,
                ip_version: input.ipVersion ?? (input.cidr.includes(":") ? 6 : 4),
                project_id: projectId,
                ...(input.gatewayIp === undefined ? {} : { gateway_ip: input.gatewayIp }),
                ...(input.allocationPools === undefined ? {} : { allocation_pools: input.allocationPools }),
                ...(input.dnsNameservers === undefined ? {} : { dns_nameservers: input.dnsNameservers }),
                ...(input.hostRoutes === undefined ? {} : { host_routes: input.hostRoutes }),
                ...(input.enableDhcp === undefined ? {} : { enable_dhcp: input.enableDhcp }),
                ...(input.ipv6AddressMode === undefined ? {} : { ipv6_address_mode: input.ipv6AddressMode }),
                ...(input.ipv6RaMode === undefined ? {} : { ipv6_ra_mode: input.ipv6RaMode })
              }
            },
            schema: Schema.Struct({ subnet: SubnetView })
          })
          .pipe(Effect.map((body) => body.subnet))
      )
      yield* tagWith(client, "subnets", subnet.id, marker)
      return {
        subnetId: subnet.id,
        networkId: subnet.network_id,
        name: subnet.name,
        cidr: subnet.cidr,
        gatewayIp: subnet.gateway_ip ?? null
      }
    })
  )

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = definition.toLayer(run)
