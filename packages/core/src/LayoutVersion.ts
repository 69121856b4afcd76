/**
 * The version of the key layout a prefix is written in (`<prefix>layout`, see `Keys.ts`), and
 * the guard that keeps a runner to the layout it knows. A later version that changes where
 * claims or statuses live moves the marker by compare-and-swap once no runner of this one is
 * registered; until then, and after, this version's claims compare the marker, so a runner of
 * this version can never claim a task by rules the rest of the fleet no longer follows.
 *
 * @since 0.3.0
 */
import { Effect, Option, Schema } from "effect"
import type * as Keys from "./Keys.ts"
import { type Compare, Store } from "./Store.ts"
import type { StoreError } from "./StoreError.ts"

/** The layout this version reads and writes: `active/` exists (2); a store without a marker predates it. */
export const CURRENT = "2"

/** The prefix is written in a layout this version does not know (a newer migrator's). */
export class UnknownLayout extends Schema.TaggedError<UnknownLayout>()("UnknownLayout", {
  message: Schema.String,
  prefix: Schema.String,
  found: Schema.String
}) {}

export const unknownLayout = (prefix: string, found: string): UnknownLayout =>
  new UnknownLayout({
    prefix,
    found,
    message: `the store at prefix "${prefix}" is in key layout ${JSON.stringify(found)}; this migrator knows layout ${CURRENT}: run a version that knows it`
  })

/** The compare every claim carries: the prefix is still in the layout this version knows. */
export const guard = (keys: Keys.Layout): Compare => ({
  key: keys.layout,
  target: "value",
  op: "==",
  value: CURRENT
})

/**
 * Reads the prefix's marker: whether the prefix is in this layout or predates the marker (a
 * store written before `active/` existed); fails on a layout this version does not know.
 */
export const read = (keys: Keys.Layout): Effect.Effect<"current" | "absent", UnknownLayout | StoreError, Store> =>
  Effect.gen(function* () {
    const marker = yield* (yield* Store).get(keys.layout)
    if (Option.isNone(marker)) return "absent"
    if (marker.value.value === CURRENT) return "current"
    return yield* unknownLayout(keys.prefix, marker.value.value)
  })

/**
 * Fails when the prefix is in a layout this version does not know (a store without a marker
 * is read as this version reads it): for tools that read or write the prefix without running
 * tasks, such as the command line.
 */
export const check = (keys: Keys.Layout): Effect.Effect<void, UnknownLayout | StoreError, Store> =>
  Effect.asVoid(read(keys))
