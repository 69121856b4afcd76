/**
 * Neutron handlers under injected faults (simulator only): answers lost
 * after the request took effect, dropped connections, 503 bursts, and a task
 * that died between creating its resource and finishing. Each must end with
 * exactly one resource, adopted rather than made twice.
 */
import { assert, describe, it } from "@effect/vitest"
import { TaskContext, type TaskError } from "@migrator/core"
import type { OpenStackSimulator } from "@migrator/openstack-simulator"
import { Clouds, type OpenStackClient } from "@migrator/tasks-openstack"
import * as FloatingIpCreate from "@migrator/tasks-openstack/handlers/FloatingIpCreate"
import * as NetworkCreate from "@migrator/tasks-openstack/handlers/NetworkCreate"
import * as NetworkDelete from "@migrator/tasks-openstack/handlers/NetworkDelete"
import * as RouterCreate from "@migrator/tasks-openstack/handlers/RouterCreate"
import * as RouterDelete from "@migrator/tasks-openstack/handlers/RouterDelete"
import * as SecurityGroupCreate from "@migrator/tasks-openstack/handlers/SecurityGroupCreate"
import * as SecurityGroupRuleCreate from "@migrator/tasks-openstack/handlers/SecurityGroupRuleCreate"
import * as SubnetCreate from "@migrator/tasks-openstack/handlers/SubnetCreate"
import { Effect, Exit, Layer } from "effect"
import { setup } from "../utils/index.ts"

type Task<A> = Effect.Effect<A, TaskError.TaskError, Clouds.Clouds | TaskContext.TaskContext>

interface Fixture {
  readonly sim: OpenStackSimulator.Simulator
  readonly client: OpenStackClient.Client
  /** Runs a handler as task `taskId` (attempt `attempt`) of job `job-1` (or `owner`'s job, with its shared key). */
  readonly as: <A>(
    taskId: string,
    task: Task<A>,
    attempt?: number,
    owner?: { readonly job: string; readonly shared: string }
  ) => Effect.Effect<A, TaskError.TaskError>
}

/** A simulator and a client that gives up on an answer after 300 ms (so a hanging request ends quickly). */
const fixture = Effect.gen(function* () {
  const { sim, client } = yield* setup({}, { requestTimeout: "300 millis" })
  const as = <A>(
    taskId: string,
    task: Task<A>,
    attempt = 1,
    owner?: { readonly job: string; readonly shared: string }
  ) =>
    task.pipe(
      Effect.provide(
        Layer.mergeAll(
          Clouds.layerClients({ recovery: client }),
          Layer.succeed(TaskContext.TaskContext, {
            jobId: owner?.job ?? "job-1",
            taskId,
            phase: "run",
            type: "openstack/test",
            attempt,
            fencingToken: attempt,
            target: "recovery",
            runnerId: "test-runner",
            shared: owner?.shared,
            idempotencyKey: owner === undefined ? `job-1:${taskId}` : `shared:${owner.shared}`
          })
        )
      )
    )
  return { sim, client, as } satisfies Fixture
})

const count = (sim: OpenStackSimulator.Simulator, method: string, route: string) =>
  Effect.map(sim.requests, (requests) => requests.filter((r) => r.method === method && r.route === route).length)

