/**
 * `migrator plan …`: recovery plans (JSON or YAML, see
 * `@migrator/tasks-openstack/plan/Plan`) validated, checked against the live
 * recovery cloud, previewed, turned into a job document, or submitted as a job.
 *
 * Every problem names the field path in the plan (`projects[0].networks[1].name: …`)
 * or, for the built job, the task and the field; they exit 2 and write nothing.
 * `plan check` exits 0 when every check passes (warnings allowed), 1 when one
 * fails, 2 for a bad plan or an unknown cluster, 3 when the cloud cannot be read.
 *
 * @since 0.1.0
 */
import { JobBuilder, Jobs, type Keys, SharedResource, Store } from "@migrator/core"
import * as PlanCheck from "@migrator/tasks-openstack/check/PlanCheck"
import * as Plan from "@migrator/tasks-openstack/plan/Plan"
import * as PlanBuilder from "@migrator/tasks-openstack/plan/PlanBuilder"
import * as PlanHandlers from "@migrator/tasks-openstack/plan/PlanHandlers"
import * as Preview from "@migrator/tasks-openstack/plan/Preview"
import { Console, Effect, Option, Schema } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { badInput, CliExit, jobFailed, STORE_UNREACHABLE } from "../CliExit.ts"
import * as RunnerConfig from "../Config.ts"
import * as PlanCheckRun from "../PlanCheckRun.ts"
import { type Connect, withStore } from "./Connection.ts"
import { generateId } from "./JobCommands.ts"

const planFile = Argument.String("plan-file").pipe(Argument.withDescription("recovery plan (JSON or YAML)"))
const jsonFlag = Flag.Boolean("json").pipe(Flag.withDescription("print JSON"), Flag.withDefault(false))
const jobOptions = {
  id: Flag.String("id").pipe(Flag.withDescription("the job's id (default: generated)"), Flag.optional),
  label: Flag.String("label").pipe(
    Flag.withDescription("an extra label of the job, key=value (repeatable)"),
    Flag.atLeast(0)
  )
}

/** Plan and job validation problems, as one bad-input failure (or its JSON form). */
export class Invalid extends Schema.TaggedError<Invalid>()("Invalid", {
  problems: Schema.Array(Schema.Struct({ path: Schema.String, message: Schema.String }))
}) {
  override get message(): string {
    return this.problems.map((p) => `${p.path === "" ? "plan" : p.path}: ${p.message}`).join("\n")
  }
}

const fromPlanError = (e: Plan.PlanError) => new Invalid({ problems: e.problems.map((p) => ({ ...p })) })
const fromJobError = (e: JobBuilder.JobValidationError) =>
  new Invalid({
    problems: e.problems.map((p) => ({
      path: `job${p.field}`,
      message: p.task === undefined ? p.message : `task "${p.task}": ${p.message}`
    }))
  })

const formatOf = (file: string): Plan.Format | undefined =>
  /\.json$/i.test(file) ? "json" : /\.ya?ml$/i.test(file) ? "yaml" : undefined

const readText = (file: string) =>
  Effect.tryPromise({
    try: async () => {
      const { readFile } = await import("node:fs/promises")
      return await readFile(file, "utf8")
    },
    catch: (e) => badInput(`${file}: ${(e as Error).message}`)
  })

/** Reads, decodes and validates a plan. */
const load = (file: string) =>
  Effect.flatMap(readText(file), (text) => Plan.parse(text, formatOf(file)).pipe(Effect.mapError(fromPlanError)))

const parseLabels = (labels: ReadonlyArray<string>) =>
  Effect.forEach(labels, (text) => {
    const at = text.indexOf("=")
    return at <= 0
      ? Effect.fail(badInput(`--label: expected key=value, got "${text}"`))
      : Effect.succeed([text.slice(0, at), text.slice(at + 1)] as const)
  }).pipe(Effect.map((pairs) => Object.fromEntries(pairs)))

const buildOptions = (id: Option.Option<string>, labels: Readonly<Record<string, string>>) => ({
  ...(Option.isSome(id) ? { jobId: id.value } : {}),
  ...(Object.keys(labels).length > 0 ? { labels } : {})
})

/** The plan's job, validated by core's JobBuilder with the OpenStack handlers' input Schemas. */
const buildJob = (plan: Plan.Plan, options: PlanBuilder.BuildOptions) =>
  Effect.gen(function* () {
    const document = yield* PlanBuilder.build(plan, options).pipe(Effect.mapError(fromPlanError))
    const built = yield* JobBuilder.build(document, { types: PlanHandlers.inputs, generateId }).pipe(
      Effect.mapError(fromJobError)
    )
    return { document, built }
  })

/** Invalid plans are bad input; with --json the problems go to stdout as well. */
const reportInvalid =
  (json: boolean) =>
  <A, E, R>(self: Effect.Effect<A, E | Invalid, R>): Effect.Effect<A, E | CliExit, R> =>
    Effect.catchIf(
      self,
      (e): e is Invalid => e instanceof Invalid,
      (e) =>
        (json ? Console.log(JSON.stringify({ valid: false, problems: e.problems }, null, 2)) : Effect.void).pipe(
          Effect.andThen(Effect.fail(badInput(e.message)))
        )
    )

/** Shared keys of resources another job holds on the target (their records are ready or being created). */
const existingShared = (keys: Keys.Layout) =>
  Effect.gen(function* () {
    const store = yield* Store.Store
    const { kvs } = yield* store.range(keys.sharedPrefix)
    const decode = Schema.decodeUnknownOption(Schema.fromJsonString(SharedResource.SharedRecord))
    const held = new Set<string>()
    for (const kv of kvs) {
      const record = decode(kv.value)
      if (Option.isSome(record) && (record.value.state === "ready" || record.value.state === "creating")) {
        held.add(decodeURIComponent(kv.key.slice(keys.sharedPrefix.length)))
      }
    }
    return held
  })

