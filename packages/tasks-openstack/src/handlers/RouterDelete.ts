/**
 * `openstack/router.delete`: takes a router apart in the order Neutron
 * requires (extra routes, whose next hops keep interfaces in use; then the
 * interfaces, whose ports Neutron deletes; then the gateway) and deletes it.
 * A gateway still used by floating IPs is a retryable conflict (they are
 * released with their instances, which are deleted first). Gone is success.
 *
 * @since 0.1.0
 */
import { type TaskContext, type TaskError, TaskHandler } from "@migrator/core"
import { Effect, Schema } from "effect"
import * as Clouds from "../Clouds.ts"
import { mapErrors } from "../internal/handler.ts"
import { DeleteOutput, deleteIfPresent, getIfPresent, idsToDelete, listAs } from "../internal/neutronHandler.ts"
import * as OpenStackError from "../OpenStackError.ts"

/**
 * @category schemas
 * @since 0.1.0
 */
export const Input = Schema.Struct({
  /** The router (the output of `router.create`). */
  routerId: Schema.optional(Schema.String),
  /** The `router.create` task: the routers it marked are deleted too (e.g. when it has no output). */
  createdBy: Schema.optional(Schema.String),
  /** The router's project (narrows the search by `createdBy`). */
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
export const definition = TaskHandler.make("openstack/router.delete", {
  input: Input,
  output: Output,
  retry: { maxAttempts: 5 },
  timeout: "3 minutes",
  description: "Removes a router's extra routes, interfaces and gateway, then deletes it; gone is success"
})

const RouterView = Schema.Struct({
  id: Schema.String,
  external_gateway_info: Schema.optional(Schema.NullOr(Schema.Struct({ network_id: Schema.String }))),
  routes: Schema.optional(Schema.Array(Schema.Struct({ destination: Schema.String, nexthop: Schema.String })))
})

const PortView = Schema.Struct({
  id: Schema.String,
  device_id: Schema.optional(Schema.NullOr(Schema.String)),
  device_owner: Schema.optional(Schema.NullOr(Schema.String))
})

const interfaceOwners = new Set([
  "network:router_interface",
  "network:router_interface_distributed",
  "network:ha_router_replicated_interface"
])

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
      const ids = yield* idsToDelete(client, "routers", {
        id: input.routerId,
        createdBy: input.createdBy,
        projectId: input.projectId
      })
      const deleted: Array<string> = []
      for (const id of ids) {
        const path = `/routers/${encodeURIComponent(id)}`
        const found = yield* getIfPresent(client, "network", path, Schema.Struct({ router: RouterView }))
        if (found === undefined) continue
        const router = found.router
        if ((router.routes ?? []).length > 0) {
          yield* client.request("network", "PUT", path, { body: { router: { routes: [] } } })
        }
        const ports = yield* listAs(client, "network", "/ports", "ports", PortView, { device_id: id })
        for (const port of ports.filter((p) => p.device_id === id && interfaceOwners.has(p.device_owner ?? ""))) {
          yield* client
            .request("network", "PUT", `${path}/remove_router_interface`, { body: { port_id: port.id } })
            .pipe(OpenStackError.catchNotFound(() => undefined))
        }
        if (router.external_gateway_info != null) {
          yield* client.request("network", "PUT", path, { body: { router: { external_gateway_info: {} } } })
        }
        yield* deleteIfPresent(client, "network", path)
        deleted.push(id)
      }
      return { deleted }
    })
  )

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = definition.toLayer(run)
