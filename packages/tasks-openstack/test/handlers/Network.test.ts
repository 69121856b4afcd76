/**
 * Neutron handlers (security groups and rules, networks, subnets, routers,
 * floating IPs) against `cloud`: the simulator, or a real OpenStack when
 * `OS_AUTH_URL` is set. Each test works in a project made by `tenant.create`.
 * Each handler is run, run again with the same job and task ids (it must
 * adopt, not duplicate), undone, and undone again; Neutron is then listed to
 * check that nothing was left behind or made twice.
 */
import { assert, describe, it } from "@effect/vitest"
import type { TaskContext, TaskError } from "@migrator/core"
import type { Clouds } from "@migrator/tasks-openstack"
import * as FloatingIpCreate from "@migrator/tasks-openstack/handlers/FloatingIpCreate"
import * as FloatingIpDelete from "@migrator/tasks-openstack/handlers/FloatingIpDelete"
import * as NetworkCreate from "@migrator/tasks-openstack/handlers/NetworkCreate"
import * as NetworkDelete from "@migrator/tasks-openstack/handlers/NetworkDelete"
import * as RouterCreate from "@migrator/tasks-openstack/handlers/RouterCreate"
import * as RouterDelete from "@migrator/tasks-openstack/handlers/RouterDelete"
import * as SecurityGroupCreate from "@migrator/tasks-openstack/handlers/SecurityGroupCreate"
import * as SecurityGroupDelete from "@migrator/tasks-openstack/handlers/SecurityGroupDelete"
import * as SecurityGroupRuleCreate from "@migrator/tasks-openstack/handlers/SecurityGroupRuleCreate"
import * as SubnetCreate from "@migrator/tasks-openstack/handlers/SubnetCreate"
import * as TenantCreate from "@migrator/tasks-openstack/handlers/TenantCreate"
import * as TenantDelete from "@migrator/tasks-openstack/handlers/TenantDelete"
import { Effect, Exit, Random, Schema, type Scope } from "effect"
import { type Cloud, cloud, realCloud, taskLayer, uniqueJobId } from "../support/cloud.ts"

/** A real cloud on a loaded two-core machine takes its time. */
const timeout = realCloud ? 300_000 : 60_000

type Task<A> = Effect.Effect<A, TaskError.TaskError, Clouds.Clouds | TaskContext.TaskContext>

const failure = <A>(exit: Exit.Exit<A, TaskError.TaskError>): TaskError.TaskError => {
  assert.isTrue(Exit.isFailure(exit), "expected the task to fail")
  const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
  assert.isDefined(error)
  return (error as { readonly error: TaskError.TaskError }).error
}

interface Env {
  readonly c: Cloud
  readonly jobId: string
  readonly projectId: string
  /** Runs a handler as task `taskId` of the test's job. */
  readonly as: <A>(taskId: string, task: Task<A>, phase?: "run" | "clear") => Effect.Effect<A, TaskError.TaskError>
  /** Runs `undo` at the end of the test, whatever happens (before the project goes). */
  readonly cleanup: <A>(undo: Task<A>) => Effect.Effect<void, never, Scope.Scope>
  /** Every item of a Neutron collection in the test's project. */
  readonly list: (collection: string, query?: Record<string, string>) => Effect.Effect<ReadonlyArray<Item>>
}

/** The fields of Neutron resources the tests look at. */
interface Item {
  readonly id: string
  readonly name?: string
  readonly description?: string
  readonly tags?: ReadonlyArray<string>
  readonly project_id?: string
  readonly admin_state_up?: boolean
  readonly allocation_pools?: unknown
  readonly dns_nameservers?: unknown
  readonly host_routes?: unknown
  readonly enable_dhcp?: boolean
  readonly external_gateway_info?: { readonly network_id: string } | null
  readonly routes?: unknown
}

