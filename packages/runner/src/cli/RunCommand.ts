/**
 * `migrator run`: the runner service. Its settings come from a configuration
 * file (`--config`), `MIGRATOR_*` environment variables and flags, in rising
 * order of precedence (see `Config.ts`). With `--http <host:port>` (or
 * `http.listen`) it also serves health, readiness, metrics, the job API and
 * the dashboard (see `http/HttpApi.ts`).
 *
 * @since 0.1.0
 */
import { Engine, EngineMetrics, JobRetention, Keys, type Store, TaskRegistry } from "@migrator/core"
import { Effect, Fiber, Layer, Logger, Option, Random, Ref, References, Stdio } from "effect"
import { Command, Flag } from "effect/cli"
import { badInput } from "../CliExit.ts"
import * as Config from "../Config.ts"
import * as HttpApi from "../http/HttpApi.ts"
import * as PlanSchedule from "../PlanSchedule.ts"
import * as Plugins from "../Plugins.ts"
import * as StoreLayer from "../StoreLayer.ts"
import * as WarmUp from "../WarmUp.ts"

/** The shared connection flags of the root command. */
export interface SharedFlags {
  readonly etcd: Option.Option<string>
  readonly prefix: Option.Option<string>
}

const flags = {
  config: Flag.String("config").pipe(
    Flag.withDescription("configuration file, YAML or JSON (env MIGRATOR_CONFIG)"),
    Flag.optional
  ),
  plugins: Flag.String("plugins").pipe(
    Flag.withDescription("plugins to load: test, openstack, npm packages or module paths, comma separated"),
    Flag.optional
  ),
  concurrency: Flag.Int("concurrency").pipe(Flag.withDescription("tasks in flight on this runner (16)"), Flag.optional),
  targetConcurrency: Flag.Int("target-concurrency").pipe(
    Flag.withDescription("tasks in flight per job target, across every runner of the fleet"),
    Flag.optional
  ),
  leaseTtl: Flag.String("lease-ttl").pipe(Flag.withDescription("runner lease TTL, e.g. 10s"), Flag.optional),
  runnerId: Flag.String("runner-id").pipe(Flag.withDescription("this runner's id (default: generated)"), Flag.optional),
  shutdownGrace: Flag.String("shutdown-grace").pipe(
    Flag.withDescription("time tasks may finish on SIGTERM (10s)"),
    Flag.optional
  ),
  http: Flag.String("http").pipe(
    Flag.withDescription("serve health, metrics, the job API and the dashboard on host:port"),
    Flag.optional
  ),
  warmUpTasks: Flag.Int("warm-up-tasks").pipe(
    Flag.withDescription("no-op tasks run in memory before joining, to compile the hot paths (2000; 0: none)"),
    Flag.optional
  ),
  warmUpStoreTasks: Flag.Int("warm-up-store-tasks").pipe(
    Flag.withDescription("no-op tasks then run on etcd, under a prefix of the runner's own (2000; 0: none)"),
    Flag.optional
  ),
  logLevel: Flag.String("log-level").pipe(
    Flag.withDescription("trace, debug, info, warn, error (info)"),
    Flag.optional
  ),
  logFormat: Flag.String("log-format").pipe(
    Flag.withDescription("pretty or json (default: pretty on a terminal, else JSON lines)"),
    Flag.optional
  )
}

