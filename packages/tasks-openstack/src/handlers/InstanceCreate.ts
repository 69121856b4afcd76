/**
 * `openstack/instance.create`: boots a recovered instance from its imported
 * or copied volumes and diagnoses it.
 *
 * Steps (each one looks up what an earlier attempt made before creating):
 * 1. Neutron ports, one per planned interface, with the planned fixed IP and
 *    security groups, tagged with the task's owner tag and named
 *    `<server>-port-<n>`;
 * 2. the boot volume is made bootable if it is not;
 * 3. the server (`block_device_mapping_v2` in boot order, the ports, the key
 *    pair, the availability zone and optionally the hypervisor — `host`,
 *    microversion 2.74), carrying a server tag and `migrator_owner` metadata
 *    so that a retry or a takeover adopts it;
 * 4. the planned floating IPs are associated with their ports;
 * 5. `ACTIVE` is awaited (`ERROR` fails at once, with Nova's fault);
 * 6. diagnosis: the ports `ACTIVE` (unless `requirePortsActive` is false —
 *    a Neutron without L2 agents leaves them `DOWN`), the volumes `in-use`,
 *    and optionally a regular expression found in the console log.
 *
 * When anything fails once the server exists, the server and the ports this
 * task made are deleted (and its volumes awaited until released) before the
 * task fails, so a retry starts from scratch and nothing is left behind.
 *
 * @since 0.1.0
 */
import { type TaskContext, TaskError, TaskHandler } from "@migrator/core"
import { Effect, Option, Schema } from "effect"
import * as Clouds from "../Clouds.ts"
import { awaitState, done, failed, mapErrors, ownerTag, pending } from "../internal/handler.ts"
import type { Client } from "../OpenStackClient.ts"
import * as OpenStackError from "../OpenStackError.ts"
import {
  awaitVolumesDetached,
  computeMicroversion,
  deletePorts,
  deleteServer,
  readServer,
  ServerView
} from "./InstanceDelete.ts"
import { boundedTag, ensureBootable, ownerKey, readVolume } from "./VolumeCopy.ts"

const Seconds = Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1)))

/**
 * @category schemas
 * @since 0.1.0
 */
export const Volume = Schema.Struct({
  /** `volume.import` / `volume.copy` output. */
  volumeId: Schema.NonEmptyString,
  /** 0: the boot disk; 1, 2, …: further boot candidates; absent: a data disk. No 0 at all: the first volume boots. */
  bootIndex: Schema.optional(Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))),
  /** e.g. `/dev/vdb` (a hint: the hypervisor may name it otherwise). */
  deviceName: Schema.optional(Schema.String)
})

/**
 * @category schemas
 * @since 0.1.0
 */
export const Interface = Schema.Struct({
  networkId: Schema.NonEmptyString,
  subnetId: Schema.optional(Schema.String),
  /** The planned fixed IP (the protected instance's address); default: any address of the subnet. */
  fixedIp: Schema.optional(Schema.String),
  /** A floating IP (`floating-ip.create` output) to associate with this interface. */
  floatingIpId: Schema.optional(Schema.String)
})

/**
 * @category schemas
 * @since 0.1.0
 */
export const Diagnosis = Schema.Struct({
  /** Require every port `ACTIVE` (default true; false on a Neutron without L2 agents). */
  requirePortsActive: Schema.optional(Schema.Boolean),
  /** A regular expression the console log must match, e.g. `login:`. */
  consoleLogPattern: Schema.optional(Schema.String),
  /** How long the diagnosis may take (default 5 minutes). */
  timeoutSeconds: Schema.optional(Seconds)
})

/**
 * @category schemas
 * @since 0.1.0
 */
