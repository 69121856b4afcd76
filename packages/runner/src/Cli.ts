/**
 * The `migrator` command line: the runner service (`run`), job commands and
 * the demo. Every command takes `--etcd` and `--prefix`, falling back to
 * `MIGRATOR_ETCD_ENDPOINTS` and `MIGRATOR_PREFIX`.
 *
 * @since 0.1.0
 */
import { Engine, Job, JobBuilder, Jobs, Keys, Store, type TaskRegistry } from "@migrator/core"
import { Config, Console, Duration, Effect, type Layer, Option, Random, Schema, Stream } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { badInput, CliExit, jobFailed } from "./CliExit.ts"
import * as Demo from "./Demo.ts"
import * as Plugins from "./Plugins.ts"
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

/** Runs `f` with a Store connected to etcd. */
const withStore = <A, E, R>(f: (c: Connection) => Effect.Effect<A, E, R | Store.Store>) =>
  Effect.gen(function* () {
    const c = yield* connectionOf
    return yield* f(c).pipe(Effect.provide(StoreLayer.layer(c.endpoints)))
  })

// ---- run ------------------------------------------------------------------

const run = Command.make(
  "run",
  {
    plugins: Flag.String("plugins").pipe(
      Flag.withDescription("plugins to load: test, or module paths, comma separated"),
      Flag.withDefault("")
    ),
    concurrency: Flag.Int("concurrency").pipe(
      Flag.withDescription("tasks in flight on this runner"),
      Flag.withDefault(16)
    ),
    targetConcurrency: Flag.Int("target-concurrency").pipe(
      Flag.withDescription("tasks in flight per job target"),
      Flag.optional
    ),
    leaseTtl: Flag.String("lease-ttl").pipe(
      Flag.withDescription("runner lease TTL, e.g. 10s"),
      Flag.withDefault("10s")
    ),
    runnerId: Flag.String("runner-id").pipe(
      Flag.withDescription("this runner's id (default: generated)"),
      Flag.optional
    ),
    shutdownGrace: Flag.String("shutdown-grace").pipe(
      Flag.withDescription("time tasks may finish on SIGTERM"),
      Flag.withDefault("10s")
    )
  },
  Effect.fn(function* (flags) {
    const c = yield* connectionOf
    const ttl = yield* parseDuration("--lease-ttl", flags.leaseTtl)
    const grace = yield* parseDuration("--shutdown-grace", flags.shutdownGrace)
    const suffix = yield* Random.nextIntBetween(0, 2 ** 31 - 1)
    const runnerId = Option.getOrElse(flags.runnerId, () => `runner-${suffix.toString(36)}`)
    const names = flags.plugins
      .split(",")
      .map((p) => p.trim())
      .filter((p) => p !== "")
    const plugins = yield* Plugins.layer(names)
    yield* Effect.logInfo(`migrator runner ${runnerId} on ${c.endpoints.join(",")} prefix ${c.keys.prefix}`)
    return yield* Engine.run({
      runnerId,
      prefix: c.keys.prefix,
      leaseTtl: ttl,
      concurrency: flags.concurrency,
      shutdownGrace: grace,
      ...(Option.isSome(flags.targetConcurrency) ? { targetConcurrency: flags.targetConcurrency.value } : {})
    }).pipe(Effect.provide(plugins), Effect.provide(StoreLayer.layer(c.endpoints)))
  })
).pipe(Command.withDescription("Run the runner service until SIGTERM/SIGINT"))

const parseDuration = (flag: string, text: string) => {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(text.trim())
  if (m === null) return Effect.fail(badInput(`${flag}: invalid duration "${text}" (e.g. 500ms, 10s, 2m)`))
  const n = Number(m[1])
  const unit = m[2] ?? "s"
  const millis = unit === "ms" ? n : unit === "s" ? n * 1000 : unit === "m" ? n * 60_000 : n * 3_600_000
  return Effect.succeed(Duration.millis(millis))
}

// ---- job ------------------------------------------------------------------

const readJson = (file: string) =>
  Effect.tryPromise({
    try: async () => {
      const { readFile } = await import("node:fs/promises")
      return JSON.parse(await readFile(file, "utf8")) as unknown
    },
    catch: (e) => badInput(`${file}: ${(e as Error).message}`)
  })

const submit = Command.make(
  "submit",
  { file: Argument.String("file").pipe(Argument.withDescription("job document (JSON)")) },
  Effect.fn(function* ({ file }) {
    const document = yield* readJson(file)
    const id = yield* Random.nextIntBetween(0, 2 ** 31 - 1)
    const built = yield* JobBuilder.build(document, {
      generateId: Effect.succeed(`job-${id.toString(36)}`)
    }).pipe(Effect.mapError((e) => badInput(e.message)))
    yield* withStore((c) => Jobs.submit(c.keys, built))
    yield* Console.log(built.spec.id)
  })
).pipe(Command.withDescription("Validate and submit a job; prints its id"))

const jobId = Argument.String("id").pipe(Argument.withDescription("job id"))

const taskJson = (t: Jobs.TaskView) => ({
  id: t.spec.id,
  type: t.spec.type,
  phase: t.spec.phase,
  status: t.status?.status ?? "waiting",
  result: t.result?.result ?? null,
  output: t.result?.output ?? null,
  reason:
    t.result?.reason === undefined
      ? null
      : { code: t.result.reason.code, message: t.result.reason.message, details: t.result.reason.details ?? null },
  attempt: t.status?.attempt ?? 0
})

