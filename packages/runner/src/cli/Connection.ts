/**
 * What the job and plan commands need from the composition root: the key
 * layout and a Store for the connection flags (`--etcd`, `--prefix`, their
 * environment variables or the configuration file). Cli.ts builds it once;
 * the command modules never parse connection settings themselves.
 *
 * @since 0.1.0
 */
import type { Keys, Store } from "@migrator/core"
import { Effect, type Layer } from "effect"
import type { CliExit } from "../CliExit.ts"

export interface Connection {
  readonly keys: Keys.Layout
  /** Fails (exit 2) on a prefix in a key layout this version does not know. */
  readonly store: Layer.Layer<Store.Store, CliExit>
}

/** Resolves the connection of the current command line (R: e.g. the root command's context). */
export type Connect<R> = Effect.Effect<Connection, CliExit, R>

/** Runs `f` with the key layout and a Store connected as the command line says. */
export const withStore =
  <R>(connect: Connect<R>) =>
  <A, E, R2>(
    f: (keys: Keys.Layout) => Effect.Effect<A, E, R2>
  ): Effect.Effect<A, E | CliExit, R | Exclude<R2, Store.Store>> =>
    Effect.flatMap(connect, (c) => f(c.keys).pipe(Effect.provide(c.store)))