/** A fresh project made by `tenant.create`; deleted (with whatever the test left) at the end. */
const environment = (prefix: string): Effect.Effect<Env, TaskError.TaskError, Scope.Scope> =>
  Effect.gen(function* () {
    const c = yield* cloud
    const jobId = yield* uniqueJobId(prefix)
    const as = <A>(taskId: string, task: Task<A>, phase: "run" | "clear" = "run") =>
      task.pipe(Effect.provide(taskLayer(c, { jobId, taskId, phase })))
    const tenant = yield* as("tenant", TenantCreate.run({ name: `mig-${jobId}` }))
    yield* Effect.addFinalizer(() =>
      as("tenant-undo", TenantDelete.run({ projectId: tenant.projectId }), "clear").pipe(Effect.ignore)
    )
    let cleanups = 0
    return {
      c,
      jobId,
      projectId: tenant.projectId,
      as,
      cleanup: (undo) => Effect.addFinalizer(() => as(`cleanup-${++cleanups}`, undo, "clear").pipe(Effect.ignore)),
      list: (collection, query = {}) =>
        c.client
          .list("network", `/${collection}`, collection.replace(/-/g, "_"), {
            project_id: tenant.projectId,
            ...query
          })
          .pipe(
            Effect.map((items) => items as ReadonlyArray<Item>),
            Effect.orDie
          )
    } satisfies Env
  })

const rulesOf = (env: Env, groupId: string) =>
  env.c.client.list("network", "/security-group-rules", "security_group_rules", { security_group_id: groupId }).pipe(
    Effect.flatMap(
      Schema.decodeUnknownEffect(
        Schema.Array(
          Schema.Struct({
            id: Schema.String,
            direction: Schema.String,
            ethertype: Schema.String,
            protocol: Schema.NullOr(Schema.String),
            port_range_min: Schema.NullOr(Schema.Number),
            remote_group_id: Schema.NullOr(Schema.String)
          })
        )
      )
    ),
    Effect.orDie
  )

