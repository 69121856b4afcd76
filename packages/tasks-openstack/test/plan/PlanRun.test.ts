/**
 * The two-projects example run by the engine on the in-memory store with the
 * real handlers against the OpenStack simulator: the job completes, the
 * resources exist as planned, a second job of the same plan shares the
 * shareable ones, and rolling both back leaves nothing behind.
 */
import { readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { Engine, Job, Jobs, Keys, Store, TaskRegistry } from "@migrator/core"
import { OpenStackSimulator } from "@migrator/openstack-simulator"
import { Clouds, OpenStackClient } from "@migrator/tasks-openstack"
import * as FlavorCreate from "@migrator/tasks-openstack/handlers/FlavorCreate"
import * as FlavorDelete from "@migrator/tasks-openstack/handlers/FlavorDelete"
import * as FloatingIpCreate from "@migrator/tasks-openstack/handlers/FloatingIpCreate"
import * as FloatingIpDelete from "@migrator/tasks-openstack/handlers/FloatingIpDelete"
import * as InstanceCreate from "@migrator/tasks-openstack/handlers/InstanceCreate"
import * as InstanceDelete from "@migrator/tasks-openstack/handlers/InstanceDelete"
import * as InstanceStop from "@migrator/tasks-openstack/handlers/InstanceStop"
import * as KeypairCreate from "@migrator/tasks-openstack/handlers/KeypairCreate"
import * as KeypairDelete from "@migrator/tasks-openstack/handlers/KeypairDelete"
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
import * as VolumeCopy from "@migrator/tasks-openstack/handlers/VolumeCopy"
import * as VolumeDeleteCopy from "@migrator/tasks-openstack/handlers/VolumeDeleteCopy"
import * as VolumeImport from "@migrator/tasks-openstack/handlers/VolumeImport"
import * as VolumeUnmanage from "@migrator/tasks-openstack/handlers/VolumeUnmanage"
import * as Plan from "@migrator/tasks-openstack/plan/Plan"
import * as PlanBuilder from "@migrator/tasks-openstack/plan/PlanBuilder"
import * as PlanHandlers from "@migrator/tasks-openstack/plan/PlanHandlers"
import { Effect, Layer, Schedule, Schema } from "effect"
import { FetchHttpClient } from "effect/http"

const handlers = Layer.mergeAll(
  TenantCreate.layer,
  TenantDelete.layer,
  SecurityGroupCreate.layer,
  SecurityGroupDelete.layer,
  SecurityGroupRuleCreate.layer,
  NetworkCreate.layer,
  NetworkDelete.layer,
  SubnetCreate.layer,
  RouterCreate.layer,
  RouterDelete.layer,
  FloatingIpCreate.layer,
  FloatingIpDelete.layer,
  KeypairCreate.layer,
  KeypairDelete.layer,
  FlavorCreate.layer,
  FlavorDelete.layer,
  VolumeCopy.layer,
  VolumeDeleteCopy.layer,
  VolumeImport.layer,
  VolumeUnmanage.layer,
  InstanceCreate.layer,
  InstanceStop.layer,
  InstanceDelete.layer
)

const keys = Keys.make("plan-run/")
const Created = Schema.Struct({ volume: Schema.Struct({ id: Schema.String }) })

/** The example with the simulator's ids: source volumes made for it, the external network. */
const examplePlan = (sim: OpenStackSimulator.Simulator, client: OpenStackClient.Client) =>
  Effect.gen(function* () {
    let text = readFileSync(new URL("../../examples/plans/two-projects.json", import.meta.url), "utf8")
    for (const name of ["source-volume-web", "source-volume-db", "source-volume-ops"]) {
      const { volume } = yield* client.request("volumev3", "POST", "/volumes", {
        body: { volume: { size: 1, name } },
        schema: Created
      })
      text = text.replaceAll(`"${name}"`, `"${volume.id}"`)
    }
    // router.create and floating-ip.create take the external network's id
    text = text.replaceAll('"network": "public"', `"network": "${sim.externalNetworkId}"`)
    return yield* Plan.parse(text)
  })

const awaitState = (id: string, done: (s: Job.State) => boolean) =>
  Jobs.read(keys, id).pipe(
    Effect.repeat({ until: (v) => done(v.state.state), schedule: Schedule.spaced("50 millis") }),
    Effect.timeout("120 seconds")
  )

const failures = (view: Jobs.JobView) =>
  view.tasks
    .filter((t) => t.result !== undefined && t.result.result !== "success" && t.result.result !== "skipped")
    .map((t) => `${t.spec.id}: ${t.result?.result} ${t.result?.reason?.message ?? ""}`)

/** A simulator with the example's sources, a runner on it, and a way to run a plan's job to its end. */
const setUp = Effect.gen(function* () {
  const sim = yield* OpenStackSimulator.make({ stepDelay: "5 millis" })
  const client = yield* OpenStackClient.make(
    sim.clientConfig({ retry: { baseDelay: "5 millis", maxDelay: "100 millis" } })
  ).pipe(Effect.provide(FetchHttpClient.layer))
  const plan = yield* examplePlan(sim, client)
  // Neutron makes the admin project's default group when the runner first lists groups: make it now
  yield* client.list("network", "/security-groups", "security_groups")
  const before = yield* sim.inventory
  yield* Engine.run({ runnerId: "r1", prefix: keys.prefix, leaseTtl: "5 seconds" }).pipe(
    Effect.provide(
      handlers.pipe(
        Layer.provide(Clouds.layerClients({ [plan.target]: client })),
        Layer.provideMerge(TaskRegistry.layer)
      )
    ),
    Effect.forkScoped
  )
  const submit = (id: string, document: Plan.Plan) =>
    Effect.gen(function* () {
      const built = yield* PlanBuilder.buildJob(document, { jobId: id, types: PlanHandlers.inputs })
      yield* Jobs.submit(keys, built)
      const view = yield* awaitState(id, Job.isTerminal)
      assert.deepStrictEqual(failures(view), [])
      assert.strictEqual(view.state.outcome, "succeeded")
      return view
    })
  const clear = (id: string, operation: "rollback" | "confirm") =>
    Effect.gen(function* () {
      yield* Jobs.request(keys, id, operation)
      const view = yield* awaitState(id, (s) => s === "cleared" || s === "clear-failed")
      assert.deepStrictEqual(failures(view), [])
      assert.strictEqual(view.state.state, "cleared")
      return view
    })
  return { sim, client, plan, before, submit, clear }
})

describe("PlanBuilder: a built plan runs on the simulator", () => {
  it.live(
    "two jobs of the two-projects plan: run, share, roll back, nothing left",
    () =>
      Effect.gen(function* () {
        const { sim, plan, before, submit, clear } = yield* setUp
        const first = yield* submit("first", plan)
        const after = yield* sim.inventory
        assert.strictEqual(after.servers.length - before.servers.length, 3)
        assert.strictEqual(after.volumes.length - before.volumes.length, 3)
        assert.strictEqual(after.routers.length - before.routers.length, 2)
        const output = (id: string) =>
          first.tasks.find((t) => t.spec.id === id)?.result?.output as Record<string, unknown>
        const web = after.servers.find((s) => s.id === output("instance:web-1").serverId)
        assert.isDefined(web)

        // a second job of the plan (its instances at other addresses: the networks are the same) adopts every
        // shared resource and makes its own volumes and servers
        const elsewhere: Plan.Plan = {
          ...plan,
          projects: plan.projects.map((p) => ({
            ...p,
            instances: (p.instances ?? []).map((i) => ({
              ...i,
              nics: (i.nics ?? []).map(({ fixedIp: _, ...nic }) => nic)
            }))
          }))
        }
        yield* submit("second", elsewhere)
        const both = yield* sim.inventory
        assert.strictEqual(both.projects.length, after.projects.length)
        assert.strictEqual(both.networks.length, after.networks.length)
        assert.strictEqual(both.subnets.length, after.subnets.length)
        assert.strictEqual(both.servers.length - after.servers.length, 3)

        // rolling the first back keeps what the second holds; rolling the second back removes the rest
        yield* clear("first", "rollback")
        const middle = yield* sim.inventory
        const held = yield* (yield* Store.Store).range(keys.sharedPrefix)
        assert.strictEqual(
          held.kvs.length,
          first.tasks.filter((t) => t.spec.shared !== undefined && t.spec.phase === "run").length
        )
        assert.strictEqual(middle.networks.length, after.networks.length)
        assert.strictEqual(middle.servers.length, after.servers.length)

        yield* clear("second", "rollback")
        const end = yield* sim.inventory
        for (const kind of [
          "projects",
          "networks",
          "subnets",
          "routers",
          "servers",
          "ports",
          "floatingips",
          "securityGroups",
          "flavors",
          "keypairs"
        ] as const) {
          assert.strictEqual(end[kind].length, before[kind].length, kind)
        }
        // no shared record is left: subnets too were released
        const shared = yield* (yield* Store.Store).range(keys.sharedPrefix)
        assert.deepStrictEqual(
          shared.kvs.map((kv) => kv.key),
          []
        )
        // only the source volumes made for the test remain
        assert.strictEqual(end.volumes.length, before.volumes.length)
      }).pipe(Effect.scoped, Effect.provide(Store.layerMemory)),
    120_000
  )

  it.live(
    "confirm keeps what the recovered instances use and deletes the rest",
    () =>
      Effect.gen(function* () {
        const { sim, plan, submit, clear } = yield* setUp
        const run = yield* submit("kept", plan)
        const output = (id: string) =>
          run.tasks.find((t) => t.spec.id === id)?.result?.output as Record<string, string> | undefined
        const made = yield* sim.inventory
        const cleared = yield* clear("kept", "confirm")
        const ran = cleared.tasks.filter((t) => t.spec.phase === "clear" && t.result?.result === "success")
        assert.sameMembers(
          ran.map((t) => t.spec.id),
          ["undo:network:net-spare", "undo:router:router-internal"]
        )
        const end = yield* sim.inventory
        assert.isFalse(end.networks.some((n) => n.id === output("network:net-spare")?.networkId))
        assert.isFalse(end.routers.some((r) => r.id === output("router:router-internal")?.routerId))
        assert.strictEqual(end.servers.length, made.servers.length)
        assert.strictEqual(end.volumes.length, made.volumes.length)
        assert.strictEqual(end.projects.length, made.projects.length)
        assert.strictEqual(end.networks.length, made.networks.length - 1)
      }).pipe(Effect.scoped, Effect.provide(Store.layerMemory)),
    120_000
  )
})
