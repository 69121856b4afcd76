/**
 * End to end, as operators run it: a recovery plan built and submitted with
 * `migrator plan submit`, run by two `migrator run --plugins openstack`
 * processes, followed with `migrator job watch`, rolled back, and the cloud
 * checked through its API. A second job sharing resources with the first keeps
 * them through the first one's rollback and removes them on its own.
 *
 * Before the first job runs, `migrator plan check` finds that the plan fits
 * the recovery cloud (exit 0). The inventory compared at the end includes
 * the projects with quotas of their own (Neutron), and the deleted projects'
 * Cinder quotas are back to the defaults.
 *
 * On the OpenStack simulator by default; against a real OpenStack when the
 * openrc variables are set (`scripts/test-openstack.sh` does). The fault run
 * (a create that times out after it succeeded, a 503 burst, a server going to
 * ERROR) needs the simulator's fault injection.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { type EtcdServer, startEtcd } from "@migrator/etcd-store/testing"
import { OpenStackSimulator } from "@migrator/openstack-simulator"
import { OpenStackClient } from "@migrator/tasks-openstack"
import { ConfigProvider, Effect, Schedule, Schema } from "effect"
import { FetchHttpClient } from "effect/http"
import { afterAll, beforeAll } from "vitest"
import { migrator } from "./utils/cli.ts"
import { type Service, startService } from "./utils/service.ts"

const realCloud = (process.env.OS_AUTH_URL ?? "") !== ""
const examplePlan = new URL("../../tasks-openstack/examples/plans/two-projects.json", import.meta.url)

let etcd: EtcdServer
const services: Array<Service> = []
let prefixes = 0

beforeAll(async () => {
  etcd = await startEtcd("runner-openstack-e2e")
})
afterAll(async () => {
  await Promise.all(services.map((s) => s.stop("SIGKILL")))
  await etcd?.destroy()
  for (const path of written) rmSync(path, { force: true })
})

interface Cloud {
  readonly client: OpenStackClient.Client
  /** The `clusters` entry of the runners' configuration file (YAML lines). */
  readonly clusterYaml: ReadonlyArray<string>
  /** Environment of the runner processes (the password, never in the file). */
  readonly env: Record<string, string>
  readonly sim: OpenStackSimulator.Simulator | undefined
}

const simulatedCloud = Effect.gen(function* () {
  const sim = yield* OpenStackSimulator.make({ stepDelay: "20 millis" })
  const client = yield* OpenStackClient.make(sim.clientConfig()).pipe(Effect.provide(FetchHttpClient.layer))
  return {
    client,
    clusterYaml: [
      `    authUrl: ${sim.authUrl}`,
      `    region: ${sim.region}`,
      "    computeMicroversion: '2.79'",
      "    volumeMicroversion: '3.59'",
      "    credentials:",
      "      type: password",
      `      username: ${sim.admin.username}`,
      `      userDomainName: ${sim.admin.userDomainName}`,
      `      projectName: ${sim.admin.projectName}`,
      `      projectDomainName: ${sim.admin.projectDomainName}`,
      "      password: { env: E2E_OS_PASSWORD }"
    ],
    env: { E2E_OS_PASSWORD: sim.admin.password },
    sim
  } satisfies Cloud
})

const realOpenStack = Effect.gen(function* () {
  const config = yield* OpenStackClient.openRcConfig.pipe(
    Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv()),
    Effect.orDie
  )
  const client = yield* OpenStackClient.make({
    ...config,
    computeMicroversion: "2.79",
    volumeMicroversion: "3.59"
  }).pipe(Effect.provide(FetchHttpClient.layer))
  const env = (name: string, fallback = "") => process.env[name] ?? fallback
  return {
    client,
    clusterYaml: [
      `    authUrl: ${env("OS_AUTH_URL")}`,
      ...(env("OS_REGION_NAME") === "" ? [] : [`    region: ${env("OS_REGION_NAME")}`]),
      "    computeMicroversion: '2.79'",
      "    volumeMicroversion: '3.59'",
      "    credentials:",
      "      type: password",
      `      username: ${env("OS_USERNAME")}`,
      `      userDomainName: ${env("OS_USER_DOMAIN_NAME", "Default")}`,
      `      projectName: ${env("OS_PROJECT_NAME")}`,
      `      projectDomainName: ${env("OS_PROJECT_DOMAIN_NAME", "Default")}`,
      "      password: { env: E2E_OS_PASSWORD }"
    ],
    env: { E2E_OS_PASSWORD: env("OS_PASSWORD") },
    sim: undefined
  } satisfies Cloud
})

