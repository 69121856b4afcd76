/**
 * Builds and validates jobs before anything is written (SPEC §4.7): the job
 * document (as submitted by the CLI or API) or a fluent builder become a
 * `JobSpec` plus its `TaskSpec`s. Every error names the task and the field.
 *
 * @since 0.1.0
 */
import { Resolver } from "@migrator/resolver"
import { Clock, Effect, Result, Schema } from "effect"
import { describeIssue, describeIssues } from "./Codec.ts"
import { JobSpec } from "./Job.ts"
import { TaskSpec } from "./Task.ts"

const TaskEntry = Schema.Struct({
  id: Schema.String,
  type: Schema.String,
  dependencies: Schema.optional(Schema.Array(Schema.String)),
  input: Schema.optional(Schema.Json),
  shared: Schema.optional(Schema.String),
  timeoutMs: Schema.optional(Schema.Int),
  retry: Schema.optional(
    Schema.Struct({ maxAttempts: Schema.optional(Schema.Int), baseDelayMs: Schema.optional(Schema.Int) })
  ),
  /** Clear tasks only: run this clear task on `confirm` too (default: rollback only). */
  runOnConfirm: Schema.optional(Schema.Boolean)
})

const ClearEntry = Schema.Struct({ ...TaskEntry.fields, undoes: Schema.String })

/** The job document accepted by `migrator job submit` and the job API. */
export const JobDocument = Schema.Struct({
  id: Schema.optional(Schema.String),
  labels: Schema.optional(Schema.Record(Schema.String, Schema.String)),
  target: Schema.optional(Schema.String),
  autoRollbackAfterMs: Schema.optional(Schema.Int),
  rtoMs: Schema.optional(Schema.Int),
  tasks: Schema.Array(TaskEntry),
  clearTasks: Schema.optional(Schema.Array(ClearEntry))
})
export type JobDocument = typeof JobDocument.Type
export type TaskEntry = typeof TaskEntry.Type
export type ClearEntry = typeof ClearEntry.Type

export class Problem extends Schema.Class<Problem>("@migrator/core/JobBuilder/Problem")({
  /** The task the problem is about, if any. */
  task: Schema.optional(Schema.String),
  /** JSON pointer into the job document. */
  field: Schema.String,
  message: Schema.String
}) {}

export class JobValidationError extends Schema.TaggedError<JobValidationError>()("JobValidationError", {
  problems: Schema.Array(Problem)
}) {
  override get message(): string {
    return this.problems
      .map((p) => `${p.task === undefined ? "" : `task "${p.task}": `}${p.field}: ${p.message}`)
      .join("\n")
  }
}

export interface BuiltJob {
  readonly spec: JobSpec
  readonly tasks: ReadonlyArray<TaskSpec>
}

export interface BuildOptions {
  /** Known task types with their input decoders; unknown types are rejected when given. */
  readonly types?: ReadonlyMap<string, Schema.Codec<unknown, unknown>> | undefined
  /** Used when the document has no id. */
  readonly generateId?: Effect.Effect<string> | undefined
}

/** Largest task spec accepted, in bytes of JSON. */
export const MAX_TASK_BYTES = 512 * 1024

const taskIdPattern = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$/
const jobIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/

/** Validates a job document and returns the records to write. */
/** Deepest nesting of objects and arrays accepted in a job document, task inputs included. */
export const MAX_DEPTH = 100

/** The JSON pointer of the first value nested deeper than `MAX_DEPTH` (iterative: must not overflow the stack). */
const tooDeep = (document: unknown): string | undefined => {
  const stack: Array<{ readonly value: unknown; readonly path: string; readonly depth: number }> = [
    { value: document, path: "", depth: 0 }
  ]
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop()!
    if (typeof value !== "object" || value === null) continue
    if (depth >= MAX_DEPTH) return path
    for (const [k, v] of Object.entries(value)) {
      stack.push({ value: v, path: `${path}/${k.replaceAll("~", "~0").replaceAll("/", "~1")}`, depth: depth + 1 })
    }
  }
  return undefined
}

