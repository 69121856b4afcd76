/**
 * Reading a large job's tasks a page at a time (a 100,000-task job is
 * 400,000 keys): a page of tasks in key order, run phase then clear phase,
 * after a cursor and optionally only those in one state; and the job's
 * counts per state with the first pages, from one scan of the task keys
 * that decodes no task it does not return. Memory is bounded by the page,
 * not by the job.
 *
 * A cursor names the last task of the previous page: `run/<task>` or
 * `clear/<task>` (a bare task id is a run task).
 *
 * @since 0.3.0
 */
import { Effect, Option } from "effect"
import { decodeRegistration } from "./internal/registration.ts"
import type { JobSpec, JobState } from "./Job.ts"
import { decodeResult, decodeSpec, decodeState, decodeStatus, decodeTask, JobError, type TaskView } from "./Jobs.ts"
import type * as Keys from "./Keys.ts"
import { type KeyValue, Store } from "./Store.ts"
import type { Phase } from "./Task.ts"

/** What a page may be limited to: one result or status, or every failed, ignored or canceled task. */
export const filters = [
  "problems",
  "failed",
  "ignored",
  "canceled",
  "skipped",
  "success",
  "running",
  "waiting"
] as const
export type Filter = (typeof filters)[number]
export const isFilter = (s: string): s is Filter => (filters as ReadonlyArray<string>).includes(s)

/** Tasks of one phase by state: waiting, running, or the result of those that are done. */
export interface Counts {
  total: number
  waiting: number
  running: number
  success: number
  failed: number
  ignored: number
  canceled: number
  skipped: number
}

export interface JobCounts {
  readonly run: Counts
  readonly clear: Counts
}

export const emptyCounts = (): Counts => ({
  total: 0,
  waiting: 0,
  running: 0,
  success: 0,
  failed: 0,
  ignored: 0,
  canceled: 0,
  skipped: 0
})

export interface Page {
  readonly tasks: ReadonlyArray<TaskView>
  /** The cursor of the next page; undefined when this page is the last. */
  readonly next: string | undefined
}

export interface PageOptions {
  readonly after?: string | undefined
  readonly limit: number
  readonly filter?: Filter | undefined
}

/** The job's spec and state, its counts, and the first pages a reader shows before anything else. */
export interface Summary {
  readonly spec: JobSpec
  readonly state: JobState
  readonly counts: JobCounts
  /** The first `limit` failed, ignored or canceled tasks. */
  readonly problems: Page
  /** The first `limit` tasks. */
  readonly first: Page
}

/**
 * Keys per range request of a scan that reads the whole job. Each request costs etcd a walk of its
 * index from the start key to the end of the prefix (etcd counts the matching keys), so few large
 * requests are much cheaper than many small ones.
 */
const CHUNK = 20_000
/** A task has at most four records (spec, status, result, claim). */
const RECORDS = 4

type State = "waiting" | "running" | "success" | "failed" | "ignored" | "canceled" | "skipped"
const results = new Set<string>(["success", "failed", "ignored", "canceled", "skipped"])

/** One task's records as read, before anything is decoded. */
export interface Group {
  readonly phase: Phase
  readonly task: string
  readonly kvs: Array<KeyValue>
}

export const field = (json: string, name: string): unknown => {
  try {
    const v = JSON.parse(json) as unknown
    return typeof v === "object" && v !== null ? (v as Record<string, unknown>)[name] : undefined
  } catch {
    return undefined
  }
}

/** A task's state from its status and result records only (its spec is not decoded). */
const stateOf = (g: Group): State => {
  let status: unknown
  let result: unknown
  for (const kv of g.kvs) {
    if (kv.key.endsWith("/result")) result = field(kv.value, "result")
    else if (kv.key.endsWith("/status")) status = field(kv.value, "status")
  }
  if (typeof result === "string" && results.has(result)) return result as State
  return status === "running" ? "running" : "waiting"
}

const isProblem = (s: State) => s === "failed" || s === "ignored" || s === "canceled"
const matches = (filter: Filter | undefined, s: State) =>
  filter === undefined || (filter === "problems" ? isProblem(s) : filter === s)

export const cursorOf = (t: { readonly spec: { readonly phase: Phase; readonly id: string } }) =>
  `${t.spec.phase}/${t.spec.id}`