/** The `plan` command and its subcommands, reading the connection through `connect` (submit, preview --store). */
export const make = <R>(connect: Connect<R>) => {
  const store = withStore(connect)

  const validate = Command.make(
    "validate",
    { file: planFile, json: jsonFlag },
    Effect.fn(function* ({ file, json }) {
      const { built } = yield* Effect.flatMap(load(file), (plan) => buildJob(plan, {})).pipe(reportInvalid(json))
      const run = built.tasks.filter((t) => t.phase === "run").length
      if (json) {
        return yield* Console.log(
          JSON.stringify({ valid: true, problems: [], runTasks: run, clearTasks: built.tasks.length - run }, null, 2)
        )
      }
      yield* Console.log(`${file}: valid (${run} run tasks, ${built.tasks.length - run} clear tasks)`)
    })
  ).pipe(Command.withDescription("Check a recovery plan; exit 2 with every problem and its field path"))

  const check = Command.make(
    "check",
    {
      file: planFile,
      json: jsonFlag,
      cluster: Flag.String("cluster").pipe(
        Flag.withDescription("the cluster of the runner configuration to check against (default: the plan's target)"),
        Flag.optional
      ),
      config: Flag.String("config").pipe(
        Flag.withDescription("the runner configuration with the clusters' credentials (env MIGRATOR_CONFIG)"),
        Flag.optional
      )
    },
    Effect.fn(function* ({ file, json, cluster, config }) {
      const plan = yield* load(file).pipe(reportInvalid(json))
      const { clusters } = yield* RunnerConfig.resolve({ config: Option.getOrUndefined(config) }).pipe(
        Effect.mapError((e) => badInput(e.message))
      )
      const report = yield* PlanCheckRun.check(plan, clusters, Option.getOrUndefined(cluster)).pipe(
        Effect.mapError((e) =>
          e._tag === "UnknownCluster"
            ? badInput(e.message)
            : new CliExit({ code: STORE_UNREACHABLE, message: `cluster ${e.cluster} is unreachable: ${e.message}` })
        )
      )
      yield* Console.log(json ? JSON.stringify(report, null, 2) : PlanCheck.render(report))
      if (!report.ok) return yield* jobFailed(`${report.summary.fail} check(s) failed`)
    })
  ).pipe(
    Command.withDescription(
      "Check a recovery plan against the live recovery cloud (read-only): quotas, what it names, clashes, capacity; exit 0 pass, 1 fail, 2 bad plan, 3 cloud unreachable"
    )
  )

  const preview = Command.make(
    "preview",
    {
      file: planFile,
      json: jsonFlag,
      store: Flag.Boolean("store").pipe(
        Flag.withDescription("look up shared resources in the store: those other jobs hold are listed as reused"),
        Flag.withDefault(false)
      )
    },
    Effect.fn(function* ({ file, json, store: lookUp }) {
      const plan = yield* load(file).pipe(reportInvalid(json))
      const existing = lookUp ? Option.some(yield* store(existingShared)) : Option.none<ReadonlySet<string>>()
      const p = yield* Preview.preview(
        plan,
        Option.isSome(existing) ? { existing: (key: string) => existing.value.has(key) } : {}
      ).pipe(Effect.mapError(fromPlanError), reportInvalid(json))
      yield* Console.log(json ? JSON.stringify(p, null, 2) : Preview.render(p))
    })
  ).pipe(Command.withDescription("Show what a recovery plan creates, shares, stops and deletes, before anything runs"))

  const build = Command.make(
    "build",
    {
      file: planFile,
      output: Flag.String("output").pipe(
        Flag.withAlias("o"),
        Flag.withDescription("write the job document to this file instead of stdout"),
        Flag.optional
      ),
      ...jobOptions
    },
    Effect.fn(function* ({ file, output, id, label }) {
      const labels = yield* parseLabels(label)
      const plan = yield* load(file).pipe(reportInvalid(false))
      const { document } = yield* buildJob(plan, buildOptions(id, labels)).pipe(reportInvalid(false))
      const text = `${JSON.stringify(document, null, 2)}\n`
      if (Option.isNone(output)) return yield* Console.log(text.trimEnd())
      yield* Effect.tryPromise({
        try: async () => {
          const { writeFile } = await import("node:fs/promises")
          await writeFile(output.value, text, "utf8")
        },
        catch: (e) => badInput(`${output.value}: ${(e as Error).message}`)
      })
    })
  ).pipe(Command.withDescription("Print the job document of a recovery plan (what `job submit` accepts)"))

  const submit = Command.make(
    "submit",
    { file: planFile, ...jobOptions },
    Effect.fn(function* ({ file, id, label }) {
      const labels = yield* parseLabels(label)
      const plan = yield* load(file).pipe(reportInvalid(false))
      const { built } = yield* buildJob(plan, buildOptions(id, labels)).pipe(reportInvalid(false))
      yield* store((keys) => Jobs.submit(keys, built))
      yield* Console.log(built.spec.id)
    })
  ).pipe(Command.withDescription("Build a recovery plan's job and submit it; prints only the job id"))

  return Command.make("plan").pipe(
    Command.withDescription(
      "Recovery plans: validate, check against the recovery cloud, preview, build the job document, submit"
    ),
    Command.withSubcommands([validate, check, preview, build, submit])
  )
}
