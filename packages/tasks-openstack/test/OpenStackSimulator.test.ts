import { assert, describe, it } from "@effect/vitest"
import type { OpenStackSimulator } from "@migrator/openstack-simulator"
import type { OpenStackClient } from "@migrator/tasks-openstack"
import { OpenStackError } from "@migrator/tasks-openstack"
import { type Duration, Effect, Schema } from "effect"
import { TestClock } from "effect/testing"
import { setup, waitFor } from "./utils/index.ts"

const Id = Schema.Struct({ id: Schema.String })
const created = <K extends string>(key: K) => Schema.Struct({ [key]: Id } as { [P in K]: typeof Id })

interface Fixture {
  readonly sim: OpenStackSimulator.Simulator
  readonly client: OpenStackClient.Client
}

const server = (f: Fixture, id: string) =>
  f.client.request("compute", "GET", `/servers/${id}`, {
    schema: Schema.Struct({
      server: Schema.Struct({
        status: Schema.String,
        "OS-EXT-SRV-ATTR:host": Schema.NullOr(Schema.String),
        fault: Schema.optional(Schema.Struct({ message: Schema.String }))
      })
    })
  })

const volume = (f: Fixture, id: string) =>
  f.client.request("volumev3", "GET", `/volumes/${id}`, {
    schema: Schema.Struct({ volume: Schema.Struct({ status: Schema.String, bootable: Schema.String }) })
  })

/** True once the resource answers 404. */
const gone = <A, E, R>(read: Effect.Effect<A, E, R>) =>
  read.pipe(
    Effect.as(false),
    OpenStackError.catchNotFound(() => true)
  )

/** A tenant network with a subnet, and a flavor. */
const basics = (f: Fixture) =>
  Effect.gen(function* () {
    const network = (yield* f.client.request("network", "POST", "/networks", {
      body: { network: { name: "net" } },
      schema: created("network")
    })).network
    const subnet = (yield* f.client.request("network", "POST", "/subnets", {
      body: { subnet: { network_id: network.id, ip_version: 4, cidr: "10.10.0.0/24", name: "sub" } },
      schema: created("subnet")
    })).subnet
    yield* f.client.request("compute", "POST", "/flavors", {
      body: { flavor: { name: "small", id: "small", ram: 512, vcpus: 1, disk: 1 } }
    })
    return { network, subnet }
  })

/** How a test lets the simulator's transitions (one step each) happen before it reads `done`. */
type Settle = <A, E, R>(read: Effect.Effect<A, E, R>, done: (a: A) => boolean) => Effect.Effect<A, E | string, R>

/** In real time: polls until `done`. */
const poll: Settle = (read, done) => waitFor(read, done)

/**
 * Under `TestClock`: the clock moves one step, and the transition must have
 * happened by then. The simulator follows the Effect Clock, so in-between
 * states are seen however slow the machine is.
 */
const oneStep =
  (step: Duration.Input): Settle =>
  (read, done) =>
    Effect.gen(function* () {
      yield* TestClock.adjust(step)
      const a = yield* read
      if (!done(a)) return yield* Effect.fail(`no transition after one step: ${JSON.stringify(a)}`)
      return a
    })

const bootableVolume = (f: Fixture, name: string, settle: Settle = poll) =>
  Effect.gen(function* () {
    const v = (yield* f.client.request("volumev3", "POST", "/volumes", {
      body: { volume: { size: 1, name } },
      schema: created("volume")
    })).volume
    assert.strictEqual((yield* volume(f, v.id)).volume.status, "creating")
    yield* settle(volume(f, v.id), (r) => r.volume.status === "available")
    yield* f.client.request("volumev3", "POST", `/volumes/${v.id}/action`, {
      body: { "os-set_bootable": { bootable: true } }
    })
    return v
  })

const bootFromVolume = (f: Fixture, name: string, volumeId: string, extra: Record<string, unknown> = {}) =>
  Effect.gen(function* () {
    const network = (yield* f.sim.inventory).networks.find((n) => n.name === "net") ?? (yield* basics(f)).network
    return (yield* f.client.request("compute", "POST", "/servers", {
      body: {
        server: {
          name,
          flavorRef: "small",
          networks: [{ uuid: network.id }],
          block_device_mapping_v2: [
            { boot_index: 0, uuid: volumeId, source_type: "volume", destination_type: "volume" }
          ],
          ...extra
        }
      },
      schema: created("server")
    })).server
  })