describe("openstack/network.* and subnet.create", () => {
  it.live(
    "a network and its subnets: create, adopt on a second run, delete with leftover ports, delete again",
    () =>
      Effect.gen(function* () {
        const env = yield* environment("net")
        const { as, projectId } = env
        const input = { projectId, name: "app", description: "app tier", mtu: 1400, adminStateUp: true }
        const net = yield* as("n1", NetworkCreate.run(input))
        yield* env.cleanup(NetworkDelete.run({ networkId: net.networkId }))
        assert.deepStrictEqual(yield* as("n1", NetworkCreate.run(input)), net)
        assert.strictEqual(net.projectId, projectId)
        assert.strictEqual(net.mtu, 1400)

        const networks = yield* env.list("networks", { name: "app" })
        assert.strictEqual(networks.length, 1, "one network, not two")
        assert.include(networks[0]?.tags ?? [], `migrator:${env.jobId}:n1`)
        assert.strictEqual(networks[0].description, `app tier [migrator:${env.jobId}:n1]`)
        assert.strictEqual(networks[0].admin_state_up, true)

        const subnetInput = {
          networkId: net.networkId,
          name: "app-v4",
          cidr: "10.20.0.0/24",
          gatewayIp: "10.20.0.1",
          allocationPools: [{ start: "10.20.0.100", end: "10.20.0.200" }],
          dnsNameservers: ["10.20.0.53"],
          hostRoutes: [{ destination: "10.30.0.0/24", nexthop: "10.20.0.254" }],
          enableDhcp: false
        }
        const sub = yield* as("s1", SubnetCreate.run(subnetInput))
        assert.deepStrictEqual(yield* as("s1", SubnetCreate.run(subnetInput)), sub)
        assert.deepStrictEqual(sub, {
          subnetId: sub.subnetId,
          networkId: net.networkId,
          name: "app-v4",
          cidr: "10.20.0.0/24",
          gatewayIp: "10.20.0.1"
        })
        const noGateway = yield* as(
          "s2",
          SubnetCreate.run({ networkId: net.networkId, name: "app-isolated", cidr: "10.21.0.0/24", gatewayIp: null })
        )
        assert.isNull(noGateway.gatewayIp)
        const subnets = yield* env.list("subnets", { network_id: net.networkId })
        assert.strictEqual(subnets.length, 2, "two subnets, not three")
        const stored = subnets.find((s) => s.id === sub.subnetId)!
        assert.deepStrictEqual(stored.allocation_pools, [{ start: "10.20.0.100", end: "10.20.0.200" }])
        assert.deepStrictEqual(stored.dns_nameservers, ["10.20.0.53"])
        assert.deepStrictEqual(stored.host_routes, [{ destination: "10.30.0.0/24", nexthop: "10.20.0.254" }])
        assert.strictEqual(stored.enable_dhcp, false)
        assert.strictEqual(stored.project_id, projectId, "the subnet belongs to the network's project")

        const overlap = failure(
          yield* Effect.exit(
            as("s3", SubnetCreate.run({ networkId: net.networkId, name: "clash", cidr: "10.20.0.128/25" }))
          )
        )
        assert.isFalse(overlap.retryable)

        // a port an instance left behind, attached to nothing
        yield* env.c.client
          .request("network", "POST", "/ports", {
            body: { port: { network_id: net.networkId, project_id: projectId, name: "leftover" } }
          })
          .pipe(Effect.orDie)

        assert.deepStrictEqual(yield* as("n1-undo", NetworkDelete.run({ networkId: net.networkId }), "clear"), {
          deleted: [net.networkId]
        })
        assert.deepStrictEqual(yield* env.list("networks"), [])
        assert.deepStrictEqual(yield* env.list("subnets"), [])
        assert.deepStrictEqual(yield* env.list("ports", { network_id: net.networkId }), [])
        assert.deepStrictEqual(yield* as("n1-undo", NetworkDelete.run({ networkId: net.networkId }), "clear"), {
          deleted: []
        })
      }).pipe(Effect.scoped),
    timeout
  )

  it.live(
    "delete finds the network by its marker when only the create task is known",
    () =>
      Effect.gen(function* () {
        const env = yield* environment("net")
        const net = yield* env.as("n1", NetworkCreate.run({ projectId: env.projectId, name: "lost-output" }))
        yield* env.cleanup(NetworkDelete.run({ networkId: net.networkId }))
        const undo = NetworkDelete.run({ createdBy: "n1", projectId: env.projectId })
        assert.deepStrictEqual(yield* env.as("n1-undo", undo, "clear"), { deleted: [net.networkId] })
        assert.deepStrictEqual(yield* env.list("networks"), [])
        assert.deepStrictEqual(yield* env.as("n1-undo", undo, "clear"), { deleted: [] })
      }).pipe(Effect.scoped),
    timeout
  )
})

