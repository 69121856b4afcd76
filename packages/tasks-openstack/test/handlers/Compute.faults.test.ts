/**
 * Compute handlers under injected faults (simulator only): a boot that ends
 * in ERROR, a diagnosis that fails, a lost answer to a create POST, 503
 * bursts, a server that breaks before it is stopped.
 */
import { assert, describe, it } from "@effect/vitest"
import * as FlavorCreate from "@migrator/tasks-openstack/handlers/FlavorCreate"
import * as InstanceCreate from "@migrator/tasks-openstack/handlers/InstanceCreate"
import * as InstanceDelete from "@migrator/tasks-openstack/handlers/InstanceDelete"
import * as InstanceStop from "@migrator/tasks-openstack/handlers/InstanceStop"
import * as KeypairCreate from "@migrator/tasks-openstack/handlers/KeypairCreate"
import { Effect, Schema } from "effect"
import { type Cloud, scratchProject, taskLayer } from "../support/cloud.ts"
import { setup, waitFor } from "../utils/index.ts"

/** A `Cloud` on a simulator of its own, also when the suite otherwise targets a real cloud. */
const simCloud = Effect.gen(function* () {
  const { sim, client } = yield* setup()
  const inventory = yield* sim.inventory
  const external = inventory.subnets.find((s) => s.network_id === sim.externalNetworkId)
  const cloud: Cloud = {
    kind: "simulator",
    client,
    clientConfig: sim.clientConfig(),
    sim,
    target: "recovery",
    admin: { userId: sim.admin.userId, projectId: sim.admin.projectId },
    externalNetwork: { id: sim.externalNetworkId ?? "", name: "public", cidr: external?.cidr ?? "" },
    image: { id: inventory.images[0]?.id ?? "", name: inventory.images[0]?.name ?? "" },
    volumeBackend: sim.volumeBackend,
    volumeType: "__DEFAULT__",
    availabilityZone: "nova",
    computeHosts: ["sim-compute-1", "sim-compute-2"]
  }
  return cloud
})

const Id = Schema.Struct({ id: Schema.String })

/** A project with a network, a subnet, a flavor and an available volume. */
const fixture = (c: Cloud) =>
  Effect.gen(function* () {
    const { projectId, client: p } = yield* scratchProject(c, "faults")
    const network = (yield* p.request("network", "POST", "/networks", {
      body: { network: { name: "net" } },
      schema: Schema.Struct({ network: Id })
    })).network
    const subnet = (yield* p.request("network", "POST", "/subnets", {
      body: { subnet: { network_id: network.id, ip_version: 4, cidr: "10.7.0.0/24" } },
      schema: Schema.Struct({ subnet: Id })
    })).subnet
    const flavor = (yield* c.client.request("compute", "POST", "/flavors", {
      body: { flavor: { name: "tiny", ram: 128, vcpus: 1, disk: 1 } },
      schema: Schema.Struct({ flavor: Id })
    })).flavor
    const volume = (yield* p.request("volumev3", "POST", "/volumes", {
      body: { volume: { size: 1, name: "boot" } },
      schema: Schema.Struct({ volume: Id })
    })).volume
    yield* waitFor(volumeStatus(c, volume.id), (s) => s === "available")
    const input = (name: string): typeof InstanceCreate.Input.Type => ({
      projectId,
      name,
      flavorId: flavor.id,
      volumes: [{ volumeId: volume.id }],
      interfaces: [{ networkId: network.id, subnetId: subnet.id, fixedIp: "10.7.0.20" }]
    })
    return { projectId, volumeId: volume.id, input }
  })

const volumeStatus = (c: Cloud, id: string) =>
  Effect.map(c.sim!.inventory, (i) => i.volumes.find((v) => v.id === id)?.status)

/** What is left of an instance task: its servers, its ports, the status of its volume. */
const leftovers = (c: Cloud, name: string, jobId: string, taskId: string, volumeId: string) =>
  Effect.map(c.sim!.inventory, (i) => ({
    servers: i.servers.filter((s) => s.name === name).map((s) => s.status),
    ports: i.ports.filter((p) => p.description === `migrator:${jobId}:${taskId}`).length,
    volume: i.volumes.find((v) => v.id === volumeId)?.status
  }))

