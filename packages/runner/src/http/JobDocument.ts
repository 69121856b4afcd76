/**
 * The JSON job document: what `GET /api/jobs/:id` returns and what
 * `migrator job show --json` prints (the same object, whichever way the CLI
 * reaches the jobs). Every field is described in the README ("The job
 * document").
 *
 * @since 0.2.0
 */
import { Job, JobEvent, Jobs } from "@migrator/core"
import { Schema } from "effect"

export const taskJson = (t: Jobs.TaskView) => ({
  id: t.spec.id,
  type: t.spec.type,
  phase: t.spec.phase,
  dependencies: t.spec.dependencies,
  undoes: t.spec.undoes ?? null,
  shared: t.spec.shared ?? null,
  input: t.spec.input,
  status: t.status?.status ?? "waiting",
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

export const jobJson = (view: Jobs.JobView) => ({
  id: view.spec.id,
  labels: view.spec.labels,
  target: view.spec.target ?? null,
  createdAt: view.spec.createdAt,
  runTasks: view.spec.runTasks,
  clearTasks: view.spec.clearTasks,
  rtoMs: view.spec.rtoMs ?? null,
  autoRollbackAfterMs: view.spec.autoRollbackAfterMs ?? null,
  ...stateJson(view.state),
  outcome: view.state.outcome ?? null,
  operations: allowedOperations(view.state),
  tasks: sortedTasks(view.tasks).map(taskJson),
  problems: view.problems.map((p) => p.message)
})
export type JobJson = ReturnType<typeof jobJson>

/** An event of the log: absent fields are left out (`actor` and `reason` only on user operations). */
export const eventJson = (e: JobEvent.JobEvent) => Schema.encodeSync(JobEvent.JobEvent)(e)
export type EventJson = ReturnType<typeof eventJson>