const show = Command.make(
  "show",
  { id: jobId, json: Flag.Boolean("json").pipe(Flag.withDescription("print JSON"), Flag.withDefault(false)) },
  Effect.fn(function* ({ id, json }) {
    const view = yield* withStore((c) => Jobs.read(c.keys, id))
    const tasks = [...view.tasks].sort((a, b) => (a.spec.phase === b.spec.phase ? 0 : a.spec.phase === "run" ? -1 : 1))
    if (json) {
      return yield* Console.log(
        JSON.stringify(
          { id, state: view.state.state, outcome: view.state.outcome ?? null, tasks: tasks.map(taskJson) },
          null,
          2
        )
      )
    }
    yield* Console.log(
      `job ${id}: ${view.state.state}${view.state.outcome === undefined ? "" : ` (${view.state.outcome})`}`
    )
    for (const t of tasks) {
      const j = taskJson(t)
      yield* Console.log(
        `  ${j.phase.padEnd(5)} ${j.id.padEnd(24)} ${j.type.padEnd(28)} ${j.status.padEnd(8)} ${(j.result ?? "-").padEnd(9)} attempt ${j.attempt}` +
          (j.reason === null ? "" : `  ${j.reason.code}: ${j.reason.message}`) +
          (j.output === null ? "" : `  output ${JSON.stringify(j.output)}`)
      )
    }
    for (const p of view.problems) yield* Console.error(`  unreadable record: ${p.message}`)
  })
).pipe(Command.withDescription("Show a job's state and every task's status, result, output and reason"))

const list = Command.make(
  "list",
  {
    state: Flag.String("state").pipe(Flag.withDescription("only jobs in this state"), Flag.optional),
    json: Flag.Boolean("json").pipe(Flag.withDescription("print JSON"), Flag.withDefault(false))
  },
  Effect.fn(function* ({ state, json }) {
    const jobs = (yield* withStore((c) => Jobs.list(c.keys))).filter(
      (j) => Option.isNone(state) || j.state.state === state.value
    )
    if (json)
      return yield* Console.log(
        JSON.stringify(jobs.map((j) => ({ id: j.id, state: j.state.state, outcome: j.state.outcome ?? null })))
      )
    for (const j of jobs)
      yield* Console.log(`${j.id}\t${j.state.state}${j.state.outcome === undefined ? "" : `\t${j.state.outcome}`}`)
  })
).pipe(Command.withDescription("List jobs"))

const succeeded = (s: Job.JobState) => (s.state === "completed" && s.outcome === "succeeded") || s.state === "cleared"

const watch = Command.make(
  "watch",
  { id: jobId },
  Effect.fn(function* ({ id }) {
    const final = yield* withStore((c) =>
      Effect.gen(function* () {
        const store = yield* Store.Store
        const from = yield* store.revision
        const initial = yield* Jobs.read(c.keys, id)
        const report = (s: Job.JobState) =>
          Console.log(`${id}: ${s.state}${s.outcome === undefined ? "" : ` (${s.outcome})`}`)
        yield* report(initial.state)
        if (Job.isTerminal(initial.state.state)) return initial.state
        return yield* store.watch(c.keys.job(id), { fromRevision: from + 1 }).pipe(
          Stream.map((e) => {
            if (e._tag !== "put") return undefined
            const parsed = c.keys.parse(e.kv.key)
            if (parsed?._tag === "event") {
              const ev = JSON.parse(e.kv.value) as { type: string; taskId?: string; message: string }
              return {
                _tag: "event" as const,
                line: `  ${ev.type}${ev.taskId === undefined ? "" : ` ${ev.taskId}`}: ${ev.message}`
              }
            }
            if (parsed?._tag === "jobState") {
              return { _tag: "state" as const, state: Schema.decodeUnknownSync(Job.JobState)(JSON.parse(e.kv.value)) }
            }
            return undefined
          }),
          Stream.filter((x) => x !== undefined),
          Stream.tap((x) => (x._tag === "event" ? Console.log(x.line) : report(x.state))),
          Stream.filter((x) => x._tag === "state" && Job.isTerminal(x.state.state)),
          Stream.runHead,
          Effect.map((x) => {
            const last = Option.getOrThrow(x)
            return last._tag === "state" ? last.state : initial.state
          })
        )
      })
    )
    if (!succeeded(final))
      return yield* jobFailed(
        `job ${id} ended ${final.state}${final.outcome === undefined ? "" : ` (${final.outcome})`}`
      )
  })
).pipe(Command.withDescription("Follow a job until it is terminal; exit 0 only if it succeeded"))

const operation = (name: Job.Operation, description: string) =>
  Command.make(
    name,
    { id: jobId },
    Effect.fn(function* ({ id }) {
      const next = yield* withStore((c) => Jobs.request(c.keys, id, name)).pipe(
        Effect.catchTag("JobError", (e) =>
          Effect.fail(
            e.reason === "NotFound" || e.reason === "InvalidOperation"
              ? badInput(e.message)
              : new CliExit({ code: 1, message: e.message })
          )
        )
      )
      yield* Console.log(`${id}: ${next.state}`)
    })
  ).pipe(Command.withDescription(description))

const job = Command.make("job").pipe(
  Command.withDescription("Submit, inspect and operate jobs"),
  Command.withSubcommands([
    submit,
    show,
    list,
    watch,
    operation("cancel", "Cancel a job: interrupt tasks in flight, cancel the rest"),
    operation("pause", "Stop claiming new tasks of a job"),
    operation("resume", "Resume a paused job"),
    operation("rollback", "Run the clear phase for everything the job created"),
    operation("confirm", "Run the clear phase for what the recovered workload does not use"),
    operation("retry", "Retry the failed, ignored and canceled tasks of the current phase")
  ])
)

const demo = Command.make("demo", {}, () => Demo.run).pipe(
  Command.withDescription("Run a sample job end to end on an in-memory store, with no set-up")
)

export const command = root.pipe(Command.withSubcommands([run, job, demo]))

export type { Layer, TaskRegistry }