describe("OpenStackSimulator: servers", () => {
  it.live("boot from volume: BUILD → ACTIVE, volume in-use, port ACTIVE; stop, start, delete", () =>
    Effect.gen(function* () {
      // steps long enough that the in-between states are seen on a loaded machine
      const f = yield* setup({ stepDelay: "1 second" })
      const v = yield* bootableVolume(f, "boot")
      const s = yield* bootFromVolume(f, "vm-1", v.id, { metadata: { job: "j1" }, tags: ["migrator:j1"] })
      assert.strictEqual((yield* server(f, s.id)).server.status, "BUILD")
      assert.strictEqual((yield* volume(f, v.id)).volume.status, "reserved")
      yield* waitFor(server(f, s.id), (r) => r.server.status === "ACTIVE")
      let inventory = yield* f.sim.inventory
      assert.strictEqual(inventory.volumes.find((x) => x.id === v.id)?.status, "in-use")
      const port = inventory.ports.find((p) => p.device_id === s.id)
      assert.strictEqual(port?.status, "ACTIVE")
      assert.strictEqual(port?.fixed_ips[0]?.ip_address, "10.10.0.2")
      const detail = inventory.servers.find((x) => x.id === s.id)
      assert.deepStrictEqual(detail?.metadata, { job: "j1" })
      assert.deepStrictEqual(detail?.tags, ["migrator:j1"])
      const tagged = yield* f.client.list("compute", "/servers/detail", "servers", { tags: "migrator:j1" })
      assert.lengthOf(tagged, 1)

      yield* f.client.request("compute", "POST", `/servers/${s.id}/action`, { body: { "os-stop": null } })
      const again = yield* Effect.flip(
        f.client.request("compute", "POST", `/servers/${s.id}/action`, { body: { "os-stop": null } })
      )
      assert.strictEqual(again.reason._tag, "Conflict")
      yield* waitFor(server(f, s.id), (r) => r.server.status === "SHUTOFF")
      inventory = yield* f.sim.inventory
      assert.strictEqual(inventory.ports.find((p) => p.device_id === s.id)?.status, "DOWN")
      yield* f.client.request("compute", "POST", `/servers/${s.id}/action`, { body: { "os-start": null } })
      yield* waitFor(server(f, s.id), (r) => r.server.status === "ACTIVE")
      const consoleLog = yield* f.client.request("compute", "POST", `/servers/${s.id}/action`, {
        body: { "os-getConsoleOutput": { length: 1 } },
        schema: Schema.Struct({ output: Schema.String })
      })
      assert.strictEqual(consoleLog.output, "vm-1 login: ")

      yield* f.client.request("compute", "DELETE", `/servers/${s.id}`)
      yield* waitFor(gone(server(f, s.id)), (isGone) => isGone)
      inventory = yield* f.sim.inventory
      assert.strictEqual(inventory.volumes.find((x) => x.id === v.id)?.status, "available")
      assert.isFalse(
        inventory.ports.some((p) => p.id === port?.id),
        "the port Nova created is deleted with the server"
      )
    }).pipe(Effect.scoped)
  )

  it.live("a blank volume is not bootable: 400 with Nova's message", () =>
    Effect.gen(function* () {
      const f = yield* setup()
      const v = (yield* f.client.request("volumev3", "POST", "/volumes", {
        body: { volume: { size: 1 } },
        schema: created("volume")
      })).volume
      yield* waitFor(volume(f, v.id), (r) => r.volume.status === "available")
      const error = yield* Effect.flip(bootFromVolume(f, "vm", v.id))
      assert.strictEqual(error.reason._tag, "BadRequest")
      assert.include(error.reason.message, "is not bootable")
    }).pipe(Effect.scoped)
  )

  it.live("ports passed in, forced host placement, security groups, key pair", () =>
    Effect.gen(function* () {
      const f = yield* setup()
      const { network, subnet } = yield* basics(f)
      const sg = (yield* f.client.request("network", "POST", "/security-groups", {
        body: { security_group: { name: "web" } },
        schema: created("security_group")
      })).security_group
      const port = (yield* f.client.request("network", "POST", "/ports", {
        body: {
          port: {
            network_id: network.id,
            fixed_ips: [{ subnet_id: subnet.id, ip_address: "10.10.0.50" }],
            security_groups: [sg.id]
          }
        },
        schema: created("port")
      })).port
      yield* f.client.request("compute", "POST", "/os-keypairs", {
        body: { keypair: { name: "kp", public_key: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIexample user@host" } }
      })
      const images = yield* f.client.list("image", "/images", "images")
      const s = (yield* f.client.request("compute", "POST", "/servers", {
        body: {
          server: {
            name: "placed",
            flavorRef: "small",
            imageRef: (images[0] as { id: string }).id,
            networks: [{ port: port.id }],
            availability_zone: "nova:sim-compute-2",
            key_name: "kp"
          }
        },
        schema: created("server")
      })).server
      const active = yield* waitFor(server(f, s.id), (r) => r.server.status === "ACTIVE")
      assert.strictEqual(active.server["OS-EXT-SRV-ATTR:host"], "sim-compute-2")
      const inventory = yield* f.sim.inventory
      const bound = inventory.ports.find((p) => p.id === port.id)
      assert.strictEqual(bound?.device_id, s.id)
      assert.strictEqual(bound?.status, "ACTIVE")
      assert.deepStrictEqual(bound?.security_groups, [sg.id])
      assert.strictEqual(inventory.servers.find((x) => x.id === s.id)?.key_name, "kp")
      // a port in use cannot boot a second server
      const busy = yield* Effect.flip(
        f.client.request("compute", "POST", "/servers", {
          body: {
            server: {
              name: "x",
              flavorRef: "small",
              imageRef: (images[0] as { id: string }).id,
              networks: [{ port: port.id }]
            }
          }
        })
      )
      assert.strictEqual(busy.reason._tag, "Conflict")
      // deleting the server leaves the user's port, unbound
      yield* f.client.request("compute", "DELETE", `/servers/${s.id}`)
      yield* waitFor(f.sim.inventory, (i) => i.servers.length === 0)
      const after = (yield* f.sim.inventory).ports.find((p) => p.id === port.id)
      assert.strictEqual(after?.device_id, "")
      assert.strictEqual(after?.status, "DOWN")
    }).pipe(Effect.scoped)
  )

  it.effect("injected faults: a build that ends in ERROR, a server that crashes, an unknown forced host", () =>
    Effect.gen(function* () {
      const f = yield* setup({ stepDelay: "1 second" })
      const step = oneStep("1 second")
      const v = yield* bootableVolume(f, "boot", step)
      yield* f.sim.faults.failServers({ name: /^doomed/, message: "Exceeded maximum number of retries." })
      const s = yield* bootFromVolume(f, "doomed-1", v.id)
      assert.strictEqual((yield* server(f, s.id)).server.status, "BUILD")
      const failed = yield* step(server(f, s.id), (r) => r.server.status !== "BUILD")
      assert.strictEqual(failed.server.status, "ERROR")
      assert.strictEqual(failed.server.fault?.message, "Exceeded maximum number of retries.")
      assert.strictEqual((yield* volume(f, v.id)).volume.status, "available", "the volume is released")

      const ok = yield* bootFromVolume(f, "doomed-2", v.id)
      yield* step(server(f, ok.id), (r) => r.server.status === "ACTIVE")
      assert.isTrue(yield* f.sim.faults.errorServer(ok.id, "hypervisor lost"))
      const crashed = yield* server(f, ok.id)
      assert.strictEqual(crashed.server.status, "ERROR")
      assert.strictEqual(crashed.server.fault?.message, "hypervisor lost")

      const images = yield* f.client.list("image", "/images", "images")
      const lost = (yield* f.client.request("compute", "POST", "/servers", {
        body: {
          server: {
            name: "lost",
            flavorRef: "small",
            imageRef: (images[0] as { id: string }).id,
            networks: "none",
            availability_zone: "nova:no-such-host"
          }
        },
        schema: created("server")
      })).server
      assert.strictEqual((yield* server(f, lost.id)).server.status, "BUILD")
      const noHost = yield* step(server(f, lost.id), (r) => r.server.status !== "BUILD")
      assert.strictEqual(noHost.server.status, "ERROR")
      assert.include(noHost.server.fault?.message ?? "", "No valid host")
    }).pipe(Effect.scoped)
  )

  it.effect("slow transitions", () =>
    Effect.gen(function* () {
      const f = yield* setup({ stepDelay: "10 millis" })
      yield* f.sim.faults.slowTransitions("400 millis")
      const v = (yield* f.client.request("volumev3", "POST", "/volumes", {
        body: { volume: { size: 1 } },
        schema: created("volume")
      })).volume
      yield* TestClock.adjust("399 millis")
      assert.strictEqual((yield* volume(f, v.id)).volume.status, "creating")
      yield* oneStep("1 millis")(volume(f, v.id), (r) => r.volume.status === "available")
      yield* f.sim.faults.clear
      const w = (yield* f.client.request("volumev3", "POST", "/volumes", {
        body: { volume: { size: 1 } },
        schema: created("volume")
      })).volume
      assert.strictEqual((yield* volume(f, w.id)).volume.status, "creating")
      yield* oneStep("10 millis")(volume(f, w.id), (r) => r.volume.status === "available")
    }).pipe(Effect.scoped)
  )

  it.live("microversion rules: networks required from 2.37, tags from 2.52", () =>
    Effect.gen(function* () {
      const f = yield* setup()
      const images = yield* f.client.list("image", "/images", "images")
      yield* basics(f)
      const body = { name: "x", flavorRef: "small", imageRef: (images[0] as { id: string }).id }
      const noNetworks = yield* Effect.flip(f.client.request("compute", "POST", "/servers", { body: { server: body } }))
      assert.include(noNetworks.reason.message, "'networks' is a required property")
      yield* f.client.request("compute", "POST", "/servers", { body: { server: body }, microversion: "2.1" })
      const tags = yield* Effect.flip(
        f.client.request("compute", "POST", "/servers", {
          body: { server: { ...body, networks: "none", tags: ["a"] } },
          microversion: "2.40"
        })
      )
      assert.include(tags.reason.message, "'tags' was unexpected")
    }).pipe(Effect.scoped)
  )
})

describe("OpenStackSimulator: time", () => {
  it.effect("transitions follow the Effect Clock, so TestClock drives them", () =>
    Effect.gen(function* () {
      const f = yield* setup({ stepDelay: "1 minute", seed: 7 })
      const v = (yield* f.client.request("volumev3", "POST", "/volumes", {
        body: { volume: { size: 1 } },
        schema: created("volume")
      })).volume
      yield* TestClock.adjust("59 seconds")
      assert.strictEqual((yield* volume(f, v.id)).volume.status, "creating")
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* volume(f, v.id)).volume.status, "available")
    }).pipe(Effect.scoped)
  )
})

