/**
 * Credentials end to end: a `migrator run` process and the job commands
 * configured only through the environment (MIGRATOR_ETCD_USERNAME/PASSWORD
 * and MIGRATOR_ETCD_TLS_*), as a role-limited etcd user over TLS with client
 * certificates. After a job has run, every key and value in etcd and every
 * line the processes wrote are scanned for the passwords; a wrong password
 * fails promptly with a reason and without the password.
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { createTestCertificates, type EtcdServer, startEtcd, type TestCertificates } from "@migrator/etcd-store/testing"
import { Effect } from "effect"
import { afterAll, beforeAll } from "vitest"
import { migrator, type Run } from "./utils/cli.ts"
import { type Service, startService, until } from "./utils/service.ts"

const ROOT_PASSWORD = "Root-Pw-7d1e99c3"
const RUNNER_PASSWORD = "Runner-Pw-4a0b6f12"
const WRONG_PASSWORD = "Wrong-Pw-e5c8a301"
const PREFIX = "dr/"

const dir = mkdtempSync(join(tmpdir(), "migrator-secrets-"))
let certs: TestCertificates
let etcd: EtcdServer
const services: Array<Service> = []

const etcdctl = (...args: Array<string>) =>
  execFileSync(
    "etcdctl",
    [
      `--endpoints=${etcd.endpoint}`,
      `--cacert=${certs.ca}`,
      `--cert=${certs.clientCert}`,
      `--key=${certs.clientKey}`,
      "--dial-timeout=5s",
      ...args
    ],
    { stdio: "pipe", env: { PATH: process.env.PATH ?? "", ETCDCTL_API: "3" } }
  ).toString()

beforeAll(async () => {
  certs = createTestCertificates(dir)
  etcd = await startEtcd("secrets", {
    tls: {
      ca: certs.ca,
      cert: certs.serverCert,
      key: certs.serverKey,
      clientCertAuth: true,
      probe: { cert: certs.clientCert, key: certs.clientKey }
    }
  })
  etcdctl("user", "add", `root:${ROOT_PASSWORD}`)
  etcdctl("user", "grant-role", "root", "root")
  // the runner's user may only touch its own prefix
  etcdctl("role", "add", "migrator-dr")
  etcdctl("role", "grant-permission", "migrator-dr", "--prefix=true", "readwrite", PREFIX)
  etcdctl("user", "add", `migrator:${RUNNER_PASSWORD}`)
  etcdctl("user", "grant-role", "migrator", "migrator-dr")
  etcdctl("auth", "enable")
}, 60_000)

afterAll(async () => {
  await Promise.all(services.map((s) => s.stop("SIGKILL")))
  await etcd?.destroy()
  rmSync(dir, { recursive: true, force: true })
})

const env = (password: string): Record<string, string> => ({
  MIGRATOR_ETCD_ENDPOINTS: etcd.endpoint,
  MIGRATOR_PREFIX: PREFIX,
  MIGRATOR_ETCD_USERNAME: "migrator",
  MIGRATOR_ETCD_PASSWORD: password,
  MIGRATOR_ETCD_TLS_CA: certs.ca,
  MIGRATOR_ETCD_TLS_CERT: certs.clientCert,
  MIGRATOR_ETCD_TLS_KEY: certs.clientKey
})

const passwords = [ROOT_PASSWORD, RUNNER_PASSWORD, WRONG_PASSWORD]
const assertClean = (what: string, text: string) => {
  for (const p of passwords) assert.notInclude(text, p, `${what} holds a password`)
}

describe("etcd credentials from the environment", () => {
  it.live(
    "a runner and the job commands work as a role-limited user over TLS; no password in etcd or in any output",
    () =>
      Effect.promise(async () => {
        const runner = await startService(
          ["--plugins", "test", "--lease-ttl", "2s", "--log-level", "debug"],
          env(RUNNER_PASSWORD)
        )
        services.push(runner)
        const outputs: Array<Run> = []
        const cli = async (...args: Array<string>) => {
          const r = await migrator(args, env(RUNNER_PASSWORD))
          outputs.push(r)
          return r
        }
        const path = join(dir, "job.json")
        writeFileSync(
          path,
          JSON.stringify({
            id: "secure",
            labels: { drill: "yes" },
            tasks: [
              { id: "a", type: "test/echo", input: { cluster: "c1" } },
              { id: "b", type: "test/sleep", dependencies: ["a"], input: { ms: 50 } }
            ],
            clearTasks: [{ id: "undo-a", type: "test/echo", undoes: "a", input: { id: { $ref: "a#/cluster" } } }]
          })
        )
        const submitted = await cli("job", "submit", path, "--plugins", "test")
        assert.strictEqual(submitted.code, 0, submitted.stderr)
        const watched = await cli("job", "watch", "secure")
        assert.strictEqual(
          watched.code,
          0,
          `${watched.stdout}${watched.stderr}${(await cli("job", "show", "secure")).stdout}${runner.output()}`
        )
        assert.strictEqual((await cli("job", "rollback", "secure")).code, 0)
        await until(
          "the rollback",
          async () => JSON.parse((await cli("job", "show", "secure", "--json")).stdout).state === "cleared"
        )
        await cli("job", "list")

        // every key and value in etcd, read as root
        const all = etcdctl("--user", `root:${ROOT_PASSWORD}`, "get", "", "--prefix", "--write-out=json")
        const kvs = (JSON.parse(all) as { kvs?: Array<{ key: string; value: string }> }).kvs ?? []
        assert.isAbove(kvs.length, 10)
        for (const kv of kvs) {
          const key = Buffer.from(kv.key, "base64").toString("utf8")
          assert.isTrue(key.startsWith(PREFIX), `${key} outside the runner's prefix`)
          assertClean(`etcd key ${key}`, key)
          assertClean(`etcd value of ${key}`, Buffer.from(kv.value ?? "", "base64").toString("utf8"))
        }
        // the limited user really is limited
        const outside = await migrator(["job", "list"], { ...env(RUNNER_PASSWORD), MIGRATOR_PREFIX: "elsewhere/" })
        assert.notStrictEqual(outside.code, 0)
        assert.match(outside.stderr, /permission denied/i)
        outputs.push(outside)

        // a wrong password: refused promptly, the reason given, the password nowhere
        const began = Date.now()
        const wrong = await migrator(["job", "list"], env(WRONG_PASSWORD))
        assert.notStrictEqual(wrong.code, 0)
        assert.isBelow(Date.now() - began, 30_000)
        assert.match(wrong.stderr, /authentication failed/i)
        outputs.push(wrong)

        for (const r of outputs) assertClean("a command's output", r.stdout + r.stderr)
        assertClean("the runner's log", runner.output())
        assert.include(runner.output(), "runner session started")
        // the runner's own reads and watches stay inside its prefix: nothing was denied to it
        assert.notMatch(runner.output(), /permission denied/i)
      })
  )
})
