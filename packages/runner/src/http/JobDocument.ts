/**
 * The JSON job document: what `GET /api/jobs/:id` returns and what
 * `migrator job show --json` prints (the same object, whichever way the CLI
 * reaches the jobs). Every field is described in the README ("The job
 * document").
 *
 * @since 0.2.0
 */
import { Job, JobEvent, Jobs, type Keys, Store, Task, TaskPages } from "@migrator/core"
import { Effect, Option, Schema } from "effect"

export const taskJson = (t: Jobs.TaskView) => ({
  id: t.spec.id,
  type: t.spec.type,
  phase: t.spec.phase,
  dependencies: t.spec.dependencies,
  undoes: t.spec.undoes ?? null,
  shared: t.spec.shared ?? null,
  input: t.spec.input,
  status: Task.statusOf(t.status?.status, t.result?.result),
  attempt: t.status?.attempt ?? 0,
  runner: t.status?.runner ?? null,
  startedAt: t.status?.startedAt ?? null,
  result: t.result?.result ?? null,
  output: t.result?.output ?? null,
  reason:
    t.result?.reason === undefined
      ? null
      : { code: t.result.reason.code, message: t.result.reason.message, details: t.result.reason.details ?? null },
  finishedAt: t.result?.finishedAt ?? null,
  /** Why a ready task is not running, e.g. `no live runner serves "openstack/tenant.create"`. */
  waitingFor: t.waitingFor ?? null
})
export type TaskJson = ReturnType<typeof taskJson>

export const stateJson = (s: Job.JobState) => Schema.encodeSync(Job.JobState)(s)

/** The operations the job's state allows now (the dashboard enables only these). */
export const allowedOperations = (state: Job.JobState): ReadonlyArray<Job.Operation> =>
  Job.Operation.literals.filter((op) => Jobs.canRequest(state, op))

/** Run tasks first, then clear tasks, each in the store's (key) order. */
export const sortedTasks = (tasks: ReadonlyArray<Jobs.TaskView>) =>
  [...tasks].sort((a, b) => (a.spec.phase === b.spec.phase ? 0 : a.spec.phase === "run" ? -1 : 1))

/** Counts per phase and state of the tasks at hand (a job read in full). */
export const countsOf = (tasks: ReadonlyArray<Jobs.TaskView>): TaskPages.JobCounts => {
  const counts = { run: TaskPages.emptyCounts(), clear: TaskPages.emptyCounts() }
  for (const t of tasks) {
    const c = counts[t.spec.phase]
    c.total++
    const result = t.result?.result
    if (result !== undefined) c[result]++
    else if (t.status?.status === "running") c.running++
    else c.waiting++
  }
  return counts
}

/** Whether `tasks` holds every task of the job, and where the next page starts when it does not. */
export interface TasksPage {
  readonly complete: boolean
  readonly next: string | null
}

const headJson = (spec: Job.JobSpec, state: Job.JobState) => ({
  id: spec.id,
  labels: spec.labels,
  target: spec.target ?? null,
  createdAt: spec.createdAt,
  runTasks: spec.runTasks,
  clearTasks: spec.clearTasks,
  rtoMs: spec.rtoMs ?? null,
  autoRollbackAfterMs: spec.autoRollbackAfterMs ?? null,
  ...stateJson(state),
  outcome: state.outcome ?? null,
  operations: allowedOperations(state)
})

export const jobJson = (view: Jobs.JobView) => ({
  ...headJson(view.spec, view.state),
  tasks: sortedTasks(view.tasks).map(taskJson),
  problems: view.problems.map((p) => p.message),
  counts: countsOf(view.tasks) as TaskPages.JobCounts,
  tasksPage: { complete: true, next: null } as TasksPage
})
export type JobJson = ReturnType<typeof jobJson>

/** An event of the log: absent fields are left out (`actor` and `reason` only on user operations). */
export const eventJson = (e: JobEvent.JobEvent) => Schema.encodeSync(JobEvent.JobEvent)(e)
export type EventJson = ReturnType<typeof eventJson>

/** Jobs with more tasks than this are served as counts and first pages unless every task is asked for. */
export const LARGE_JOB = 5000
/** Tasks in the first page of a large job's document (after its failed, ignored and canceled tasks). */
export const FIRST_PAGE = 100

/**
 * A large job's document: the same fields, with `tasks` holding its first failed, ignored and
 * canceled tasks and then its first tasks in order (at most FIRST_PAGE of each), and `tasksPage`
 * saying where `GET /api/jobs/:id/tasks?after=` goes on.
 */
export const summaryJson = (s: TaskPages.Summary): JobJson => {
  const seen = new Set(s.problems.tasks.map(TaskPages.cursorOf))
  const tasks = [...s.problems.tasks, ...s.first.tasks.filter((t) => !seen.has(TaskPages.cursorOf(t)))]
  return {
    ...headJson(s.spec, s.state),
    tasks: tasks.map(taskJson),
    problems: [],
    counts: s.counts,
    tasksPage: { complete: false, next: s.first.next ?? null }
  }
}

/**
 * The job document: every task for a small job (or with `all`), else counts and first pages (and
 * `onTask` sees each task's records on the way: a TaskTally is built from the same scan).
 */
export const document = (
  keys: Keys.Layout,
  id: string,
  options: { readonly all?: boolean; readonly onTask?: (g: TaskPages.Group) => void } = {}
) =>
  Effect.gen(function* () {
    const store = yield* Store.Store
    const spec = yield* store.get(keys.jobSpec(id))
    const decoded = Option.isSome(spec)
      ? yield* Effect.option(Jobs.decodeSpec(spec.value.key, spec.value.value))
      : Option.none()
    const large = Option.isSome(decoded) && decoded.value.runTasks + decoded.value.clearTasks > LARGE_JOB
    return large && options.all !== true
      ? summaryJson(yield* TaskPages.summary(keys, id, FIRST_PAGE, options.onTask))
      : jobJson(yield* Jobs.read(keys, id))
  })

/** A page of tasks as `GET /api/jobs/:id/tasks` returns it. */
export const pageJson = (page: TaskPages.Page) => ({
  tasks: page.tasks.map(taskJson),
  next: page.next ?? null
})
export type PageJson = ReturnType<typeof pageJson>
