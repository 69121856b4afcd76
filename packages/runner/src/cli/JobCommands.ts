/**
 * `migrator job …`: submit, list, show, watch, events, graph and the user
 * operations (cancel, pause, resume, rollback, confirm, retry).
 *
 * Output that is data has a `--json` form; exit codes are those of
 * CliExit.ts (0 ok, 1 the job did not succeed, 2 bad input, 3 store
 * unreachable).
 *
 * @since 0.1.0
 */
import { Job, JobBuilder, Jobs, Store, type Task, TaskRegistry } from "@migrator/core"
import { Console, Context, Effect, Layer, Option, Random, type Schema, Stdio, Terminal } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { badInput, CliExit, jobFailed } from "../CliExit.ts"
import * as Plugins from "../Plugins.ts"
import { type Connect, withStore } from "./Connection.ts"
import * as Graph from "./Graph.ts"
import * as Progress from "./Progress.ts"

/** Reads and parses a JSON file; a missing file or bad JSON is bad input. */
export const readJson = (file: string) =>
  Effect.tryPromise({
    try: async () => {
      const { readFile } = await import("node:fs/promises")
      return JSON.parse(await readFile(file, "utf8")) as unknown
    },
    catch: (e) => badInput(`${file}: ${(e as Error).message}`)
  })

/** A fresh job id for documents that do not name one. */
export const generateId = Effect.map(Random.nextIntBetween(0, 2 ** 31 - 1), (n) => `job-${n.toString(36)}`)

/**
 * Validates a job document (nothing is written when it is invalid). With `types`, unknown task
 * types and inputs that do not match their handler's Schema are refused too.
 */
export const buildDocument = (document: unknown, types?: ReadonlyMap<string, Schema.Codec<unknown, unknown>>) =>
  JobBuilder.build(document, { generateId, types }).pipe(Effect.mapError((e) => badInput(e.message)))

/** The task types (with their input Schemas) the named plugins register; none when no plugin is named. */
export const pluginTypes = (names: ReadonlyArray<string>) =>
  names.length === 0
    ? Effect.succeed(undefined)
    : Effect.flatMap(Plugins.layer(names), (layer) =>
        Effect.scoped(
          Effect.map(Layer.build(layer), (context) => {
            const registry = Context.get(context, TaskRegistry.TaskRegistry)
            const types = new Map<string, Schema.Codec<unknown, unknown>>()
            for (const type of registry.types()) {
              const handler = registry.get(type)
              if (Option.isSome(handler))
                types.set(type, handler.value.definition.input as Schema.Codec<unknown, unknown>)
            }
            return types as ReadonlyMap<string, Schema.Codec<unknown, unknown>>
          })
        )
      )

const jsonFlag = Flag.Boolean("json").pipe(Flag.withDescription("print JSON"), Flag.withDefault(false))
const jobId = Argument.String("id").pipe(Argument.withDescription("job id"))

const iso = (ms: number) => new Date(ms).toISOString()

export const taskJson = (t: Jobs.TaskView) => ({
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

const phaseCounts = (view: Jobs.JobView, phase: Task.Phase) => {
  const tasks = view.tasks.filter((t) => t.spec.phase === phase)
  return { done: tasks.filter((t) => t.status?.status === "done").length, total: tasks.length }
}

const labelsText = (labels: Readonly<Record<string, string>>) =>
  Object.entries(labels)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join(",")

const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  return [header, ...rows].map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd()
  )
}

const parseLabel = (text: string) => {
  const at = text.indexOf("=")
  return at <= 0
    ? Effect.fail(badInput(`--label: expected key=value, got "${text}"`))
    : Effect.succeed([text.slice(0, at), text.slice(at + 1)] as const)
}