describe("openstack/security-group.* and security-group-rule.create", () => {
  it.live(
    "groups with their rule sets, a rule with another group as remote; adopt; delete twice",
    () =>
      Effect.gen(function* () {
        const env = yield* environment("sg")
        const { as, projectId } = env
        const webInput = {
          projectId,
          name: "web",
          description: "web tier",
          rules: [
            {
              direction: "ingress" as const,
              protocol: "tcp",
              portRangeMin: 80,
              portRangeMax: 80,
              remoteIpPrefix: "0.0.0.0/0"
            },
            {
              direction: "ingress" as const,
              protocol: "tcp",
              portRangeMin: 443,
              portRangeMax: 443,
              remoteIpPrefix: "10.0.0.0/8"
            },
            { direction: "ingress" as const, protocol: "icmp", remoteGroup: "self" as const },
            { direction: "egress" as const, ethertype: "IPv4" as const }
          ]
        }
        const web = yield* as("sg1", SecurityGroupCreate.run(webInput))
        yield* env.cleanup(SecurityGroupDelete.run({ securityGroupId: web.securityGroupId }))
        assert.strictEqual(web.ruleIds.length, 4)
        assert.deepStrictEqual(yield* as("sg1", SecurityGroupCreate.run(webInput)), web)
        const webRules = yield* rulesOf(env, web.securityGroupId)
        assert.sameMembers(
          webRules.map((r) => r.id),
          [...web.ruleIds],
          "exactly the listed rules: Neutron's IPv6 egress rule is gone"
        )
        assert.strictEqual(webRules.find((r) => r.protocol === "icmp")?.remote_group_id, web.securityGroupId)

        const db = yield* as("sg2", SecurityGroupCreate.run({ projectId, name: "db", rules: [] }))
        yield* env.cleanup(SecurityGroupDelete.run({ securityGroupId: db.securityGroupId }))
        assert.deepStrictEqual(yield* rulesOf(env, db.securityGroupId), [], "no rule listed, none kept")
        const plain = yield* as("sg3", SecurityGroupCreate.run({ projectId, name: "plain" }))
        yield* env.cleanup(SecurityGroupDelete.run({ securityGroupId: plain.securityGroupId }))
        assert.sameMembers(
          (yield* rulesOf(env, plain.securityGroupId)).map((r) => `${r.direction}/${r.ethertype}`),
          ["egress/IPv4", "egress/IPv6"],
          "without rules, Neutron's defaults stay"
        )

        const ruleInput = {
          securityGroupId: db.securityGroupId,
          direction: "ingress" as const,
          protocol: "tcp",
          portRangeMin: 5432,
          portRangeMax: 5432,
          remoteGroupId: web.securityGroupId
        }
        const rule = yield* as("r1", SecurityGroupRuleCreate.run(ruleInput))
        assert.deepStrictEqual(yield* as("r1", SecurityGroupRuleCreate.run(ruleInput)), rule)
        // an equal rule is the same rule, whoever asks
        assert.deepStrictEqual(yield* as("r2", SecurityGroupRuleCreate.run(ruleInput)), rule)
        // running the group's task again leaves rules with another group as remote alone
        yield* as("sg2", SecurityGroupCreate.run({ projectId, name: "db", rules: [] }))
        const dbRules = yield* rulesOf(env, db.securityGroupId)
        assert.deepStrictEqual(
          dbRules.map((r) => [r.id, r.remote_group_id]),
          [[rule.ruleId, web.securityGroupId]]
        )
        assert.strictEqual((yield* env.list("security-groups", { name: "web" })).length, 1)
        assert.strictEqual((yield* env.list("security-groups", { name: "db" })).length, 1)

        const both = failure(
          yield* Effect.exit(as("r3", SecurityGroupRuleCreate.run({ ...ruleInput, remoteIpPrefix: "10.0.0.0/8" })))
        )
        assert.strictEqual(both.code, "openstack.invalid-rule")
        const missing = failure(
          yield* Effect.exit(
            as(
              "r4",
              SecurityGroupRuleCreate.run({ ...ruleInput, securityGroupId: "00000000-0000-4000-8000-000000000000" })
            )
          )
        )
        assert.strictEqual(missing.code, "openstack.security-group-not-found")

        assert.deepStrictEqual(
          yield* as("sg1-undo", SecurityGroupDelete.run({ securityGroupId: web.securityGroupId }), "clear"),
          { deleted: [web.securityGroupId] }
        )
        assert.deepStrictEqual(yield* rulesOf(env, db.securityGroupId), [], "rules naming a deleted group go with it")
        assert.deepStrictEqual(
          yield* as("sg2-undo", SecurityGroupDelete.run({ createdBy: "sg2", projectId }), "clear"),
          {
            deleted: [db.securityGroupId]
          }
        )
        assert.deepStrictEqual(
          yield* as("sg1-undo", SecurityGroupDelete.run({ securityGroupId: web.securityGroupId }), "clear"),
          { deleted: [] }
        )
        yield* as("sg3-undo", SecurityGroupDelete.run({ securityGroupId: plain.securityGroupId }), "clear")
        const left = (yield* env.list("security-groups")).filter((g) => g.name !== "default")
        assert.deepStrictEqual(left, [])
      }).pipe(Effect.scoped),
    timeout
  )
})