export const Input = Schema.Struct({
  projectId: Schema.NonEmptyString,
  name: Schema.NonEmptyString,
  /** `flavor.create` output, or an existing flavor of the recovery cloud by id or by name. */
  flavorId: Schema.NonEmptyString,
  /** `keypair.create` output. */
  keypairName: Schema.optional(Schema.String),
  availabilityZone: Schema.optional(Schema.String),
  /** Compute host to boot on (admin; checked by the scheduler). */
  hypervisor: Schema.optional(Schema.String),
  volumes: Schema.Array(Volume).pipe(Schema.check(Schema.isMinLength(1))),
  interfaces: Schema.Array(Interface),
  /** Security groups of every port (`security-group.create` outputs); default: the project's default group. */
  securityGroupIds: Schema.optional(Schema.Array(Schema.String)),
  metadata: Schema.optional(Schema.Record(Schema.String, Schema.String)),
  /** Base64 user data. */
  userData: Schema.optional(Schema.String),
  /** How long to wait for `ACTIVE` (default 30 minutes). */
  bootTimeoutSeconds: Schema.optional(Seconds),
  diagnosis: Schema.optional(Diagnosis)
})

/**
 * @category schemas
 * @since 0.1.0
 */
export const Port = Schema.Struct({
  portId: Schema.String,
  networkId: Schema.String,
  ipAddresses: Schema.Array(Schema.String),
  status: Schema.String,
  floatingIpId: Schema.optional(Schema.String)
})

/**
 * @category schemas
 * @since 0.1.0
 */
export const Output = Schema.Struct({
  serverId: Schema.String,
  name: Schema.String,
  status: Schema.String,
  host: Schema.optional(Schema.String),
  availabilityZone: Schema.optional(Schema.String),
  ports: Schema.Array(Port),
  /** For `instance.delete`. */
  portIds: Schema.Array(Schema.String),
  /** The tag of the ports this task made, for `instance.delete`. */
  portTag: Schema.String,
  volumeIds: Schema.Array(Schema.String)
})

/**
 * @category definitions
 * @since 0.1.0
 */
export const definition = TaskHandler.make("openstack/instance.create", {
  input: Input,
  output: Output,
  retry: { maxAttempts: 3 },
  timeout: "1 hour",
  description:
    "Creates ports, boots a server from its volumes, associates floating IPs and diagnoses it; cleans up on failure"
})

// ---------------------------------------------------------------- Neutron ports

const PortView = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  network_id: Schema.String,
  status: Schema.String,
  fixed_ips: Schema.Array(Schema.Struct({ ip_address: Schema.String, subnet_id: Schema.optional(Schema.String) })),
  tags: Schema.optional(Schema.Array(Schema.String))
})

const portName = (server: string, index: number) => `${server}-port-${index}`

/**
 * The ports of the planned interfaces. Zed's Neutron takes no tags in a POST,
 * so the owner tag is first the port's description (set atomically with the
 * port, found by a retry) and then also a tag (for operators and filters).
 */
const ensurePorts = (client: Client, input: typeof Input.Type, tag: string) =>
  Effect.gen(function* () {
    const existing = (yield* client.request("network", "GET", "/ports", {
      query: { description: tag },
      schema: Schema.Struct({ ports: Schema.Array(PortView) })
    })).ports
    return yield* Effect.forEach(input.interfaces, (itf, index) => {
      const name = portName(input.name, index)
      const mine = existing.find((p) => p.name === name && p.network_id === itf.networkId)
      const fixedIp =
        itf.fixedIp !== undefined
          ? [{ ip_address: itf.fixedIp, ...(itf.subnetId === undefined ? {} : { subnet_id: itf.subnetId }) }]
          : itf.subnetId !== undefined
            ? [{ subnet_id: itf.subnetId }]
            : undefined
      const port =
        mine !== undefined
          ? Effect.succeed(mine)
          : client
              .request("network", "POST", "/ports", {
                body: {
                  port: {
                    network_id: itf.networkId,
                    name,
                    description: tag,
                    ...(fixedIp === undefined ? {} : { fixed_ips: fixedIp }),
                    ...(input.securityGroupIds === undefined ? {} : { security_groups: input.securityGroupIds })
                  }
                },
                schema: Schema.Struct({ port: PortView })
              })
              .pipe(Effect.map((body) => body.port))
      return Effect.tap(port, (p) =>
        (p.tags ?? []).includes(tag)
          ? Effect.void
          : client.request("network", "PUT", `/ports/${p.id}/tags/${encodeURIComponent(tag)}`)
      )
    })
  })

// ---------------------------------------------------------------- the server

const FloatingIpView = Schema.Struct({
  floatingip: Schema.Struct({ id: Schema.String, port_id: Schema.optional(Schema.NullOr(Schema.String)) })
})