describe("instance.create under faults", () => {
  it.live("a boot that ends in ERROR: the server and its ports are removed, the task fails retryably", () =>
    Effect.gen(function* () {
      const c = yield* simCloud
      const f = yield* fixture(c)
      yield* c.sim!.faults.failServers({ name: "vm-error", message: "No valid host was found." })
      const task = taskLayer(c, { jobId: "j", taskId: "vm" })
      const error = yield* InstanceCreate.run(f.input("vm-error")).pipe(Effect.provide(task), Effect.flip)
      assert.strictEqual(error.code, "openstack.server-error")
      assert.isTrue(error.retryable)
      assert.include(error.message, "No valid host was found.")
      assert.deepStrictEqual(yield* leftovers(c, "vm-error", "j", "vm", f.volumeId), {
        servers: [],
        ports: 0,
        volume: "available"
      })
      // the retry boots from scratch, on the same fixed IP
      const out = yield* InstanceCreate.run(f.input("vm-error")).pipe(
        Effect.provide(taskLayer(c, { jobId: "j", taskId: "vm", attempt: 2 }))
      )
      assert.strictEqual(out.status, "ACTIVE")
      assert.deepStrictEqual(out.ports[0]?.ipAddresses, ["10.7.0.20"])
      assert.deepStrictEqual(yield* leftovers(c, "vm-error", "j", "vm", f.volumeId), {
        servers: ["ACTIVE"],
        ports: 1,
        volume: "in-use"
      })
    })
  )

  it.live("a console log that never matches fails the diagnosis for good and cleans up", () =>
    Effect.gen(function* () {
      const c = yield* simCloud
      const f = yield* fixture(c)
      const input = { ...f.input("vm-diag"), diagnosis: { consoleLogPattern: "^never printed$", timeoutSeconds: 1 } }
      const error = yield* InstanceCreate.run(input).pipe(
        Effect.provide(taskLayer(c, { jobId: "j", taskId: "vm-diag" })),
        Effect.flip
      )
      assert.strictEqual(error.code, "openstack.diagnosis-failed")
      assert.isFalse(error.retryable)
      assert.deepStrictEqual(yield* leftovers(c, "vm-diag", "j", "vm-diag", f.volumeId), {
        servers: [],
        ports: 0,
        volume: "available"
      })
    })
  )

  it.live("a port refused for good (its fixed IP is outside the subnet): the ports made so far are removed", () =>
    Effect.gen(function* () {
      const c = yield* simCloud
      const f = yield* fixture(c)
      const base = f.input("vm-ports")
      const input = {
        ...base,
        interfaces: [...base.interfaces, { networkId: base.interfaces[0]!.networkId, fixedIp: "192.168.99.9" }]
      }
      const error = yield* InstanceCreate.run(input).pipe(
        Effect.provide(taskLayer(c, { jobId: "j", taskId: "vm-ports" })),
        Effect.flip
      )
      assert.strictEqual(error.code, "openstack.bad-request")
      assert.isFalse(error.retryable)
      assert.deepStrictEqual(yield* leftovers(c, "vm-ports", "j", "vm-ports", f.volumeId), {
        servers: [],
        ports: 0,
        volume: "available"
      })
    })
  )

  it.live("an invalid console pattern is refused before anything is made", () =>
    Effect.gen(function* () {
      const c = yield* simCloud
      const f = yield* fixture(c)
      const input = { ...f.input("vm-bad"), diagnosis: { consoleLogPattern: "(" } }
      const error = yield* InstanceCreate.run(input).pipe(
        Effect.provide(taskLayer(c, { jobId: "j", taskId: "vm-bad" })),
        Effect.flip
      )
      assert.strictEqual(error.code, "openstack.bad-input")
      assert.deepStrictEqual(yield* leftovers(c, "vm-bad", "j", "vm-bad", f.volumeId), {
        servers: [],
        ports: 0,
        volume: "available"
      })
    })
  )

  it.live("a lost answer to the server POST: the server made is adopted in the same attempt", () =>
    Effect.gen(function* () {
      const c = yield* simCloud
      const f = yield* fixture(c)
      yield* c.sim!.faults.timeoutAfterSideEffect({
        service: "compute",
        method: "POST",
        path: "/servers",
        mode: "close"
      })
      const out = yield* InstanceCreate.run(f.input("vm-lost")).pipe(
        Effect.provide(taskLayer(c, { jobId: "j", taskId: "vm-lost" }))
      )
      const servers = (yield* c.sim!.inventory).servers.filter((s) => s.name === "vm-lost")
      assert.deepStrictEqual(
        servers.map((s) => s.id),
        [out.serverId]
      )
      const posts = (yield* c.sim!.requests).filter((r) => r.method === "POST" && r.route === "/servers")
      assert.strictEqual(posts.length, 1, "the POST was not sent again")
    })
  )

  it.live("a lost answer to a port POST: the retry adopts the port (its fixed IP is not asked for twice)", () =>
    Effect.gen(function* () {
      const c = yield* simCloud
      const f = yield* fixture(c)
      yield* c.sim!.faults.timeoutAfterSideEffect({ service: "network", method: "POST", path: "/ports", mode: "close" })
      const first = yield* InstanceCreate.run(f.input("vm-port")).pipe(
        Effect.provide(taskLayer(c, { jobId: "j", taskId: "vm-port" })),
        Effect.flip
      )
      assert.isTrue(first.retryable)
      const out = yield* InstanceCreate.run(f.input("vm-port")).pipe(
        Effect.provide(taskLayer(c, { jobId: "j", taskId: "vm-port", attempt: 2 }))
      )
      const ports = (yield* c.sim!.inventory).ports.filter((p) => p.description === "migrator:j:vm-port")
      assert.deepStrictEqual(
        ports.map((p) => [p.id, p.tags]),
        [[out.portIds[0], ["migrator:j:vm-port"]]]
      )
    })
  )

  it.live("503 bursts while the server boots are ridden out", () =>
    Effect.gen(function* () {
      const c = yield* simCloud
      const f = yield* fixture(c)
      yield* c.sim!.faults.failNext({ service: "compute", method: "GET", path: "/servers/*", status: 503, times: 3 })
      const out = yield* InstanceCreate.run(f.input("vm-503")).pipe(
        Effect.provide(taskLayer(c, { jobId: "j", taskId: "vm-503" }))
      )
      assert.strictEqual(out.status, "ACTIVE")
      assert.strictEqual((yield* c.sim!.requests).filter((r) => r.status === 503).length, 3)
    })
  )
})