describe("Neutron handlers under faults", () => {
  it.live("the answer to POST /networks is lost after the network was made: the same attempt adopts it", () =>
    Effect.gen(function* () {
      const f = yield* fixture
      yield* f.sim.faults.timeoutAfterSideEffect({ service: "network", method: "POST", path: "/networks" })
      const net = yield* f.as("n1", NetworkCreate.run({ name: "app" }))
      const networks = (yield* f.sim.inventory).networks.filter((n) => n.name === "app")
      assert.deepStrictEqual(
        networks.map((n) => n.id),
        [net.networkId]
      )
      assert.include(networks[0]!.tags, "migrator:job-1:n1")
      assert.strictEqual(yield* count(f.sim, "POST", "/networks"), 1, "the POST is not sent twice")
    }).pipe(Effect.scoped)
  )

  it.live("a connection dropped after POST /floatingips took effect: one floating IP", () =>
    Effect.gen(function* () {
      const f = yield* fixture
      yield* f.sim.faults.timeoutAfterSideEffect({
        service: "network",
        method: "POST",
        path: "/floatingips",
        mode: "close"
      })
      const fip = yield* f.as("f1", FloatingIpCreate.run({ networkId: f.sim.externalNetworkId! }))
      assert.deepStrictEqual(
        (yield* f.sim.inventory).floatingips.map((x) => x.id),
        [fip.floatingIpId]
      )
    }).pipe(Effect.scoped)
  )

  it.live("a task that died after creating (before tagging and finishing) is adopted by the next attempt", () =>
    Effect.gen(function* () {
      const f = yield* fixture
      // the tag request fails for good: the first attempt ends after the network exists
      yield* f.sim.faults.failNext({ service: "network", method: "PUT", path: "/networks/*/tags/**", status: 400 })
      const first = yield* Effect.exit(f.as("n1", NetworkCreate.run({ name: "app" })))
      assert.isTrue(Exit.isFailure(first))
      assert.strictEqual((yield* f.sim.inventory).networks.filter((n) => n.name === "app").length, 1)
      const second = yield* f.as("n1", NetworkCreate.run({ name: "app" }), 2)
      const networks = (yield* f.sim.inventory).networks.filter((n) => n.name === "app")
      assert.deepStrictEqual(
        networks.map((n) => n.id),
        [second.networkId]
      )
      assert.include(networks[0]!.tags, "migrator:job-1:n1")
      // another task of the same name makes its own
      const other = yield* f.as("n2", NetworkCreate.run({ name: "app" }))
      assert.notStrictEqual(other.networkId, second.networkId)
    }).pipe(Effect.scoped)
  )

  it.live("a shared network half-made by one job is adopted by another job that takes the creation over", () =>
    Effect.gen(function* () {
      const f = yield* fixture
      const shared = "recovery/network/app"
      // job A's attempt dies after the network exists (its tag request fails for good)
      yield* f.sim.faults.failNext({ service: "network", method: "PUT", path: "/networks/*/tags/**", status: 400 })
      const first = yield* Effect.exit(f.as("net", NetworkCreate.run({ name: "app" }), 1, { job: "job-a", shared }))
      assert.isTrue(Exit.isFailure(first))
      // job B, holding the same shared key, takes the creation over: it adopts, it does not duplicate
      const taken = yield* f.as("network-app", NetworkCreate.run({ name: "app" }), 1, { job: "job-b", shared })
      const networks = (yield* f.sim.inventory).networks.filter((n) => n.name === "app")
      assert.deepStrictEqual(
        networks.map((n) => n.id),
        [taken.networkId]
      )
      assert.include(networks[0]!.tags, `migrator:shared:${shared}`)
    }).pipe(Effect.scoped)
  )

  it.live("503 bursts with Retry-After on subnet creation and on tagging are ridden out", () =>
    Effect.gen(function* () {
      const f = yield* fixture
      const net = yield* f.as("n1", NetworkCreate.run({ name: "app" }))
      yield* f.sim.faults.failNext({
        service: "network",
        method: "POST",
        path: "/subnets",
        status: 503,
        times: 2,
        retryAfter: 0
      })
      yield* f.sim.faults.failNext({
        service: "network",
        method: "PUT",
        path: "/subnets/*/tags/**",
        status: 503,
        times: 2
      })
      const sub = yield* f.as("s1", SubnetCreate.run({ networkId: net.networkId, name: "app", cidr: "10.9.0.0/24" }))
      assert.deepStrictEqual(
        (yield* f.sim.inventory).subnets.filter((s) => s.network_id === net.networkId).map((s) => s.id),
        [sub.subnetId]
      )
    }).pipe(Effect.scoped)
  )

  it.live("lost answers to rule POSTs: every rule once", () =>
    Effect.gen(function* () {
      const f = yield* fixture
      yield* f.sim.faults.timeoutAfterSideEffect({
        service: "network",
        method: "POST",
        path: "/security-group-rules",
        times: 2
      })
      const group = yield* f.as(
        "sg1",
        SecurityGroupCreate.run({
          name: "web",
          rules: [
            { direction: "ingress", protocol: "tcp", portRangeMin: 22, portRangeMax: 22, remoteIpPrefix: "10.0.0.0/8" },
            { direction: "egress" }
          ]
        })
      )
      const rules = (yield* f.sim.inventory).securityGroupRules.filter(
        (r) => r.security_group_id === group.securityGroupId
      )
      assert.sameMembers(
        rules.map((r) => r.id),
        [...group.ruleIds]
      )
      yield* f.sim.faults.timeoutAfterSideEffect({ service: "network", method: "POST", path: "/security-group-rules" })
      const rule = yield* f.as(
        "r1",
        SecurityGroupRuleCreate.run({
          securityGroupId: group.securityGroupId,
          direction: "ingress",
          protocol: "udp",
          portRangeMin: 53,
          portRangeMax: 53
        })
      )
      const after = (yield* f.sim.inventory).securityGroupRules.filter(
        (r) => r.security_group_id === group.securityGroupId
      )
      assert.strictEqual(after.length, 3)
      assert.isTrue(after.some((r) => r.id === rule.ruleId))
    }).pipe(Effect.scoped)
  )

  it.live("a lost answer to add_router_interface: the repeated PUT finds the interface there", () =>
    Effect.gen(function* () {
      const f = yield* fixture
      const net = yield* f.as("n1", NetworkCreate.run({ name: "app" }))
      const sub = yield* f.as("s1", SubnetCreate.run({ networkId: net.networkId, name: "app", cidr: "10.9.0.0/24" }))
      yield* f.sim.faults.timeoutAfterSideEffect({
        service: "network",
        method: "PUT",
        path: "/routers/*/add_router_interface"
      })
      const router = yield* f.as("r1", RouterCreate.run({ name: "edge", interfaces: [{ subnetId: sub.subnetId }] }))
      assert.strictEqual(router.interfaces.length, 1)
      const ports = (yield* f.sim.inventory).ports.filter((p) => p.device_id === router.routerId)
      assert.strictEqual(ports.length, 1)
    }).pipe(Effect.scoped)
  )

  it.live("deletes: a lost answer to DELETE and 503s still end with the resources gone", () =>
    Effect.gen(function* () {
      const f = yield* fixture
      const net = yield* f.as("n1", NetworkCreate.run({ name: "app" }))
      yield* f.as("s1", SubnetCreate.run({ networkId: net.networkId, name: "app", cidr: "10.9.0.0/24" }))
      const router = yield* f.as(
        "r1",
        RouterCreate.run({ name: "edge", externalGateway: { networkId: f.sim.externalNetworkId! } })
      )
      yield* f.sim.faults.timeoutAfterSideEffect({ service: "network", method: "DELETE", path: "/routers/*" })
      yield* f.sim.faults.failNext({ service: "network", method: "DELETE", path: "/subnets/*", status: 503, times: 2 })
      assert.deepStrictEqual(yield* f.as("r1-undo", RouterDelete.run({ routerId: router.routerId })), {
        deleted: [router.routerId]
      })
      assert.deepStrictEqual(yield* f.as("n1-undo", NetworkDelete.run({ networkId: net.networkId })), {
        deleted: [net.networkId]
      })
      const inventory = yield* f.sim.inventory
      assert.deepStrictEqual(inventory.routers, [])
      assert.deepStrictEqual(
        inventory.networks.map((n) => n.id),
        [f.sim.externalNetworkId]
      )
      assert.deepStrictEqual(
        inventory.ports.filter((p) => p.network_id !== f.sim.externalNetworkId),
        []
      )
    }).pipe(Effect.scoped)
  )
})