const findServer = (client: Client, serverTag: string, owner: string) =>
  client
    .request("compute", "GET", "/servers/detail", {
      query: { tags: serverTag },
      microversion: computeMicroversion,
      schema: Schema.Struct({ servers: Schema.Array(ServerView) })
    })
    .pipe(
      Effect.map((body) =>
        Option.fromUndefinedOr(
          body.servers.find(
            (s) =>
              s.metadata?.[ownerKey] === owner &&
              s.status !== "DELETED" &&
              s.status !== "SOFT_DELETED" &&
              s["OS-EXT-STS:task_state"] !== "deleting"
          )
        )
      )
    )

/** Boot order: the chosen boot volume 0, the other candidates 1, 2, … in their order, data disks none. */
const blockDevices = (volumes: ReadonlyArray<typeof Volume.Type>) => {
  const explicit = volumes.findIndex((v) => v.bootIndex === 0)
  const boot = explicit === -1 ? 0 : explicit
  const candidates = volumes
    .map((v, i) => ({ v, i }))
    .filter(({ v, i }) => i !== boot && v.bootIndex !== undefined && v.bootIndex > 0)
    .sort((a, b) => (a.v.bootIndex ?? 0) - (b.v.bootIndex ?? 0))
  const order = new Map<number, number>([[boot, 0]])
  for (const [n, { i }] of candidates.entries()) order.set(i, n + 1)
  const mappings = volumes.map((v, i) => ({
    uuid: v.volumeId,
    source_type: "volume",
    destination_type: "volume",
    boot_index: order.get(i) ?? null,
    delete_on_termination: false,
    ...(v.deviceName === undefined ? {} : { device_name: v.deviceName })
  }))
  // Nova expects the boot device first
  return {
    bootVolumeId: volumes[boot]!.volumeId,
    mappings: [mappings[boot]!, ...mappings.filter((_, i) => i !== boot)]
  }
}

const faultOf = (s: ServerView) => (s.fault?.message === undefined ? "" : `: ${s.fault.message}`)

/** The id of a flavor given by id, or by name (a plan's existing flavor); none of that name fails for good. */
const flavorRefOf = (client: Client, idOrName: string) =>
  client.request("compute", "GET", `/flavors/${encodeURIComponent(idOrName)}`).pipe(
    Effect.as(Option.some(idOrName)),
    OpenStackError.catchNotFound(() => Option.none<string>()),
    Effect.flatMap((byId) =>
      Option.isSome(byId)
        ? Effect.succeed(byId.value)
        : client.list("compute", "/flavors/detail", "flavors", { is_public: "None" }).pipe(
            Effect.flatMap((flavors) => {
              const found = flavors
                .map((f) => f as { readonly id?: unknown; readonly name?: unknown })
                .find((f) => f.name === idOrName && typeof f.id === "string")
              return found === undefined
                ? Effect.fail(
                    TaskError.permanent("openstack.flavor-not-found", `no flavor with id or name "${idOrName}"`)
                  )
                : Effect.succeed(found.id as string)
            })
          )
    )
  )

/**
 * @category handlers
 * @since 0.1.0
 */