/** The `job` command and its subcommands, reading the connection through `connect`. */
export const make = <R>(connect: Connect<R>) => {
  const store = withStore(connect)

  const submit = Command.make(
    "submit",
    {
      file: Argument.String("file").pipe(Argument.withDescription("job document (JSON)")),
      plugins: Flag.String("plugins").pipe(
        Flag.withDescription("also check task types and inputs against these plugins' handlers, comma separated"),
        Flag.withDefault("")
      )
    },
    Effect.fn(function* ({ file, plugins }) {
      const document = yield* readJson(file)
      const names = plugins
        .split(",")
        .map((p) => p.trim())
        .filter((p) => p !== "")
      const built = yield* buildDocument(document, yield* pluginTypes(names))
      yield* store((keys) => Jobs.submit(keys, built))
      yield* Console.log(built.spec.id)
    })
  ).pipe(Command.withDescription("Validate and submit a job; prints its id"))

  const show = Command.make(
    "show",
    { id: jobId, json: jsonFlag },
    Effect.fn(function* ({ id, json }) {
      const view = yield* store((keys) => Jobs.read(keys, id))
      const tasks = [...view.tasks].sort((a, b) =>
        a.spec.phase === b.spec.phase ? 0 : a.spec.phase === "run" ? -1 : 1
      )
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
      state: Flag.Literals("state", Job.State.literals).pipe(
        Flag.withDescription("only jobs in this state (repeatable: any of them)"),
        Flag.atLeast(0)
      ),
      label: Flag.String("label").pipe(
        Flag.withDescription("only jobs with this label, key=value (repeatable: all of them)"),
        Flag.atLeast(0)
      ),
      json: jsonFlag
    },
    Effect.fn(function* ({ state, label, json }) {
      const labels = yield* Effect.forEach(label, parseLabel)
      const jobs = yield* store((keys) =>
        Effect.gen(function* () {
          const index = (yield* Jobs.list(keys)).filter((j) => state.length === 0 || state.includes(j.state.state))
          const views = yield* Effect.forEach(
            index,
            (j) =>
              Jobs.read(keys, j.id).pipe(
                Effect.map(Option.some),
                Effect.catchTag("JobError", () => Effect.succeed(Option.none<Jobs.JobView>()))
              ),
            { concurrency: 8 }
          )
          return views
            .flatMap((v, i) => (Option.isSome(v) ? [{ id: index[i]!.id, view: v.value }] : []))
            .filter(({ view }) => labels.every(([k, v]) => view.spec.labels[k] === v))
            .sort((a, b) => a.view.spec.createdAt - b.view.spec.createdAt || (a.id < b.id ? -1 : 1))
        })
      )
      const rows = jobs.map(({ id, view }) => ({
        id,
        state: view.state.state,
        outcome: view.state.outcome ?? null,
        labels: view.spec.labels,
        createdAt: iso(view.spec.createdAt),
        phase: Progress.phaseOf(view.state),
        tasks: { run: phaseCounts(view, "run"), clear: phaseCounts(view, "clear") }
      }))
      if (json) return yield* Console.log(JSON.stringify(rows, null, 2))
      const lines = table(
        ["ID", "STATE", "OUTCOME", "TASKS", "LABELS", "CREATED"],
        rows.map((r) => [
          r.id,
          r.state,
          r.outcome ?? "-",
          `${r.phase === "clear" ? "clear " : ""}${r.tasks[r.phase].done}/${r.tasks[r.phase].total}`,
          labelsText(r.labels) || "-",
          r.createdAt.replace(/\.\d+Z$/, "Z")
        ])
      )
      for (const l of lines) yield* Console.log(l)
    })
  ).pipe(Command.withDescription("List jobs: id, state, outcome, tasks done/total, labels, created"))

  const watch = Command.make(
    "watch",
    { id: jobId },
    Effect.fn(function* ({ id }) {
      const tty = yield* (yield* Stdio.Stdio).stdoutIsTerminal
      const columns = tty ? yield* (yield* Terminal.Terminal).columns : 0
      const final = yield* store((keys) =>
        Effect.gen(function* () {
          const s = yield* Store.Store
          const from = yield* s.revision
          const view = yield* Jobs.read(keys, id)
          return yield* Progress.follow(keys, id, view, from + 1, { tty, columns })
        })
      )
      if (!Progress.succeeded(final))
        return yield* jobFailed(
          `job ${id} ended ${final.state}${final.outcome === undefined ? "" : ` (${final.outcome})`}`
        )
    })
  ).pipe(
    Command.withDescription(
      "Follow a job until it is terminal (live progress on a terminal, one line per change otherwise); exit 0 only if it succeeded"
    )
  )

  const events = Command.make(
    "events",
    { id: jobId, json: jsonFlag },
    Effect.fn(function* ({ id, json }) {
      const log = yield* store((keys) =>
        Effect.gen(function* () {
          const s = yield* Store.Store
          const spec = yield* s.get(keys.jobSpec(id))
          if (Option.isNone(spec)) return yield* badInput(`no job "${id}"`)
          return yield* Jobs.events(keys, id)
        })
      )
      const rows = log.map((e) => ({
        at: iso(e.at),
        type: e.type,
        phase: e.phase ?? null,
        taskId: e.taskId ?? null,
        runner: e.runner ?? null,
        message: e.message,
        data: e.data ?? null
      }))
      if (json) return yield* Console.log(JSON.stringify(rows, null, 2))
      for (const r of rows) {
        yield* Console.log(
          `${r.at}  ${r.type.padEnd(18)} ${(r.taskId === null ? "" : `${r.phase ?? ""} ${r.taskId}`).padEnd(24)} ${(r.runner ?? "").padEnd(12)} ${r.message}`.trimEnd()
        )
      }
    })
  ).pipe(Command.withDescription("Print a job's event log in commit order"))

  const graph = Command.make(
    "graph",
    {
      id: jobId,
      format: Flag.Literals("format", ["mermaid", "dot"]).pipe(
        Flag.withDescription("mermaid (flowchart) or dot (Graphviz)"),
        Flag.withDefault("mermaid" as const)
      )
    },
    Effect.fn(function* ({ id, format }) {
      const view = yield* store((keys) => Jobs.read(keys, id))
      const nodes = Graph.nodesOf(view.tasks)
      if (format === "dot") return yield* Console.log(Graph.dot(id, nodes))
      const text = Graph.mermaid(nodes)
      yield* Console.log(text)
      const edges = text.split("\n").filter((l) => l.includes(" --> ") || l.includes(" -.->")).length
      if (edges > Graph.MERMAID_MAX_EDGES) {
        yield* Console.error(
          `note: ${edges} edges; Mermaid draws at most ${Graph.MERMAID_MAX_EDGES} unless its maxEdges setting is raised (or use --format dot)`
        )
      }
    })
  ).pipe(Command.withDescription("Print a job's DAG (both phases, with task status) as Mermaid or DOT"))

  const operation = (name: Job.Operation, description: string) =>
    Command.make(
      name,
      { id: jobId },
      Effect.fn(function* ({ id }) {
        const next = yield* store((keys) => Jobs.request(keys, id, name)).pipe(
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

  return Command.make("job").pipe(
    Command.withDescription("Submit, inspect and operate jobs"),
    Command.withSubcommands([
      submit,
      list,
      show,
      watch,
      events,
      graph,
      operation("cancel", "Cancel a job: interrupt tasks in flight, cancel the rest"),
      operation("pause", "Stop claiming new tasks of a job"),
      operation("resume", "Resume a paused job"),
      operation("rollback", "Run the clear phase for everything the job created"),
      operation("confirm", "Run the clear phase for what the recovered workload does not use"),
      operation("retry", "Retry the failed, ignored and canceled tasks of the current phase")
    ])
  )
}