describe("the simulator's Neutron behaves like Zed where the handlers depend on it", () => {
  it.live("no tags in a POST; per-project quotas; default pools around the gateway", () =>
    Effect.gen(function* () {
      const f = yield* fixture
      const tagged = yield* Effect.flip(
        f.client.request("network", "POST", "/networks", { body: { network: { name: "x", tags: ["a"] } } })
      )
      assert.strictEqual(tagged.reason._tag, "BadRequest")
      assert.include(tagged.reason.message, "Attribute 'tags' not allowed in POST")

      const project = (yield* f.client.session.pipe(Effect.orDie)).projectId!
      yield* f.client.request("network", "PUT", `/quotas/${project}`, { body: { quota: { router: 1 } } })
      yield* f.client.request("network", "POST", "/routers", { body: { router: { name: "r1" } } })
      const over = yield* Effect.flip(
        f.client.request("network", "POST", "/routers", { body: { router: { name: "r2" } } })
      )
      assert.strictEqual(over.reason._tag, "QuotaExceeded")
      const unknown = yield* Effect.flip(
        f.client.request("network", "PUT", `/quotas/${project}`, { body: { quota: { routers: 1 } } })
      )
      assert.strictEqual(unknown.reason._tag, "BadRequest")

      const net = yield* f.as("n1", NetworkCreate.run({ name: "app" }))
      const sub = yield* f.client.request("network", "POST", "/subnets", {
        body: { subnet: { network_id: net.networkId, cidr: "10.5.0.0/24", ip_version: 4, gateway_ip: "10.5.0.254" } }
      })
      assert.deepStrictEqual((sub as { subnet: { allocation_pools: unknown } }).subnet.allocation_pools, [
        { start: "10.5.0.1", end: "10.5.0.253" }
      ])
      const clash = yield* Effect.flip(
        f.client.request("network", "POST", "/subnets", {
          body: {
            subnet: {
              network_id: net.networkId,
              cidr: "10.6.0.0/24",
              ip_version: 4,
              gateway_ip: "10.6.0.10",
              allocation_pools: [{ start: "10.6.0.2", end: "10.6.0.100" }]
            }
          }
        })
      )
      assert.strictEqual(clash.reason._tag, "Conflict")
    }).pipe(Effect.scoped)
  )
})
