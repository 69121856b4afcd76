import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect, Redacted } from "effect"
import { afterAll } from "vitest"
import * as Config from "../src/Config.ts"
import * as Auth from "../src/http/Auth.ts"
import { migrator } from "./utils/cli.ts"

const dir = mkdtempSync(join(tmpdir(), "migrator-config-"))
let files = 0
const file = (name: string, content: string) => {
  const path = join(dir, `${++files}-${name}`)
  writeFileSync(path, content)
  return path
}

const resolve = (flags: Config.Flags, env: Record<string, string> = {}, tty = false) =>
  Config.resolve(flags, { tty }).pipe(
    Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))
  )

const failure = (flags: Config.Flags, env: Record<string, string> = {}) =>
  resolve(flags, env).pipe(
    Effect.flip,
    Effect.map((e) => e.message)
  )

const SECRET = "s3cr3t-Do-Not-Print"

afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe("runner configuration", () => {
  it.effect("defaults, the legacy flags and environment variables keep working", () =>
    Effect.gen(function* () {
      const defaults = yield* resolve({})
      assert.deepStrictEqual(defaults.etcd.endpoints, ["http://127.0.0.1:2379"])
      assert.strictEqual(defaults.etcd.prefix, "migrator/")
      assert.strictEqual(defaults.concurrency.perRunner, 16)
      assert.strictEqual(Duration.toMillis(defaults.leaseTtl), 10_000)
      assert.strictEqual(defaults.log.format, "json")
      assert.strictEqual((yield* resolve({}, {}, true)).log.format, "pretty")
      assert.isUndefined(defaults.http.listen)

      const legacy = yield* resolve(
        { prefix: "p1", plugins: "test, ./x.ts", concurrency: 3, leaseTtl: "2s", runnerId: "r1" },
        { MIGRATOR_ETCD_ENDPOINTS: "http://a:1,http://b:2" }
      )
      assert.deepStrictEqual(legacy.etcd.endpoints, ["http://a:1", "http://b:2"])
      assert.strictEqual(legacy.etcd.prefix, "p1/")
      assert.deepStrictEqual(legacy.plugins, ["test", "./x.ts"])
      assert.strictEqual(legacy.concurrency.perRunner, 3)
      assert.strictEqual(Duration.toMillis(legacy.leaseTtl), 2000)
      assert.strictEqual(legacy.runnerId, "r1")
      assert.strictEqual((yield* resolve({}, { MIGRATOR_PREFIX: "envp/" })).etcd.prefix, "envp/")
    })
  )

  it.effect("precedence: flags over environment over file, field by field", () =>
    Effect.gen(function* () {
      const yaml = file(
        "runner.yaml",
        [
          "etcd:",
          "  endpoints: [http://file:2379]",
          "  prefix: file/",
          "leaseTtl: 7s",
          "concurrency:",
          "  perRunner: 3",
          "  perTarget: 2",
          "plugins: [test]",
          "http:",
          "  listen: 127.0.0.1:9000",
          "log:",
          "  level: debug"
        ].join("\n")
      )
      const fromFile = yield* resolve({ config: yaml })
      assert.deepStrictEqual(fromFile.etcd.endpoints, ["http://file:2379"])
      assert.strictEqual(fromFile.concurrency.perRunner, 3)
      assert.deepStrictEqual(fromFile.http.listen, { host: "127.0.0.1", port: 9000 })
      assert.strictEqual(fromFile.log.level, "Debug")

      const env = { MIGRATOR_CONCURRENCY: "5", MIGRATOR_LEASE_TTL: "8s", MIGRATOR_ETCD_ENDPOINTS: "http://env:2379" }
      const merged = yield* resolve({ config: yaml, leaseTtl: "9s", http: "0.0.0.0:9001" }, env)
      assert.strictEqual(merged.concurrency.perRunner, 5, "env over file")
      assert.strictEqual(merged.concurrency.perTarget, 2, "file where nothing overrides")
      assert.strictEqual(Duration.toMillis(merged.leaseTtl), 9000, "flag over env over file")
      assert.deepStrictEqual(merged.etcd.endpoints, ["http://env:2379"])
      assert.strictEqual(merged.etcd.prefix, "file/")
      assert.deepStrictEqual(merged.http.listen, { host: "0.0.0.0", port: 9001 })

      // the file may also be named by MIGRATOR_CONFIG, and JSON works too
      const json = file("runner.json", JSON.stringify({ concurrency: { perRunner: 4 } }))
      assert.strictEqual((yield* resolve({}, { MIGRATOR_CONFIG: json })).concurrency.perRunner, 4)
      assert.strictEqual((yield* resolve({ concurrency: 6 }, { MIGRATOR_CONFIG: json })).concurrency.perRunner, 6)
    })
  )

  it.effect("the warm-up: 2,000 tasks by default, set by file, env or flag, 0 turns it off, never negative", () =>
    Effect.gen(function* () {
      assert.strictEqual((yield* resolve({})).warmUpTasks, Config.DEFAULT_WARM_UP_TASKS)
      assert.strictEqual(Config.DEFAULT_WARM_UP_TASKS, 2000)
      const yaml = file("warm.yaml", "warmUpTasks: 300\n")
      assert.strictEqual((yield* resolve({ config: yaml })).warmUpTasks, 300)
      assert.strictEqual((yield* resolve({ config: yaml }, { MIGRATOR_WARM_UP_TASKS: "0" })).warmUpTasks, 0)
      assert.strictEqual(
        (yield* resolve({ config: yaml, warmUpTasks: 50 }, { MIGRATOR_WARM_UP_TASKS: "0" })).warmUpTasks,
        50
      )
      assert.include(yield* failure({ warmUpTasks: -1 }), "warmUpTasks (--warm-up-tasks)")
      assert.include(yield* failure({ warmUpTasks: 1_000_000 }), "warmUpTasks (--warm-up-tasks)")
      assert.include(yield* failure({}, { MIGRATOR_WARM_UP_TASKS: "many" }), "warmUpTasks (MIGRATOR_WARM_UP_TASKS)")
    })
  )

  it.effect("the warm-up on etcd: 1,000 tasks by default, set by file, env or flag, 0 turns it off", () =>
    Effect.gen(function* () {
      assert.strictEqual((yield* resolve({})).warmUpStoreTasks, Config.DEFAULT_WARM_UP_STORE_TASKS)
      assert.strictEqual(Config.DEFAULT_WARM_UP_STORE_TASKS, 2000)
      const yaml = file("warm-store.yaml", "warmUpStoreTasks: 300\n")
      assert.strictEqual((yield* resolve({ config: yaml })).warmUpStoreTasks, 300)
      assert.strictEqual((yield* resolve({ config: yaml }, { MIGRATOR_WARM_UP_STORE_TASKS: "0" })).warmUpStoreTasks, 0)
      assert.strictEqual(
        (yield* resolve({ config: yaml, warmUpStoreTasks: 50 }, { MIGRATOR_WARM_UP_STORE_TASKS: "0" }))
          .warmUpStoreTasks,
        50
      )
      assert.include(yield* failure({ warmUpStoreTasks: -1 }), "warmUpStoreTasks (--warm-up-store-tasks)")
      assert.include(
        yield* failure({}, { MIGRATOR_WARM_UP_STORE_TASKS: "many" }),
        "warmUpStoreTasks (MIGRATOR_WARM_UP_STORE_TASKS)"
      )
    })
  )

  it.effect("secrets inline, from an environment variable and from a file, held as Redacted", () =>
    Effect.gen(function* () {
      const secretFile = file("secret", `${SECRET}-file\n`)
      const yaml = file(
        "clusters.yaml",
        [
          "etcd:",
          "  username: root",
          "  password: { env: ETCD_PW }",
          "clusters:",
          "  prod:",
          "    authUrl: http://keystone:5000/v3",
          "    region: RegionOne",
          `    credentials: { type: password, username: admin, projectName: admin, password: ${SECRET} }`,
          "  dr:",
          "    authUrl: https://dr:5000",
          "    interface: internal",
          `    credentials: { type: application-credential, id: ac-1, secret: { file: ${secretFile} } }`
        ].join("\n")
      )
      const c = yield* resolve({ config: yaml }, { ETCD_PW: `${SECRET}-env` })
      assert.strictEqual(c.etcd.auth?.username, "root")
      assert.strictEqual(Redacted.value(c.etcd.auth!.password), `${SECRET}-env`)
      const prod = c.clusters.prod!
      assert.strictEqual(prod.region, "RegionOne")
      assert.strictEqual(prod.auth.type, "password")
      if (prod.auth.type === "password") assert.strictEqual(Redacted.value(prod.auth.password), SECRET)
      const dr = c.clusters.dr!
      assert.strictEqual(dr.interface, "internal")
      if (dr.auth.type === "application-credential")
        assert.strictEqual(Redacted.value(dr.auth.secret), `${SECRET}-file`)
      // nothing in the resolved configuration prints a secret
      const printed = `${JSON.stringify(c)} ${String(c.clusters.prod?.auth)} ${JSON.stringify(c.etcd)}`
      assert.notInclude(printed, SECRET)
    })
  )

  it.effect("every error names the field path and its source, and never echoes a secret", () =>
    Effect.gen(function* () {
      const yaml = file(
        "bad.yaml",
        [
          "etcd:",
          "  endpoints: 5",
          "  tls: { ca: /nonexistent/ca.pem }",
          "concurrency: { perRunner: -1 }",
          "leaseTtl: soon",
          "log: { format: xml }",
          "colour: blue",
          "clusters:",
          "  prod:",
          "    authUrl: keystone",
          `    credentials: { type: password, username: admin, password: ${SECRET}, bogus: 1 }`
        ].join("\n")
      )
      const message = yield* failure({ config: yaml })
      for (const field of [
        "etcd.endpoints",
        "concurrency.perRunner",
        "leaseTtl",
        "log.format",
        "colour",
        "clusters.prod.authUrl",
        "clusters.prod.credentials"
      ]) {
        assert.include(message, field)
      }
      assert.include(message, yaml)
      assert.notInclude(message, SECRET)

      const fromEnv = yield* failure({}, { MIGRATOR_CONCURRENCY: "many", MIGRATOR_HTTP_LISTEN: "localhost" })
      assert.include(fromEnv, "concurrency.perRunner (MIGRATOR_CONCURRENCY)")
      assert.include(fromEnv, "http.listen (MIGRATOR_HTTP_LISTEN)")
      assert.include(yield* failure({ leaseTtl: "later" }), "leaseTtl (--lease-ttl)")

      const missing = file(
        "missing.yaml",
        "clusters:\n  prod:\n    authUrl: http://k:5000\n    credentials: { type: password, username: u, password: { env: NOT_SET_ANYWHERE } }\n"
      )
      const unset = yield* failure({ config: missing })
      assert.include(unset, "clusters.prod.credentials.password")
      assert.include(unset, "NOT_SET_ANYWHERE is not set")

      const tls = yield* failure({ config: file("tls.yaml", "etcd:\n  tls: { ca: /nonexistent/ca.pem }\n") })
      assert.include(tls, "etcd.tls.ca")
      assert.include(tls, "ENOENT")

      const password = yield* failure({}, { MIGRATOR_ETCD_PASSWORD: SECRET })
      assert.include(password, "etcd.username")
      assert.notInclude(password, SECRET)

      assert.include(yield* failure({ config: file("list.yaml", "- a\n- b\n") }), "mapping")
      assert.include(yield* failure({ config: file("broken.json", "{nope") }), "not valid JSON")
      assert.include(yield* failure({ config: join(dir, "absent.yaml") }), "cannot read the configuration file")
    })
  )

  it.effect("API tokens (inline, env, file) are kept hashed; TLS files are read; the default host is loopback", () =>
    Effect.gen(function* () {
      const INLINE = "inline-token-aaaaaaaaaaaaaaaaaaaa"
      const ENV = "env-token-bbbbbbbbbbbbbbbbbbbbbbbb"
      const FILE = "file-token-cccccccccccccccccccccccc"
      const tokenFile = file("token", `${FILE}\n`)
      const cert = file("cert.pem", "CERT")
      const key = file("key.pem", "KEY")
      const yaml = file(
        "http.yaml",
        [
          "http:",
          "  listen: :9443",
          `  tls: { cert: ${cert}, key: ${key} }`,
          "  tokens:",
          `    - { name: grafana, role: viewer, token: ${INLINE} }`,
          "    - { name: oncall, role: operator, token: { env: ONCALL_TOKEN } }",
          `    - { name: dr-lead, role: admin, token: { file: ${tokenFile} } }`
        ].join("\n")
      )
      const c = yield* resolve({ config: yaml }, { ONCALL_TOKEN: ENV })
      assert.deepStrictEqual(c.http.listen, { host: "127.0.0.1", port: 9443 })
      assert.strictEqual(c.http.tls?.cert, "CERT")
      assert.strictEqual(Redacted.value(c.http.tls!.key), "KEY")
      assert.deepStrictEqual(c.http.tokens, [
        { name: "grafana", role: "viewer", hash: Auth.hashToken(INLINE) },
        { name: "oncall", role: "operator", hash: Auth.hashToken(ENV) },
        { name: "dr-lead", role: "admin", hash: Auth.hashToken(FILE) }
      ])
      // no token value is held anywhere in the resolved configuration
      const text = JSON.stringify(c)
      for (const t of [INLINE, ENV, FILE]) assert.notInclude(text, t)
      assert.deepStrictEqual((yield* resolve({ http: "0.0.0.0:80" })).http.listen, { host: "0.0.0.0", port: 80 })

      const tokens = (lines: ReadonlyArray<string>) => file("tokens.yaml", ["http:", "  tokens:", ...lines].join("\n"))
      const short = yield* failure({ config: tokens(["    - { name: a, role: admin, token: short-secret }"]) })
      assert.include(short, "http.tokens.0.token")
      assert.include(short, "too short")
      assert.notInclude(short, "short-secret")
      const twice = yield* failure({
        config: tokens([
          `    - { name: a, role: admin, token: ${INLINE} }`,
          `    - { name: a, role: viewer, token: ${ENV} }`
        ])
      })
      assert.include(twice, "http.tokens.1.name")
      assert.include(
        yield* failure({ config: tokens([`    - { name: a, role: root, token: ${INLINE} }`]) }),
        "http.tokens.0.role"
      )
      assert.include(yield* failure({}, { MIGRATOR_HTTP_TLS_CERT: cert }), "http.tls")
    })
  )

  it.effect("etcd endpoints must be URLs; the error names the flag", () =>
    Effect.gen(function* () {
      const flag = yield* failure({ etcd: "not-a-url" })
      assert.include(flag, "etcd.endpoints (--etcd)")
      assert.include(flag, "expected a URL like http://127.0.0.1:2379")
      assert.include(yield* failure({}, { MIGRATOR_ETCD_ENDPOINTS: "http://ok:1,nope" }), "(MIGRATOR_ETCD_ENDPOINTS)")
      const ok = yield* resolve({ etcd: "https://etcd-1.example:2379,http://[::1]:2379" })
      assert.deepStrictEqual(ok.etcd.endpoints, ["https://etcd-1.example:2379", "http://[::1]:2379"])
    })
  )

  it.effect("the job commands' connection reads only the etcd settings", () =>
    Effect.gen(function* () {
      const yaml = file(
        "connection.yaml",
        "etcd: { endpoints: [http://file:1], prefix: conn }\nclusters: { broken: 1 }\nconcurrency: { perRunner: -5 }\n"
      )
      const c = yield* Config.resolveConnection({}).pipe(
        Effect.provideService(
          ConfigProvider.ConfigProvider,
          ConfigProvider.fromEnv({ env: { MIGRATOR_CONFIG: yaml, MIGRATOR_CONCURRENCY: "x" } })
        )
      )
      assert.deepStrictEqual(c.endpoints, ["http://file:1"])
      assert.strictEqual(c.prefix, "conn/")
      const flagged = yield* Config.resolveConnection({ etcd: "http://flag:2", prefix: "p" }).pipe(
        Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env: { MIGRATOR_CONFIG: yaml } }))
      )
      assert.deepStrictEqual(flagged.endpoints, ["http://flag:2"])
      assert.strictEqual(flagged.prefix, "p/")
    })
  )

  it.live("migrator run exits 2 with the field named for a bad configuration", () =>
    Effect.promise(async () => {
      const bad = file(
        "run.yaml",
        `concurrency: { perRunner: 0 }\nclusters:\n  x:\n    authUrl: nope\n    credentials: { type: password, username: u, password: ${SECRET} }\n`
      )
      const r = await migrator(["run", "--config", bad])
      assert.strictEqual(r.code, 2, r.stderr)
      assert.include(r.stderr, "concurrency.perRunner")
      assert.include(r.stderr, "clusters.x.authUrl")
      assert.notInclude(r.stderr + r.stdout, SECRET)
      const env = await migrator(["run"], { MIGRATOR_LOG_FORMAT: "xml" })
      assert.strictEqual(env.code, 2)
      assert.include(env.stderr, "log.format (MIGRATOR_LOG_FORMAT)")
    })
  )
})