describe("openstack/router.*", () => {
  it.live(
    "a router with gateway, interfaces and extra routes; adopt; delete takes it apart; delete again",
    () =>
      Effect.gen(function* () {
        const env = yield* environment("rtr")
        const { as, projectId } = env
        const net1 = yield* as("n1", NetworkCreate.run({ projectId, name: "front" }))
        yield* env.cleanup(NetworkDelete.run({ networkId: net1.networkId }))
        const sub1 = yield* as(
          "s1",
          SubnetCreate.run({ networkId: net1.networkId, name: "front", cidr: "10.40.0.0/24" })
        )
        const net2 = yield* as("n2", NetworkCreate.run({ projectId, name: "back" }))
        yield* env.cleanup(NetworkDelete.run({ networkId: net2.networkId }))
        const sub2 = yield* as(
          "s2",
          SubnetCreate.run({ networkId: net2.networkId, name: "back", cidr: "10.41.0.0/24" })
        )

        const input = {
          projectId,
          name: "edge",
          externalGateway: { networkId: env.c.externalNetwork.id },
          interfaces: [{ subnetId: sub1.subnetId }, { subnetId: sub2.subnetId, ipAddress: "10.41.0.254" }],
          routes: [{ destination: "192.168.50.0/24", nexthop: "10.40.0.10" }]
        }
        const router = yield* as("r1", RouterCreate.run(input))
        yield* env.cleanup(RouterDelete.run({ routerId: router.routerId }))
        assert.strictEqual(router.gatewayIps.length, 1)
        assert.deepStrictEqual(
          router.interfaces.map((i) => [i.subnetId, i.ipAddress]),
          [
            [sub1.subnetId, "10.40.0.1"],
            [sub2.subnetId, "10.41.0.254"]
          ]
        )
        assert.deepStrictEqual(yield* as("r1", RouterCreate.run(input)), router)
        const routers = yield* env.list("routers", { name: "edge" })
        assert.strictEqual(routers.length, 1, "one router, not two")
        assert.strictEqual(routers[0].external_gateway_info?.network_id, env.c.externalNetwork.id)
        assert.deepStrictEqual(routers[0].routes, [{ destination: "192.168.50.0/24", nexthop: "10.40.0.10" }])
        const routerPorts = yield* env.c.client
          .list("network", "/ports", "ports", { device_id: router.routerId })
          .pipe(Effect.orDie)
        assert.strictEqual(routerPorts.length, 3, "two interfaces and the gateway, nothing twice")

        // the network is still used by the router: a retryable failure, nothing lost
        const inUse = failure(
          yield* Effect.exit(as("n1-undo", NetworkDelete.run({ networkId: net1.networkId }), "clear"))
        )
        assert.isTrue(inUse.retryable)
        assert.strictEqual((yield* env.list("networks", { name: "front" })).length, 1)

        const undo = RouterDelete.run({ routerId: router.routerId })
        assert.deepStrictEqual(yield* as("r1-undo", undo, "clear"), { deleted: [router.routerId] })
        assert.deepStrictEqual(yield* env.list("routers"), [])
        assert.deepStrictEqual(
          yield* env.c.client.list("network", "/ports", "ports", { device_id: router.routerId }).pipe(Effect.orDie),
          []
        )
        assert.deepStrictEqual(yield* as("r1-undo", undo, "clear"), { deleted: [] })
        yield* as("n1-undo", NetworkDelete.run({ networkId: net1.networkId }), "clear")
        yield* as("n2-undo", NetworkDelete.run({ networkId: net2.networkId }), "clear")
        assert.deepStrictEqual(yield* env.list("networks"), [])
        assert.deepStrictEqual(yield* env.list("ports"), [])
      }).pipe(Effect.scoped),
    timeout
  )

  it.live(
    "a router without gateway or interfaces",
    () =>
      Effect.gen(function* () {
        const env = yield* environment("rtr")
        const router = yield* env.as("r1", RouterCreate.run({ projectId: env.projectId, name: "bare" }))
        yield* env.cleanup(RouterDelete.run({ routerId: router.routerId }))
        assert.deepStrictEqual(router.gatewayIps, [])
        assert.deepStrictEqual(router.interfaces, [])
        assert.deepStrictEqual(yield* env.as("r1-undo", RouterDelete.run({ createdBy: "r1" }), "clear"), {
          deleted: [router.routerId]
        })
      }).pipe(Effect.scoped),
    timeout
  )
})

