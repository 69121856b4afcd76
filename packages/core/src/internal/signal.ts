/**
 * A wake-up signal many fibers can wait on: `next` captures the next firing
 * before the caller looks at the state it waits to change, so no firing
 * between the look and the wait is missed. Firing with nobody waiting costs
 * nothing (it runs for every watch event).
 */
import { Deferred, Effect } from "effect"

export interface Signal {
  /** The next firing, captured now; await the returned effect later. */
  readonly next: Effect.Effect<Effect.Effect<void>>
  readonly fire: Effect.Effect<void>
}

export const make: Effect.Effect<Signal> = Effect.sync(() => {
  let current: Deferred.Deferred<void> | undefined
  return {
    next: Effect.sync(() => {
      current ??= Deferred.makeUnsafe<void>()
      return Deferred.await(current)
    }),
    fire: Effect.suspend(() => {
      const waiting = current
      if (waiting === undefined) return Effect.void
      current = undefined
      return Deferred.succeed(waiting, undefined)
    })
  }
})
