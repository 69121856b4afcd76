/**
 * `openstack/router.create`: a Neutron router with, optionally, its external
 * gateway (an external network, SNAT, fixed gateway addresses), its
 * interfaces on recovered subnets (at the subnet's gateway address, or at a
 * given address through a port made for it) and its extra routes (added once
 * the interfaces that reach their next hops exist).
 *
 * Identity: the router's description carries the task's marker (written with
 * the router; a tag is added too), and so does every port the task makes
 * for an interface. A retry or a takeover adopts the marked router of that
 * name in the project, then adds only the gateway, interfaces and routes that
 * are missing; nothing that is there is removed.
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
import type { Client } from "../OpenStackClient.ts"
import type * as OpenStackError from "../OpenStackError.ts"

const Route = Schema.Struct({ destination: Schema.NonEmptyString, nexthop: Schema.NonEmptyString })

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
  externalGateway: Schema.optional(
    Schema.Struct({
      /** An external network (`router:external`): its id, or its name on the recovery cloud. */
      networkId: Schema.NonEmptyString,
      /** Default: Neutron's (true). */
      enableSnat: Schema.optional(Schema.Boolean),
      /** The gateway's addresses on the external network (admin); default: any free one. */
      fixedIps: Schema.optional(
        Schema.Array(
          Schema.Struct({
            subnetId: Schema.optional(Schema.NonEmptyString),
            ipAddress: Schema.optional(Schema.NonEmptyString)
          })
        )
      )
    })
  ),
  /** Interfaces on subnets (outputs of `subnet.create`); at `ipAddress`, or else at the subnet's gateway. */
  interfaces: Schema.optional(
    Schema.Array(
      Schema.Struct({
        subnetId: Schema.NonEmptyString,
        ipAddress: Schema.optional(Schema.NonEmptyString)
      })
    )
  ),
  /** Extra routes; each next hop must be on a subnet the router has an interface on. */
  routes: Schema.optional(Schema.Array(Route))
})

/**
 * @category schemas
 * @since 0.1.0
 */
export const Output = Schema.Struct({
  routerId: Schema.String,
  name: Schema.String,
  /** The gateway's addresses on the external network (empty without a gateway). */
  gatewayIps: Schema.Array(Schema.String),
  interfaces: Schema.Array(Schema.Struct({ subnetId: Schema.String, portId: Schema.String, ipAddress: Schema.String }))
})

/**
 * @category definitions
 * @since 0.1.0
 */
export const definition = TaskHandler.make("openstack/router.create", {
  input: Input,
  output: Output,
  retry: { maxAttempts: 5 },
  timeout: "3 minutes",
  description:
    "Creates a router with its external gateway, interfaces and extra routes; adopts its own earlier router and adds what is missing"
})

const FixedIp = Schema.Struct({ subnet_id: Schema.String, ip_address: Schema.String })

const RouterView = Schema.Struct({
  ...MarkedResource.fields,
  name: Schema.String,
  external_gateway_info: Schema.optional(
    Schema.NullOr(
      Schema.Struct({
        network_id: Schema.String,
        external_fixed_ips: Schema.optional(Schema.Array(FixedIp))
      })
    )
  ),
  routes: Schema.optional(Schema.Array(Schema.Struct({ destination: Schema.String, nexthop: Schema.String })))
})
type RouterView = typeof RouterView.Type

const PortView = Schema.Struct({
  ...MarkedResource.fields,
  network_id: Schema.String,
  device_id: Schema.optional(Schema.NullOr(Schema.String)),
  device_owner: Schema.optional(Schema.NullOr(Schema.String)),
  fixed_ips: Schema.Array(FixedIp)
})
type PortView = typeof PortView.Type

const SubnetView = Schema.Struct({
  id: Schema.String,
  network_id: Schema.String,
  gateway_ip: Schema.optional(Schema.NullOr(Schema.String))
})

const interfaceOwners = new Set([
  "network:router_interface",
  "network:router_interface_distributed",
  "network:ha_router_replicated_interface"
])

