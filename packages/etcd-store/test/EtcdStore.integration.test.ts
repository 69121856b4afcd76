import { assert, describe, it } from "@effect/vitest"
import { EtcdStore } from "@migrator/etcd-store"
import { startCuttingProxy, startEtcd } from "@migrator/etcd-store/testing"
import { Duration, Effect, Exit, Fiber, Option, Schedule, Stream } from "effect"
import { inject } from "vitest"

const endpoint = inject("etcdEndpoint")

/** A private etcd for tests that stop or freeze it. */
const privateEtcd = Effect.acquireRelease(
  Effect.promise(() => startEtcd("private")),
  (server) => Effect.promise(() => server.destroy())
)

/** A proxy in front of the shared etcd that cuts nothing until told to go silent (`blackhole()`). */
const quietProxy = (seed: number) =>
  Effect.acquireRelease(
    Effect.promise(() => {
      const target = new URL(endpoint)
      return startCuttingProxy({ target: { host: target.hostname, port: Number(target.port) }, probability: 0, seed })
    }),
    (p) => Effect.promise(() => p.close())
  )

describe("etcd driver against a real etcd", () => {
  it.live("a namespace isolates keys, and results come back without it", () =>
    Effect.gen(function* () {
      const a = yield* EtcdStore.make({ endpoints: [endpoint], namespace: "ns-a/" })
      const b = yield* EtcdStore.make({ endpoints: [endpoint], namespace: "ns-b/" })
      yield* a.txn({ compare: [], success: [{ _tag: "put", key: "k", value: "from a" }] })
      yield* b.txn({ compare: [], success: [{ _tag: "put", key: "k", value: "from b" }] })
      assert.strictEqual(Option.getOrThrow(yield* a.get("k")).value, "from a")
      const listed = yield* b.range("")
      assert.deepStrictEqual(
        listed.kvs.map((kv) => [kv.key, kv.value]),
        [["k", "from b"]]
      )
    })
  )

  it.live("any UTF-8 text and 64-bit lease ids cross our codec intact: txn, get, range and watch agree", () =>
    Effect.gen(function* () {
      const store = yield* EtcdStore.make({ endpoints: [endpoint], namespace: "nś-ü/" })
      const lease = yield* store.grantLease(Duration.seconds(30))
      // etcd's lease ids use all 64 bits: beyond a double's 53
      assert.isTrue(BigInt(lease) > 2n ** 53n, `lease id ${lease}`)
      const from = (yield* store.revision) + 1
      const key = "tâche/é/🚀"
      const value = `{"naïve":"日本語 ✓","n":${"9".repeat(20)}}`
      const written = yield* store.txn({
        compare: [
          { key, target: "createRevision", op: "==", value: 0 },
          { key: "ключ", target: "lease", op: "==", value: "0" }
        ],
        success: [
          { _tag: "put", key, value, lease },
          { _tag: "put", key: "ключ", value: "" },
          { _tag: "get", key }
        ]
      })
      assert.isTrue(written.succeeded)
      const read = written.results[2]
      assert.strictEqual(read?._tag === "get" ? read.kv?.value : undefined, value)
      const kv = Option.getOrThrow(yield* store.get(key))
      assert.deepStrictEqual(
        [kv.key, kv.value, kv.lease, kv.modRevision, kv.createRevision, kv.version],
        [key, value, lease, written.revision, written.revision, 1]
      )
      assert.isTrue(
        yield* store
          .txn({
            compare: [
              { key, target: "lease", op: "==", value: lease },
              { key, target: "value", op: "==", value }
            ],
            success: []
          })
          .pipe(Effect.map((r) => r.succeeded))
      )
      const listed = yield* store.range("")
      assert.deepStrictEqual(
        listed.kvs.map((k) => [k.key, k.value]),
        [
          [key, value],
          ["ключ", ""]
        ]
      )
      const removed = yield* store.txn({ compare: [], success: [{ _tag: "deletePrefix", prefix: "tâche/" }] })
      assert.deepStrictEqual(removed.results, [{ _tag: "delete", deleted: 1 }])
      const events = yield* store
        .watch("", { fromRevision: from })
        .pipe(Stream.take(3), Stream.runCollect, Effect.timeout("10 seconds"))
      assert.deepStrictEqual(
        events.map((e) => (e._tag === "put" ? [e.kv.key, e.kv.value, e.kv.lease] : [e.key, e.revision])),
        [
          [key, value, lease],
          ["ключ", "", undefined],
          [key, removed.revision]
        ]
      )
      yield* store.txn({ compare: [], success: [{ _tag: "deletePrefix", prefix: "" }] })
    }).pipe(Effect.scoped)
  )

  it.live("a write that times out on a connection gone silent is followed by one over a new connection", () =>
    Effect.gen(function* () {
      const proxy = yield* quietProxy(1)
      const store = yield* EtcdStore.make({ endpoints: [proxy.endpoint], requestTimeout: "1 second" })
      const put = (value: string) => store.txn({ compare: [], success: [{ _tag: "put", key: "silent/k", value }] })
      yield* put("before")
      proxy.blackhole()
      const lost = yield* Effect.exit(put("lost"))
      assert.isTrue(Exit.isFailure(lost), "the write on the silent connection times out")
      // no keep-alive would notice the dead connection: the timeout itself must replace it
      yield* put("after")
      assert.strictEqual(Option.getOrThrow(yield* store.get("silent/k")).value, "after")
      assert.isAtLeast(proxy.stats().connections, 2)
    }).pipe(Effect.scoped)
  )

  it.live(
    "a watch on a connection gone silent notices within a keep-alive and goes on over a new one",
    () =>
      Effect.gen(function* () {
        const proxy = yield* quietProxy(2)
        const watching = yield* EtcdStore.make({ endpoints: [proxy.endpoint] })
        const writer = yield* EtcdStore.make({ endpoints: [endpoint] })
        const from = (yield* writer.revision) + 1
        const fiber = yield* watching
          .watch("hush/", { fromRevision: from })
          .pipe(Stream.take(2), Stream.runCollect, Effect.forkChild)
        yield* writer.txn({ compare: [], success: [{ _tag: "put", key: "hush/1", value: "before" }] })
        yield* Effect.sleep("500 millis") // delivered over the connection about to go silent
        proxy.blackhole()
        yield* writer.txn({ compare: [], success: [{ _tag: "put", key: "hush/2", value: "after" }] })
        const events = yield* Fiber.join(fiber).pipe(Effect.timeout("30 seconds"))
        assert.deepStrictEqual(
          events.map((e) => (e._tag === "put" ? e.kv.value : e._tag)),
          ["before", "after"]
        )
        assert.isAtLeast(proxy.stats().connections, 2)
      }).pipe(Effect.scoped),
    60_000
  )

  it.live("a watch catches up over a reply larger than gRPC's default 4 MB limit", () =>
    Effect.gen(function* () {
      const store = yield* EtcdStore.make({ endpoints: [endpoint] })
      const from = (yield* store.revision) + 1
      const value = "x".repeat(1_000_000)
      for (let i = 0; i < 6; i++) yield* store.txn({ compare: [], success: [{ _tag: "put", key: `big/${i}`, value }] })
      // all six revisions are behind the watch: etcd sends them in one 6 MB message
      const events = yield* store
        .watch("big/", { fromRevision: from })
        .pipe(Stream.take(6), Stream.runCollect, Effect.timeout("20 seconds"))
      assert.deepStrictEqual(
        events.map((e) => (e._tag === "put" ? e.kv.value.length : 0)),
        [1_000_000, 1_000_000, 1_000_000, 1_000_000, 1_000_000, 1_000_000]
      )
      yield* store.txn({ compare: [], success: [{ _tag: "deletePrefix", prefix: "big/" }] })
    }).pipe(Effect.scoped)
  )

  it.live(
    "a watch survives etcd being stopped and restarted: every event once, in order",
    () =>
      Effect.gen(function* () {
        const server = yield* privateEtcd
        const store = yield* EtcdStore.make({ endpoints: [server.endpoint], requestTimeout: "2 seconds" })
        const from = (yield* store.revision) + 1
        const fiber = yield* store
          .watch("w/", { fromRevision: from })
          .pipe(Stream.take(10), Stream.runCollect, Effect.forkChild)
        for (let i = 0; i < 5; i++)
          yield* store.txn({ compare: [], success: [{ _tag: "put", key: `w/${i}`, value: `${i}` }] })
        yield* Effect.promise(() => server.stop())
        yield* Effect.promise(() => server.start())
        // the client reconnects on its own; writes go through once it has
        yield* Effect.forEach(
          [5, 6, 7, 8, 9],
          (i) =>
            store
              .txn({ compare: [], success: [{ _tag: "put", key: `w/${i}`, value: `${i}` }] })
              .pipe(Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 300, while: (e) => e.retryable })),
          { concurrency: 1 }
        )
        const events = yield* Fiber.join(fiber).pipe(Effect.timeout("40 seconds"))
        assert.deepStrictEqual(
          events.map((e) => (e._tag === "put" ? e.kv.value : "-")),
          ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]
        )
      }).pipe(Effect.scoped),
    90_000
  )

  it.live(
    "a lease is presumed lost within one TTL when etcd freezes",
    () =>
      Effect.gen(function* () {
        const server = yield* privateEtcd
        const store = yield* EtcdStore.make({ endpoints: [server.endpoint], requestTimeout: "1 second" })
        const lease = yield* store.lease(Duration.seconds(2))
        yield* Effect.sleep("500 millis")
        const frozenAt = Date.now()
        server.freeze()
        yield* lease.lost.pipe(Effect.timeout("4 seconds"))
        const learnedAfter = Date.now() - frozenAt
        server.thaw()
        assert.isTrue(learnedAfter <= 2_000, `learned after ${learnedAfter} ms`)
      }).pipe(Effect.scoped),
    30_000
  )
})
