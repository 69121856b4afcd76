/**
 * The Store conformance suite: the behaviour every `Store` driver must have,
 * registered as vitest blocks. Run it against each driver so the in-memory
 * store stays honest about revisions, CAS, leases and watches.
 *
 * `clock: "test"` runs on `TestClock` (time passes only when the suite
 * adjusts it); `clock: "live"` runs in real time against a real server.
 *
 * @since 0.1.0
 */
import { assert, describe, it } from "@effect/vitest"
import { Array as Arr, Duration, Effect, Exit, Fiber, type Layer, Option, Schedule, Scope, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as Store from "../Store.ts"

export interface ConformanceOptions {
  readonly clock: "test" | "live"
  /** Prepended to every key, so runs against a shared server never collide. */
  readonly keyPrefix?: string
}

type Test = Effect.Effect<void, unknown, Store.Store | Scope.Scope>

export const storeConformance = (
  name: string,
  makeLayer: () => Layer.Layer<Store.Store, unknown>,
  options: ConformanceOptions
): void => {
  const live = options.clock === "live"
  let counter = 0
  const run = (title: string, body: (k: (s: string) => string) => Test, timeout?: number) => {
    const base = `${options.keyPrefix ?? ""}conformance/${++counter}/`
    const test = () => body((s) => base + s).pipe(Effect.provide(makeLayer()), Effect.orDie) as Effect.Effect<void>
    if (live) it.live(title, test, timeout ?? 30_000)
    else it.effect(title, test)
  }

  /** Lets `d` of time pass on whichever clock the suite runs. */
  const pass = (d: Duration.Input) => (live ? Effect.sleep(d) : TestClock.adjust(d))

  /** Retries `check` until it holds; on TestClock it must hold at once. */
  const eventually = <A, E, R>(check: Effect.Effect<A, E, R>, within: Duration.Input = "5 seconds") =>
    live
      ? check.pipe(
          Effect.retry(Schedule.spaced("50 millis")),
          Effect.timeoutOrElse({
            duration: within,
            orElse: () => check
          })
        )
      : check

  const S = Store.Store
  const put = (key: string, value: string, lease?: Store.LeaseId) =>
    S.use((s) => s.txn({ compare: [], success: [{ _tag: "put", key, value, lease }] }))
  const value = (key: string) => S.use((s) => s.get(key)).pipe(Effect.map(Option.map((kv) => kv.value)))
  const assertGone = (key: string) =>
    eventually(
      value(key).pipe(
        Effect.flatMap((v) => (Option.isNone(v) ? Effect.void : Effect.fail(new Error(`${key} still present`))))
      )
    )

  describe(`Store conformance: ${name}`, () => {
    describe("keys, revisions and compare-and-swap", () => {
      run("get of a missing key is None; put then get returns the value with revisions", (k) =>
        Effect.gen(function* () {
          const store = yield* S
          assert.isTrue(Option.isNone(yield* store.get(k("missing"))))
          const r1 = yield* put(k("a"), "1")
          const kv1 = Option.getOrThrow(yield* store.get(k("a")))
          assert.strictEqual(kv1.value, "1")
          assert.strictEqual(kv1.createRevision, r1.revision)
          assert.strictEqual(kv1.modRevision, r1.revision)
          assert.strictEqual(kv1.version, 1)
          const r2 = yield* put(k("a"), "2")
          assert.isTrue(r2.revision > r1.revision)
          const kv2 = Option.getOrThrow(yield* store.get(k("a")))
          assert.strictEqual(kv2.createRevision, r1.revision)
          assert.strictEqual(kv2.modRevision, r2.revision)
          assert.strictEqual(kv2.version, 2)
          assert.isTrue((yield* store.revision) >= r2.revision)
        })
      )

      run("create-if-absent: first wins, second is rejected and sees the winner in its else branch", (k) =>
        Effect.gen(function* () {
          const store = yield* S
          const claim = (who: string) =>
            store.txn({
              compare: [{ key: k("claim"), target: "createRevision", op: "==", value: 0 }],
              success: [{ _tag: "put", key: k("claim"), value: who }],
              failure: [{ _tag: "get", key: k("claim") }]
            })
          const first = yield* claim("a")
          const second = yield* claim("b")
          assert.isTrue(first.succeeded)
          assert.isFalse(second.succeeded)
          const seen = second.results[0]
          assert.strictEqual(seen?._tag, "get")
          if (seen?._tag === "get") assert.strictEqual(seen.kv?.value, "a")
          assert.deepStrictEqual(yield* value(k("claim")), Option.some("a"))
        })
      )

      run("a stale modRevision compare is rejected and writes nothing", (k) =>
        Effect.gen(function* () {
          const store = yield* S
          yield* put(k("x"), "v1")
          const read = Option.getOrThrow(yield* store.get(k("x")))
          const update = (v: string) =>
            store.txn({
              compare: [{ key: k("x"), target: "modRevision", op: "==", value: read.modRevision }],
              success: [{ _tag: "put", key: k("x"), value: v }]
            })
          const ok = yield* update("v2")
          assert.isTrue(ok.succeeded)
          const stale = yield* update("v3")
          assert.isFalse(stale.succeeded)
          assert.strictEqual(stale.revision, ok.revision, "a failed compare must not bump the revision")
          assert.deepStrictEqual(yield* value(k("x")), Option.some("v2"))
        })
      )

      run("compares on value, version and missing keys follow etcd", (k) =>
        Effect.gen(function* () {
          const store = yield* S
          yield* put(k("v"), "b")
          const t = (compare: Store.Compare) =>
            store.txn({ compare: [compare], success: [] }).pipe(Effect.map((r) => r.succeeded))
          assert.isTrue(yield* t({ key: k("v"), target: "value", op: "==", value: "b" }))
          assert.isTrue(yield* t({ key: k("v"), target: "value", op: ">", value: "a" }))
          assert.isTrue(yield* t({ key: k("v"), target: "value", op: "<", value: "c" }))
          assert.isFalse(yield* t({ key: k("v"), target: "value", op: "!=", value: "b" }))
          assert.isTrue(yield* t({ key: k("v"), target: "version", op: "==", value: 1 }))
          assert.isTrue(yield* t({ key: k("none"), target: "version", op: "==", value: 0 }))
          assert.isTrue(yield* t({ key: k("none"), target: "modRevision", op: "<", value: 1 }))
          assert.isTrue(yield* t({ key: k("v"), target: "lease", op: "==", value: "0" }))
          // a value compare on a missing key never holds, whatever the operator
          assert.isFalse(yield* t({ key: k("none"), target: "value", op: "==", value: "" }))
          assert.isFalse(yield* t({ key: k("none"), target: "value", op: "!=", value: "x" }))
        })
      )

      run("a transaction applies all of its operations at one revision, or none", (k) =>
        Effect.gen(function* () {
          const store = yield* S
          yield* put(k("gone"), "x")
          const r = yield* store.txn({
            compare: [{ key: k("gate"), target: "createRevision", op: "==", value: 0 }],
            success: [
              { _tag: "put", key: k("p1"), value: "1" },
              { _tag: "put", key: k("p2"), value: "2" },
              { _tag: "delete", key: k("gone") },
              { _tag: "get", key: k("p1") }
            ]
          })
          assert.isTrue(r.succeeded)
          assert.deepStrictEqual(
            r.results.map((x) => x._tag),
            ["put", "put", "delete", "get"]
          )
          const p1 = Option.getOrThrow(yield* store.get(k("p1")))
          const p2 = Option.getOrThrow(yield* store.get(k("p2")))
          assert.strictEqual(p1.modRevision, r.revision)
          assert.strictEqual(p2.modRevision, r.revision)
          assert.isTrue(Option.isNone(yield* store.get(k("gone"))))
          const readOnly = yield* store.txn({ compare: [], success: [{ _tag: "get", key: k("p1") }] })
          assert.strictEqual(readOnly.revision, r.revision, "reads do not bump the revision")
        })
      )

      run("transactions with 128 operations pass, 129 are refused as invalid", (k) =>
        Effect.gen(function* () {
          const store = yield* S
          const ops = (n: number): Array<Store.Op> =>
            Arr.makeBy(n, (i) => ({ _tag: "put", key: k(`many/${String(i).padStart(3, "0")}`), value: `${i}` }))
          const r = yield* store.txn({ compare: [], success: ops(128) })
          assert.isTrue(r.succeeded)
          assert.strictEqual((yield* store.range(k("many/"))).kvs.length, 128)
          const refused = yield* Effect.flip(store.txn({ compare: [], success: ops(129) }))
          assert.strictEqual(refused.reason._tag, "InvalidRequest")
          assert.isFalse(refused.retryable)
        })
      )

      run("a transaction that writes one key twice is refused as invalid, writing nothing", (k) =>
        Effect.gen(function* () {
          const store = yield* S
          const refused = yield* Effect.flip(
            store.txn({
              compare: [],
              success: [
                { _tag: "put", key: k("twice"), value: "1" },
                { _tag: "put", key: k("other"), value: "x" },
                { _tag: "put", key: k("twice"), value: "2" }
              ]
            })
          )
          assert.strictEqual(refused.reason._tag, "InvalidRequest")
          assert.isTrue(Option.isNone(yield* store.get(k("other"))))
          const mixed = yield* Effect.flip(
            store.txn({
              compare: [],
              success: [
                { _tag: "put", key: k("twice"), value: "1" },
                { _tag: "delete", key: k("twice") }
              ]
            })
          )
          assert.strictEqual(mixed.reason._tag, "InvalidRequest")
        })
      )

      run("delete and deletePrefix report what they removed", (k) =>
        Effect.gen(function* () {
          const store = yield* S
          yield* put(k("d/1"), "1")
          yield* put(k("d/2"), "2")
          yield* put(k("e"), "3")
          const r = yield* store.txn({
            compare: [],
            success: [
              { _tag: "deletePrefix", prefix: k("d/") },
              { _tag: "delete", key: k("nothing") }
            ]
          })
          assert.deepStrictEqual(r.results, [
            { _tag: "delete", deleted: 2 },
            { _tag: "delete", deleted: 0 }
          ])
          assert.strictEqual((yield* store.range(k(""))).kvs.length, 1)
        })
      )
    })

    describe("range", () => {
      run(
        "pages through thousands of keys in key order, at one revision",
        (k) =>
          Effect.gen(function* () {
            const store = yield* S
            const total = 2_500
            const keys = Arr.makeBy(total, (i) => k(`r/${String(i).padStart(5, "0")}`))
            yield* Effect.forEach(
              Arr.chunksOf(keys, 100),
              (chunk) =>
                store.txn({ compare: [], success: chunk.map((key) => ({ _tag: "put", key, value: key }) as const) }),
              { concurrency: 4 }
            )
            const before = yield* store.revision
            yield* put(k("r/00000"), "changed")
            yield* put(k("r/99999"), "added")
            const all = yield* store.range(k("r/"), { pageSize: 300 })
            assert.strictEqual(all.kvs.length, total + 1)
            assert.deepStrictEqual(
              all.kvs.map((kv) => kv.key),
              [...keys, k("r/99999")]
            )
            const old = yield* store.range(k("r/"), { pageSize: 300, revision: before })
            assert.strictEqual(old.kvs.length, total)
            assert.strictEqual(old.revision, before)
            assert.strictEqual(old.kvs[0]?.value, k("r/00000"))
            const limited = yield* store.range(k("r/"), { pageSize: 7, limit: 20 })
            assert.deepStrictEqual(
              limited.kvs.map((kv) => kv.key),
              keys.slice(0, 20)
            )
            // from a key inside the prefix, inclusive; a start before the prefix is the prefix's start
            const from = yield* store.range(k("r/"), { pageSize: 7, limit: 20, from: keys[500]! })
            assert.deepStrictEqual(
              from.kvs.map((kv) => kv.key),
              keys.slice(500, 520)
            )
            const fromAbove = yield* store.range(k("r/"), { limit: 3, from: k("r") })
            assert.deepStrictEqual(
              fromAbove.kvs.map((kv) => kv.key),
              keys.slice(0, 3)
            )
          }),
        120_000
      )

      run("a prefix does not match its neighbours", (k) =>
        Effect.gen(function* () {
          const store = yield* S
          yield* put(k("job/1"), "a")
          yield* put(k("job/10"), "b")
          yield* put(k("job0"), "c")
          yield* put(k("jo"), "d")
          const r = yield* store.range(k("job/"))
          assert.deepStrictEqual(
            r.kvs.map((kv) => kv.value),
            ["a", "b"]
          )
        })
      )
    })

    describe("leases", () => {
      run("a lease that is not kept alive expires and removes its keys", (k) =>
        Effect.gen(function* () {
          const store = yield* S
          const id = yield* store.grantLease(Duration.seconds(2))
          yield* put(k("leased"), "x", id)
          yield* put(k("plain"), "y")
          assert.strictEqual(Option.getOrThrow(yield* store.get(k("leased"))).lease, id)
          yield* pass("3500 millis")
          yield* assertGone(k("leased"))
          assert.deepStrictEqual(yield* value(k("plain")), Option.some("y"))
          assert.isTrue(Option.isNone(yield* store.keepAliveOnce(id)))
          const refused = yield* Effect.flip(put(k("late"), "z", id))
          assert.strictEqual(refused.reason._tag, "LeaseExpired")
        })
      )

      run("keep-alive keeps a lease and its keys for many TTLs", (k) =>
        Effect.gen(function* () {
          const store = yield* S
          const lease = yield* store.lease(Duration.seconds(2))
          yield* put(k("kept"), "x", lease.id)
          for (let i = 0; i < 4; i++) yield* pass("1500 millis")
          assert.deepStrictEqual(yield* value(k("kept")), Option.some("x"))
          assert.isFalse(yield* lease.isLost)
        })
      )

      run("closing the lease's scope revokes it and removes its keys at once", (k) =>
        Effect.gen(function* () {
          const store = yield* S
          const scope = yield* Scope.make()
          const lease = yield* store.lease(Duration.seconds(30)).pipe(Scope.provide(scope))
          yield* put(k("mine"), "x", lease.id)
          yield* Scope.close(scope, Exit.void)
          // no time passes: revocation, not expiry, removed the key
          assert.isTrue(Option.isNone(yield* store.get(k("mine"))))
        })
      )

      run("loss of a lease revoked elsewhere is observed within one TTL", (k) =>
        Effect.gen(function* () {
          const store = yield* S
          const lease = yield* store.lease(Duration.seconds(2))
          yield* put(k("held"), "x", lease.id)
          yield* store.revokeLease(lease.id)
          const lost = yield* Effect.forkChild(lease.lost)
          yield* pass("2 seconds")
          const error = yield* Fiber.join(lost).pipe(Effect.timeout("3 seconds"))
          assert.strictEqual(error.reason._tag, "LeaseExpired")
          assert.isTrue(yield* lease.isLost)
          assert.isTrue(Option.isNone(yield* store.get(k("held"))))
        })
      )

      run("a lease compare tells whose lease holds a key", (k) =>
        Effect.gen(function* () {
          const store = yield* S
          const lease = yield* store.lease(Duration.seconds(10))
          yield* put(k("owned"), "x", lease.id)
          const mine = yield* store.txn({
            compare: [{ key: k("owned"), target: "lease", op: "==", value: lease.id }],
            success: []
          })
          const other = yield* store.txn({
            compare: [{ key: k("owned"), target: "lease", op: "==", value: "12345" }],
            success: []
          })
          assert.isTrue(mine.succeeded)
          assert.isFalse(other.succeeded)
        })
      )
    })

    describe("watch", () => {
      const collect = (prefix: string, n: number, fromRevision?: number) =>
        S.use((s) =>
          s
            .watch(prefix, fromRevision === undefined ? {} : { fromRevision })
            .pipe(Stream.take(n), Stream.runCollect, Effect.forkChild)
        )

      const keyOf = (e: Store.WatchEvent) => (e._tag === "put" ? e.kv.key : e.key)

      run("delivers every change under the prefix, in order, with revisions", (k) =>
        Effect.gen(function* () {
          const store = yield* S
          const start = yield* store.revision
          const fiber = yield* collect(k("w/"), 60, start + 1)
          const expected: Array<{ tag: string; key: string; revision: number }> = []
          for (let i = 0; i < 40; i++) {
            const key = k(`w/${i % 7}`)
            const r = yield* put(key, `${i}`)
            expected.push({ tag: "put", key, revision: r.revision })
            yield* put(k(`outside/${i}`), "no")
            if (i % 2 === 1) {
              const d = yield* store.txn({ compare: [], success: [{ _tag: "delete", key }] })
              expected.push({ tag: "delete", key, revision: d.revision })
            }
          }
          const events = yield* Fiber.join(fiber).pipe(Effect.timeout("10 seconds"))
          assert.deepStrictEqual(
            events.map((e) => ({ tag: e._tag, key: keyOf(e), revision: e.revision })),
            expected
          )
          const last = events[events.length - 2]!
          if (last._tag === "put") assert.strictEqual(last.kv.value, "39")
        })
      )

      run("with an end, delivers the keys from the prefix up to the end and nothing past it", (k) =>
        Effect.gen(function* () {
          const store = yield* S
          const start = yield* store.revision
          const fiber = yield* S.use((s) =>
            s
              .watch(k("r/"), { fromRevision: start + 1, end: k("r/~") })
              .pipe(Stream.take(3), Stream.runCollect, Effect.forkChild)
          )
          const expected: Array<number> = []
          expected.push((yield* put(k("r/a"), "in")).revision)
          yield* put(k("r/~log/1"), "past the end")
          yield* put(k("r/~"), "the end itself")
          expected.push((yield* put(k("r/}"), "in: below ~")).revision)
          yield* put(k("s/"), "outside")
          expected.push((yield* put(k("r/b/c"), "in")).revision)
          const events = yield* Fiber.join(fiber).pipe(Effect.timeout("10 seconds"))
          assert.deepStrictEqual(
            events.map((e) => [keyOf(e), e.revision]),
            [
              [k("r/a"), expected[0]],
              [k("r/}"), expected[1]],
              [k("r/b/c"), expected[2]]
            ]
          )
        })
      )

      run("resumes from a past revision exactly, without gaps or repeats", (k) =>
        Effect.gen(function* () {
          const revisions: Array<number> = []
          for (let i = 0; i < 20; i++) revisions.push((yield* put(k(`h/${i}`), `${i}`)).revision)
          const fiber = yield* collect(k("h/"), 10, revisions[10])
          const events = yield* Fiber.join(fiber).pipe(Effect.timeout("10 seconds"))
          assert.deepStrictEqual(
            events.map((e) => e.revision),
            revisions.slice(10)
          )
        })
      )

      run("no event is dropped under concurrent writers", (k) =>
        Effect.gen(function* () {
          const store = yield* S
          const start = yield* store.revision
          const n = 200
          const fiber = yield* collect(k("c/"), n, start + 1)
          yield* Effect.forEach(Arr.range(1, n), (i) => put(k(`c/${i % 13}`), `${i}`), { concurrency: 8 })
          const events = yield* Fiber.join(fiber).pipe(Effect.timeout("20 seconds"))
          const values = events.map((e) => (e._tag === "put" ? Number(e.kv.value) : -1)).sort((a, b) => a - b)
          assert.deepStrictEqual(values, Arr.range(1, n))
          const revs = events.map((e) => e.revision)
          assert.deepStrictEqual(
            revs,
            [...revs].sort((a, b) => a - b)
          )
        })
      )

      run("sees the delete of keys whose lease expired", (k) =>
        Effect.gen(function* () {
          const store = yield* S
          const id = yield* store.grantLease(Duration.seconds(1))
          const r = yield* put(k("e/x"), "x", id)
          const fiber = yield* collect(k("e/"), 2, r.revision)
          yield* pass("2500 millis")
          const events = yield* Fiber.join(fiber).pipe(Effect.timeout("10 seconds"))
          assert.deepStrictEqual(
            events.map((e) => e._tag),
            ["put", "delete"]
          )
        })
      )

      run("watching or reading a compacted revision fails with Compacted", (k) =>
        Effect.gen(function* () {
          const store = yield* S
          const first = yield* put(k("k/1"), "1")
          yield* put(k("k/1"), "2")
          const third = yield* put(k("k/1"), "3")
          yield* store.compact(third.revision)
          const watchError = yield* S.use((s) =>
            s.watch(k("k/"), { fromRevision: first.revision }).pipe(Stream.runDrain, Effect.flip)
          ).pipe(Effect.timeout("10 seconds"))
          assert.strictEqual(watchError.reason._tag, "Compacted")
          const rangeError = yield* Effect.flip(store.range(k("k/"), { revision: first.revision }))
          assert.strictEqual(rangeError.reason._tag, "Compacted")
          // the present is still readable and watchable after compaction
          assert.deepStrictEqual(yield* value(k("k/1")), Option.some("3"))
          const fiber = yield* collect(k("k/"), 1, third.revision)
          assert.strictEqual((yield* Fiber.join(fiber).pipe(Effect.timeout("10 seconds")))[0]?.revision, third.revision)
        })
      )
    })
  })
}
