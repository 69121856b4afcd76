/**
 * Compute handlers (key pairs, flavors, instances) against `cloud`: the
 * simulator, or a real OpenStack when `OS_AUTH_URL` is set. Each handler is
 * run, run again with the same job and task ids (it must adopt, not
 * duplicate), undone, and undone again; the cloud is then listed to check
 * that nothing was left behind or made twice.
 */
import { generateKeyPairSync } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import type { TaskError } from "@migrator/core"
import type { OpenStackClient } from "@migrator/tasks-openstack"
import { OpenStackError } from "@migrator/tasks-openstack"
import * as FlavorCreate from "@migrator/tasks-openstack/handlers/FlavorCreate"
import * as FlavorDelete from "@migrator/tasks-openstack/handlers/FlavorDelete"
import * as InstanceCreate from "@migrator/tasks-openstack/handlers/InstanceCreate"
import * as InstanceDelete from "@migrator/tasks-openstack/handlers/InstanceDelete"
import * as InstanceStop from "@migrator/tasks-openstack/handlers/InstanceStop"
import * as KeypairCreate from "@migrator/tasks-openstack/handlers/KeypairCreate"
import * as KeypairDelete from "@migrator/tasks-openstack/handlers/KeypairDelete"
import { Effect, Exit, Schedule, Schema } from "effect"
import { type Cloud, cloud, scratchProject, taskLayer, uniqueJobId } from "../support/cloud.ts"

const Id = Schema.Struct({ id: Schema.String })

/** A real OpenSSH ed25519 public key (Nova parses it to compute the fingerprint). */
const publicKey = () => {
  const raw = Buffer.from(generateKeyPairSync("ed25519").publicKey.export({ format: "jwk" }).x ?? "", "base64url")
  const field = (bytes: Buffer) => {
    const length = Buffer.alloc(4)
    length.writeUInt32BE(bytes.length)
    return Buffer.concat([length, bytes])
  }
  const blob = Buffer.concat([field(Buffer.from("ssh-ed25519")), field(raw)])
  return `ssh-ed25519 ${blob.toString("base64")} test@migrator`
}

const failure = <A>(exit: Exit.Exit<A, TaskError.TaskError>): TaskError.TaskError => {
  assert.isTrue(Exit.isFailure(exit), "expected the task to fail")
  const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
  assert.isDefined(error)
  return (error as { readonly error: TaskError.TaskError }).error
}

describe("openstack/keypair.*", () => {
  it.live("create, adopt on a second run, refuse another key under the same name, delete twice", () =>
    Effect.gen(function* () {
      const c = yield* cloud
      const jobId = yield* uniqueJobId("kp")
      const task = taskLayer(c, { jobId, taskId: "keypair-1" })
      const input = { name: `${jobId}-key`, publicKey: publicKey() }
      const first = yield* KeypairCreate.run(input).pipe(Effect.provide(task))
      const session = yield* c.client.session
      assert.strictEqual(first.name, input.name)
      assert.strictEqual(first.userId, session.userId)
      assert.isTrue(first.fingerprint.length > 0)
      const second = yield* KeypairCreate.run(input).pipe(Effect.provide(task))
      assert.deepStrictEqual(second, first)

      const other = yield* KeypairCreate.run({ ...input, publicKey: publicKey() }).pipe(
        Effect.provide(taskLayer(c, { jobId, taskId: "keypair-2" })),
        Effect.exit
      )
      const error = failure(other)
      assert.strictEqual(error.code, "openstack.keypair-exists")
      assert.isFalse(error.retryable)

      const list = () =>
        c.client
          .list("compute", "/os-keypairs", "keypairs")
          .pipe(
            Effect.map((items) =>
              (items as ReadonlyArray<{ keypair: { name: string } }>).filter((k) => k.keypair.name === input.name)
            )
          )
      assert.strictEqual((yield* list()).length, 1)

      const clear = taskLayer(c, { jobId, taskId: "keypair-1-undo", phase: "clear" })
      yield* KeypairDelete.run({ name: first.name, userId: first.userId }).pipe(Effect.provide(clear))
      yield* KeypairDelete.run({ name: first.name, userId: first.userId }).pipe(Effect.provide(clear))
      assert.strictEqual((yield* list()).length, 0)
    })
  )
})

