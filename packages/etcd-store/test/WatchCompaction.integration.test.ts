/**
 * A watch that must resume from a revision etcd has compacted away (it was
 * cut off while the store moved on and was compacted) fails with a typed
 * `Compacted` error, so its user re-lists; it neither hangs nor skips events
 * silently. A private etcd: compaction would disturb other files' watches.
 */
import { assert, describe, it } from "@effect/vitest"
import type { Store } from "@migrator/core"
import { EtcdStore } from "@migrator/etcd-store"
import { startCuttingProxy, startEtcd } from "@migrator/etcd-store/testing"
import { Cause, Deferred, Effect, Exit, Fiber, Stream } from "effect"

const privateEtcd = Effect.acquireRelease(
  Effect.promise(() => startEtcd("compaction")),
  (server) => Effect.promise(() => server.destroy())
)

const proxyTo = (endpoint: string) => {
  const url = new URL(endpoint)
  return Effect.acquireRelease(
    Effect.promise(() =>
      startCuttingProxy({ target: { host: url.hostname, port: Number(url.port) }, probability: 0, seed: 1 })
    ),
    (p) => Effect.promise(() => p.close())
  )
}

const put = (store: Store.Store["Service"], key: string, value: string) =>
  store.txn({ compare: [], success: [{ _tag: "put", key, value }] })

describe("a watch behind a compaction", () => {
  it.live(
    "resuming from a compacted revision after a cut connection fails with Compacted",
    () =>
      Effect.gen(function* () {
        const server = yield* privateEtcd
        const proxy = yield* proxyTo(server.endpoint)
        const watcher = yield* EtcdStore.make({ endpoints: [proxy.endpoint], requestTimeout: "2 seconds" })
        const direct = yield* EtcdStore.make({ endpoints: [server.endpoint] })
        const seen: Array<string> = []
        const first = yield* Deferred.make<void>()
        const from = (yield* direct.revision) + 1
        const fiber = yield* watcher.watch("c/", { fromRevision: from }).pipe(
          Stream.runForEach((e) =>
            Effect.sync(() => seen.push(e._tag === "put" ? e.kv.key : e.key)).pipe(
              Effect.andThen(Deferred.succeed(first, undefined))
            )
          ),
          Effect.exit,
          Effect.forkChild
        )
        yield* put(direct, "c/before", "1")
        yield* Deferred.await(first)
        // cut off: what happens now the watch never receives, and etcd forgets it
        proxy.partition()
        for (let i = 0; i < 5; i++) yield* put(direct, `c/missed-${i}`, `${i}`)
        yield* direct.compact(yield* direct.revision)
        proxy.heal()
        const exit = yield* Fiber.join(fiber).pipe(Effect.timeout("30 seconds"))
        assert.isTrue(Exit.isFailure(exit), "the stream ends in a failure")
        const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
        assert.strictEqual((error as { reason?: { _tag?: string } } | undefined)?.reason?._tag, "Compacted")
        assert.deepStrictEqual(
          seen,
          ["c/before"],
          "no event of the compacted range is delivered as if nothing was lost"
        )
        // a new watch from now on works through the same client
        const now = (yield* direct.revision) + 1
        const next = yield* watcher
          .watch("c/", { fromRevision: now })
          .pipe(Stream.take(1), Stream.runCollect, Effect.forkChild)
        yield* put(direct, "c/after", "2")
        const after = yield* Fiber.join(next).pipe(Effect.timeout("30 seconds"))
        assert.deepStrictEqual(
          after.map((e) => (e._tag === "put" ? e.kv.key : e.key)),
          ["c/after"]
        )
      }).pipe(Effect.scoped),
    60_000
  )
})
