import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { request } from "node:https"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Keys, Store, TaskRegistry } from "@migrator/core"
import { createTestCertificates, freePort } from "@migrator/etcd-store/testing"
import { Effect, Layer, Redacted } from "effect"
import * as Auth from "../src/http/Auth.ts"
import * as HttpApi from "../src/http/HttpApi.ts"

// the listener serves HTTPS with the configured certificate; tokens work over it

const TOKEN = "tls-viewer-token-0123456789abcdef"

const get = (port: number, path: string, ca: string, headers: Record<string, string> = {}) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const r = request({ host: "127.0.0.1", port, path, ca, headers }, (response) => {
      let body = ""
      response.on("data", (d) => {
        body += d
      })
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }))
    })
    r.on("error", reject)
    r.end()
  })

describe("HttpApi over TLS", () => {
  it.live("serves HTTPS with the configured certificate and key; plain HTTP gets no answer", () =>
    Effect.gen(function* () {
      const dir = mkdtempSync(join(tmpdir(), "migrator-http-tls-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
      const certs = createTestCertificates(dir)
      const ca = readFileSync(certs.ca, "utf8")
      const port = yield* Effect.promise(() => freePort())
      yield* Layer.build(
        HttpApi.layer({
          keys: Keys.make("tls/"),
          runnerId: "r1",
          host: "127.0.0.1",
          port,
          tls: {
            cert: readFileSync(certs.serverCert, "utf8"),
            key: Redacted.make(readFileSync(certs.serverKey, "utf8"))
          },
          tokens: [{ name: "grafana", role: "viewer", hash: Auth.hashToken(TOKEN) }]
        })
      )
      const health = yield* Effect.promise(() => get(port, "/healthz", ca))
      assert.strictEqual(health.status, 200)
      const anonymous = yield* Effect.promise(() => get(port, "/api/jobs", ca))
      assert.strictEqual(anonymous.status, 401)
      const jobs = yield* Effect.promise(() => get(port, "/api/jobs", ca, { authorization: `Bearer ${TOKEN}` }))
      assert.strictEqual(jobs.status, 200)
      assert.deepStrictEqual(JSON.parse(jobs.body), [])
      // an unknown CA is refused by the client: the certificate is the one configured
      const other = mkdtempSync(join(tmpdir(), "migrator-http-tls-other-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(other, { recursive: true, force: true })))
      const stranger = readFileSync(createTestCertificates(other, "other").ca, "utf8")
      const refused = yield* Effect.promise(() =>
        get(port, "/healthz", stranger).then(
          () => "answered",
          (e: Error) => e.message
        )
      )
      assert.notStrictEqual(refused, "answered")
      const plain = yield* Effect.promise(() =>
        fetch(`http://127.0.0.1:${port}/healthz`).then(
          (r) => r.status,
          () => 0
        )
      )
      assert.notStrictEqual(plain, 200)
    }).pipe(Effect.scoped, Effect.provide(Layer.merge(Store.layerMemory, TaskRegistry.layer)))
  )
})