/** What the cloud holds, by kind, as ids listed through the API (admin, every project). */
const inventory = (client: OpenStackClient.Client) =>
  Effect.gen(function* () {
    const ids = (items: ReadonlyArray<unknown>) => items.map((i) => (i as { id: string }).id).sort()
    const all = { all_tenants: "true" }
    return {
      projects: ids(yield* client.list("identity", "/projects", "projects")),
      servers: ids(yield* client.list("compute", "/servers/detail", "servers", all)),
      flavors: ids(yield* client.list("compute", "/flavors", "flavors", { is_public: "None" })),
      keypairs: (yield* client.list("compute", "/os-keypairs", "keypairs"))
        .map((k) => (k as { keypair: { name: string } }).keypair.name)
        .sort(),
      volumes: ids(yield* client.list("volumev3", "/volumes", "volumes", all)),
      networks: ids(yield* client.list("network", "/networks", "networks")),
      subnets: ids(yield* client.list("network", "/subnets", "subnets")),
      routers: ids(yield* client.list("network", "/routers", "routers")),
      ports: ids(yield* client.list("network", "/ports", "ports")),
      floatingips: ids(yield* client.list("network", "/floatingips", "floatingips")),
      securityGroups: ids(yield* client.list("network", "/security-groups", "security_groups")),
      securityGroupRules: ids(yield* client.list("network", "/security-group-rules", "security_group_rules")),
      // projects with Neutron quotas of their own (tenant.delete must remove what tenant.create set)
      networkQuotas: (yield* client.list("network", "/quotas", "quotas"))
        .map((q) => (q as { project_id: string }).project_id)
        .sort()
    }
  })
type Inventory = Effect.Success<ReturnType<typeof inventory>>

const Created = Schema.Struct({ volume: Schema.Struct({ id: Schema.String }) })
const VolumeStatus = Schema.Struct({ volume: Schema.Struct({ status: Schema.String }) })

/** The example plan on this cloud, with source volumes made for it (the external network is named `public` on both clouds). */
const planFor = (cloud: Cloud, name: string) =>
  Effect.gen(function* () {
    let text = readFileSync(examplePlan, "utf8")
    for (const source of ["source-volume-web", "source-volume-db", "source-volume-ops"]) {
      const { volume } = yield* cloud.client.request("volumev3", "POST", "/volumes", {
        body: { volume: { size: 1, name: `${name}-${source}` } },
        schema: Created
      })
      // the sources are the test's own: gone again when it ends, so repeated runs stay within quota
      yield* Effect.addFinalizer(() =>
        cloud.client.request("volumev3", "DELETE", `/volumes/${volume.id}`).pipe(Effect.ignore)
      )
      yield* cloud.client
        .request("volumev3", "GET", `/volumes/${volume.id}`, { schema: VolumeStatus })
        .pipe(
          Effect.repeat({ until: (v) => v.volume.status === "available", schedule: Schedule.spaced("200 millis") }),
          Effect.timeout("60 seconds")
        )
      text = text.replaceAll(`"${source}"`, `"${volume.id}"`)
    }
    const plan = JSON.parse(text) as {
      readonly projects: ReadonlyArray<{ readonly instances?: ReadonlyArray<unknown>; quotas?: unknown }>
    }
    // quotas set on the recovered project, in each service: the rollback must remove them again
    plan.projects[0]!.quotas = { compute: { instances: 20 }, network: { port: 120 }, volume: { volumes: 40 } }
    return plan
  })

const written: Array<string> = []
const file = (name: string, content: string) => {
  const path = join(tmpdir(), `migrator-e2e-${process.pid}-${name}`)
  writeFileSync(path, content)
  written.push(path)
  return path
}

const start = (cloud: Cloud, prefix: string, runnerId: string) =>
  Effect.promise(async () => {
    const config = file(
      `${runnerId}.yaml`,
      [
        "etcd:",
        `  endpoints: [${etcd.endpoint}]`,
        `  prefix: ${prefix}`,
        "plugins: [openstack]",
        `runnerId: ${runnerId}`,
        "leaseTtl: 5s",
        "clusters:",
        "  recovery-1:",
        ...cloud.clusterYaml
      ].join("\n")
    )
    const service = await startService(["--config", config], cloud.env)
    services.push(service)
    return service
  })

const cli = (prefix: string, ...args: Array<string>) =>
  Effect.promise(() => migrator([...args, "--etcd", etcd.endpoint, "--prefix", prefix]))

const JobJson = Schema.Struct({
  state: Schema.String,
  outcome: Schema.optional(Schema.NullOr(Schema.String)),
  tasks: Schema.Array(
    Schema.Struct({
      id: Schema.String,
      type: Schema.String,
      result: Schema.optional(Schema.NullOr(Schema.String)),
      output: Schema.optional(Schema.Unknown),
      attempt: Schema.optional(Schema.Number)
    })
  )
})

