import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { request } from "node:https"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { freePort } from "@migrator/etcd-store/testing"
import { Effect } from "effect"
import { afterAll, beforeAll } from "vitest"
import { migrator } from "./utils/cli.ts"
import { type Service, startService, until } from "./utils/service.ts"

// etcd with TLS (server certificate, client certificates required) and user/password auth

const PASSWORD = "etcd-Root-Pa55-4b1d"
const WRONG = "etcd-Wrong-Pa55-77e0"
const dir = mkdtempSync(join(tmpdir(), "migrator-etcd-tls-"))
const path = (name: string) => join(dir, name)
let etcd: ChildProcess | undefined
let endpoint = ""
const services: Array<Service> = []

const openssl = (...args: Array<string>) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" })

const healthy = () =>
  new Promise<boolean>((resolve) => {
    const req = request(
      `${endpoint}/health`,
      {
        ca: readFileSync(path("ca.pem")),
        cert: readFileSync(path("client.pem")),
        key: readFileSync(path("client.key"))
      },
      (res) => {
        res.resume()
        resolve(res.statusCode === 200)
      }
    )
    req.on("error", () => resolve(false))
    req.end()
  })

const etcdctl = (...args: Array<string>) =>
  execFileSync(
    "etcdctl",
    [
      `--endpoints=${endpoint}`,
      `--cacert=${path("ca.pem")}`,
      `--cert=${path("client.pem")}`,
      `--key=${path("client.key")}`,
      ...args
    ],
    { stdio: "pipe" }
  ).toString()

beforeAll(async () => {
  openssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=migrator-test-ca"
  )
  writeFileSync(path("server.ext"), "subjectAltName=IP:127.0.0.1\n")
  for (const [name, cn] of [
    ["server", "127.0.0.1"],
    ["client", "migrator-client"]
  ] as const) {
    openssl(
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      `/CN=${cn}`
    )
    openssl(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      ...(name === "server" ? ["-extfile", "server.ext"] : [])
    )
  }
  const client = await freePort()
  const peer = await freePort()
  endpoint = `https://127.0.0.1:${client}`
  etcd = spawn(
    "etcd",
    [
      "--name=tls",
      "--logger=zap",
      "--log-level=error",
      `--data-dir=${path("data")}`,
      `--listen-client-urls=${endpoint}`,
      `--advertise-client-urls=${endpoint}`,
      `--listen-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-cluster=tls=http://127.0.0.1:${peer}`,
      `--cert-file=${path("server.pem")}`,
      `--key-file=${path("server.key")}`,
      `--trusted-ca-file=${path("ca.pem")}`,
      "--client-cert-auth"
    ],
    { stdio: "ignore" }
  )
  await until("etcd with TLS to be healthy", async () => healthy())
  etcdctl("user", "add", `root:${PASSWORD}`)
  etcdctl("user", "grant-role", "root", "root")
  etcdctl("auth", "enable")
  writeFileSync(path("etcd-password"), `${PASSWORD}\n`)
})

afterAll(async () => {
  await Promise.all(services.map((s) => s.stop("SIGKILL")))
  if (etcd?.pid !== undefined && etcd.exitCode === null) {
    await new Promise<void>((resolve) => {
      etcd!.once("exit", () => resolve())
      etcd!.kill("SIGKILL")
    })
  }
  rmSync(dir, { recursive: true, force: true })
})

const config = (password: string) => {
  const file = path(`runner-${services.length}.yaml`)
  writeFileSync(
    file,
    [
      "etcd:",
      `  endpoints: [${endpoint}]`,
      "  prefix: secure/",
      `  tls: { ca: ${path("ca.pem")}, cert: ${path("client.pem")}, key: ${path("client.key")} }`,
      "  username: root",
      `  password: ${password}`,
      "plugins: [test]",
      "leaseTtl: 2s",
      "log: { level: debug }"
    ].join("\n")
  )
  return file
}

const start = async (args: Array<string>, env: Record<string, string> = {}) => {
  const s = await startService(args, env)
  services.push(s)
  return s
}

describe("etcd with TLS client certificates and password auth", () => {
  it.live(
    "a runner with the right certificates and password is ready and runs jobs; secrets stay out of its logs",
    () =>
      Effect.promise(async () => {
        const good = await start(["--config", config(`{ file: ${path("etcd-password")} }`), "--runner-id", "secure-1"])
        const wrong = await start(["--config", config("{ env: ETCD_PW }"), "--runner-id", "secure-2"], {
          ETCD_PW: WRONG
        })

        await until("the runner to be ready", async () => (await fetch(`${good.base}/readyz`)).status === 200)
        const submitted = await fetch(`${good.base}/api/jobs`, {
          method: "POST",
          body: JSON.stringify({ id: "secure-job", tasks: [{ id: "a", type: "test/echo", input: { ok: true } }] })
        })
        assert.strictEqual(submitted.status, 201)
        const job = await until("the job to complete", async () => {
          const body = (await (await fetch(`${good.base}/api/jobs/secure-job`)).json()) as {
            state: string
            outcome?: string
          }
          return body.state === "completed" ? body : undefined
        })
        assert.strictEqual(job.outcome, "succeeded")
        // the job is really in etcd, readable with the same credentials
        assert.include(etcdctl("--user", `root:${PASSWORD}`, "get", "secure/index/secure-job"), "completed")
        // the job commands connect the same way, from MIGRATOR_* variables
        const shown = await migrator(["job", "show", "secure-job", "--json"], {
          MIGRATOR_ETCD_ENDPOINTS: endpoint,
          MIGRATOR_PREFIX: "secure/",
          MIGRATOR_ETCD_TLS_CA: path("ca.pem"),
          MIGRATOR_ETCD_TLS_CERT: path("client.pem"),
          MIGRATOR_ETCD_TLS_KEY: path("client.key"),
          MIGRATOR_ETCD_USERNAME: "root",
          MIGRATOR_ETCD_PASSWORD: PASSWORD
        })
        assert.strictEqual(shown.code, 0, shown.stderr)
        assert.strictEqual(JSON.parse(shown.stdout).state, "completed")
        assert.notInclude(shown.stdout + shown.stderr, PASSWORD)

        // the wrong password is refused: never ready, and the error says why without the password
        const refused = await until("the refused runner's readyz", async () => {
          const r = await fetch(`${wrong.base}/readyz`)
          const body = (await r.json()) as { store: string }
          return r.status === 503 && body.store.includes("authentication failed") ? body : undefined
        })
        assert.notInclude(JSON.stringify(refused), WRONG)

        // SIGTERM with a live event stream open: a clean, prompt exit
        const controller = new AbortController()
        const stream = await fetch(`${good.base}/api/jobs/secure-job/stream`, { signal: controller.signal })
        assert.strictEqual(stream.headers.get("content-type"), "text/event-stream")
        const exited = new Promise<number | null>((resolve) => good.child.once("exit", (code) => resolve(code)))
        good.child.kill("SIGTERM")
        assert.strictEqual(await exited, 0)
        controller.abort()

        for (const s of [good, wrong]) {
          assert.notInclude(s.output(), PASSWORD)
          assert.notInclude(s.output(), WRONG)
        }
        assert.include(good.output(), '"password":"<redacted>"')
      })
  )
})
