/**
 * A wake-up signal many fibers can wait on: `wait` captures the next firing
 * before the caller looks at the state it waits to change, so no firing
 * between the look and the wait is missed.
 */
import { Deferred, Effect, Ref } from "effect"

export interface Signal {
  /** The next firing, captured now; await the returned effect later. */
  readonly next: Effect.Effect<Effect.Effect<void>>
  readonly fire: Effect.Effect<void>
}

export const make: Effect.Effect<Signal> = Effect.map(Deferred.make<void>().pipe(Effect.flatMap(Ref.make)), (ref) => ({
  next: Effect.map(Ref.get(ref), Deferred.await),
  fire: Effect.flatMap(Deferred.make<void>(), (fresh) =>
    Ref.getAndSet(ref, fresh).pipe(Effect.flatMap((d) => Deferred.succeed(d, undefined)))
  )
}))