describe("OpenStackSimulator: volumes", () => {
  it.live("creating → available (or error), copy from a volume, snapshots, delete → gone", () =>
    Effect.gen(function* () {
      // steps long enough that the in-between states are seen on a loaded machine
      const f = yield* setup({ stepDelay: "1 second" })
      const v = yield* bootableVolume(f, "src")
      const copy = (yield* f.client.request("volumev3", "POST", "/volumes", {
        body: { volume: { source_volid: v.id, name: "copy" } },
        schema: created("volume")
      })).volume
      const copied = yield* waitFor(volume(f, copy.id), (r) => r.volume.status === "available")
      assert.strictEqual(copied.volume.bootable, "true")
      const snap = (yield* f.client.request("volumev3", "POST", "/snapshots", {
        body: { snapshot: { volume_id: v.id, name: "s" } },
        schema: created("snapshot")
      })).snapshot
      yield* waitFor(f.sim.inventory, (i) => i.snapshots.some((s) => s.id === snap.id && s.status === "available"))
      const fromSnap = (yield* f.client.request("volumev3", "POST", "/volumes", {
        body: { volume: { snapshot_id: snap.id } },
        schema: created("volume")
      })).volume
      yield* waitFor(volume(f, fromSnap.id), (r) => r.volume.status === "available")
      const blocked = yield* Effect.flip(f.client.request("volumev3", "DELETE", `/volumes/${v.id}`))
      assert.strictEqual(blocked.reason._tag, "BadRequest", "a volume with snapshots cannot be deleted")
      yield* f.client.request("volumev3", "DELETE", `/volumes/${v.id}`, { query: { cascade: true } })
      assert.strictEqual((yield* volume(f, v.id)).volume.status, "deleting")
      yield* waitFor(gone(volume(f, v.id)), (isGone) => isGone)

      yield* f.sim.faults.failVolumes({ name: "bad" })
      const bad = (yield* f.client.request("volumev3", "POST", "/volumes", {
        body: { volume: { size: 1, name: "bad" } },
        schema: created("volume")
      })).volume
      yield* waitFor(volume(f, bad.id), (r) => r.volume.status === "error")
    }).pipe(Effect.scoped)
  )

  it.live("manage existing → available; unmanage → gone; a second manage of the same ref → error_managing", () =>
    Effect.gen(function* () {
      // steps long enough that the in-between states are seen on a loaded machine
      const f = yield* setup({ stepDelay: "1 second" })
      const manage = (name: string) =>
        f.client.request("volumev3", "POST", "/manageable_volumes", {
          body: { volume: { host: f.sim.volumeBackend, ref: { "source-name": "volume-legacy" }, name } },
          schema: created("volume")
        })
      const m = (yield* manage("imported")).volume
      assert.strictEqual((yield* volume(f, m.id)).volume.status, "managing")
      yield* waitFor(volume(f, m.id), (r) => r.volume.status === "available")
      const twice = (yield* manage("imported-again")).volume
      yield* waitFor(volume(f, twice.id), (r) => r.volume.status === "error_managing")
      yield* f.client.request("volumev3", "POST", `/volumes/${m.id}/action`, { body: { "os-unmanage": null } })
      yield* waitFor(f.sim.inventory, (i) => !i.volumes.some((v) => v.id === m.id))
      const unknownHost = yield* Effect.flip(
        f.client.request("volumev3", "POST", "/manageable_volumes", {
          body: { volume: { host: "nowhere@x#y", ref: { "source-name": "v" } } }
        })
      )
      assert.include(unknownHost.reason.message, "nowhere@x#y")
    }).pipe(Effect.scoped)
  )
})