/** A cursor as phase and task; undefined when it is malformed. */
export const parseCursor = (cursor: string): { readonly phase: Phase; readonly task: string } | undefined => {
  const at = cursor.indexOf("/")
  const phase = at === -1 ? "run" : cursor.slice(0, at)
  const task = at === -1 ? cursor : cursor.slice(at + 1)
  if ((phase !== "run" && phase !== "clear") || !/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$/.test(task)) return undefined
  return { phase, task }
}

/**
 * Visits the tasks of job `id` in page order (run, then clear), each once with all its records,
 * starting after `after`; `visit` returns false to stop. Every chunk is read at the first one's revision.
 */
export const scan = (
  keys: Keys.Layout,
  id: string,
  after: string | undefined,
  chunk: number,
  visit: (g: Group) => boolean
) =>
  Effect.gen(function* () {
    const store = yield* Store
    let start: { phase: Phase; from: string | undefined } = { phase: "run", from: undefined }
    if (after !== undefined) {
      const c = parseCursor(after)
      if (c === undefined) {
        return yield* new JobError({
          job: id,
          reason: "InvalidOperation",
          message: `after: "${after}" is not a task cursor (run/<task> or clear/<task>)`
        })
      }
      // "0" is the character after "/": the first key past every record of the cursor's task
      start = { phase: c.phase, from: `${keys.tasks(id, c.phase)}${c.task}0` }
    }
    let revision: number | undefined
    for (const phase of start.phase === "run" ? (["run", "clear"] as const) : (["clear"] as const)) {
      const prefix = keys.tasks(id, phase)
      let from = phase === start.phase ? start.from : undefined
      let group: Group | undefined
      for (;;) {
        const page = yield* store.range(prefix, {
          limit: chunk,
          pageSize: chunk,
          ...(from === undefined ? {} : { from }),
          ...(revision === undefined ? {} : { revision })
        })
        revision ??= page.revision
        for (const kv of page.kvs) {
          const rest = kv.key.slice(prefix.length)
          const task = rest.slice(0, rest.indexOf("/"))
          if (group === undefined || group.task !== task) {
            if (group !== undefined && !visit(group)) return
            group = { phase, task, kvs: [] }
          }
          group.kvs.push(kv)
        }
        const last = page.kvs[page.kvs.length - 1]
        if (page.kvs.length < chunk || last === undefined) break
        from = `${last.key}\u0000`
      }
      if (group !== undefined && !visit(group)) return
    }
  })

/** Decodes one task's records; a task whose spec cannot be read is left out, as `Jobs.read` does. */
const decodeGroup = (g: Group) =>
  Effect.gen(function* () {
    const read = <A, E>(e: Effect.Effect<A, E>) => Effect.map(Effect.option(e), Option.getOrUndefined)
    let spec: TaskView["spec"] | undefined
    let status: TaskView["status"]
    let result: TaskView["result"]
    let claim: string | undefined
    for (const kv of g.kvs) {
      const record = kv.key.slice(kv.key.lastIndexOf("/") + 1)
      if (record === "spec") spec = yield* read(decodeTask(kv.key, kv.value))
      else if (record === "status") status = yield* read(decodeStatus(kv.key, kv.value))
      else if (record === "result") result = yield* read(decodeResult(kv.key, kv.value))
      else if (record === "claim") claim = kv.value
    }
    return spec === undefined ? undefined : ({ spec, status, result, claim } satisfies TaskView)
  })

const decodeAll = (groups: ReadonlyArray<Group>) =>
  Effect.map(Effect.forEach(groups, decodeGroup), (views) => views.filter((v): v is TaskView => v !== undefined))

/** Marks the ready tasks of a page that no live runner serves (the dependencies' results are read by key). */
const withWaitingReasons = (keys: Keys.Layout, id: string, tasks: ReadonlyArray<TaskView>) =>
  Effect.gen(function* () {
    const candidates = tasks.filter((t) => t.result === undefined && t.status?.status !== "running")
    if (candidates.length === 0) return tasks
    const store = yield* Store
    const served = new Set<string>()
    for (const kv of (yield* store.range(keys.runners)).kvs) {
      for (const type of decodeRegistration(kv.value)?.types ?? []) served.add(type)
    }
    const unserved = candidates.filter((t) => !served.has(t.spec.type))
    if (unserved.length === 0) return tasks
    const known = new Map<string, boolean>()
    for (const t of tasks) known.set(cursorOf(t), t.result?.result === "success" || t.result?.result === "skipped")
    const done = (phase: Phase, dep: string) =>
      known.has(`${phase}/${dep}`)
        ? Effect.succeed(known.get(`${phase}/${dep}`) === true)
        : Effect.map(store.get(keys.task(id, phase, dep, "result")), (kv) => {
            const r = Option.isSome(kv) ? field(kv.value.value, "result") : undefined
            return r === "success" || r === "skipped"
          })
    const reasons = new Map<TaskView, string>()
    yield* Effect.forEach(
      unserved,
      (t) =>
        Effect.map(
          Effect.forEach(t.spec.dependencies, (d) => done(t.spec.phase, d), { concurrency: 8 }),
          (ds) => {
            if (ds.every(Boolean)) reasons.set(t, `no live runner serves "${t.spec.type}"`)
          }
        ),
      { concurrency: 4, discard: true }
    )
    return tasks.map((t) => {
      const why = reasons.get(t)
      return why === undefined ? t : { ...t, waitingFor: why }
    })
  })

