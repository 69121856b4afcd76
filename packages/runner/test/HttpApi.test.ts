import { assert, describe, it } from "@effect/vitest"
import { JobBuilder, Jobs, Keys, Store, TaskRegistry } from "@migrator/core"
import { freePort } from "@migrator/etcd-store/testing"
import { Duration, Effect, Layer, Ref } from "effect"
import * as HttpApi from "../src/http/HttpApi.ts"

// readiness rules of the HTTP service, over real HTTP on the in-memory store

describe("HttpApi readiness", () => {
  it.live("ready only with this runner's registration on a lease, and not while draining", () =>
    Effect.gen(function* () {
      const keys = Keys.make("ready/")
      const port = yield* Effect.promise(() => freePort())
      const draining = yield* Ref.make(false)
      yield* Layer.build(HttpApi.layer({ keys, runnerId: "r1", host: "127.0.0.1", port, draining: Ref.get(draining) }))
      const readyz = Effect.promise(async () => {
        const r = await fetch(`http://127.0.0.1:${port}/readyz`)
        return { status: r.status, body: (await r.json()) as Record<string, unknown> }
      })

      const before = yield* readyz
      assert.strictEqual(before.status, 503)
      assert.deepStrictEqual(before.body, { ready: false, store: "reachable", lease: false })

      // a registration without a lease is not enough
      yield* Store.put(keys.runner("r1"), "{}")
      assert.strictEqual((yield* readyz).status, 503)

      const store = yield* Store.Store
      const lease = yield* store.lease(Duration.seconds(10))
      yield* Store.put(keys.runner("r1"), "{}", { lease: lease.id })
      const ready = yield* readyz
      assert.strictEqual(ready.status, 200)
      assert.deepStrictEqual(ready.body, { ready: true, store: "reachable", lease: true })

      yield* Ref.set(draining, true)
      const drain = yield* readyz
      assert.strictEqual(drain.status, 503)
      assert.deepStrictEqual(drain.body, { ready: false, store: "reachable", lease: true, draining: true })
    }).pipe(Effect.scoped, Effect.provide(Layer.merge(Store.layerMemory, TaskRegistry.layer)))
  )

  it.live("a ready task that no live runner serves says so in the job document", () =>
    Effect.gen(function* () {
      const keys = Keys.make("waiting/")
      const port = yield* Effect.promise(() => freePort())
      yield* Layer.build(
        HttpApi.layer({ keys, runnerId: "r1", host: "127.0.0.1", port, draining: Effect.succeed(false) })
      )
      const store = yield* Store.Store
      const lease = yield* store.lease(Duration.seconds(10))
      yield* Store.put(keys.runner("r2"), JSON.stringify({ runner: "r2", types: ["test/echo"] }), { lease: lease.id })
      const built = yield* JobBuilder.build({
        id: "w1",
        tasks: [
          { id: "served", type: "test/echo", input: {} },
          { id: "unserved", type: "dns/record.create", input: {} },
          { id: "later", type: "dns/record.create", dependencies: ["served"], input: {} }
        ]
      })
      yield* Jobs.submit(keys, built)
      const doc = yield* Effect.promise(async () => {
        const r = await fetch(`http://127.0.0.1:${port}/api/jobs/w1`)
        return (await r.json()) as { tasks: Array<{ id: string; waitingFor: string | null }> }
      })
      const waiting = Object.fromEntries(doc.tasks.map((t) => [t.id, t.waitingFor]))
      assert.deepStrictEqual(waiting, {
        served: null,
        unserved: 'no live runner serves "dns/record.create"',
        later: null // its dependency has not run yet
      })
    }).pipe(Effect.scoped, Effect.provide(Layer.merge(Store.layerMemory, TaskRegistry.layer)))
  )
})
