import { assert, describe, it } from "@effect/vitest"
import { Job, JobBuilder, Jobs, Keys, Store, TaskRegistry } from "@migrator/core"
import { TestPlugin } from "@migrator/core/testing"
import { freePort } from "@migrator/etcd-store/testing"
import { Effect, Layer } from "effect"
import * as Auth from "../src/http/Auth.ts"
import * as HttpApi from "../src/http/HttpApi.ts"

// DELETE /api/jobs/:id and GET /api/archive[/:id] over real HTTP on the memory store

const VIEWER = "viewer-token-0123456789abcdef"
const OPERATOR = "operator-token-0123456789abcdef"
const ADMIN = "admin-token-0123456789abcdef"
const tokens: ReadonlyArray<Auth.ApiToken> = [
  { name: "grafana", role: "viewer", hash: Auth.hashToken(VIEWER) },
  { name: "oncall", role: "operator", hash: Auth.hashToken(OPERATOR) },
  { name: "dr-lead", role: "admin", hash: Auth.hashToken(ADMIN) }
]
const keys = Keys.make("archive-api/")

const env = TestPlugin.layer.pipe(Layer.provideMerge(TaskRegistry.layer), Layer.provideMerge(Store.layerMemory))

const serve = Effect.gen(function* () {
  const port = yield* Effect.promise(() => freePort())
  yield* Layer.build(HttpApi.layer({ keys, runnerId: "r1", host: "127.0.0.1", port, tokens }))
  return (
    method: string,
    path: string,
    init: { token?: string; body?: string; headers?: Record<string, string> } = {}
  ) =>
    Effect.promise(async () => {
      const r = await fetch(`http://127.0.0.1:${port}${path}`, {
        method,
        headers: { ...(init.token === undefined ? {} : { authorization: `Bearer ${init.token}` }), ...init.headers },
        ...(init.body === undefined ? {} : { body: init.body })
      })
      // biome-ignore lint/suspicious/noExplicitAny: bodies are checked field by field
      return { status: r.status, body: (await r.json()) as any }
    })
})

/** A submitted job moved straight to `state` (no runner needed to finish it). */
const job = (id: string, state: Job.State) =>
  Effect.gen(function* () {
    const built = yield* JobBuilder.build({ id, tasks: [{ id: "a", type: "test/echo", input: 1 }] })
    yield* Jobs.submit(keys, built)
    const value = Jobs.encodeState(
      new Job.JobState({ state, updatedAt: 5, ...(state === "completed" ? { outcome: "succeeded" } : {}) })
    )
    yield* Store.put(keys.jobState(id), value)
    yield* Store.put(keys.indexEntry(id), value)
  })

describe("HttpApi: deleting finished jobs and the archive", () => {
  it.live("admin deletes a finished job; others are refused; the archive is read by viewers", () =>
    Effect.gen(function* () {
      const api = yield* serve
      yield* job("done", "completed")
      yield* job("busy", "running")

      for (const token of [VIEWER, OPERATOR]) {
        const refused = yield* api("DELETE", "/api/jobs/done", { token })
        assert.strictEqual(refused.status, 403)
        assert.strictEqual(refused.body.required, "admin")
      }
      const crossSite = yield* api("DELETE", "/api/jobs/done", {
        token: ADMIN,
        headers: { "sec-fetch-site": "cross-site" }
      })
      assert.strictEqual(crossSite.status, 403)
      assert.strictEqual((yield* api("DELETE", "/api/jobs/done", { token: ADMIN, body: "{nope" })).status, 400)

      const busy = yield* api("DELETE", "/api/jobs/busy", { token: ADMIN })
      assert.strictEqual(busy.status, 409)
      assert.strictEqual(busy.body.reason, "NotFinished")
      const unknown = yield* api("DELETE", "/api/jobs/nobody", { token: ADMIN })
      assert.strictEqual(unknown.status, 404)
      assert.isUndefined(unknown.body.archived)

      const deleted = yield* api("DELETE", "/api/jobs/done", { token: ADMIN, body: '{"reason":"reviewed"}' })
      assert.strictEqual(deleted.status, 200)
      assert.strictEqual(deleted.body.actor, "dr-lead")
      assert.strictEqual(deleted.body.reason, "reviewed")
      assert.strictEqual(deleted.body.removedBy, "delete")
      assert.strictEqual((yield* api("GET", "/api/jobs/done", { token: VIEWER })).status, 404)

      const again = yield* api("DELETE", "/api/jobs/done", { token: ADMIN })
      assert.strictEqual(again.status, 404)
      assert.strictEqual(again.body.archived.id, "done")

      const list = yield* api("GET", "/api/archive", { token: VIEWER })
      assert.deepStrictEqual(
        list.body.map((j: { id: string }) => j.id),
        ["done"]
      )
      const one = yield* api("GET", "/api/archive/done", { token: VIEWER })
      assert.strictEqual(one.body.state, "completed")
      assert.deepStrictEqual(one.body.results, { run: { none: 1 }, clear: {} })
      assert.strictEqual((yield* api("GET", "/api/archive/busy", { token: VIEWER })).status, 404)
      assert.strictEqual((yield* api("GET", "/api/archive", {})).status, 401)
    }).pipe(Effect.provide(env))
  )
})
