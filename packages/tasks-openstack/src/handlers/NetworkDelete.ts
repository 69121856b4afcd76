/**
 * `openstack/network.delete`: removes a network with its subnets. Neutron
 * refuses to delete a network that still has ports, so the handler first
 * deletes the leftover unbound ports on it (ports attached to nothing, e.g.
 * the ones passed to Nova for instances that are gone), then the subnets,
 * then the network. Ports that still belong to something (a router
 * interface, a floating IP, a live server) are left alone: the network stays
 * in use and the task fails retryably until their own clear tasks are done.
 * Gone is success.
 *
 * @since 0.1.0
 */
import { type TaskContext, type TaskError, TaskHandler } from "@migrator/core"
import { Effect, Schema } from "effect"
import * as Clouds from "../Clouds.ts"
import { mapErrors } from "../internal/handler.ts"
import { DeleteOutput, deleteIfPresent, getIfPresent, idsToDelete, listAs } from "../internal/neutronHandler.ts"

/**
 * @category schemas
 * @since 0.1.0
 */
export const Input = Schema.Struct({
  /** The network (the output of `network.create`). */
  networkId: Schema.optional(Schema.String),
  /** The `network.create` task: the networks it marked are deleted too (e.g. when it has no output). */
  createdBy: Schema.optional(Schema.String),
  /** The network's project (narrows the search by `createdBy`). */
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
export const definition = TaskHandler.make("openstack/network.delete", {
  input: Input,
  output: Output,
  retry: { maxAttempts: 5 },
  timeout: "3 minutes",
  description: "Deletes a network with its subnets and leftover unbound ports; gone is success"
})

const PortView = Schema.Struct({
  id: Schema.String,
  network_id: Schema.String,
  device_id: Schema.optional(Schema.NullOr(Schema.String)),
  device_owner: Schema.optional(Schema.NullOr(Schema.String))
})

const SubnetView = Schema.Struct({ id: Schema.String, network_id: Schema.String })

/** A port nothing uses: no device, and not one Neutron keeps for itself (DHCP goes with the network). */
const leftover = (port: typeof PortView.Type) =>
  (port.device_id ?? "") === "" && !(port.device_owner ?? "").startsWith("network:")

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
      const ids = yield* idsToDelete(client, "networks", {
        id: input.networkId,
        createdBy: input.createdBy,
        projectId: input.projectId
      })
      const deleted: Array<string> = []
      for (const id of ids) {
        const path = `/networks/${encodeURIComponent(id)}`
        const network = yield* getIfPresent(
          client,
          "network",
          path,
          Schema.Struct({ network: Schema.Struct({ id: Schema.String }) })
        )
        if (network === undefined) continue
        const ports = yield* listAs(client, "network", "/ports", "ports", PortView, { network_id: id })
        for (const port of ports.filter((p) => p.network_id === id && leftover(p))) {
          yield* deleteIfPresent(client, "network", `/ports/${encodeURIComponent(port.id)}`)
        }
        const subnets = yield* listAs(client, "network", "/subnets", "subnets", SubnetView, { network_id: id })
        for (const subnet of subnets.filter((s) => s.network_id === id)) {
          yield* deleteIfPresent(client, "network", `/subnets/${encodeURIComponent(subnet.id)}`)
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