describe("boot order", () => {
  it.live("the volume marked 0 boots, the other candidates follow in their order, data disks get none", () =>
    Effect.gen(function* () {
      const c = yield* simCloud
      const f = yield* fixture(c)
      const p = c.client.forProject(f.projectId)
      const volume = (name: string) =>
        Effect.gen(function* () {
          const v = (yield* p.request("volumev3", "POST", "/volumes", {
            body: { volume: { size: 1, name } },
            schema: Schema.Struct({ volume: Id })
          })).volume
          yield* waitFor(volumeStatus(c, v.id), (s) => s === "available")
          return v.id
        })
      const [a, b, d] = [yield* volume("a"), yield* volume("b"), yield* volume("d")]
      const input = {
        ...f.input("vm-order"),
        volumes: [
          { volumeId: a, bootIndex: 2 },
          { volumeId: b, bootIndex: 0 },
          { volumeId: f.volumeId },
          { volumeId: d, bootIndex: 1 }
        ]
      }
      const out = yield* InstanceCreate.run(input).pipe(
        Effect.provide(taskLayer(c, { jobId: "j", taskId: "vm-order" }))
      )
      const inventory = yield* c.sim!.inventory
      const server = inventory.servers.find((s) => s.id === out.serverId)
      assert.deepStrictEqual(
        server?.volumes.map((v) => [v.volume_id, v.boot_index]),
        [
          [b, 0],
          [a, 2],
          [f.volumeId, null],
          [d, 1]
        ]
      )
      // the boot volume was made bootable; the others were left as they were
      assert.deepStrictEqual(
        [b, a, d].map((id) => inventory.volumes.find((v) => v.id === id)?.bootable),
        [true, false, false]
      )
    })
  )
})

describe("long job and task ids", () => {
  it.live("server tags (60 characters) and metadata (255) get a bounded owner tag; a second run still adopts", () =>
    Effect.gen(function* () {
      const c = yield* simCloud
      const f = yield* fixture(c)
      const jobId = `job-${"j".repeat(124)}`
      const taskId = `instance.${"t".repeat(191)}`
      const task = taskLayer(c, { jobId, taskId })
      const first = yield* InstanceCreate.run(f.input("vm-long")).pipe(Effect.provide(task))
      const second = yield* InstanceCreate.run(f.input("vm-long")).pipe(Effect.provide(task))
      assert.strictEqual(second.serverId, first.serverId)
      assert.deepStrictEqual(second.portIds, first.portIds)
      const servers = (yield* c.sim!.inventory).servers.filter((s) => s.name === "vm-long")
      assert.strictEqual(servers.length, 1)
      assert.isTrue(servers[0]!.tags.every((t) => t.length <= 60))
      assert.isTrue((servers[0]!.metadata.migrator_owner ?? "").length <= 255)
      assert.isTrue(first.portTag.length <= 255)
      // another task whose id differs only past the cut gets its own tag: its clean-up spares the first one's port
      const other = taskLayer(c, { jobId, taskId: `${taskId.slice(0, -1)}u` })
      const base = f.input("vm-long-2")
      const input = { ...base, interfaces: [{ ...base.interfaces[0]!, fixedIp: "10.7.0.21" }] }
      // refused for good: the boot volume is in use by the first server
      const error = yield* InstanceCreate.run(input).pipe(Effect.provide(other), Effect.flip)
      assert.strictEqual(error.code, "openstack.bad-request")
      const inventory = yield* c.sim!.inventory
      assert.strictEqual(inventory.servers.length, 1)
      assert.deepStrictEqual(
        inventory.ports.filter((p) => p.device_owner.startsWith("compute:")).map((p) => p.id),
        first.portIds
      )
    })
  )
})

