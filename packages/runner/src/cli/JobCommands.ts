/**
 * `migrator job …`: submit, list, show, watch, events, graph, the user
 * operations (cancel, pause, resume, rollback, confirm, retry) and delete.
 *
 * They reach the jobs through etcd, or through a runner's API with
 * `--server URL` (and `--token`, or `MIGRATOR_SERVER`/`MIGRATOR_TOKEN`):
 * see JobClient.ts. Output that is data has a `--json` form (`job show
 * --json` is the API's job document); exit codes are those of CliExit.ts
 * (0 ok, 1 the job did not succeed, 2 bad input, 3 store unreachable).
 *
 * @since 0.1.0
 */
import { Job, JobBuilder, Store, TaskRegistry, TaskTally } from "@migrator/core"
import {
  Clock,
  Config,
  Console,
  Context,
  Effect,
  Layer,
  Option,
  Random,
  Redacted,
  type Schema,
  Stdio,
  Terminal
} from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { badInput, jobFailed } from "../CliExit.ts"
import type { JobJson } from "../http/JobDocument.ts"
import * as JobDocument from "../http/JobDocument.ts"
import * as Plugins from "../Plugins.ts"
import * as ArchiveText from "./ArchiveText.ts"
import type { Connect } from "./Connection.ts"
import * as Graph from "./Graph.ts"
import * as JobClient from "./JobClient.ts"
import * as JobText from "./JobText.ts"
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

/** Tasks `job show` prints of a large job unless `--limit` or `--all` says otherwise. */
const SHOW_PAGE = 100

const jsonFlag = Flag.Boolean("json").pipe(Flag.withDescription("print JSON"), Flag.withDefault(false))
const jobId = Argument.String("id").pipe(Argument.withDescription("job id"))

const parseLabel = (text: string) => {
  const at = text.indexOf("=")
  return at <= 0
    ? Effect.fail(badInput(`--label: expected key=value, got "${text}"`))
    : Effect.succeed([text.slice(0, at), text.slice(at + 1)] as const)
}

const serverFlags = {
  server: Flag.String("server").pipe(
    Flag.withDescription("go through this runner's API, e.g. https://runner-1:8443 (env MIGRATOR_SERVER)"),
    Flag.optional
  ),
  token: Flag.String("token").pipe(
    Flag.withDescription("API token for --server (env MIGRATOR_TOKEN, which keeps it out of the process list)"),
    Flag.optional
  )
}

const envOption = (name: string) => Config.option(Config.String(name)).pipe(Effect.orElseSucceed(() => Option.none()))

/** Graph nodes from a job document's tasks. */
const nodesOf = (job: JobJson): ReadonlyArray<Graph.Node> =>
  job.tasks
    .map((t) => ({
      id: t.id,
      type: t.type,
      phase: t.phase,
      dependencies: t.dependencies,
      undoes: t.undoes ?? undefined,
      status: t.result ?? t.status
    }))
    .sort((a, b) => (a.phase === b.phase ? (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) : a.phase === "run" ? -1 : 1))

