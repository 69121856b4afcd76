/**
 * The `migrator` command line: the runner service (`run`), job commands and
 * the demo. Every command takes `--etcd` and `--prefix`, falling back to
 * `MIGRATOR_ETCD_ENDPOINTS` and `MIGRATOR_PREFIX` (and the other
 * `MIGRATOR_ETCD_*` variables and `MIGRATOR_CONFIG`, see `Config.ts`).
 *
 * @since 0.1.0
 */
import { Keys } from "@migrator/core"
import { Effect, Option, Stdio, Terminal } from "effect"
import { Command, Flag } from "effect/cli"
import { badInput } from "./CliExit.ts"
import * as RunnerConfig from "./Config.ts"
import * as JobCommands from "./cli/JobCommands.ts"
import * as PlanCommands from "./cli/PlanCommands.ts"
import * as RunCommand from "./cli/RunCommand.ts"
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

/** The etcd connection of the job and plan commands: flags, MIGRATOR_* variables, MIGRATOR_CONFIG's etcd section. */
const connect = Effect.gen(function* () {
  const flags = yield* root
  const etcd = yield* RunnerConfig.resolveConnection({
    etcd: Option.getOrUndefined(flags.etcd),
    prefix: Option.getOrUndefined(flags.prefix)
  }).pipe(Effect.mapError((e) => badInput(e.message)))
  return { keys: Keys.make(etcd.prefix), store: StoreLayer.layerConfig(etcd) }
})

// ---- run ------------------------------------------------------------------

const run = RunCommand.make(root)

const demo = Command.make(
  "demo",
  {
    http: Flag.String("http").pipe(
      Flag.withDescription("dashboard address (default 127.0.0.1:7070; another free port when busy)"),
      Flag.withDefault("127.0.0.1:7070")
    )
  },
  Effect.fn(function* ({ http }) {
    const match = /^(.+):(\d+)$/.exec(http)
    if (match === null) return yield* badInput(`--http: expected host:port, got "${http}"`)
    const tty = yield* (yield* Stdio.Stdio).stdoutIsTerminal
    const columns = tty ? yield* (yield* Terminal.Terminal).columns : 0
    // loaded on demand: the demo brings the OpenStack simulator, which a runner does not need
    const Demo = yield* Effect.promise(() => import("./Demo.ts"))
    return yield* Demo.run({ host: match[1]!, port: Number(match[2]), display: { tty, columns } })
  })
).pipe(
  Command.withDescription(
    "Run a sample recovery plan end to end (in-memory store, OpenStack simulator, two runners), then roll it back"
  )
)

export const command = root.pipe(
  Command.withSubcommands([run, JobCommands.make(connect), PlanCommands.make(connect), demo])
)
