/**
 * The `migrator` command line: the runner service (`run`), job commands and
 * the demo. Every command takes `--etcd` and `--prefix`, falling back to
 * `MIGRATOR_ETCD_ENDPOINTS` and `MIGRATOR_PREFIX` (and the other
 * `MIGRATOR_ETCD_*` variables and `MIGRATOR_CONFIG`, see `Config.ts`).
 *
 * @since 0.1.0
 */
import { Keys, LayoutVersion, Store } from "@migrator/core"
import { Console, Effect, Layer, Option, Stdio, Terminal } from "effect"
import { CliConfig, CliOutput, Command, Flag, GlobalFlag } from "effect/cli"
import { badInput, type CliExit, storeFailed } from "./CliExit.ts"
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
  const keys = Keys.make(etcd.prefix)
  return { keys, store: checked(keys, StoreLayer.layerConfig(etcd)) }
})

/** The store, once its prefix is known to be in the key layout this version reads and writes. */
const checked = (keys: Keys.Layout, store: Layer.Layer<Store.Store>): Layer.Layer<Store.Store, CliExit> =>
  Layer.effect(
    Store.Store,
    LayoutVersion.check(keys).pipe(
      Effect.andThen(Store.Store),
      Effect.mapError((e) => (e._tag === "UnknownLayout" ? badInput(e.message) : storeFailed(e)))
    )
  ).pipe(Layer.provide(store))

// ---- run ------------------------------------------------------------------

const run = RunCommand.make(root)

const demo = Command.make(
  "demo",
  {
    http: Flag.String("http").pipe(
      Flag.withDescription("dashboard address (default 127.0.0.1:7070; another free port when busy)"),
      Flag.withDefault("127.0.0.1:7070")
    ),
    exit: Flag.Boolean("exit").pipe(
      Flag.withDescription("end when the demo is done (for CI); by default the dashboard stays up until Ctrl-C"),
      Flag.withDefault(false)
    )
  },
  Effect.fn(function* ({ http, exit }) {
    const match = /^(.+):(\d+)$/.exec(http)
    if (match === null) return yield* badInput(`--http: expected host:port, got "${http}"`)
    const tty = yield* (yield* Stdio.Stdio).stdoutIsTerminal
    const columns = tty ? yield* (yield* Terminal.Terminal).columns : 0
    // loaded on demand: the demo brings the OpenStack simulator, which a runner does not need
    const Demo = yield* Effect.promise(() => import("./Demo.ts"))
    return yield* Demo.run({ host: match[1]!, port: Number(match[2]), display: { tty, columns }, exit })
  })
).pipe(
  Command.withDescription(
    "Run a sample recovery plan end to end (in-memory store, OpenStack simulator, two runners), roll it back, then keep the dashboard up until Ctrl-C"
  )
)

export const command = root.pipe(
  Command.withSubcommands([run, JobCommands.make(connect), PlanCommands.make(connect), demo])
)

/**
 * How the CLI presents itself: a bad invocation prints its errors, one line each, and where the
 * help is (not the whole help); `run` has its own `--log-level`, so the built-in one is left out
 * (it was listed twice).
 */
export const presentation = Layer.mergeAll(
  CliConfig.layer({
    builtIns: GlobalFlag.BuiltIns.filter((f) => f !== GlobalFlag.LogLevel) as ReadonlyArray<GlobalFlag.BuiltIn>
  }),
  CliOutput.layerPresenter({
    present: (event) =>
      event._tag === "InvalidInvocation"
        ? Effect.forEach(
            [...event.errors.map((e) => e.message.split("\n")[0]!), `see '${event.commandPath.join(" ")} --help'`],
            (line) => Console.error(line),
            { discard: true }
          )
        : CliOutput.defaultPresenter.present(event)
  })
)