const interfacePorts = (client: Client, routerId: string) =>
  listAs(client, "network", "/ports", "ports", PortView, { device_id: routerId }).pipe(
    Effect.map((ports) => ports.filter((p) => p.device_id === routerId && interfaceOwners.has(p.device_owner ?? "")))
  )

const getRouter = (client: Client, id: string) =>
  client
    .request("network", "GET", `/routers/${encodeURIComponent(id)}`, { schema: Schema.Struct({ router: RouterView }) })
    .pipe(Effect.map((body) => body.router))

const gatewayBody = (gateway: NonNullable<(typeof Input.Type)["externalGateway"]>) => ({
  network_id: gateway.networkId,
  ...(gateway.enableSnat === undefined ? {} : { enable_snat: gateway.enableSnat }),
  ...(gateway.fixedIps === undefined
    ? {}
    : {
        external_fixed_ips: gateway.fixedIps.map((f) => ({
          ...(f.subnetId === undefined ? {} : { subnet_id: f.subnetId }),
          ...(f.ipAddress === undefined ? {} : { ip_address: f.ipAddress })
        }))
      })
})

/** The interface port on `subnetId`, adding the interface when there is none. */
const ensureInterface = (
  client: Client,
  router: RouterView,
  projectId: string,
  marker: string,
  wanted: { readonly subnetId: string; readonly ipAddress?: string | undefined }
): Effect.Effect<
  { subnetId: string; portId: string; ipAddress: string },
  OpenStackError.OpenStackError | TaskError.TaskError
> =>
  Effect.gen(function* () {
    const onSubnet = (ports: ReadonlyArray<PortView>) => {
      for (const port of ports) {
        const ip = port.fixed_ips.find((f) => f.subnet_id === wanted.subnetId)
        if (ip !== undefined) return { subnetId: wanted.subnetId, portId: port.id, ipAddress: ip.ip_address }
      }
      return undefined
    }
    const present = onSubnet(yield* interfacePorts(client, router.id))
    if (present !== undefined) {
      if (wanted.ipAddress !== undefined && present.ipAddress !== wanted.ipAddress) {
        return yield* Effect.fail(
          TaskError.permanent(
            "openstack.router-interface-mismatch",
            `router ${router.id} has an interface on subnet ${wanted.subnetId} at ${present.ipAddress}, not ${wanted.ipAddress}`
          )
        )
      }
      return present
    }
    const subnet = (yield* client.request("network", "GET", `/subnets/${encodeURIComponent(wanted.subnetId)}`, {
      schema: Schema.Struct({ subnet: SubnetView })
    })).subnet
    let body: Record<string, string> = { subnet_id: subnet.id }
    if (wanted.ipAddress !== undefined && wanted.ipAddress !== subnet.gateway_ip) {
      // an address other than the gateway's: a port of our own, attached by id
      const port = yield* portAt(client, subnet, projectId, marker, wanted.ipAddress)
      body = { port_id: port }
    }
    yield* client
      .request("network", "PUT", `/routers/${encodeURIComponent(router.id)}/add_router_interface`, { body })
      .pipe(
        // a repeated PUT whose first answer was lost: the interface is there
        Effect.catchIf(
          (e) => e.reason._tag === "BadRequest" || e.reason._tag === "Conflict",
          (e) =>
            Effect.flatMap(interfacePorts(client, router.id), (ports) =>
              onSubnet(ports) === undefined ? Effect.fail(e) : Effect.void
            )
        )
      )
    const added = onSubnet(yield* interfacePorts(client, router.id))
    if (added === undefined) {
      return yield* Effect.fail(
        TaskError.retryable(
          "openstack.router-interface-missing",
          `router ${router.id} shows no interface on subnet ${wanted.subnetId} after adding it`
        )
      )
    }
    return added
  })