describe("OpenStackSimulator: Neutron and Keystone", () => {
  it.live("a floating IP reaches a port only through a router with gateway and interface", () =>
    Effect.gen(function* () {
      const f = yield* setup()
      const { network, subnet } = yield* basics(f)
      const port = (yield* f.client.request("network", "POST", "/ports", {
        body: { port: { network_id: network.id } },
        schema: created("port")
      })).port
      const fip = (yield* f.client.request("network", "POST", "/floatingips", {
        body: { floatingip: { floating_network_id: f.sim.externalNetworkId } },
        schema: created("floatingip")
      })).floatingip
      const unreachable = yield* Effect.flip(
        f.client.request("network", "PUT", `/floatingips/${fip.id}`, { body: { floatingip: { port_id: port.id } } })
      )
      assert.strictEqual(unreachable.reason._tag, "NotFound")
      assert.include(unreachable.reason.message, "is not reachable from subnet")
      assert.strictEqual(unreachable.errorType, "ExternalGatewayForFloatingIPNotFound")

      const router = (yield* f.client.request("network", "POST", "/routers", {
        body: { router: { name: "r", external_gateway_info: { network_id: f.sim.externalNetworkId } } },
        schema: created("router")
      })).router
      yield* f.client.request("network", "PUT", `/routers/${router.id}/add_router_interface`, {
        body: { subnet_id: subnet.id }
      })
      const twice = yield* Effect.flip(
        f.client.request("network", "PUT", `/routers/${router.id}/add_router_interface`, {
          body: { subnet_id: subnet.id }
        })
      )
      assert.include(twice.reason.message, "already has a port on subnet")
      yield* f.client.request("network", "PUT", `/routers/${router.id}`, {
        body: { router: { routes: [{ destination: "192.168.0.0/24", nexthop: "10.10.0.254" }] } }
      })
      const badRoute = yield* Effect.flip(
        f.client.request("network", "PUT", `/routers/${router.id}`, {
          body: { router: { routes: [{ destination: "192.168.0.0/24", nexthop: "10.99.0.1" }] } }
        })
      )
      assert.include(badRoute.reason.message, "the nexthop is not connected with router")
      yield* f.client.request("network", "PUT", `/floatingips/${fip.id}`, {
        body: { floatingip: { port_id: port.id } }
      })
      let inventory = yield* f.sim.inventory
      const associated = inventory.floatingips.find((x) => x.id === fip.id)
      assert.strictEqual(associated?.status, "ACTIVE")
      assert.strictEqual(associated?.router_id, router.id)
      assert.strictEqual(associated?.fixed_ip_address, "10.10.0.2")

      const inUse = yield* Effect.flip(
        f.client.request("network", "PUT", `/routers/${router.id}/remove_router_interface`, {
          body: { subnet_id: subnet.id }
        })
      )
      assert.strictEqual(inUse.reason._tag, "Conflict")
      const routerBusy = yield* Effect.flip(f.client.request("network", "DELETE", `/routers/${router.id}`))
      assert.strictEqual(routerBusy.reason._tag, "Conflict")
      const networkBusy = yield* Effect.flip(f.client.request("network", "DELETE", `/networks/${network.id}`))
      assert.include(networkBusy.reason.message, "one or more ports still in use")

      // tear down in the right order
      yield* f.client.request("network", "PUT", `/floatingips/${fip.id}`, { body: { floatingip: { port_id: null } } })
      yield* f.client.request("network", "PUT", `/routers/${router.id}`, { body: { router: { routes: [] } } })
      yield* f.client.request("network", "PUT", `/routers/${router.id}/remove_router_interface`, {
        body: { subnet_id: subnet.id }
      })
      yield* f.client.request("network", "DELETE", `/routers/${router.id}`)
      yield* f.client.request("network", "DELETE", `/floatingips/${fip.id}`)
      yield* f.client.request("network", "DELETE", `/ports/${port.id}`)
      yield* f.client.request("network", "DELETE", `/networks/${network.id}`)
      inventory = yield* f.sim.inventory
      assert.deepStrictEqual(
        [inventory.routers.length, inventory.floatingips.length, inventory.subnets.length, inventory.ports.length],
        [0, 0, 1, 0],
        "only the external subnet is left"
      )
    }).pipe(Effect.scoped)
  )

  it.live("tags: PUT one tag, filter by tags; security group rules and duplicates", () =>
    Effect.gen(function* () {
      const f = yield* setup()
      const sg = (yield* f.client.request("network", "POST", "/security-groups", {
        body: { security_group: { name: "app" } },
        schema: created("security_group")
      })).security_group
      yield* f.client.request("network", "PUT", `/security-groups/${sg.id}/tags/job-1.task-2`)
      const tooLong = yield* Effect.flip(
        f.client.request("network", "PUT", `/security-groups/${sg.id}/tags/${"x".repeat(61)}`)
      )
      assert.strictEqual(tooLong.reason._tag, "BadRequest")
      const found = yield* f.client.list("network", "/security-groups", "security_groups", { tags: "job-1.task-2" })
      assert.deepStrictEqual(
        found.map((g) => (g as { id: string }).id),
        [sg.id]
      )
      const rule = {
        security_group_rule: {
          security_group_id: sg.id,
          direction: "ingress",
          protocol: "tcp",
          port_range_min: 22,
          port_range_max: 22,
          remote_ip_prefix: "0.0.0.0/0"
        }
      }
      yield* f.client.request("network", "POST", "/security-group-rules", { body: rule })
      const duplicate = yield* Effect.flip(f.client.request("network", "POST", "/security-group-rules", { body: rule }))
      assert.strictEqual(duplicate.reason._tag, "Conflict")
      assert.strictEqual(duplicate.errorType, "SecurityGroupRuleExists")
      const inventory = yield* f.sim.inventory
      assert.strictEqual(
        inventory.securityGroupRules.filter((r) => r.security_group_id === sg.id).length,
        3,
        "two default egress rules and ours"
      )
    }).pipe(Effect.scoped)
  )

  it.live("projects with tags; duplicate names conflict", () =>
    Effect.gen(function* () {
      const f = yield* setup()
      const p = (yield* f.client.request("identity", "POST", "/projects", {
        body: { project: { name: "recovered", domain_id: "default", tags: ["job-1"] } },
        schema: created("project")
      })).project
      const dup = yield* Effect.flip(
        f.client.request("identity", "POST", "/projects", { body: { project: { name: "recovered" } } })
      )
      assert.strictEqual(dup.reason._tag, "Conflict")
      yield* f.client.request("identity", "PUT", `/projects/${p.id}/tags/task-7`)
      const byTag = yield* f.client.list("identity", "/projects", "projects", { tags: "job-1,task-7" })
      assert.deepStrictEqual(
        byTag.map((x) => (x as { id: string }).id),
        [p.id]
      )
      yield* f.client.request("identity", "DELETE", `/projects/${p.id}`)
      const gone = yield* Effect.flip(f.client.request("identity", "GET", `/projects/${p.id}`))
      assert.isTrue(OpenStackError.isNotFound(gone))
    }).pipe(Effect.scoped)
  )

  it.live("flavors with extra specs and access lists; key pairs", () =>
    Effect.gen(function* () {
      const f = yield* setup()
      yield* f.client.request("compute", "POST", "/flavors", {
        body: {
          flavor: { name: "private", id: "p1", ram: 256, vcpus: 2, disk: 5, "os-flavor-access:is_public": false }
        }
      })
      yield* f.client.request("compute", "POST", "/flavors/p1/os-extra_specs", {
        body: { extra_specs: { "hw:cpu_policy": "dedicated" } }
      })
      yield* f.client.request("compute", "POST", "/flavors/p1/action", {
        body: { addTenantAccess: { tenant: f.sim.admin.projectId } }
      })
      const shown = yield* f.client.request("compute", "GET", "/flavors/p1", {
        schema: Schema.Struct({ flavor: Schema.Struct({ extra_specs: Schema.Record(Schema.String, Schema.String) }) })
      })
      assert.deepStrictEqual(shown.flavor.extra_specs, { "hw:cpu_policy": "dedicated" })
      const dup = yield* Effect.flip(
        f.client.request("compute", "POST", "/flavors", {
          body: { flavor: { name: "private", ram: 1, vcpus: 1, disk: 1 } }
        })
      )
      assert.include(dup.reason.message, "already exists")

      const kp = yield* f.client.request("compute", "POST", "/os-keypairs", {
        body: { keypair: { name: "generated" } },
        microversion: "2.10",
        schema: Schema.Struct({ keypair: Schema.Struct({ private_key: Schema.String }) })
      })
      assert.include(kp.keypair.private_key, "PRIVATE KEY")
      const listed = yield* f.client.request("compute", "GET", "/os-keypairs", {
        schema: Schema.Struct({
          keypairs: Schema.Array(Schema.Struct({ keypair: Schema.Struct({ name: Schema.String }) }))
        })
      })
      assert.deepStrictEqual(
        listed.keypairs.map((k) => k.keypair.name),
        ["generated"]
      )
      yield* f.client.request("compute", "DELETE", "/os-keypairs/generated")
      const gone = yield* Effect.flip(f.client.request("compute", "DELETE", "/os-keypairs/generated"))
      assert.isTrue(OpenStackError.isNotFound(gone))
    }).pipe(Effect.scoped)
  )
})

describe("OpenStackSimulator: request log and determinism", () => {
  it.live("logs method, path, status and never the token; the same seed gives the same ids", () =>
    Effect.gen(function* () {
      const a = yield* setup({ seed: 42 })
      const b = yield* setup({ seed: 42 })
      assert.strictEqual(a.sim.admin.projectId, b.sim.admin.projectId)
      yield* a.client.request("compute", "GET", "/servers/none").pipe(Effect.ignore)
      const log = yield* a.sim.requests
      assert.deepStrictEqual(
        log.map((r) => [r.method, r.service, r.route, r.status]),
        [
          ["POST", "identity", "/auth/tokens", 201],
          ["GET", "compute", "/servers/none", 404]
        ]
      )
      assert.notInclude(JSON.stringify(log), "gAAAAA")
      yield* a.sim.clearRequests
      assert.lengthOf(yield* a.sim.requests, 0)
    }).pipe(Effect.scoped)
  )
})