export const build = (document: unknown, options: BuildOptions = {}): Effect.Effect<BuiltJob, JobValidationError> =>
  Effect.gen(function* () {
    // decoding recurses through the document: refuse absurd nesting before it overflows the stack
    const deep = tooDeep(document)
    if (deep !== undefined) {
      return yield* new JobValidationError({
        problems: [
          new Problem({ ...taskOf(document, deep), field: deep, message: `nested deeper than ${MAX_DEPTH} levels` })
        ]
      })
    }
    // unknown fields are errors: a misspelled "dependencies" must not silently drop the ordering
    const doc = yield* Schema.decodeUnknownEffect(JobDocument)(document, {
      errors: "all",
      onExcessProperty: "error"
    }).pipe(
      Effect.mapError(
        (e) =>
          new JobValidationError({
            problems: describeIssues(e.issue).map(
              ({ field, detail }) =>
                new Problem({
                  ...taskOf(document, field),
                  field,
                  message: detail.includes("excess property")
                    ? `unknown field "${(field.split("/").pop() ?? "").replaceAll("~1", "/").replaceAll("~0", "~")}"`
                    : detail
                })
            )
          })
      )
    )
    const problems: Array<Problem> = []
    const problem = (task: string | undefined, field: string, message: string) =>
      problems.push(new Problem(task === undefined ? { field, message } : { task, field, message }))

    const id = doc.id ?? (options.generateId === undefined ? undefined : yield* options.generateId)
    if (id === undefined) problem(undefined, "/id", "a job id is required")
    else if (!jobIdPattern.test(id)) problem(undefined, "/id", `invalid job id "${id}": letters, digits, ".", "_", "-"`)

    const clearTasks = doc.clearTasks ?? []
    const all = [
      ...doc.tasks.map((t, i) => ({
        entry: t as TaskEntry & { undoes?: string },
        phase: "run" as const,
        at: `/tasks/${i}`
      })),
      ...clearTasks.map((t, i) => ({
        entry: t as TaskEntry & { undoes?: string },
        phase: "clear" as const,
        at: `/clearTasks/${i}`
      }))
    ]
    if (doc.tasks.length === 0) problem(undefined, "/tasks", "a job needs at least one task")

    const phaseOf = new Map<string, "run" | "clear">()
    for (const { entry, phase, at } of all) {
      if (!taskIdPattern.test(entry.id)) {
        problem(entry.id, `${at}/id`, `invalid task id "${entry.id}": letters, digits, ".", "_", ":", "@", "-"`)
      }
      if (phaseOf.has(entry.id)) problem(entry.id, `${at}/id`, `duplicate task id "${entry.id}"`)
      else phaseOf.set(entry.id, phase)
    }

    for (const { entry, phase, at } of all) {
      const task = entry.id
      if (options.types !== undefined && !options.types.has(entry.type)) {
        problem(task, `${at}/type`, `unknown task type "${entry.type}"`)
      }
      // each task is one etcd key: it must fit in one request (1.5 MiB) with room to spare
      const size = new TextEncoder().encode(JSON.stringify(entry)).length
      if (size > MAX_TASK_BYTES) {
        problem(
          task,
          `${at}/input`,
          `task is ${size} bytes; the limit is ${MAX_TASK_BYTES} bytes (store large data elsewhere)`
        )
      }
      const deps = entry.dependencies ?? []
      deps.forEach((dep, i) => {
        const depPhase = phaseOf.get(dep)
        if (depPhase === undefined) problem(task, `${at}/dependencies/${i}`, `depends on unknown task "${dep}"`)
        else if (depPhase !== phase) {
          problem(task, `${at}/dependencies/${i}`, `depends on "${dep}" of the ${depPhase} phase`)
        }
        if (dep === task) problem(task, `${at}/dependencies/${i}`, "a task cannot depend on itself")
      })
      if (new Set(deps).size !== deps.length) problem(task, `${at}/dependencies`, "duplicate dependency")
      if (phase === "clear") {
        const undoes = entry.undoes
        if (undoes === undefined || phaseOf.get(undoes) !== "run") {
          problem(task, `${at}/undoes`, `undoes unknown run task "${undoes ?? ""}"`)
        }
      }
      // references: to dependencies; clear tasks may also read any run task's output
      const scanned = Resolver.references(entry.input ?? null)
      if (Result.isFailure(scanned)) {
        const r = scanned.failure.reason
        problem(task, `${at}/input${"location" in r ? r.location : ""}`, r.message)
      }
      const refs = Result.isSuccess(scanned) ? scanned.success : []
      for (const ref of refs) {
        const allowed = deps.includes(ref.taskId) || (phase === "clear" && phaseOf.get(ref.taskId) === "run")
        if (!allowed) {
          problem(
            task,
            `${at}/input${ref.location}`,
            phaseOf.has(ref.taskId)
              ? `refers to "${ref.taskId}", which is not a dependency`
              : `refers to unknown task "${ref.taskId}"`
          )
        }
      }
      // inputs without references can be checked against the handler's schema now
      const decoder = options.types?.get(entry.type)
      if (decoder !== undefined && refs.length === 0) {
        const exit = Schema.decodeUnknownExit(decoder)(entry.input ?? null)
        if (exit._tag === "Failure") {
          const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
          if (failure?._tag === "Fail") {
            const { field, detail } = describeIssue(failure.error.issue)
            problem(task, `${at}/input${field}`, detail)
          }
        }
      }
    }

    for (const cycle of findCycles(all.map(({ entry }) => entry))) {
      problem(cycle[0], "/dependencies", `dependency cycle: ${[...cycle, cycle[0]].join(" -> ")}`)
    }

    if (problems.length > 0 || id === undefined) return yield* new JobValidationError({ problems })
    const now = yield* Clock.currentTimeMillis
    const spec = new JobSpec({
      id: id as JobSpec["id"],
      labels: doc.labels ?? {},
      ...(doc.target === undefined ? {} : { target: doc.target }),
      runTasks: doc.tasks.length,
      clearTasks: clearTasks.length,
      ...(doc.autoRollbackAfterMs === undefined ? {} : { autoRollbackAfterMs: doc.autoRollbackAfterMs }),
      ...(doc.rtoMs === undefined ? {} : { rtoMs: doc.rtoMs }),
      createdAt: now
    })
    const tasks = all.map(
      ({ entry, phase }) =>
        new TaskSpec({
          id: entry.id as TaskSpec["id"],
          type: entry.type,
          phase,
          dependencies: (entry.dependencies ?? []) as TaskSpec["dependencies"],
          input: entry.input ?? null,
          ...(entry.shared === undefined ? {} : { shared: entry.shared }),
          ...(entry.undoes === undefined ? {} : { undoes: entry.undoes as TaskSpec["id"] }),
          ...(entry.timeoutMs === undefined ? {} : { timeoutMs: entry.timeoutMs }),
          ...(entry.retry === undefined ? {} : { retry: entry.retry }),
          ...(entry.runOnConfirm === undefined ? {} : { runOnConfirm: entry.runOnConfirm })
        })
    )
    return { spec, tasks }
  })