/** Our port at `ipAddress` on `subnet` for a router interface: an earlier attempt's, or a new one. */
const portAt = (client: Client, subnet: typeof SubnetView.Type, projectId: string, marker: string, ipAddress: string) =>
  Effect.gen(function* () {
    const find = listAs(client, "network", "/ports", "ports", PortView, {
      network_id: subnet.network_id,
      fixed_ips: `ip_address=${ipAddress}`
    }).pipe(
      Effect.flatMap((ports) => {
        const holder = ports.find((p) =>
          p.fixed_ips.some((f) => f.subnet_id === subnet.id && f.ip_address === ipAddress)
        )
        if (holder === undefined) return Effect.succeed(undefined)
        if (isMarked(holder, marker) && (holder.device_id ?? "") === "") return Effect.succeed(holder.id)
        return Effect.fail(
          TaskError.permanent(
            "openstack.address-in-use",
            `address ${ipAddress} on subnet ${subnet.id} is taken by port ${holder.id}`
          )
        )
      })
    )
    const { value } = yield* findOrCreate(
      find,
      client
        .request("network", "POST", "/ports", {
          body: {
            port: {
              network_id: subnet.network_id,
              project_id: projectId,
              description: markedDescription("router interface", marker),
              fixed_ips: [{ subnet_id: subnet.id, ip_address: ipAddress }]
            }
          },
          schema: Schema.Struct({ port: PortView })
        })
        .pipe(Effect.map((body) => body.port.id))
    )
    return value
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
      const input =
        given.externalGateway === undefined
          ? given
          : {
              ...given,
              externalGateway: {
                ...given.externalGateway,
                networkId: yield* externalNetworkId(client, given.externalGateway.networkId)
              }
            }
      const marker = yield* ownerMarker
      const projectId = yield* projectOf(client, input.projectId)
      const find = listAs(client, "network", "/routers", "routers", RouterView, {
        name: input.name,
        project_id: projectId
      }).pipe(Effect.map((routers) => routers.find((r) => isMarked(r, marker))))
      const created = yield* findOrCreate(
        find,
        client
          .request("network", "POST", "/routers", {
            body: {
              router: {
                name: input.name,
                description: markedDescription(input.description, marker),
                project_id: projectId,
                admin_state_up: input.adminStateUp ?? true,
                ...(input.externalGateway === undefined
                  ? {}
                  : { external_gateway_info: gatewayBody(input.externalGateway) })
              }
            },
            schema: Schema.Struct({ router: RouterView })
          })
          .pipe(Effect.map((body) => body.router))
      )
      let router = created.value
      yield* tagWith(client, "routers", router.id, marker)

      const gateway = input.externalGateway
      if (gateway !== undefined && router.external_gateway_info?.network_id !== gateway.networkId) {
        router = (yield* client.request("network", "PUT", `/routers/${encodeURIComponent(router.id)}`, {
          body: { router: { external_gateway_info: gatewayBody(gateway) } },
          schema: Schema.Struct({ router: RouterView })
        })).router
      }

      const interfaces: Array<{ subnetId: string; portId: string; ipAddress: string }> = []
      for (const wanted of input.interfaces ?? []) {
        interfaces.push(yield* ensureInterface(client, router, projectId, marker, wanted))
      }

      const routes = input.routes ?? []
      if (routes.length > 0) {
        const current = (yield* getRouter(client, router.id)).routes ?? []
        const missing = routes.filter(
          (r) => !current.some((c) => c.destination === r.destination && c.nexthop === r.nexthop)
        )
        if (missing.length > 0) {
          yield* client.request("network", "PUT", `/routers/${encodeURIComponent(router.id)}/add_extraroutes`, {
            body: { router: { routes: missing.map((r) => ({ destination: r.destination, nexthop: r.nexthop })) } }
          })
        }
      }

      router = yield* getRouter(client, router.id)
      return {
        routerId: router.id,
        name: router.name,
        gatewayIps: (router.external_gateway_info?.external_fixed_ips ?? []).map((f) => f.ip_address),
        interfaces
      }
    })
  )

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = definition.toLayer(run)
