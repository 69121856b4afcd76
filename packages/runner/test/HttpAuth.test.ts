import { assert, describe, it } from "@effect/vitest"
import { Engine, JobBuilder, Jobs, Keys, Store, TaskRegistry } from "@migrator/core"
import { TestPlugin } from "@migrator/core/testing"
import { freePort } from "@migrator/etcd-store/testing"
import { Effect, Layer, Option } from "effect"
import { HttpServerRequest } from "effect/http"
import * as Auth from "../src/http/Auth.ts"
import * as HttpApi from "../src/http/HttpApi.ts"

// tokens, roles, CSRF, the 503 of an unreachable store and the operation preview, over real HTTP

const VIEWER = "viewer-token-0123456789abcdef"
const OPERATOR = "operator-token-0123456789abcdef"
const ADMIN = "admin-token-0123456789abcdef"
const tokens: ReadonlyArray<Auth.ApiToken> = [
  { name: "grafana", role: "viewer", hash: Auth.hashToken(VIEWER) },
  { name: "oncall", role: "operator", hash: Auth.hashToken(OPERATOR) },
  { name: "dr-lead", role: "admin", hash: Auth.hashToken(ADMIN) }
]

const env = Layer.mergeAll(TestPlugin.layer).pipe(
  Layer.provideMerge(TaskRegistry.layer),
  Layer.provideMerge(Store.layerMemory)
)

const serve = (keys: Keys.Layout, options: Partial<HttpApi.Options> = {}) =>
  Effect.gen(function* () {
    const port = yield* Effect.promise(() => freePort())
    yield* Layer.build(HttpApi.layer({ keys, runnerId: "r1", host: "127.0.0.1", port, ...options }))
    return (
      method: string,
      path: string,
      init: { token?: string; body?: unknown; headers?: Record<string, string> } = {}
    ) =>
      Effect.promise(async () => {
        const r = await fetch(`http://127.0.0.1:${port}${path}`, {
          method,
          headers: {
            ...(init.token === undefined ? {} : { authorization: `Bearer ${init.token}` }),
            ...(init.body === undefined ? {} : { "content-type": "application/json" }),
            ...init.headers
          },
          ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) })
        })
        // biome-ignore lint/suspicious/noExplicitAny: bodies are checked field by field
        return { status: r.status, headers: r.headers, body: (await r.json()) as any }
      })
  })

const submit = (keys: Keys.Layout, document: unknown) =>
  Effect.gen(function* () {
    const built = yield* JobBuilder.build(document, { generateId: Effect.succeed("unused") })
    return yield* Jobs.submit(keys, built)
  })

const awaitState = (keys: Keys.Layout, id: string, states: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    for (;;) {
      const view = yield* Jobs.read(keys, id)
      if (states.includes(view.state.state)) return view
      yield* Effect.sleep("20 millis")
    }
  }).pipe(Effect.timeout("20 seconds"))

