/**
 * The pre-flight check as operators use it, on the OpenStack simulator:
 * `migrator plan check` with its exit codes (0 pass, 1 fail, 2 bad plan or
 * unknown cluster, 3 cloud unreachable) and `--json`; `POST /api/plans/check`
 * on a running runner; and the scheduled re-check of the plans registered
 * under `plans:`, seen as `migrator_plan_check_failures{plan,check}` in
 * `/metrics`, going back to 0 once the cloud is mended.
 */
import { rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { type EtcdServer, startEtcd } from "@migrator/etcd-store/testing"
import { OpenStackSimulator } from "@migrator/openstack-simulator"
import { OpenStackClient } from "@migrator/tasks-openstack"
import { Effect, Schema } from "effect"
import { FetchHttpClient } from "effect/http"
import { afterAll, beforeAll } from "vitest"
import { migrator } from "./utils/cli.ts"
import { type Service, startService, until } from "./utils/service.ts"

let etcd: EtcdServer
const services: Array<Service> = []
const files: Array<string> = []

beforeAll(async () => {
  etcd = await startEtcd("runner-plan-check")
})
afterAll(async () => {
  await Promise.all(services.map((s) => s.stop("SIGKILL")))
  await etcd?.destroy()
  for (const f of files) rmSync(f, { force: true })
})

const file = (name: string, content: string) => {
  const path = join(tmpdir(), `migrator-plancheck-${process.pid}-${name}`)
  writeFileSync(path, content)
  files.push(path)
  return path
}

const clusterYaml = (sim: OpenStackSimulator.Simulator, authUrl = sim.authUrl) => [
  `    authUrl: ${authUrl}`,
  `    region: ${sim.region}`,
  "    credentials:",
  "      type: password",
  `      username: ${sim.admin.username}`,
  `      userDomainName: ${sim.admin.userDomainName}`,
  `      projectName: ${sim.admin.projectName}`,
  `      projectDomainName: ${sim.admin.projectDomainName}`,
  "      password: { env: PLANCHECK_OS_PASSWORD }"
]

/** A plan that fits the simulator, and one whose router names an external network it does not have. */
const plans = (external: string) => {
  const plan = (name: string, network: string) => ({
    name,
    target: "recovery-1",
    projects: [
      {
        id: "p",
        name: `${name}-project`,
        networks: [{ id: "n", name: "n", subnets: [{ id: "s", cidr: "10.61.0.0/24" }] }],
        routers: [{ id: "r", name: "r", externalGateway: { network }, interfaces: [{ subnet: "s" }] }]
      }
    ]
  })
  return { fits: plan("fits", external), drifted: plan("drifted", "gone") }
}

const Report = Schema.Struct({
  ok: Schema.Boolean,
  cluster: Schema.String,
  summary: Schema.Struct({ pass: Schema.Number, warn: Schema.Number, fail: Schema.Number }),
  checks: Schema.Array(
    Schema.Struct({
      status: Schema.String,
      check: Schema.String,
      path: Schema.String,
      found: Schema.String,
      needed: Schema.String
    })
  )
})

const simulator = Effect.gen(function* () {
  const sim = yield* OpenStackSimulator.make({ stepDelay: "5 millis" })
  const client = yield* OpenStackClient.make(sim.clientConfig()).pipe(Effect.provide(FetchHttpClient.layer))
  const env = { PLANCHECK_OS_PASSWORD: sim.admin.password }
  return { sim, client, env }
})

describe("plan check", () => {
  it.live(
    "migrator plan check: one line per check and the documented exit codes",
    () =>
      Effect.gen(function* () {
        const { sim, env } = yield* simulator
        const config = file(
          "cli.yaml",
          [
            "clusters:",
            "  recovery-1:",
            ...clusterYaml(sim),
            "  down:",
            // nothing listens on port 9 of loopback: the cloud is unreachable
            ...clusterYaml(sim, "http://127.0.0.1:9/v3")
          ].join("\n")
        )
        const { fits, drifted } = plans("public")
        const check = (...args: Array<string>) =>
          Effect.promise(() => migrator(["plan", "check", ...args, "--config", config], env))

        const pass = yield* check(file("fits.json", JSON.stringify(fits)))
        assert.strictEqual(pass.code, 0, pass.stdout + pass.stderr)
        assert.match(
          pass.stdout,
          /^pass {2}exists\.external-network +projects\[0\]\.routers\[0\]\.externalGateway\.network +external network "public"/m
        )
        assert.match(pass.stdout, /^plan fits on recovery-1: \d+ pass, 0 warn, 0 fail$/m)

        const fail = yield* check(file("drifted.yaml", JSON.stringify(drifted)), "--json")
        assert.strictEqual(fail.code, 1, fail.stderr)
        const report = Schema.decodeUnknownSync(Report)(JSON.parse(fail.stdout))
        assert.isFalse(report.ok)
        assert.deepStrictEqual(
          report.checks.filter((c) => c.status === "fail").map((c) => [c.check, c.path]),
          [["exists.external-network", "projects[0].routers[0].externalGateway.network"]]
        )

        const bad = yield* check(file("bad.json", JSON.stringify({ ...fits, projects: [] })), "--json")
        assert.strictEqual(bad.code, 2)
        assert.deepStrictEqual(JSON.parse(bad.stdout).problems[0].path, "projects")

        const unknown = yield* check(file("fits2.json", JSON.stringify(fits)), "--cluster", "elsewhere")
        assert.strictEqual(unknown.code, 2)
        assert.match(
          unknown.stderr,
          /no cluster "elsewhere" in the runner configuration \(clusters: recovery-1, down\)/
        )

        const down = yield* check(file("fits3.json", JSON.stringify(fits)), "--cluster", "down")
        assert.strictEqual(down.code, 3, down.stdout + down.stderr)
        assert.match(down.stderr, /cluster down is unreachable/)
      }).pipe(Effect.scoped),
    120_000
  )

  it.live(
    "POST /api/plans/check, and the scheduled re-check's metric follows the recovery cloud",
    () =>
      Effect.gen(function* () {
        const { sim, client, env } = yield* simulator
        const { fits, drifted } = plans("spare")
        // the registered plan fits while the external network "spare" exists
        const spare = yield* client.request("network", "POST", "/networks", {
          body: { network: { name: "spare", "router:external": true } },
          schema: Schema.Struct({ network: Schema.Struct({ id: Schema.String }) })
        })
        const registered = file("registered.json", JSON.stringify(fits))
        const config = file(
          "runner.yaml",
          [
            "etcd:",
            `  endpoints: [${etcd.endpoint}]`,
            "  prefix: plan-check/",
            "plugins: [openstack]",
            "runnerId: plan-check",
            "plans:",
            "  interval: 500ms",
            `  files: [${registered}]`,
            "clusters:",
            "  recovery-1:",
            ...clusterYaml(sim)
          ].join("\n")
        )
        const service = yield* Effect.promise(() => startService(["--config", config], env))
        services.push(service)
        const post = (body: unknown) =>
          Effect.promise(async () => {
            const r = await fetch(`${service.base}/api/plans/check`, {
              method: "POST",
              headers: { "content-type": "application/json" },
              body: JSON.stringify(body)
            })
            return { status: r.status, body: (await r.json()) as Record<string, unknown> }
          })
        const ok = yield* post({ plan: fits })
        assert.strictEqual(ok.status, 200, JSON.stringify(ok.body))
        assert.isTrue(Schema.decodeUnknownSync(Report)(ok.body).ok)
        const notOk = yield* post({ plan: JSON.stringify(drifted), cluster: "recovery-1" })
        assert.strictEqual(notOk.status, 200)
        assert.isFalse(Schema.decodeUnknownSync(Report)(notOk.body).ok)
        const invalid = yield* post({ plan: { target: "recovery-1", projects: [] } })
        assert.strictEqual(invalid.status, 400)
        assert.strictEqual(invalid.body.reason, "PlanInvalid")
        const unknown = yield* post({ plan: fits, cluster: "nowhere" })
        assert.strictEqual(unknown.status, 400)
        assert.strictEqual(unknown.body.reason, "UnknownCluster")

        const gauge = (text: string) =>
          /^migrator_plan_check_failures\{[^}]*check="exists\.external-network"[^}]*\} (\d+)/m.exec(text)?.[1]
        const metric = (want: string) =>
          Effect.promise(() =>
            until(`migrator_plan_check_failures = ${want}`, async () => {
              const text = await (await fetch(`${service.base}/metrics`)).text()
              return gauge(text) === want ? text : undefined
            })
          )
        // the recovery site drifts: the external network goes, the next re-check fails
        yield* client.request("network", "DELETE", `/networks/${spare.network.id}`)
        const failing = yield* metric("1")
        assert.match(failing, /migrator_plan_check_failures\{[^}]*plan="fits"/)
        assert.match(
          service.output(),
          /plan fits does not fit recovery-1: projects\[0\]\.routers\[0\]\.externalGateway\.network/
        )
        // mended: back to 0
        yield* client.request("network", "POST", "/networks", {
          body: { network: { name: "spare", "router:external": true } }
        })
        yield* metric("0")
      }).pipe(Effect.scoped),
    120_000
  )
})