export const run = (
  input: typeof Input.Type
): Effect.Effect<typeof Output.Type, TaskError.TaskError, Clouds.Clouds | TaskContext.TaskContext> =>
  mapErrors(
    Effect.gen(function* () {
      let pattern: RegExp | undefined
      try {
        const text = input.diagnosis?.consoleLogPattern
        pattern = text === undefined ? undefined : new RegExp(text, "m")
      } catch (e) {
        return yield* TaskError.permanent("openstack.bad-input", `consoleLogPattern is not a regular expression: ${e}`)
      }
      const client = (yield* Clouds.current).forProject(input.projectId)
      const tag = yield* ownerTag
      // Neutron tags are at most 60 characters too; the port's description carries the same value
      const portTag = boundedTag(tag, 60)
      const owner = boundedTag(tag, 255)
      // Nova server tags are at most 60 characters
      const serverTag = boundedTag(tag, 60)
      const { bootVolumeId, mappings } = blockDevices(input.volumes)
      const volumeIds = input.volumes.map((v) => v.volumeId)
      const diagnosisDeadline = `${input.diagnosis?.timeoutSeconds ?? 300} seconds` as const

      const cleanup = (serverId: string | undefined) =>
        Effect.gen(function* () {
          yield* Effect.logInfo("removing what the failed attempt made").pipe(
            Effect.annotateLogs({ serverId: serverId ?? "" })
          )
          if (serverId !== undefined) yield* deleteServer(client, serverId, "10 minutes")
          yield* deletePorts(client, [], portTag)
          // our server is gone; its volumes are released shortly after (no server of ours: not ours to await)
          if (serverId !== undefined) yield* awaitVolumesDetached(client, volumeIds, "5 minutes")
        }).pipe(
          Effect.catch((e) =>
            Effect.logWarning("openstack/instance.create: cleanup after a failure failed").pipe(
              Effect.annotateLogs({ error: e.message })
            )
          )
        )

      // Before the server exists: a failure that a retry cannot mend removes the ports made so far.
      const adopted = yield* findServer(client, serverTag, owner)
      const prepared = yield* Effect.gen(function* () {
        const ports = yield* ensurePorts(client, input, portTag)
        if (Option.isSome(adopted)) {
          yield* Effect.logInfo("adopting the server an earlier attempt made").pipe(
            Effect.annotateLogs({ serverId: adopted.value.id })
          )
          return { ports, serverId: adopted.value.id }
        }
        const boot = yield* readVolume(client, bootVolumeId)
        if (Option.isNone(boot)) {
          return yield* TaskError.permanent("openstack.volume-not-found", `boot volume ${bootVolumeId} does not exist`)
        }
        yield* ensureBootable(client, boot.value, true)
        const flavorRef = yield* flavorRefOf(client, input.flavorId)
        const serverId = yield* client
          .request("compute", "POST", "/servers", {
            body: {
              server: {
                name: input.name,
                flavorRef,
                networks: ports.length === 0 ? "none" : ports.map((p) => ({ port: p.id })),
                block_device_mapping_v2: mappings,
                tags: [serverTag],
                metadata: { ...input.metadata, [ownerKey]: owner },
                ...(input.keypairName === undefined ? {} : { key_name: input.keypairName }),
                ...(input.availabilityZone === undefined ? {} : { availability_zone: input.availabilityZone }),
                ...(input.hypervisor === undefined ? {} : { host: input.hypervisor }),
                ...(input.userData === undefined ? {} : { user_data: input.userData })
              }
            },
            microversion: computeMicroversion,
            schema: Schema.Struct({ server: Schema.Struct({ id: Schema.String }) })
          })
          .pipe(
            Effect.map((body) => body.server.id),
            Effect.catch((e) =>
              // the outcome may be unknown: the server may exist after all
              Effect.flatMap(findServer(client, serverTag, owner), (found) =>
                Option.isSome(found) ? Effect.succeed(found.value.id) : Effect.fail(e)
              )
            )
          )
        return { ports, serverId }
      }).pipe(
        Effect.tapError((e) =>
          e.retryable ? Effect.void : cleanup(Option.isSome(adopted) ? adopted.value.id : undefined)
        )
      )
      const { ports, serverId } = prepared

      const boot = Effect.gen(function* () {
        const attached: Array<typeof Port.Type> = []
        for (const [index, itf] of input.interfaces.entries()) {
          const port = ports[index]!
          if (itf.floatingIpId !== undefined) {
            const fip = yield* client.request(
              "network",
              "GET",
              `/floatingips/${encodeURIComponent(itf.floatingIpId)}`,
              {
                schema: FloatingIpView
              }
            )
            if (fip.floatingip.port_id !== port.id) {
              yield* client.request("network", "PUT", `/floatingips/${encodeURIComponent(itf.floatingIpId)}`, {
                body: {
                  floatingip: {
                    port_id: port.id,
                    ...(port.fixed_ips[0] === undefined ? {} : { fixed_ip_address: port.fixed_ips[0].ip_address })
                  }
                }
              })
            }
          }
          attached.push({
            portId: port.id,
            networkId: port.network_id,
            ipAddresses: port.fixed_ips.map((f) => f.ip_address),
            status: port.status,
            ...(itf.floatingIpId === undefined ? {} : { floatingIpId: itf.floatingIpId })
          })
        }

        const server = yield* awaitState(
          `server ${serverId} boot`,
          Effect.map(readServer(client, serverId), (found) => {
            if (Option.isNone(found)) {
              return failed(
                TaskError.retryable("openstack.server-gone", `server ${serverId} disappeared while booting`)
              )
            }
            const s = found.value
            if (s.status === "ACTIVE") return done(s)
            // a fresh boot after the clean-up may land elsewhere: retryable
            if (s.status === "ERROR") {
              return failed(
                TaskError.retryable("openstack.server-error", `server ${serverId} went to ERROR${faultOf(s)}`)
              )
            }
            return pending(`${s.status}/${s["OS-EXT-STS:task_state"] ?? "-"}`)
          }),
          { deadline: `${input.bootTimeoutSeconds ?? 1800} seconds` }
        )

        const diagnosisFailed = (message: string) => TaskError.permanent("openstack.diagnosis-failed", message)
        // ports: their status once the server is up
        const requirePorts = input.diagnosis?.requirePortsActive ?? true
        const portStatus = yield* Effect.forEach(attached, (p) =>
          awaitState(
            `port ${p.portId}`,
            Effect.map(
              client.request("network", "GET", `/ports/${encodeURIComponent(p.portId)}`, {
                schema: Schema.Struct({ port: PortView })
              }),
              ({ port }) => (!requirePorts || port.status === "ACTIVE" ? done(port) : pending(port.status))
            ),
            { deadline: diagnosisDeadline }
          ).pipe(
            Effect.map((port) => ({ ...p, status: port.status })),
            Effect.mapError((e) =>
              e._tag === "TaskError" && e.code === "openstack.timeout"
                ? diagnosisFailed(`port ${p.portId} of server ${serverId} is not ACTIVE: ${e.message}`)
                : e
            )
          )
        )
        // volumes: attached to this server
        yield* Effect.forEach(volumeIds, (volumeId) =>
          awaitState(
            `volume ${volumeId}`,
            Effect.map(readVolume(client, volumeId), (found) =>
              Option.isSome(found) && found.value.status === "in-use"
                ? done(undefined)
                : pending(Option.isSome(found) ? found.value.status : "missing")
            ),
            { deadline: diagnosisDeadline }
          ).pipe(
            Effect.mapError((e) =>
              e._tag === "TaskError" && e.code === "openstack.timeout"
                ? diagnosisFailed(`volume ${volumeId} of server ${serverId} is not in-use: ${e.message}`)
                : e
            )
          )
        )
        // console log: the guest got far enough to print the expected line
        if (pattern !== undefined) {
          const re = pattern
          yield* awaitState(
            `console log of server ${serverId}`,
            client
              .request("compute", "POST", `/servers/${encodeURIComponent(serverId)}/action`, {
                body: { "os-getConsoleOutput": { length: 500 } },
                microversion: computeMicroversion,
                idempotent: true,
                schema: Schema.Struct({ output: Schema.NullOr(Schema.String) })
              })
              .pipe(
                Effect.map(({ output }) =>
                  output !== null && re.test(output) ? done(undefined) : pending("no match")
                ),
                // no console yet
                Effect.catchIf(
                  (e) => e.reason._tag === "Conflict",
                  () => Effect.succeed(pending("no console"))
                )
              ),
            { deadline: diagnosisDeadline }
          ).pipe(
            Effect.mapError((e) =>
              e._tag === "TaskError" && e.code === "openstack.timeout"
                ? diagnosisFailed(`the console log of server ${serverId} never matched /${re.source}/`)
                : e
            )
          )
        }
        return {
          serverId,
          name: server.name,
          status: server.status,
          ...(server["OS-EXT-SRV-ATTR:host"] == null ? {} : { host: server["OS-EXT-SRV-ATTR:host"] }),
          ...(server["OS-EXT-AZ:availability_zone"] == null
            ? {}
            : { availabilityZone: server["OS-EXT-AZ:availability_zone"] }),
          ports: portStatus,
          portIds: portStatus.map((p) => p.portId),
          portTag,
          volumeIds
        }
      })
      return yield* boot.pipe(Effect.tapError(() => cleanup(serverId)))
    })
  )

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = definition.toLayer(run)