describe("openstack/keypair.create with a bad key", () => {
  it.live("a public key Nova cannot parse fails for good", () =>
    Effect.gen(function* () {
      const c = yield* cloud
      const jobId = yield* uniqueJobId("kp")
      const error = yield* KeypairCreate.run({
        name: `${jobId}-bad`,
        publicKey: "ssh-ed25519 bm90LWEta2V5 test@migrator"
      }).pipe(Effect.provide(taskLayer(c, { jobId, taskId: "keypair" })), Effect.flip)
      assert.strictEqual(error.code, "openstack.bad-request")
      assert.isFalse(error.retryable)
    })
  )
})

const FlavorDetail = Schema.Struct({
  flavor: Schema.Struct({
    id: Schema.String,
    name: Schema.String,
    vcpus: Schema.Number,
    ram: Schema.Number,
    disk: Schema.Number,
    "OS-FLV-EXT-DATA:ephemeral": Schema.Number,
    "os-flavor-access:is_public": Schema.Boolean,
    extra_specs: Schema.Record(Schema.String, Schema.String)
  })
})

const flavorsNamed = (client: OpenStackClient.Client, name: string) =>
  client
    .list("compute", "/flavors/detail", "flavors", { is_public: "None" })
    .pipe(Effect.map((items) => (items as ReadonlyArray<{ name: string }>).filter((f) => f.name === name)))

describe("openstack/flavor.*", () => {
  it.live("private flavor with extra specs and project access: create, adopt, delete twice", () =>
    Effect.gen(function* () {
      const c = yield* cloud
      const jobId = yield* uniqueJobId("fl")
      const { projectId } = yield* scratchProject(c, jobId)
      const task = taskLayer(c, { jobId, taskId: "flavor-1" })
      const input = {
        name: `${jobId}-m1`,
        vcpus: 2,
        ramMiB: 1024,
        diskGiB: 1,
        ephemeralGiB: 1,
        swapMiB: 0,
        isPublic: false,
        extraSpecs: { "hw:cpu_policy": "shared", "migrator:test": "yes" },
        projectId
      }
      const first = yield* FlavorCreate.run(input).pipe(Effect.provide(task))
      const second = yield* FlavorCreate.run(input).pipe(Effect.provide(task))
      assert.deepStrictEqual(second, first)
      assert.strictEqual(first.name, input.name)
      assert.strictEqual((yield* flavorsNamed(c.client, input.name)).length, 1)

      const detail = (yield* c.client.request("compute", "GET", `/flavors/${first.flavorId}`, {
        microversion: "2.61",
        schema: FlavorDetail
      })).flavor
      assert.strictEqual(detail.vcpus, 2)
      assert.strictEqual(detail.ram, 1024)
      assert.strictEqual(detail.disk, 1)
      assert.strictEqual(detail["OS-FLV-EXT-DATA:ephemeral"], 1)
      assert.isFalse(detail["os-flavor-access:is_public"])
      assert.deepStrictEqual(detail.extra_specs, input.extraSpecs)
      const access = yield* c.client.request("compute", "GET", `/flavors/${first.flavorId}/os-flavor-access`, {
        schema: Schema.Struct({ flavor_access: Schema.Array(Schema.Struct({ tenant_id: Schema.String })) })
      })
      assert.deepStrictEqual(
        access.flavor_access.map((a) => a.tenant_id),
        [projectId]
      )

      // the same name asked for by another task is not ours to adopt
      const clash = yield* FlavorCreate.run(input).pipe(
        Effect.provide(taskLayer(c, { jobId, taskId: "flavor-2" })),
        Effect.exit
      )
      assert.strictEqual(failure(clash).code, "openstack.flavor-exists")
      assert.strictEqual((yield* flavorsNamed(c.client, input.name)).length, 1)

      const clear = taskLayer(c, { jobId, taskId: "flavor-1-undo", phase: "clear" })
      yield* FlavorDelete.run({ flavorId: first.flavorId }).pipe(Effect.provide(clear))
      yield* FlavorDelete.run({ flavorId: first.flavorId }).pipe(Effect.provide(clear))
      assert.strictEqual((yield* flavorsNamed(c.client, input.name)).length, 0)
    })
  )
})

