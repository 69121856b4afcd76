/**
 * The `migrator` command line: the runner service (`run`), job commands and
 * the demo. Every command takes `--etcd` and `--prefix`, falling back to
 * `MIGRATOR_ETCD_ENDPOINTS` and `MIGRATOR_PREFIX`.
 *
 * @since 0.1.0
 */
import { Keys, type TaskRegistry } from "@migrator/core"
import { Config, Effect, type Layer, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { badInput } from "./CliExit.ts"
import * as JobCommands from "./cli/JobCommands.ts"
import * as RunCommand from "./cli/RunCommand.ts"
import * as Demo from "./Demo.ts"
import * as StoreLayer from "./StoreLayer.ts"

const connection = {
  etcd: Flag.String("etcd").pipe(
    Flag.withDescription("etcd endpoints, comma separated (env MIGRATOR_ETCD_ENDPOINTS)"),
    Flag.optional
  ),
  prefix: Flag.String("prefix").pipe(
    Flag.withDescription("key prefix (env MIGRATOR_PREFIX, default migrator/)"),
    Flag.optional
  )
}

const root = Command.make("migrator").pipe(
  Command.withSharedFlags(connection),
  Command.withDescription("Runs disaster-recovery jobs: DAGs of tasks kept in etcd, shared by many runners.")
)

interface Connection {
  readonly endpoints: ReadonlyArray<string>
  readonly keys: Keys.Layout
}

const connectionOf = Effect.gen(function* () {
  const flags = yield* root
  const endpoints = Option.isSome(flags.etcd)
    ? flags.etcd.value
    : yield* Config.String("MIGRATOR_ETCD_ENDPOINTS").pipe(Config.withDefault("http://127.0.0.1:2379"))
  const prefix = Option.isSome(flags.prefix)
    ? flags.prefix.value
    : yield* Config.String("MIGRATOR_PREFIX").pipe(Config.withDefault(Keys.DEFAULT_PREFIX))
  return {
    endpoints: endpoints
      .split(",")
      .map((e) => e.trim())
      .filter((e) => e !== ""),
    keys: Keys.make(prefix.endsWith("/") || prefix === "" ? prefix : `${prefix}/`)
  } satisfies Connection
}).pipe(Effect.mapError((e) => badInput(`configuration: ${e.message}`)))

// ---- run ------------------------------------------------------------------

const run = RunCommand.make(root)

const demo = Command.make("demo", {}, () => Demo.run).pipe(
  Command.withDescription("Run a sample job end to end on an in-memory store, with no set-up")
)

/** What the job and plan commands connect to. */
const connect = connectionOf.pipe(Effect.map((c) => ({ keys: c.keys, store: StoreLayer.layer(c.endpoints) })))

export const command = root.pipe(Command.withSubcommands([run, JobCommands.make(connect), demo]))

export type { Layer, TaskRegistry }