/** The `job` command and its subcommands, reading the etcd connection through `connect`. */
export const make = <R>(connect: Connect<R>) => {
  const group = Command.make("job").pipe(Command.withSharedFlags(serverFlags))

  /** etcd, or the runner's API when `--server`/`MIGRATOR_SERVER` is given. */
  const client = Effect.gen(function* () {
    const flags = yield* group
    const server = Option.orElse(flags.server, () => Option.none<string>())
    const url = Option.isSome(server) ? server : yield* envOption("MIGRATOR_SERVER")
    if (Option.isSome(url)) {
      if (!/^https?:\/\/[^\s/]+/.test(url.value)) {
        return yield* badInput(`--server: expected a URL like https://runner-1:8443, got "${url.value}"`)
      }
      const token = Option.isSome(flags.token) ? flags.token : yield* envOption("MIGRATOR_TOKEN")
      return JobClient.http(url.value, Option.getOrUndefined(Option.map(token, Redacted.make)))
    }
    const c = yield* connect
    return JobClient.etcd(c.keys, (effect) => Effect.provide(effect, c.store))
  })

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
      const id = yield* (yield* client).submit(built, document)
      yield* Console.log(id)
    })
  ).pipe(Command.withDescription("Validate and submit a job; prints its id"))

  const show = Command.make(
    "show",
    {
      id: jobId,
      json: jsonFlag,
      failed: Flag.Boolean("failed").pipe(
        Flag.withDescription("only the tasks that failed (with --json: the document with only those tasks)"),
        Flag.withDefault(false)
      ),
      all: Flag.Boolean("all").pipe(
        Flag.withDescription("every task, however many (a large job shows its counts and a page otherwise)"),
        Flag.withDefault(false)
      ),
      limit: Flag.Int("limit").pipe(
        Flag.withDescription(`tasks per page (default: every task of a small job, ${SHOW_PAGE} of a large one)`),
        Flag.optional
      ),
      after: Flag.String("after").pipe(
        Flag.withDescription("the page after this task (run/<task> or clear/<task>), as the previous page names it"),
        Flag.optional
      )
    },
    Effect.fn(function* ({ id, json, failed, all, limit, after }) {
      if (Option.isSome(limit) && (limit.value < 1 || limit.value > 1000)) {
        return yield* badInput(`--limit: expected 1 to 1000, got ${limit.value}`)
      }
      if (all && (Option.isSome(limit) || Option.isSome(after))) {
        return yield* badInput("--all shows every task: leave out --limit and --after")
      }
      const jobs = yield* client
      // a deleted or expired job is shown from its archived summary (exit 0); unknown stays bad input
      const found = yield* jobs.show(id, all).pipe(
        Effect.map((job) => ({ _tag: "job", job }) as const),
        Effect.catch((e) =>
          e.code === 2
            ? Effect.flatMap(jobs.archived(id), (archived) =>
                Option.isSome(archived)
                  ? Effect.succeed({ _tag: "archived", archived: archived.value } as const)
                  : Effect.fail(e)
              )
            : Effect.fail(e)
        )
      )
      if (found._tag === "archived") {
        if (json) return yield* Console.log(JSON.stringify({ archived: found.archived }, null, 2))
        for (const line of ArchiveText.details(found.archived)) yield* Console.log(line)
        return
      }
      const job = found.job
      const pageSize = Option.getOrElse(limit, () => SHOW_PAGE)
      // a page: asked for with --after, or a large job's failed tasks
      const paged = Option.isSome(after) || (failed && !job.tasksPage.complete)
      const page = paged
        ? yield* jobs.page(id, {
            after: Option.getOrUndefined(after),
            limit: pageSize,
            filter: failed ? "failed" : undefined
          })
        : undefined
      const shown = page?.tasks ?? (failed ? job.tasks.filter((t) => t.result === "failed") : job.tasks)
      const whole = page === undefined && Option.isNone(limit) && job.tasksPage.complete
      const ordered = page === undefined ? JobText.problemsFirst(shown) : shown
      const cut = whole ? ordered : ordered.slice(0, pageSize)
      // where the next page starts: the page's cursor, or the last task shown in key order
      const inOrder = cut.filter((t) => job.tasksPage.complete || !JobText.isProblem(t))
      const lastInOrder = inOrder[inOrder.length - 1]
      const next =
        page !== undefined
          ? page.next
          : !whole && (cut.length < ordered.length || !job.tasksPage.complete) && lastInOrder !== undefined
            ? `${lastInOrder.phase}/${lastInOrder.id}`
            : null
      const total = failed
        ? job.counts.run.failed + job.counts.clear.failed
        : job.counts.run.total + job.counts.clear.total
      if (json) {
        if (whole) return yield* Console.log(JSON.stringify(failed ? { ...job, tasks: shown } : job, null, 2))
        const out = { ...job, tasks: cut, tasksPage: { complete: next === null && cut.length >= total, next } }
        return yield* Console.log(JSON.stringify(out, null, 2))
      }
      const now = yield* Clock.currentTimeMillis
      for (const line of JobText.header(job, now)) yield* Console.log(line)
      for (const t of cut) yield* Console.log(JobText.taskLine(t))
      if (failed && total === 0) yield* Console.log("  no failed task")
      if (cut.length < total || next !== null) yield* Console.log(JobText.moreText(id, cut.length, total, next, failed))
      for (const p of job.problems) yield* Console.error(`  unreadable record: ${p}`)
    })
  ).pipe(
    Command.withDescription(
      "Show a job: state, outcome, elapsed time and RTO, counts, then its tasks (failed first) with their reason or output; a large job a page at a time"
    )
  )

  const list = Command.make(
    "list",
    {
      state: Flag.Literals("state", Job.State.literals).pipe(
        Flag.withDescription("only jobs in this state (repeatable: any of them)"),
        Flag.atLeast(0)
      ),
      outcome: Flag.Literals("outcome", Job.Outcome.literals).pipe(
        Flag.withDescription("only jobs whose run phase ended so: succeeded, partial, failed (repeatable)"),
        Flag.atLeast(0)
      ),
      label: Flag.String("label").pipe(
        Flag.withDescription("only jobs with this label, key=value (repeatable: all of them)"),
        Flag.atLeast(0)
      ),
      archived: Flag.Boolean("archived").pipe(
        Flag.withDescription("list the archived summaries of deleted and expired jobs instead"),
        Flag.withDefault(false)
      ),
      json: jsonFlag
    },
    Effect.fn(function* ({ state, outcome, label, archived, json }) {
      const labels = yield* Effect.forEach(label, parseLabel)
      if (archived) {
        const rows = (yield* (yield* client).archive).filter(
          (j) =>
            (state.length === 0 || state.includes(j.state)) &&
            (outcome.length === 0 ||
              (j.outcome !== undefined && (outcome as ReadonlyArray<string>).includes(j.outcome))) &&
            labels.every(([k, v]) => j.labels[k] === v)
        )
        if (json) return yield* Console.log(JSON.stringify(rows, null, 2))
        for (const l of ArchiveText.table(rows)) yield* Console.log(l)
        return
      }
      const jobs = (yield* (yield* client).list({ states: state, labels })).filter(
        (j) => outcome.length === 0 || (j.outcome !== null && (outcome as ReadonlyArray<string>).includes(j.outcome))
      )
      const rows = jobs.map(JobText.listRow)
      if (json) return yield* Console.log(JSON.stringify(rows, null, 2))
      const lines = JobText.table(
        ["ID", "STATE", "OUTCOME", "TASKS", "LABELS", "CREATED"],
        rows.map((r) => [
          r.id,
          r.state,
          r.outcome ?? "-",
          `${r.phase === "clear" ? "clear " : ""}${r.tasks[r.phase].done}/${r.tasks[r.phase].total}`,
          JobText.labelsText(r.labels) || "-",
          r.createdAt.replace(/\.\d+Z$/, "Z")
        ])
      )
      for (const l of lines) yield* Console.log(l)
    })
  ).pipe(
    Command.withDescription(
      "List jobs: id, state, outcome, tasks done/total, labels, created (--archived: deleted and expired jobs)"
    )
  )

  const watch = Command.make(
    "watch",
    { id: jobId },
    Effect.fn(function* ({ id }) {
      const tty = yield* (yield* Stdio.Stdio).stdoutIsTerminal
      const columns = tty ? yield* (yield* Terminal.Terminal).columns : 0
      const jobs = yield* client
      // a large job is followed by its counts, not task by task
      // a large job is followed by its counts (kept from the watch by a tally), not task by task
      const final =
        jobs.via === "etcd"
          ? yield* Effect.gen(function* () {
              const c = yield* connect
              return yield* Effect.gen(function* () {
                const s = yield* Store.Store
                const from = yield* s.revision
                const built = TaskTally.builder(c.keys, id)
                const first = yield* JobDocument.document(c.keys, id, { onTask: built.add })
                const start = Progress.fromDocument(first)
                if (first.tasksPage.complete) return yield* Progress.follow(c.keys, start, from + 1, { tty, columns })
                const tally = built.tally()
                return yield* Progress.follow(
                  c.keys,
                  { ...start, tasks: new Map(), totals: tally.counts },
                  from + 1,
                  { tty, columns },
                  tally
                )
              }).pipe(
                Effect.provide(c.store),
                Effect.catchTag("JobError", (e) => Effect.fail(badInput(e.message)))
              )
            })
          : yield* Effect.flatMap(jobs.show(id), (first) =>
              Progress.poll(jobs.show(id), { tty, columns }, first.tasksPage.complete ? "1 second" : "10 seconds")
            )
      const document = yield* jobs.show(id)
      const phase = JobText.phaseOfState(document.state)
      for (const line of JobText.failedSummary(
        document.tasks.filter((t) => t.phase === phase),
        document.counts[phase].failed
      ))
        yield* Console.log(line)
      if (!Progress.succeeded(final))
        return yield* jobFailed(
          `job ${id} ended ${final.state}${final.outcome === undefined ? "" : ` (${final.outcome})`}`
        )
    })
  ).pipe(
    Command.withDescription(
      "Follow a job until it is terminal (live progress on a terminal, timestamped lines otherwise), then list the failed tasks; exit 0 only if it succeeded"
    )
  )

  const events = Command.make(
    "events",
    { id: jobId, json: jsonFlag },
    Effect.fn(function* ({ id, json }) {
      const log = yield* (yield* client).events(id)
      const rows = log.map((e) => ({
        at: JobText.iso(e.at),
        type: e.type,
        phase: e.phase ?? null,
        taskId: e.taskId ?? null,
        runner: e.runner ?? null,
        actor: e.actor ?? null,
        reason: e.reason ?? null,
        message: e.message,
        data: e.data ?? null
      }))
      if (json) return yield* Console.log(JSON.stringify(rows, null, 2))
      for (const r of rows) {
        yield* Console.log(
          `${r.at}  ${r.type.padEnd(18)} ${(r.taskId === null ? "" : `${r.phase ?? ""} ${r.taskId}`).padEnd(24)} ${(r.runner ?? r.actor ?? "").padEnd(12)} ${r.message}`.trimEnd()
        )
      }
    })
  ).pipe(Command.withDescription("Print a job's event log in commit order (operations with their actor and reason)"))

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
      const nodes = nodesOf(yield* (yield* client).show(id, true))
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
      {
        id: jobId,
        reason: Flag.String("reason").pipe(
          Flag.withDescription("why, recorded in the job's event log with who asked"),
          Flag.optional
        )
      },
      Effect.fn(function* ({ id, reason }) {
        const next = yield* (yield* client).request(id, name, Option.getOrUndefined(reason))
        yield* Console.log(`${id}: ${next.state}`)
      })
    ).pipe(Command.withDescription(description))

  const remove = Command.make(
    "delete",
    {
      id: jobId,
      reason: Flag.String("reason").pipe(
        Flag.withDescription("why, recorded with who asked in the job's archived summary"),
        Flag.optional
      ),
      releaseShared: Flag.Boolean("release-shared").pipe(
        Flag.withDescription(
          "also remove the job from the holders of the shared resources it still holds; the cloud resources themselves are left as they are"
        ),
        Flag.withDefault(false)
      ),
      json: jsonFlag
    },
    Effect.fn(function* ({ id, reason, releaseShared, json }) {
      const archived = yield* (yield* client).remove(id, { reason: Option.getOrUndefined(reason), releaseShared })
      if (json) return yield* Console.log(JSON.stringify(archived, null, 2))
      yield* Console.log(
        `${id}: deleted (archived as ${archived.state}${archived.outcome === undefined ? "" : `, ${archived.outcome}`})`
      )
      if (archived.releasedShared !== undefined) {
        yield* Console.log(`  released from shared resources ${archived.releasedShared.join(", ")} (left in the cloud)`)
      }
    })
  ).pipe(
    Command.withDescription(
      "Delete a finished job: every key of it goes, a summary is archived (job list --archived). " +
        "Exit 0 deleted, 2 not finished or still holding shared resources (see --release-shared), 1 unknown job"
    )
  )

  return group.pipe(
    Command.withDescription("Submit, inspect and operate jobs (through etcd, or a runner's API with --server)"),
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
      operation("retry", "Retry the failed, ignored and canceled tasks of the current phase"),
      remove
    ])
  )
}