/** A page of job `id`'s tasks: at most `limit`, after the cursor `after`, only those matching `filter`. */
export const page = Effect.fn("TaskPages.page")(function* (keys: Keys.Layout, id: string, options: PageOptions) {
  const store = yield* Store
  if (Option.isNone(yield* store.get(keys.jobSpec(id)))) {
    return yield* new JobError({ job: id, reason: "NotFound", message: `no job "${id}"` })
  }
  const limit = Math.max(1, Math.floor(options.limit))
  const picked: Array<Group> = []
  // one more than asked: the page knows whether another follows
  // unfiltered, the page and the next task fit in one request
  const chunk = options.filter === undefined ? (limit + 2) * RECORDS : CHUNK
  yield* scan(keys, id, options.after, chunk, (g) => {
    if (matches(options.filter, stateOf(g))) picked.push(g)
    return picked.length <= limit
  })
  return yield* pageOf(keys, id, picked, limit)
})

/** The first `limit` of `groups` as a page; one more in `groups` means another page follows. */
const pageOf = (keys: Keys.Layout, id: string, groups: ReadonlyArray<Group>, limit: number) =>
  Effect.gen(function* () {
    const tasks = yield* decodeAll(groups.slice(0, limit))
    const last = tasks[tasks.length - 1]
    return {
      tasks: yield* withWaitingReasons(keys, id, tasks),
      next: groups.length > limit && last !== undefined ? cursorOf(last) : undefined
    } satisfies Page
  })

/** Counts per phase and state of job `id`'s tasks (an unknown job has none), from one scan. */
export const counts = Effect.fn("TaskPages.counts")(function* (keys: Keys.Layout, id: string) {
  const out: JobCounts = { run: emptyCounts(), clear: emptyCounts() }
  yield* scan(keys, id, undefined, CHUNK, (g) => {
    out[g.phase].total++
    out[g.phase][stateOf(g)]++
    return true
  })
  return out
})

/**
 * Counts per phase and state, and the first `limit` problems and tasks, in one scan; `onTask` sees
 * every task's records on the way (a `TaskTally` is built from the same scan).
 */
export const summary = Effect.fn("TaskPages.summary")(function* (
  keys: Keys.Layout,
  id: string,
  limit: number,
  onTask?: (g: Group) => void
) {
  const store = yield* Store
  const specKv = yield* store.get(keys.jobSpec(id))
  const stateKv = yield* store.get(keys.jobState(id))
  const notFound = (message: string) => new JobError({ job: id, reason: "NotFound", message })
  if (Option.isNone(specKv)) return yield* notFound(`no job "${id}"`)
  const spec = yield* decodeSpec(specKv.value.key, specKv.value.value).pipe(
    Effect.mapError((e) => notFound(`job "${id}" is unreadable: ${e.message}`))
  )
  if (Option.isNone(stateKv)) return yield* notFound(`job "${id}" is incomplete`)
  const state = yield* decodeState(stateKv.value.key, stateKv.value.value).pipe(
    Effect.mapError((e) => notFound(`job "${id}" is unreadable: ${e.message}`))
  )
  const counts: JobCounts = { run: emptyCounts(), clear: emptyCounts() }
  const problems: Array<Group> = []
  const first: Array<Group> = []
  yield* scan(keys, id, undefined, CHUNK, (g) => {
    onTask?.(g)
    const s = stateOf(g)
    const c = counts[g.phase]
    c.total++
    c[s]++
    if (first.length <= limit) first.push(g)
    if (isProblem(s) && problems.length <= limit) problems.push(g)
    return true
  })
  return {
    spec,
    state,
    counts,
    problems: yield* pageOf(keys, id, problems, limit),
    first: yield* pageOf(keys, id, first, limit)
  } satisfies Summary
})