const show = (prefix: string, id: string) =>
  Effect.map(cli(prefix, "job", "show", id, "--json"), (r) => Schema.decodeUnknownSync(JobJson)(JSON.parse(r.stdout)))

/** Submits the plan and follows the job to its end with `job watch`; returns the job as `job show --json` sees it. */
const runPlan = (prefix: string, plan: unknown, name: string) =>
  Effect.gen(function* () {
    const submitted = yield* cli(prefix, "plan", "submit", file(`${name}.json`, JSON.stringify(plan)))
    assert.strictEqual(submitted.code, 0, submitted.stderr)
    const id = submitted.stdout.trim()
    const watched = yield* cli(prefix, "job", "watch", id)
    const job = yield* show(prefix, id)
    // clear tasks have no result yet
    const failed = job.tasks.filter((t) => t.result != null && t.result !== "success" && t.result !== "skipped")
    assert.deepStrictEqual(
      failed.map((t) => `${t.id}: ${t.result}`),
      [],
      watched.stdout.split("\n").slice(-20).join("\n")
    )
    assert.strictEqual(watched.code, 0)
    assert.strictEqual(job.state, "completed")
    assert.strictEqual(job.outcome, "succeeded")
    return { id, job }
  })

const rollback = (prefix: string, id: string) =>
  Effect.gen(function* () {
    const requested = yield* cli(prefix, "job", "rollback", id)
    assert.strictEqual(requested.code, 0, requested.stderr)
    yield* cli(prefix, "job", "watch", id)
    const job = yield* show(prefix, id)
    assert.strictEqual(job.state, "cleared", JSON.stringify(job.tasks.filter((t) => t.result === "failed")))
    return job
  })

const ServerStatus = Schema.Struct({ server: Schema.Struct({ status: Schema.String }) })

const serversOf = (job: typeof JobJson.Type) =>
  job.tasks
    .filter((t) => t.type === "openstack/instance.create")
    .map((t) => (t.output as { serverId: string }).serverId)

const added = (before: Inventory, after: Inventory) =>
  Object.fromEntries(
    Object.entries(after).map(([kind, ids]) => [
      kind,
      (ids as ReadonlyArray<string>).filter(
        (id) => !(before[kind as keyof Inventory] as ReadonlyArray<string>).includes(id)
      )
    ])
  ) as unknown as Record<keyof Inventory, ReadonlyArray<string>>

