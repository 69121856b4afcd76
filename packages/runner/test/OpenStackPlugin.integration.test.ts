import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { EtcdStore } from "@migrator/etcd-store"
import { type EtcdServer, startEtcd } from "@migrator/etcd-store/testing"
import { OpenStackSimulator } from "@migrator/openstack-simulator"
import { Effect } from "effect"
import { afterAll, beforeAll } from "vitest"
import { type Service, startService, until } from "./utils/service.ts"

// the built-in `openstack` plugin on clusters from the configuration, against the OpenStack simulator

let etcd: EtcdServer
const services: Array<Service> = []
/** The runner's configuration file: removed when the file ends. */
const dir = mkdtempSync(join(tmpdir(), "migrator-openstack-plugin-"))

beforeAll(async () => {
  etcd = await startEtcd("runner-openstack-tests")
})
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  await Promise.all(services.map((s) => s.stop("SIGKILL")))
  await etcd?.destroy()
})

const PASSWORD = "sim-Admin-Pa55-31337"
const APP_SECRET = "sim-AppCred-Secret-8d2f"

describe("the openstack plugin", () => {
  it.live("runs OpenStack tasks on the cluster a job targets, with password and application-credential auth", () =>
    Effect.gen(function* () {
      const sim = yield* OpenStackSimulator.make({
        stepDelay: "10 millis",
        adminPassword: PASSWORD,
        applicationCredentialSecret: APP_SECRET
      })
      const config = join(dir, "runner.yaml")
      writeFileSync(
        config,
        [
          "etcd:",
          `  endpoints: [${etcd.endpoint}]`,
          "  prefix: os/",
          "plugins: [openstack]",
          "log: { level: debug }",
          "clusters:",
          "  dr-password:",
          `    authUrl: ${sim.authUrl}`,
          `    region: ${sim.region}`,
          "    computeMicroversion: '2.79'",
          "    credentials:",
          "      type: password",
          "      username: admin",
          "      userDomainName: Default",
          "      projectName: admin",
          "      projectDomainName: Default",
          "      password: { env: DR_PASSWORD }",
          "  dr-appcred:",
          `    authUrl: ${sim.authUrl}`,
          `    credentials: { type: application-credential, id: ${sim.applicationCredential.id}, secret: ${APP_SECRET} }`
        ].join("\n")
      )
      const service = yield* Effect.promise(() =>
        startService(["--config", config, "--runner-id", "os-1"], { DR_PASSWORD: PASSWORD })
      )
      services.push(service)

      const run = (id: string, target: string, name: string) =>
        Effect.promise(async () => {
          const r = await fetch(`${service.base}/api/jobs`, {
            method: "POST",
            body: JSON.stringify({
              id,
              target,
              tasks: [{ id: "net", type: "openstack/network.create", input: { name } }]
            })
          })
          assert.strictEqual(r.status, 201, await r.text())
          return await until(`job ${id}`, async () => {
            const job = (await (await fetch(`${service.base}/api/jobs/${id}`)).json()) as {
              state: string
              outcome?: string
              tasks: Array<{ output: { networkId?: string } | null; reason: unknown }>
            }
            return job.state === "completed" ? job : undefined
          })
        })

      const viaPassword = yield* run("os-password", "dr-password", "dr-net-a")
      assert.strictEqual(viaPassword.outcome, "succeeded", JSON.stringify(viaPassword.tasks))
      const viaAppCred = yield* run("os-appcred", "dr-appcred", "dr-net-b")
      assert.strictEqual(viaAppCred.outcome, "succeeded", JSON.stringify(viaAppCred.tasks))

      const networks = (yield* sim.inventory).networks
      for (const [job, name] of [
        [viaPassword, "dr-net-a"],
        [viaAppCred, "dr-net-b"]
      ] as const) {
        const made = networks.filter((n) => n.name === name)
        assert.strictEqual(made.length, 1, name)
        assert.strictEqual(job.tasks[0]?.output?.networkId, made[0]?.id, JSON.stringify(job.tasks))
      }

      // an unknown target is a clear, permanent task failure
      const unknown = yield* run("os-unknown", "nowhere", "dr-net-c")
      assert.strictEqual(unknown.outcome, "failed")
      assert.include(JSON.stringify(unknown.tasks[0]?.reason), "nowhere")

      // the credentials went to Keystone, and nowhere else
      const store = yield* EtcdStore.make({ endpoints: [etcd.endpoint] })
      const { kvs } = yield* store.range("os/")
      const everything = kvs.map((kv) => `${kv.key}\n${kv.value}`).join("\n") + service.output()
      assert.include(service.output(), '"password":"<redacted>"')
      for (const secret of [PASSWORD, APP_SECRET]) assert.notInclude(everything, secret)
    }).pipe(Effect.scoped)
  )
})