describe("openstack/floating-ip.*", () => {
  it.live(
    "any address or a given one; adopt; a taken address is refused; delete twice",
    () =>
      Effect.gen(function* () {
        const env = yield* environment("fip")
        const { as, projectId } = env
        const networkId = env.c.externalNetwork.id
        const any = yield* as("f1", FloatingIpCreate.run({ projectId, networkId }))
        yield* env.cleanup(FloatingIpDelete.run({ floatingIpId: any.floatingIpId }))
        assert.deepStrictEqual(yield* as("f1", FloatingIpCreate.run({ projectId, networkId })), any)
        assert.strictEqual(any.networkId, networkId)

        const base = env.c.externalNetwork.cidr.split("/")[0]!.split(".").slice(0, 3).join(".")
        const address = `${base}.${yield* Random.nextIntBetween(150, 250)}`
        const fixed = yield* as("f2", FloatingIpCreate.run({ projectId, networkId, floatingIpAddress: address }))
        yield* env.cleanup(FloatingIpDelete.run({ floatingIpId: fixed.floatingIpId }))
        assert.strictEqual(fixed.floatingIpAddress, address)
        assert.deepStrictEqual(
          yield* as("f2", FloatingIpCreate.run({ projectId, networkId, floatingIpAddress: address })),
          fixed
        )
        const taken = failure(
          yield* Effect.exit(as("f3", FloatingIpCreate.run({ projectId, networkId, floatingIpAddress: address })))
        )
        assert.strictEqual(taken.code, "openstack.address-in-use")
        assert.isFalse(taken.retryable)

        // a plan names the external network; the handler finds its id (the same IP is adopted)
        assert.deepStrictEqual(
          yield* as("f1", FloatingIpCreate.run({ projectId, networkId: env.c.externalNetwork.name })),
          any
        )
        const unknown = failure(
          yield* Effect.exit(as("f4", FloatingIpCreate.run({ projectId, networkId: "no-such-external-network" })))
        )
        assert.strictEqual(unknown.code, "openstack.external-network")
        assert.isFalse(unknown.retryable)

        const fips = yield* env.list("floatingips")
        assert.sameMembers(
          fips.map((f) => f.id),
          [any.floatingIpId, fixed.floatingIpId],
          "two floating IPs, nothing twice"
        )
        assert.deepStrictEqual(
          yield* as("f1-undo", FloatingIpDelete.run({ floatingIpId: any.floatingIpId }), "clear"),
          {
            deleted: [any.floatingIpId]
          }
        )
        assert.deepStrictEqual(yield* as("f2-undo", FloatingIpDelete.run({ createdBy: "f2", projectId }), "clear"), {
          deleted: [fixed.floatingIpId]
        })
        assert.deepStrictEqual(
          yield* as("f1-undo", FloatingIpDelete.run({ floatingIpId: any.floatingIpId }), "clear"),
          {
            deleted: []
          }
        )
        assert.deepStrictEqual(yield* env.list("floatingips"), [])
      }).pipe(Effect.scoped),
    timeout
  )
})
