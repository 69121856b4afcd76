import { Store, StoreError } from "@migrator/core"
import { Deferred, Effect, Ref, Stream } from "effect"

/**
 * A view of a store as one runner process sees it. `crash()` makes it behave
 * like a process that died: nothing it asks reaches the store any more, so
 * its lease is neither kept alive nor revoked and expires on its own.
 * `dropWatches()` breaks its open watch streams, like a lost connection.
 */
export const crashable = (store: Store.Service) => {
  let crashed = false
  let keepAlivesLost = false
  const drops = Effect.runSync(Deferred.make<void>().pipe(Effect.flatMap(Ref.make)))
  const gate = <A, R>(effect: Effect.Effect<A, StoreError.StoreError, R>): Effect.Effect<A, StoreError.StoreError, R> =>
    Effect.suspend(() => (crashed ? Effect.fail(StoreError.unavailable("crashed", "the process is gone")) : effect))
  const view: Store.Service = {
    get: (k) => gate(store.get(k)),
    range: (p, o) => gate(store.range(p, o)),
    txn: (r) => gate(store.txn(r)),
    grantLease: (t) => gate(store.grantLease(t)),
    keepAliveOnce: (l) =>
      keepAlivesLost
        ? Effect.fail(StoreError.unavailable("keepAlive", "keep-alives are not getting through"))
        : gate(store.keepAliveOnce(l)),
    revokeLease: (l) => gate(store.revokeLease(l)),
    lease: (t, o) =>
      Store.makeLease({
        grantLease: view.grantLease,
        keepAliveOnce: view.keepAliveOnce,
        revokeLease: view.revokeLease
      })(t, o),
    watch: (p, o) =>
      Stream.unwrap(
        Effect.map(Ref.get(drops), (dropped) =>
          store.watch(p, o).pipe(
            Stream.mapEffect((e) => gate(Effect.succeed(e))),
            Stream.interruptWhen(
              Deferred.await(dropped).pipe(
                Effect.andThen(Effect.fail(StoreError.unavailable("watch", "connection dropped")))
              )
            )
          )
        )
      ),
    revision: gate(store.revision),
    compact: (r) => gate(store.compact(r))
  }
  return {
    store: view,
    crash: Effect.sync(() => {
      crashed = true
    }),
    /** Keep-alives stop reaching the store (a one-way partition): the lease expires on the server. */
    loseKeepAlives: (lost: boolean) =>
      Effect.sync(() => {
        keepAlivesLost = lost
      }),
    dropWatches: Effect.gen(function* () {
      const next = yield* Deferred.make<void>()
      const current = yield* Ref.getAndSet(drops, next)
      yield* Deferred.succeed(current, undefined)
    })
  }
}