describe("HttpApi authentication", () => {
  it.live("tokens and roles: 401 without or with an unknown token, 403 below the role, actor and reason logged", () =>
    Effect.gen(function* () {
      const keys = Keys.make("auth/")
      const api = yield* serve(keys, { tokens })
      yield* submit(keys, { id: "j1", tasks: [{ id: "a", type: "test/echo", input: 1 }] })

      const anonymous = yield* api("GET", "/api/jobs")
      assert.strictEqual(anonymous.status, 401)
      assert.strictEqual(anonymous.body.reason, "Unauthenticated")
      assert.strictEqual(anonymous.headers.get("www-authenticate"), 'Bearer realm="migrator"')
      const wrong = yield* api("GET", "/api/jobs", { token: `${VIEWER}x` })
      assert.strictEqual(wrong.status, 401)

      assert.strictEqual((yield* api("GET", "/api/jobs", { token: VIEWER })).status, 200)
      assert.deepStrictEqual((yield* api("GET", "/api/whoami", { token: OPERATOR })).body, {
        name: "oncall",
        role: "operator",
        tokens: true
      })
      const viewerCancels = yield* api("POST", "/api/jobs/j1/pause", { token: VIEWER })
      assert.strictEqual(viewerCancels.status, 403)
      assert.deepInclude(viewerCancels.body, { reason: "Forbidden", role: "viewer", required: "operator" })
      const viewerSubmits = yield* api("POST", "/api/jobs", { token: VIEWER, body: { tasks: [] } })
      assert.strictEqual(viewerSubmits.status, 403)

      const submitted = yield* api("POST", "/api/jobs", {
        token: OPERATOR,
        body: { id: "j2", tasks: [{ id: "a", type: "test/echo", input: 1 }] }
      })
      assert.strictEqual(submitted.status, 201, JSON.stringify(submitted.body))
      yield* Engine.run({ runnerId: "r1", prefix: keys.prefix, leaseTtl: "5 seconds" }).pipe(Effect.forkScoped)
      yield* awaitState(keys, "j2", ["completed"])

      const operatorRollsBack = yield* api("POST", "/api/jobs/j2/rollback", { token: OPERATOR })
      assert.strictEqual(operatorRollsBack.status, 403)
      assert.strictEqual(operatorRollsBack.body.required, "admin")
      const rolledBack = yield* api("POST", "/api/jobs/j2/rollback", { token: ADMIN, body: { reason: "drill over" } })
      assert.strictEqual(rolledBack.status, 200, JSON.stringify(rolledBack.body))

      const log = (yield* api("GET", "/api/jobs/j2/events", { token: VIEWER })).body as Array<Record<string, unknown>>
      const submittedEvent = log.find((e) => e.type === "job.submitted")
      assert.strictEqual(submittedEvent?.actor, "oncall")
      const rollback = log.find((e) => e.type === "job.rollback")
      assert.strictEqual(rollback?.actor, "dr-lead")
      assert.strictEqual(rollback?.reason, "drill over")
      assert.include(String(rollback?.message), "by dr-lead (reason: drill over)")

      // an operation the state does not allow says what is possible
      const again = yield* api("POST", "/api/jobs/j2/pause", { token: ADMIN })
      assert.strictEqual(again.status, 409)
      assert.strictEqual(again.body.reason, "InvalidOperation")
      assert.isArray(again.body.operations)
      const badBody = yield* api("POST", "/api/jobs/j2/retry", { token: ADMIN, body: { reason: 5 } })
      assert.strictEqual(badBody.status, 400)
    }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.live("cross-site POSTs are refused; same-origin and non-browser POSTs go through", () =>
    Effect.gen(function* () {
      const keys = Keys.make("csrf/")
      const api = yield* serve(keys)
      yield* submit(keys, { id: "j1", tasks: [{ id: "a", type: "test/sleep", input: { ms: 60000 } }] })
      const evil = yield* api("POST", "/api/jobs/j1/cancel", { headers: { origin: "https://evil.example" } })
      assert.strictEqual(evil.status, 403)
      assert.strictEqual(evil.body.reason, "CrossSite")
      const fetchMeta = yield* api("POST", "/api/jobs/j1/cancel", { headers: { "sec-fetch-site": "cross-site" } })
      assert.strictEqual(fetchMeta.status, 403)
      assert.strictEqual((yield* Jobs.read(keys, "j1")).state.state, "pending")
      // reads are not state changes: a GET with a foreign Origin is answered (the browser keeps the answer)
      assert.strictEqual((yield* api("GET", "/api/jobs", { headers: { origin: "https://evil.example" } })).status, 200)
      // the loopback operator without tokens is `local`
      const local = yield* api("POST", "/api/jobs/j1/cancel", { body: { reason: "wrong plan" } })
      assert.strictEqual(local.status, 200, JSON.stringify(local.body))
      const log = yield* Jobs.events(keys, "j1")
      assert.strictEqual(log.find((e) => e.type === "job.cancel")?.actor, "local")
    }).pipe(Effect.scoped, Effect.provide(env))
  )

  it.live("an unreachable store is a 503 at once, not a hanging request", () =>
    Effect.gen(function* () {
      const keys = Keys.make("down/")
      const memory = yield* Store.Store
      // a store that never answers, like etcd during an outage (the client retries forever)
      const hanging = Store.Store.of({
        ...memory,
        get: () => Effect.never,
        range: () => Effect.never,
        txn: () => Effect.never
      })
      const api = yield* serve(keys, { storeTimeout: "300 millis" }).pipe(Effect.provideService(Store.Store, hanging))
      for (const path of ["/api/jobs", "/api/jobs/x", "/api/jobs/x/events", "/api/jobs/x/stream"]) {
        const r = yield* api("GET", path)
        assert.strictEqual(r.status, 503, path)
        assert.strictEqual(r.body.reason, "StoreUnavailable")
        assert.include(r.body.error, "store unreachable")
      }
    }).pipe(Effect.scoped, Effect.provide(env))
  )
})

describe("Auth.authorize without tokens", () => {
  const request = (url: string, remote: string, headers: Record<string, string> = {}) =>
    HttpServerRequest.fromWeb(new Request(url, { headers })).modify({ remoteAddress: Option.some(remote) })

  it("serves loopback clients as the local admin and refuses others with how to configure tokens", () => {
    const local = Auth.authorize(
      request("http://127.0.0.1:8080/api/jobs", "127.0.0.1", { host: "127.0.0.1:8080" }),
      [],
      "admin"
    )
    assert.deepStrictEqual(local, { actor: { name: "local", role: "admin" } })
    const v6 = Auth.authorize(request("http://[::1]:8080/api/jobs", "::1", { host: "[::1]:8080" }), [], "viewer")
    assert.isTrue("actor" in v6)
    const remote = Auth.authorize(
      request("http://10.1.2.3:8080/api/jobs", "10.1.2.3", { host: "10.1.2.3:8080" }),
      [],
      "viewer"
    )
    assert.isTrue("refusal" in remote)
    if ("refusal" in remote) {
      assert.strictEqual(remote.refusal.status, 403)
      assert.strictEqual(remote.refusal.body.reason, "NoTokensConfigured")
      assert.include(remote.refusal.body.error, "http.tokens")
    }
    // DNS rebinding: a loopback connection for a foreign host name
    const rebound = Auth.authorize(
      request("http://evil.example/api/jobs", "127.0.0.1", { host: "evil.example" }),
      [],
      "viewer"
    )
    assert.isTrue("refusal" in rebound)
  })
})

describe("HttpApi operation preview", () => {
  it.live("a rollback preview lists what is deleted, kept because another job holds it, and skipped", () =>
    Effect.gen(function* () {
      const keys = Keys.make("preview/")
      const api = yield* serve(keys)
      yield* Engine.run({ runnerId: "r1", prefix: keys.prefix, leaseTtl: "5 seconds" }).pipe(Effect.forkScoped)
      const network = (job: string) => ({
        id: job,
        tasks: [
          { id: "net", type: "test/echo", shared: "net-1", input: { id: "n-1" } },
          { id: "bad", type: "test/fail", input: { message: "quota" } },
          { id: "vm", type: "test/echo", dependencies: ["bad"], input: 1 }
        ],
        clearTasks: [
          { id: "vm-del", type: "test/echo", undoes: "vm", input: 1 },
          { id: "net-del", type: "test/echo", undoes: "net", shared: "net-1", dependencies: ["vm-del"], input: 1 }
        ]
      })
      yield* submit(keys, network("a"))
      yield* awaitState(keys, "a", ["completed"])
      yield* submit(keys, network("b"))
      yield* awaitState(keys, "b", ["completed"])

      const rollback = (yield* api("GET", "/api/jobs/a/preview/rollback")).body
      assert.isTrue(rollback.allowed)
      assert.deepStrictEqual(rollback.counts, { delete: 0, keep: 1, skip: 1 })
      const byTask = new Map((rollback.clear as Array<Record<string, unknown>>).map((s) => [s.task, s]))
      assert.deepInclude(byTask.get("vm-del"), { action: "skip", why: "run task vm never started" })
      assert.deepInclude(byTask.get("net-del"), { action: "keep", heldBy: ["b"], resource: { id: "n-1" } })

      const confirm = (yield* api("GET", "/api/jobs/a/preview/confirm")).body
      assert.deepStrictEqual(confirm.counts, { delete: 0, keep: 2, skip: 0 })
      const retry = (yield* api("GET", "/api/jobs/a/preview/retry")).body
      assert.sameMembers(retry.tasks, ["bad", "vm"])
      const pause = (yield* api("GET", "/api/jobs/a/preview/pause")).body
      assert.isFalse(pause.allowed)
      assert.include(pause.message, "cannot pause a job that is completed (partial); possible now:")
      assert.strictEqual((yield* api("GET", "/api/jobs/a/preview/explode")).status, 404)
      assert.strictEqual((yield* api("GET", "/api/jobs/nope/preview/rollback")).status, 404)

      // once b let go of the network, a's rollback deletes it
      yield* Jobs.request(keys, "b", "rollback")
      yield* awaitState(keys, "b", ["cleared"])
      const after = (yield* api("GET", "/api/jobs/a/preview/rollback")).body
      assert.deepStrictEqual(after.counts, { delete: 1, keep: 0, skip: 1 })
    }).pipe(Effect.scoped, Effect.provide(env))
  )
})