/** Runs the runner for a resolved configuration until interrupted. */
export const serve = (config: Config.RunnerConfig, runnerId: string) =>
  Effect.gen(function* () {
    const plugins = yield* Plugins.layer(config.plugins, { clusters: config.clusters, from: config.pluginsFrom })
    const program = Effect.gen(function* () {
      // set when shutdown begins: readiness fails while tasks finish within the grace period
      const draining = yield* Ref.make(false)
      if (config.http.listen !== undefined) {
        const { host, port } = config.http.listen
        yield* Layer.build(
          HttpApi.layer({
            keys: keysOf(config),
            runnerId,
            host,
            port,
            draining: Ref.get(draining),
            tokens: config.http.tokens,
            tls: config.http.tls,
            clusters: config.clusters
          })
        ).pipe(Effect.mapError((e) => badInput(`http.listen: cannot listen on ${host}:${port}: ${e.message}`)))
        yield* Effect.logInfo(
          `${config.http.tls === undefined ? "http" : "https"} listening on ${host}:${port}` +
            (config.http.tokens.length === 0
              ? "; no API tokens configured: the API serves loopback clients only (see http.tokens)"
              : `; ${config.http.tokens.length} API tokens`)
        )
      }
      yield* Effect.logInfo(
        `migrator runner ${runnerId} on ${config.etcd.endpoints.join(",")} prefix ${config.etcd.prefix}`
      )
      // secrets are Redacted: they print as <redacted>
      yield* Effect.logDebug("configuration", {
        ...config,
        etcd: { ...config.etcd, tls: config.etcd.tls !== undefined },
        // token hashes are not logged either: only who may do what
        http: {
          listen: config.http.listen,
          tls: config.http.tls !== undefined,
          tokens: config.http.tokens.map((t) => `${t.name} (${t.role})`)
        }
      })
      if (config.plans !== undefined) {
        yield* Effect.forkScoped(PlanSchedule.run(config.plans.files, config.plans.interval, config.clusters))
      }
      // every runner enforces the retention of finished jobs; racing sweeps are compare-and-swaps
      if (config.retention.finishedJobs !== undefined) {
        yield* Effect.forkScoped(
          JobRetention.run({ prefix: config.etcd.prefix, retention: config.retention.finishedJobs, runnerId })
        )
      }
      // every counter is exported from the start, at 0, for each task type this runner handles
      yield* EngineMetrics.initialize((yield* TaskRegistry.TaskRegistry).types())
      // before the lease (and readiness): the first real job then runs on compiled code
      if (config.warmUpTasks > 0) {
        yield* WarmUp.run(config.warmUpTasks, config.concurrency.perRunner).pipe(
          Effect.matchEffect({
            onSuccess: (ms) => Effect.logInfo(`warmed up: ${config.warmUpTasks} no-op tasks in ${ms} ms`),
            onFailure: (e) => Effect.logWarning(`warm-up failed, serving without it: ${e.message}`)
          })
        )
      }
      if (config.warmUpStoreTasks > 0) {
        const tasks = config.warmUpStoreTasks
        yield* WarmUp.inStore({
          tasks,
          concurrency: config.concurrency.perRunner,
          prefix: config.etcd.prefix,
          runnerId
        }).pipe(
          Effect.matchEffect({
            onSuccess: (ms) => Effect.logInfo(`warmed up on etcd: ${tasks} no-op tasks in ${ms} ms`),
            onFailure: (e) => Effect.logWarning(`warm-up on etcd failed, serving without it: ${e.message}`)
          })
        )
      }
      // the engine runs in a child fiber: on interruption the flag is set first, then the engine is
      // interrupted (its graceful shutdown), and only then the scope closes the HTTP server
      const engine = yield* Effect.forkChild(
        Engine.run({
          runnerId,
          prefix: config.etcd.prefix,
          leaseTtl: config.leaseTtl,
          concurrency: config.concurrency.perRunner,
          shutdownGrace: config.shutdownGrace,
          ...(config.concurrency.perTarget === undefined ? {} : { targetConcurrency: config.concurrency.perTarget })
        })
      )
      return yield* Fiber.join(engine).pipe(
        Effect.onInterrupt(() => Ref.set(draining, true).pipe(Effect.andThen(Fiber.interrupt(engine)))),
        // a prefix a newer version moved to a layout this one does not know: not this runner's to serve
        Effect.mapError((e) => badInput(e.message))
      )
    }).pipe(Effect.scoped)
    return yield* (
      program as Effect.Effect<never, ReturnType<typeof badInput>, Store.Store | TaskRegistry.TaskRegistry>
    ).pipe(Effect.provide(plugins), Effect.provide(StoreLayer.layerConfig(config.etcd)))
  }).pipe(
    // logs go to stderr: stdout stays for what a command prints as its result
    Effect.provide(
      Logger.layer([config.log.format === "json" ? Logger.withConsoleError(Logger.formatJson) : Logger.consolePretty()])
    ),
    Effect.provideService(References.LogToStderr, true),
    Effect.provideService(References.MinimumLogLevel, config.log.level)
  )

const keysOf = (config: Config.RunnerConfig) => Keys.make(config.etcd.prefix)

/** The `run` command; `shared` yields the root command's connection flags. */
export const make = <E, R>(shared: Effect.Effect<SharedFlags, E, R>) =>
  Command.make(
    "run",
    flags,
    Effect.fn(function* (f) {
      const root = yield* shared
      const config = yield* Config.resolve(
        {
          config: Option.getOrUndefined(f.config),
          etcd: Option.getOrUndefined(root.etcd),
          prefix: Option.getOrUndefined(root.prefix),
          plugins: Option.getOrUndefined(f.plugins),
          concurrency: Option.getOrUndefined(f.concurrency),
          targetConcurrency: Option.getOrUndefined(f.targetConcurrency),
          leaseTtl: Option.getOrUndefined(f.leaseTtl),
          shutdownGrace: Option.getOrUndefined(f.shutdownGrace),
          runnerId: Option.getOrUndefined(f.runnerId),
          http: Option.getOrUndefined(f.http),
          warmUpTasks: Option.getOrUndefined(f.warmUpTasks),
          warmUpStoreTasks: Option.getOrUndefined(f.warmUpStoreTasks),
          logLevel: Option.getOrUndefined(f.logLevel),
          logFormat: Option.getOrUndefined(f.logFormat)
        },
        { tty: yield* (yield* Stdio.Stdio).stdoutIsTerminal }
      ).pipe(Effect.mapError((e) => badInput(e.message)))
      const suffix = yield* Random.nextIntBetween(0, 2 ** 31 - 1)
      return yield* serve(config, config.runnerId ?? `runner-${suffix.toString(36)}`)
    })
  ).pipe(Command.withDescription("Run the runner service until SIGTERM/SIGINT"))
