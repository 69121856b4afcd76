/**
 * Transactions, reads and lease calls go over HTTP/2 streams of our own (`internal/unaryCalls.ts`),
 * not through grpc-js: what that transport decides itself, against a real etcd.
 */
import { assert, describe, it } from "@effect/vitest"
import type { Store } from "@migrator/core"
import { EtcdStore } from "@migrator/etcd-store"
import { freePort, startCuttingProxy } from "@migrator/etcd-store/testing"
import { Duration, Effect, Exit, Fiber, Option } from "effect"
import { inject } from "vitest"

const endpoint = inject("etcdEndpoint")
const target = (() => {
  const url = new URL(endpoint)
  return { host: url.hostname, port: Number(url.port) }
})()

const put = (store: Store.Service, key: string, value: string) =>
  store.txn({ compare: [], success: [{ _tag: "put", key, value }] })

/** A store behind a proxy that goes silent once `key` is written through it. */
const silencedAfterOneWrite = (seed: number, key: string, requestTimeout: Duration.Input) =>
  Effect.gen(function* () {
    const proxy = yield* Effect.acquireRelease(
      Effect.promise(() => startCuttingProxy({ target, probability: 0, seed })),
      (p) => Effect.promise(() => p.close())
    )
    const store = yield* EtcdStore.make({ endpoints: [proxy.endpoint], requestTimeout })
    yield* put(store, key, "before")
    proxy.blackhole()
    return { proxy, store }
  })

describe("calls on our own HTTP/2 transport", () => {
  it.live("a member that is down fails one transaction, not one in N: the next ones go to a member that answers", () =>
    Effect.gen(function* () {
      const down = `http://127.0.0.1:${yield* Effect.promise(freePort)}`
      const store = yield* EtcdStore.make({ endpoints: [down, endpoint], requestTimeout: "2 seconds" })
      const outcomes: Array<boolean> = []
      for (let i = 0; i < 20; i++) outcomes.push(Exit.isSuccess(yield* Effect.exit(put(store, "tx/failover", `${i}`))))
      assert.isAtMost(outcomes.filter((ok) => !ok).length, 1, `outcomes: ${outcomes.join(", ")}`)
      assert.isTrue(outcomes.slice(1).every((ok) => ok))
      assert.strictEqual(Option.getOrThrow(yield* store.get("tx/failover")).value, "19")
    }).pipe(Effect.scoped)
  )

  it.live("reads with a member down all succeed: the one that meets it is retried on a member that answers", () =>
    Effect.gen(function* () {
      yield* put(yield* EtcdStore.make({ endpoints: [endpoint] }), "tx/reads", "here")
      const down = `http://127.0.0.1:${yield* Effect.promise(freePort)}`
      const store = yield* EtcdStore.make({ endpoints: [down, endpoint], requestTimeout: "2 seconds" })
      // (etcd3's random pick of a member failed about one read in sixteen here, past its retries)
      for (let i = 0; i < 50; i++) {
        assert.strictEqual(Option.getOrThrow(yield* store.get("tx/reads")).value, "here")
        assert.deepStrictEqual(
          (yield* store.range("tx/reads")).kvs.map((kv) => kv.value),
          ["here"]
        )
        assert.isAbove(yield* store.revision, 0)
      }
    }).pipe(Effect.scoped)
  )

  it.live(
    "a lease with a member down is granted and kept for many TTLs: a call that meets it is retried on one that answers",
    () =>
      Effect.gen(function* () {
        const down = `http://127.0.0.1:${yield* Effect.promise(freePort)}`
        const store = yield* EtcdStore.make({ endpoints: [down, endpoint], requestTimeout: "2 seconds" })
        // (etcd3's random pick failed one call in two here: a grant, or two keep-alives in a row, lost the lease)
        const lease = yield* store.lease(Duration.seconds(2))
        yield* store.txn({ compare: [], success: [{ _tag: "put", key: "tx/leased", value: "x", lease: lease.id }] })
        yield* Effect.sleep("6 seconds")
        assert.isFalse(yield* lease.isLost)
        assert.strictEqual(Option.getOrThrow(yield* store.get("tx/leased")).lease, lease.id)
      }).pipe(Effect.scoped)
  )

  it.live("a connection cut mid-call fails that call as unavailable; the next one goes over a new connection", () =>
    Effect.gen(function* () {
      const { proxy, store } = yield* silencedAfterOneWrite(3, "tx/cut", "5 seconds")
      // (cut before or after the request left, the call fails the same way)
      const call = yield* Effect.forkChild(Effect.exit(put(store, "tx/cut", "cut")))
      yield* Effect.sleep("200 millis")
      proxy.partition()
      const exit = yield* Fiber.join(call)
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        const error = exit.cause.reasons.find((r) => r._tag === "Fail")
        assert.strictEqual(error?._tag === "Fail" ? error.error.reason._tag : undefined, "Unavailable")
      }
      proxy.heal()
      yield* put(store, "tx/cut", "after")
      assert.strictEqual(Option.getOrThrow(yield* store.get("tx/cut")).value, "after")
      assert.isAtLeast(proxy.stats().connections, 2)
    }).pipe(Effect.scoped)
  )

  it.live("an interrupted transaction is cancelled at once, whatever its deadline", () =>
    Effect.gen(function* () {
      const { store } = yield* silencedAfterOneWrite(4, "tx/interrupted", "30 seconds")
      const call = yield* Effect.forkChild(put(store, "tx/interrupted", "never answered"))
      yield* Effect.sleep("100 millis")
      const took = yield* Effect.timed(Fiber.interrupt(call))
      assert.isBelow(Duration.toMillis(took[0]), 1_000)
    }).pipe(Effect.scoped)
  )
})