// ---------------------------------------------------------------- instances

const Status = Schema.Struct({ status: Schema.String })

/** Everything an instance needs in its project, made with raw calls; removed at the end. */
const instanceFixture = (c: Cloud, jobId: string) =>
  Effect.gen(function* () {
    const { projectId, client: p } = yield* scratchProject(c, jobId)
    const remove = (service: "network" | "volumev3" | "compute", path: string) =>
      p.request(service, "DELETE", path).pipe(Effect.ignore)
    const network = (yield* p.request("network", "POST", "/networks", {
      body: { network: { name: `${jobId}-net` } },
      schema: Schema.Struct({ network: Id })
    })).network
    yield* Effect.addFinalizer(() => remove("network", `/networks/${network.id}`))
    const subnet = (yield* p.request("network", "POST", "/subnets", {
      body: { subnet: { network_id: network.id, ip_version: 4, cidr: "10.42.0.0/24", name: `${jobId}-sub` } },
      schema: Schema.Struct({ subnet: Id })
    })).subnet
    const group = (yield* p.request("network", "POST", "/security-groups", {
      body: { security_group: { name: `${jobId}-sg`, description: "test" } },
      schema: Schema.Struct({ security_group: Id })
    })).security_group
    yield* Effect.addFinalizer(() => remove("network", `/security-groups/${group.id}`))
    // a floating IP needs a router from the subnet to the external network
    const external = c.externalNetwork
    const router = (yield* p.request("network", "POST", "/routers", {
      body: { router: { name: `${jobId}-router`, external_gateway_info: { network_id: external.id } } },
      schema: Schema.Struct({ router: Id })
    })).router
    yield* Effect.addFinalizer(() => remove("network", `/routers/${router.id}`))
    yield* p.request("network", "PUT", `/routers/${router.id}/add_router_interface`, { body: { subnet_id: subnet.id } })
    yield* Effect.addFinalizer(() =>
      p
        .request("network", "PUT", `/routers/${router.id}/remove_router_interface`, { body: { subnet_id: subnet.id } })
        .pipe(Effect.ignore)
    )
    const fip = (yield* p.request("network", "POST", "/floatingips", {
      body: { floatingip: { floating_network_id: external.id } },
      schema: Schema.Struct({ floatingip: Id })
    })).floatingip
    yield* Effect.addFinalizer(() => remove("network", `/floatingips/${fip.id}`))
    const flavor = (yield* c.client.request("compute", "POST", "/flavors", {
      body: { flavor: { name: `${jobId}-flavor`, ram: 128, vcpus: 1, disk: 1 } },
      schema: Schema.Struct({ flavor: Id })
    })).flavor
    yield* Effect.addFinalizer(() => c.client.request("compute", "DELETE", `/flavors/${flavor.id}`).pipe(Effect.ignore))
    const volume = (name: string) =>
      Effect.gen(function* () {
        const v = (yield* p.request("volumev3", "POST", "/volumes", {
          body: { volume: { size: 1, name } },
          schema: Schema.Struct({ volume: Id })
        })).volume
        yield* Effect.addFinalizer(() => remove("volumev3", `/volumes/${v.id}`))
        return v.id
      })
    const bootVolume = yield* volume(`${jobId}-boot`)
    const dataVolume = yield* volume(`${jobId}-data`)
    for (const id of [bootVolume, dataVolume]) yield* awaitVolumeStatus(p, id, "available")
    return { projectId, client: p, network, subnet, group, fip, flavor, bootVolume, dataVolume }
  })