describe("a recovery plan end to end", () => {
  it.live(
    `two jobs sharing resources run, roll back and leave the ${realCloud ? "real OpenStack" : "simulated cloud"} as they found it`,
    () =>
      Effect.gen(function* () {
        const cloud = realCloud ? yield* realOpenStack : yield* simulatedCloud
        const prefix = `e2e-${++prefixes}/`
        const first = yield* planFor(cloud, "first")
        const second = yield* planFor(cloud, "second")
        // the admin project's own default group is made on first use: before the baseline
        yield* cloud.client.list("network", "/security-groups", "security_groups")
        const before = yield* inventory(cloud.client)
        yield* start(cloud, prefix, "e2e-a")
        yield* start(cloud, prefix, "e2e-b")

        // pre-flight: the plan fits the recovery cloud
        const checkConfig = file("check.yaml", ["clusters:", "  recovery-1:", ...cloud.clusterYaml].join("\n"))
        const checked = yield* Effect.promise(() =>
          migrator(
            ["plan", "check", file("first-check.json", JSON.stringify(first)), "--config", checkConfig],
            cloud.env
          )
        )
        assert.strictEqual(checked.code, 0, checked.stdout + checked.stderr)
        assert.match(checked.stdout, /^plan two-projects on recovery-1: \d+ pass, \d+ warn, 0 fail$/m)

        const one = yield* runPlan(prefix, first, "first")
        const afterOne = yield* inventory(cloud.client)
        const servers = serversOf(one.job)
        assert.strictEqual(servers.length, 3)
        for (const id of servers) {
          const { server } = yield* cloud.client.request("compute", "GET", `/servers/${id}`, { schema: ServerStatus })
          assert.strictEqual(server.status, "ACTIVE")
        }
        const made = added(before, afterOne)
        assert.strictEqual(made.servers.length, 3)
        assert.strictEqual(made.volumes.length, 3)
        assert.strictEqual(made.projects.length, 2)
        assert.strictEqual(made.flavors.length, 1)

        // the second job's instances take other addresses; its networks, flavor and the rest are shared
        const elsewhere = {
          ...second,
          projects: second.projects.map((p) => ({
            ...p,
            instances: (p.instances ?? []).map((i) => {
              const instance = i as { nics?: ReadonlyArray<Record<string, unknown>> }
              return { ...instance, nics: (instance.nics ?? []).map(({ fixedIp: _, ...nic }) => nic) }
            })
          }))
        }
        const two = yield* runPlan(prefix, elsewhere, "second")
        const afterTwo = yield* inventory(cloud.client)
        const more = added(afterOne, afterTwo)
        assert.strictEqual(more.servers.length, 3)
        assert.strictEqual(more.networks.length, 0)
        assert.strictEqual(more.flavors.length, 0)
        assert.strictEqual(more.projects.length, 0)

        // the first rollback keeps what the second job holds
        yield* rollback(prefix, one.id)
        const middle = yield* inventory(cloud.client)
        for (const id of made.networks) assert.include(middle.networks, id)
        for (const id of made.flavors) assert.include(middle.flavors, id)
        for (const id of servers) assert.notInclude(middle.servers, id)

        // the second removes the rest: the cloud is back to its baseline
        yield* rollback(prefix, two.id)
        const end = yield* inventory(cloud.client)
        assert.deepStrictEqual(end, before)
        // Cinder answers for a deleted project too (a real Nova refuses: not a valid project): the defaults again
        for (const project of made.projects) {
          for (const service of ["volumev3"] as const) {
            const now = yield* cloud.client.request(service, "GET", `/os-quota-sets/${project}`)
            const defaults = yield* cloud.client.request(service, "GET", `/os-quota-sets/${project}/defaults`)
            const { id: _a, ...shown } = (now as { quota_set: Record<string, unknown> }).quota_set
            const { id: _b, ...standard } = (defaults as { quota_set: Record<string, unknown> }).quota_set
            assert.deepStrictEqual(shown, standard, `${service} quotas of deleted project ${project}`)
          }
        }
      }).pipe(Effect.scoped),
    900_000
  )

  it.live(
    "with a create that times out after it succeeded, a 503 burst and a server going to ERROR: no duplicate, no orphan",
    () =>
      Effect.gen(function* () {
        const cloud = yield* simulatedCloud
        const sim = cloud.sim!
        const prefix = `e2e-${++prefixes}/`
        const plan = yield* planFor(cloud, "faults")
        yield* cloud.client.list("network", "/security-groups", "security_groups")
        const before = yield* inventory(cloud.client)
        yield* sim.faults.timeoutAfterSideEffect({
          service: "compute",
          method: "POST",
          path: "/servers",
          mode: "close"
        })
        yield* sim.faults.timeoutAfterSideEffect({
          service: "network",
          method: "POST",
          path: "/networks",
          mode: "close"
        })
        yield* sim.faults.failNext({ service: "network", path: "**", status: 503, times: 4, retryAfter: 1 })
        yield* sim.faults.failNext({ service: "volumev3", method: "POST", path: "**", status: 503, times: 3 })
        yield* sim.faults.failServers({ name: /web-1/, message: "No valid host was found", times: 1 })
        yield* start(cloud, prefix, "f-a")
        yield* start(cloud, prefix, "f-b")

        const run = yield* runPlan(prefix, plan, "faults")
        const after = yield* inventory(cloud.client)
        const made = added(before, after)
        // exactly what the plan asks for: nothing created twice, no failed server left behind
        assert.strictEqual(made.servers.length, 3)
        assert.strictEqual(made.volumes.length, 3)
        assert.strictEqual(made.networks.length, 4)
        assert.strictEqual(made.projects.length, 2)
        // every fault was met: answers lost after the side effect, 503s, a server built into ERROR
        const requests = yield* sim.requests
        const lost = requests.filter((r) => r.status === 0 && r.method === "POST").map((r) => r.route)
        assert.includeMembers(lost, ["/servers", "/networks"])
        assert.isAtLeast(requests.filter((r) => r.status === 503).length, 7)
        // three boots, and one more for the server that went to ERROR (removed first); the boot whose
        // answer was lost was adopted, not repeated
        const boots = requests.filter((r) => r.method === "POST" && r.route === "/servers")
        assert.strictEqual(boots.length, 4)
        const removed = requests.filter((r) => r.method === "DELETE" && /^\/servers\/[^/]+$/.test(r.route))
        assert.strictEqual(removed.length, 1)

        yield* rollback(prefix, run.id)
        assert.deepStrictEqual(yield* inventory(cloud.client), before)
      }).pipe(Effect.scoped),
    300_000
  )
})