const taskOf = (document: unknown, field: string): { task?: string } => {
  const m = /^\/(tasks|clearTasks)\/(\d+)/.exec(field)
  if (m === null || typeof document !== "object" || document === null) return {}
  const list = (document as Record<string, unknown>)[m[1]!]
  const entry = Array.isArray(list) ? list[Number(m[2])] : undefined
  const id = typeof entry === "object" && entry !== null ? (entry as Record<string, unknown>).id : undefined
  return typeof id === "string" ? { task: id } : {}
}

/**
 * Each cycle once, as the list of node ids along it (iterative DFS: deep chains must not overflow).
 * Dependencies on ids that are not nodes are ignored.
 *
 * @since 0.1.0
 */
export const findCycles = (
  tasks: ReadonlyArray<{ readonly id: string; readonly dependencies?: ReadonlyArray<string> | undefined }>
) => {
  const deps = new Map(tasks.map((t) => [t.id, t.dependencies ?? []]))
  const color = new Map<string, 1 | 2>()
  const cycles: Array<Array<string>> = []
  for (const root of deps.keys()) {
    if (color.has(root)) continue
    const stack: Array<{ id: string; next: number }> = [{ id: root, next: 0 }]
    const path: Array<string> = [root]
    color.set(root, 1)
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!
      const children = deps.get(top.id) ?? []
      if (top.next < children.length) {
        const child = children[top.next++]!
        if (!deps.has(child)) continue
        const c = color.get(child)
        if (c === 1) cycles.push(path.slice(path.indexOf(child)))
        else if (c === undefined) {
          color.set(child, 1)
          stack.push({ id: child, next: 0 })
          path.push(child)
        }
      } else {
        color.set(top.id, 2)
        stack.pop()
        path.pop()
      }
    }
  }
  return cycles
}