const volumeStatus = (client: OpenStackClient.Client, id: string) =>
  client
    .request("volumev3", "GET", `/volumes/${id}`, { schema: Schema.Struct({ volume: Status }) })
    .pipe(Effect.map((b) => b.volume.status))

const awaitVolumeStatus = (client: OpenStackClient.Client, id: string, status: string) =>
  volumeStatus(client, id).pipe(
    Effect.repeat({ until: (s) => s === status || s === "error", schedule: spaced }),
    Effect.timeout("60 seconds")
  )

const spaced = Schedule.spaced("100 millis")

const serverGone = (client: OpenStackClient.Client, id: string) =>
  client.request("compute", "GET", `/servers/${id}`).pipe(
    Effect.as(false),
    OpenStackError.catchNotFound(() => true)
  )

const portsTagged = (client: OpenStackClient.Client, tag: string) =>
  client
    .request("network", "GET", "/ports", {
      query: { tags: tag },
      schema: Schema.Struct({ ports: Schema.Array(Id) })
    })
    .pipe(Effect.map((b) => b.ports.map((p) => p.id)))

describe("openstack/instance.*", () => {
  it.live(
    "create (ports, boot from volumes, floating IP, diagnosis), adopt, stop twice, delete twice",
    () =>
      Effect.gen(function* () {
        const c = yield* cloud
        const jobId = yield* uniqueJobId("vm")
        const f = yield* instanceFixture(c, jobId)
        const key = yield* KeypairCreate.run({ name: `${jobId}-key`, publicKey: publicKey() }).pipe(
          Effect.provide(taskLayer(c, { jobId, taskId: "keypair" }))
        )
        yield* Effect.addFinalizer(() =>
          KeypairDelete.run({ name: key.name }).pipe(
            Effect.provide(taskLayer(c, { jobId, taskId: "k" })),
            Effect.ignore
          )
        )
        const task = taskLayer(c, { jobId, taskId: "instance-web" })
        const hypervisor = c.computeHosts[c.computeHosts.length - 1]!
        const input: typeof InstanceCreate.Input.Type = {
          projectId: f.projectId,
          name: `${jobId}-web`,
          // by name, as a plan's existing flavor is given (the plan's own come by id)
          flavorId: `${jobId}-flavor`,
          keypairName: key.name,
          availabilityZone: c.availabilityZone,
          hypervisor,
          volumes: [
            { volumeId: f.dataVolume, deviceName: "/dev/vdb" },
            { volumeId: f.bootVolume, bootIndex: 0 }
          ],
          interfaces: [
            { networkId: f.network.id, subnetId: f.subnet.id, fixedIp: "10.42.0.10", floatingIpId: f.fip.id }
          ],
          securityGroupIds: [f.group.id],
          metadata: { source: "protected-web" },
          diagnosis: {
            // the real test cloud binds ports with an agentless driver, so they go ACTIVE there too
            requirePortsActive: true,
            // the simulator prints a login prompt, Nova's fake driver a fixed text
            consoleLogPattern: "login:|FAKE CONSOLE OUTPUT",
            timeoutSeconds: 60
          }
        }
        const first = yield* InstanceCreate.run(input).pipe(Effect.provide(task))
        yield* Effect.addFinalizer(() =>
          InstanceDelete.run({ projectId: f.projectId, serverId: first.serverId, portTag: first.portTag }).pipe(
            Effect.provide(task),
            Effect.ignore
          )
        )
        assert.strictEqual(first.status, "ACTIVE")
        assert.strictEqual(first.name, input.name)
        assert.strictEqual(first.host, hypervisor)
        assert.strictEqual(first.availabilityZone, c.availabilityZone)
        assert.strictEqual(first.ports.length, 1)
        assert.deepStrictEqual(first.ports[0]!.ipAddresses, ["10.42.0.10"])
        assert.strictEqual(first.ports[0]!.floatingIpId, f.fip.id)
        assert.strictEqual(first.ports[0]!.status, "ACTIVE")
        assert.deepStrictEqual(first.volumeIds, [f.dataVolume, f.bootVolume])

        // a second run adopts the server and the ports
        const second = yield* InstanceCreate.run(input).pipe(Effect.provide(task))
        assert.strictEqual(second.serverId, first.serverId)
        assert.deepStrictEqual(second.portIds, first.portIds)
        assert.deepStrictEqual(yield* portsTagged(f.client, first.portTag), first.portIds)
        const servers = (yield* f.client.request("compute", "GET", "/servers", {
          query: { name: `^${input.name}$` },
          schema: Schema.Struct({ servers: Schema.Array(Id) })
        })).servers
        assert.deepStrictEqual(
          servers.map((s) => s.id),
          [first.serverId]
        )

        // what the cloud says
        const detail = yield* f.client.request("compute", "GET", `/servers/${first.serverId}`, {
          schema: Schema.Struct({
            server: Schema.Struct({
              key_name: Schema.NullOr(Schema.String),
              metadata: Schema.Record(Schema.String, Schema.String)
            })
          })
        })
        assert.strictEqual(detail.server.key_name, key.name)
        assert.strictEqual(detail.server.metadata.source, "protected-web")
        if (c.sim !== undefined) {
          // boot order: the volume marked 0 boots although it is listed second
          const server = (yield* c.sim.inventory).servers.find((s) => s.id === first.serverId)
          assert.deepStrictEqual(
            server?.volumes.map((v) => [v.volume_id, v.boot_index]),
            [
              [f.bootVolume, 0],
              [f.dataVolume, null]
            ]
          )
        }
        for (const id of [f.bootVolume, f.dataVolume]) assert.strictEqual(yield* volumeStatus(f.client, id), "in-use")
        const boot = yield* f.client.request("volumev3", "GET", `/volumes/${f.bootVolume}`, {
          schema: Schema.Struct({ volume: Schema.Struct({ bootable: Schema.String }) })
        })
        assert.strictEqual(boot.volume.bootable, "true")
        const fip = yield* f.client.request("network", "GET", `/floatingips/${f.fip.id}`, {
          schema: Schema.Struct({ floatingip: Schema.Struct({ port_id: Schema.NullOr(Schema.String) }) })
        })
        assert.strictEqual(fip.floatingip.port_id, first.portIds[0])
        const port = yield* f.client.request("network", "GET", `/ports/${first.portIds[0]}`, {
          schema: Schema.Struct({
            port: Schema.Struct({ security_groups: Schema.Array(Schema.String), device_id: Schema.String })
          })
        })
        assert.deepStrictEqual(port.port.security_groups, [f.group.id])
        assert.strictEqual(port.port.device_id, first.serverId)

        // stop, and stop again
        const stop = { projectId: f.projectId, serverId: first.serverId }
        const stopTask = taskLayer(c, { jobId, taskId: "instance-web-stop" })
        assert.strictEqual((yield* InstanceStop.run(stop).pipe(Effect.provide(stopTask))).status, "SHUTOFF")
        assert.strictEqual((yield* InstanceStop.run(stop).pipe(Effect.provide(stopTask))).status, "SHUTOFF")

        // delete, and delete again
        const clear = taskLayer(c, { jobId, taskId: "instance-web-undo", phase: "clear" })
        const undo = {
          projectId: f.projectId,
          serverId: first.serverId,
          portIds: first.portIds,
          portTag: first.portTag,
          volumeIds: first.volumeIds
        }
        yield* InstanceDelete.run(undo).pipe(Effect.provide(clear))
        yield* InstanceDelete.run(undo).pipe(Effect.provide(clear))
        assert.isTrue(yield* serverGone(f.client, first.serverId))
        assert.deepStrictEqual(yield* portsTagged(f.client, first.portTag), [])
        for (const id of [f.bootVolume, f.dataVolume]) {
          assert.strictEqual(yield* volumeStatus(f.client, id), "available")
        }
      }),
    { timeout: 180_000 }
  )
})
