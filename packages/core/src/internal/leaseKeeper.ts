import { Clock, Deferred, Duration, Effect, Option, Ref, type Scope } from "effect"
import type { Lease, LeaseId, LeaseOptions } from "../Store.ts"
import * as StoreError from "../StoreError.ts"

export interface LeasePrimitives {
  readonly grantLease: (ttl: Duration.Duration) => Effect.Effect<LeaseId, StoreError.StoreError>
  readonly keepAliveOnce: (lease: LeaseId) => Effect.Effect<Option.Option<Duration.Duration>, StoreError.StoreError>
  readonly revokeLease: (lease: LeaseId) => Effect.Effect<void, StoreError.StoreError>
}

/**
 * A lease kept alive for the life of a scope.
 *
 * The server expires a lease one TTL after it last *received* a keep-alive,
 * which is never earlier than when we *sent* it. So the lease is presumed
 * lost one TTL after the send time of the last acknowledged keep-alive: the
 * holder learns of the loss no later than the server acts on it, even when
 * the server is frozen and answers nothing.
 */
export const make =
  (primitives: LeasePrimitives) =>
  (ttl: Duration.Duration, options?: LeaseOptions): Effect.Effect<Lease, StoreError.StoreError, Scope.Scope> =>
    Effect.gen(function* () {
      const ttlMillis = Duration.toMillis(ttl)
      const grantedAt = yield* Clock.currentTimeMillis
      const id = yield* primitives.grantLease(ttl)
      const lost = yield* Deferred.make<StoreError.StoreError>()
      // Revoking on release hands everything attached over at once; a lost lease is gone already.
      yield* Effect.addFinalizer(() =>
        Effect.gen(function* () {
          if (yield* Deferred.isDone(lost)) return
          yield* primitives.revokeLease(id).pipe(Effect.timeout(Duration.min(ttl, Duration.seconds(2))), Effect.ignore)
        })
      )
      const lastAck = yield* Ref.make(grantedAt)
      const markLost = Deferred.succeed(lost, StoreError.leaseExpired("lease", id))

      if (options?.keepAlive !== false) {
        const interval = Duration.millis(Math.max(1, Math.floor(ttlMillis / 3)))
        const beat = Effect.gen(function* () {
          const sentAt = yield* Clock.currentTimeMillis
          const answer = yield* primitives.keepAliveOnce(id).pipe(Effect.timeout(interval), Effect.option)
          if (Option.isNone(answer)) return // no answer: the watchdog decides
          if (Option.isNone(answer.value)) return yield* markLost
          yield* Ref.update(lastAck, (previous) => Math.max(previous, sentAt))
        })
        yield* beat.pipe(
          Effect.andThen(Effect.sleep(interval)),
          Effect.forever,
          Effect.raceFirst(Deferred.await(lost)),
          Effect.forkScoped
        )
      }

      // Presume the loss a little before the server can act on it: in-flight work must stop
      // before a successor can claim it, even with some clock drift between the two.
      const margin = Math.min(ttlMillis / 10, 1000)
      const watchdog: Effect.Effect<void> = Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const deadline = (yield* Ref.get(lastAck)) + ttlMillis - margin
        if (now >= deadline) return yield* markLost
        yield* Effect.sleep(Duration.millis(deadline - now))
        return yield* watchdog
      })
      yield* watchdog.pipe(Effect.raceFirst(Deferred.await(lost)), Effect.forkScoped)

      return {
        id,
        ttl,
        lost: Deferred.await(lost),
        isLost: Deferred.isDone(lost)
      } satisfies Lease
    })
