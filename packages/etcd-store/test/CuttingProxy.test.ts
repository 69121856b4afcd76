import { assert, describe, it } from "@effect/vitest"
import { EtcdStore } from "@migrator/etcd-store"
import { startCuttingProxy } from "@migrator/etcd-store/testing"
import { Effect, Exit, Option, Schedule } from "effect"
import { inject } from "vitest"

const endpoint = inject("etcdEndpoint")
const target = (() => {
  const url = new URL(endpoint)
  return { host: url.hostname, port: Number(url.port) }
})()

const proxy = (probability: number) =>
  Effect.acquireRelease(
    Effect.promise(() => startCuttingProxy({ target, probability, seed: 7, lingerMs: 300 })),
    (p) => Effect.promise(() => p.close())
  )

describe("CuttingProxy", () => {
  it.live("forwards every request while it does not cut", () =>
    Effect.gen(function* () {
      const p = yield* proxy(0)
      const store = yield* EtcdStore.make({ endpoints: [p.endpoint], requestTimeout: "3 seconds" })
      for (let i = 0; i < 5; i++) {
        yield* store.txn({ compare: [], success: [{ _tag: "put", key: "proxy/open", value: `${i}` }] })
      }
      assert.strictEqual(Option.getOrThrow(yield* store.get("proxy/open")).value, "4")
      assert.isAtLeast(p.stats().requests, 6)
      assert.strictEqual(p.stats().cuts, 0)
    })
  )

  it.live("a cut after the request loses the reply of a transaction that commits", () =>
    Effect.gen(function* () {
      const p = yield* proxy(1)
      const cut = yield* EtcdStore.make({ endpoints: [p.endpoint], requestTimeout: "3 seconds" })
      const direct = yield* EtcdStore.make({ endpoints: [endpoint], requestTimeout: "3 seconds" })
      const key = "proxy/lost"
      const exit = yield* Effect.exit(cut.txn({ compare: [], success: [{ _tag: "put", key, value: "committed" }] }))
      assert.isTrue(Exit.isFailure(exit), "the client sees a failure")
      assert.strictEqual(p.stats().cuts, 1)
      // the request reached etcd: the put is there, read past the proxy
      const value = yield* direct.get(key).pipe(
        Effect.flatMap((kv) => (Option.isSome(kv) ? Effect.succeed(kv.value.value) : Effect.fail("not yet"))),
        Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 40 })
      )
      assert.strictEqual(value, "committed")
      // and the client can go on once cutting stops: it reconnects
      p.setProbability(0)
      const after = yield* cut.get(key).pipe(Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 30 }))
      assert.strictEqual(Option.getOrThrow(after).value, "committed")
    })
  )
})