describe("instance.delete after a partial undo", () => {
  it.live("the server is already gone (a crash after its delete): the ports are still removed", () =>
    Effect.gen(function* () {
      const c = yield* simCloud
      const f = yield* fixture(c)
      const out = yield* InstanceCreate.run(f.input("vm-half")).pipe(
        Effect.provide(taskLayer(c, { jobId: "j", taskId: "vm-half" }))
      )
      yield* c.client.forProject(f.projectId).request("compute", "DELETE", `/servers/${out.serverId}`)
      yield* waitFor(
        Effect.map(c.sim!.inventory, (i) => i.servers.length),
        (n) => n === 0
      )
      // Nova leaves the ports we passed in: they are ours to delete
      assert.strictEqual((yield* leftovers(c, "vm-half", "j", "vm-half", f.volumeId)).ports, 1)
      yield* InstanceDelete.run({ projectId: f.projectId, serverId: out.serverId, portTag: out.portTag }).pipe(
        Effect.provide(taskLayer(c, { jobId: "j", taskId: "vm-half-undo", phase: "clear" }))
      )
      assert.deepStrictEqual(yield* leftovers(c, "vm-half", "j", "vm-half", f.volumeId), {
        servers: [],
        ports: 0,
        volume: "available"
      })
    })
  )
})

describe("instance.stop under faults", () => {
  it.live("a server in ERROR is not stopped: the task fails for good", () =>
    Effect.gen(function* () {
      const c = yield* simCloud
      const f = yield* fixture(c)
      const out = yield* InstanceCreate.run(f.input("vm-stop")).pipe(
        Effect.provide(taskLayer(c, { jobId: "j", taskId: "vm-stop" }))
      )
      yield* c.sim!.faults.errorServer(out.serverId, "host died")
      const error = yield* InstanceStop.run({ projectId: f.projectId, serverId: out.serverId }).pipe(
        Effect.provide(taskLayer(c, { jobId: "j", taskId: "vm-stop-2" })),
        Effect.flip
      )
      assert.strictEqual(error.code, "openstack.server-error")
      assert.include(error.message, "host died")
      assert.isFalse(error.retryable)
    })
  )
})

describe("keypair.create and flavor.create under faults", () => {
  it.live("a lost answer to the create POST: the retry adopts what was made", () =>
    Effect.gen(function* () {
      const c = yield* simCloud
      yield* c.sim!.faults.timeoutAfterSideEffect({
        service: "compute",
        method: "POST",
        path: "/flavors",
        mode: "close"
      })
      yield* c.sim!.faults.timeoutAfterSideEffect({
        service: "compute",
        method: "POST",
        path: "/os-keypairs",
        mode: "close"
      })
      const flavor = { name: "m1.recovered", vcpus: 1, ramMiB: 256, diskGiB: 1 }
      const keypair = {
        name: "recovered-key",
        publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHb2YGJ0Ez4Ue1dBCx5ZJHVpwV2UxqdZq3XyMOm3ZoQ7 test"
      }
      const task = taskLayer(c, { jobId: "j", taskId: "t" })
      assert.isTrue((yield* FlavorCreate.run(flavor).pipe(Effect.provide(task), Effect.flip)).retryable)
      assert.isTrue((yield* KeypairCreate.run(keypair).pipe(Effect.provide(task), Effect.flip)).retryable)
      const retry = taskLayer(c, { jobId: "j", taskId: "t", attempt: 2 })
      const f = yield* FlavorCreate.run(flavor).pipe(Effect.provide(retry))
      const k = yield* KeypairCreate.run(keypair).pipe(Effect.provide(retry))
      const inventory = yield* c.sim!.inventory
      assert.deepStrictEqual(
        inventory.flavors.filter((x) => x.name === flavor.name).map((x) => x.id),
        [f.flavorId]
      )
      assert.deepStrictEqual(
        inventory.keypairs.filter((x) => x.name === keypair.name).map((x) => x.fingerprint),
        [k.fingerprint]
      )
    })
  )
})
