/**
 * Jobs: the immutable spec (labels, target, timing options; the tasks are
 * stored one key each) and the job state with its state machine (SPEC §4.1).
 * Every transition is a compare-and-swap on the state record.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Reason } from "./Reason.ts"

export const JobId = Schema.String.pipe(
  Schema.check(Schema.isPattern(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/)),
  Schema.brand("~@migrator/core/JobId")
)
export type JobId = typeof JobId.Type

export const State = Schema.Literals([
  "pending",
  "running",
  "paused",
  "canceling",
  "canceled",
  "completed",
  "clearing",
  "cleared",
  "clear-failed"
])
export type State = typeof State.Type

export const Outcome = Schema.Literals(["succeeded", "partial", "failed"])
export type Outcome = typeof Outcome.Type

export const Operation = Schema.Literals(["cancel", "pause", "resume", "rollback", "confirm", "retry"])
export type Operation = typeof Operation.Type

/** The kind of clear phase: rollback undoes everything, confirm only what the recovered workload does not use. */
export const ClearMode = Schema.Literals(["rollback", "confirm"])
export type ClearMode = typeof ClearMode.Type

export class JobSpec extends Schema.Class<JobSpec>("@migrator/core/JobSpec")({
  id: JobId,
  labels: Schema.Record(Schema.String, Schema.String),
  /** Where the job runs, e.g. the recovery cluster's name. Never credentials. */
  target: Schema.optional(Schema.String),
  /** Number of tasks per phase, so readers know when they have seen them all. */
  runTasks: Schema.Int,
  clearTasks: Schema.Int,
  /** DR drills: roll back by itself this long after completion (milliseconds). */
  autoRollbackAfterMs: Schema.optional(Schema.Int),
  /** Recovery time objective (milliseconds). */
  rtoMs: Schema.optional(Schema.Int),
  createdAt: Schema.Number
}) {}

/** A user's request, recorded with CAS and carried out by the runners. */
export class RequestedOperation extends Schema.Class<RequestedOperation>("@migrator/core/RequestedOperation")({
  operation: Operation,
  requestedAt: Schema.Number
}) {}

export class JobState extends Schema.Class<JobState>("@migrator/core/JobState")({
  state: State,
  outcome: Schema.optional(Outcome),
  clearMode: Schema.optional(ClearMode),
  /** Operation requested and not yet carried out. */
  pending: Schema.optional(RequestedOperation),
  reason: Schema.optional(Reason),
  updatedAt: Schema.Number,
  startedAt: Schema.optional(Schema.Number),
  completedAt: Schema.optional(Schema.Number),
  /** Run-phase elapsed time and whether the RTO was met, recorded at completion. */
  elapsedMs: Schema.optional(Schema.Number),
  rtoMet: Schema.optional(Schema.Boolean)
}) {}

/**
 * What moves a job: a user's operation, or the engine when the work of a state is done.
 * `start`: the first claim; `complete`: every run task has a result; `canceled`: nothing is
 * left running after a cancel; `cleared`/`clear-failed`: every clear task has a result;
 * `auto-rollback`: a drill's rollback is due.
 */
export type Event = Operation | "start" | "complete" | "canceled" | "cleared" | "clear-failed" | "auto-rollback"

/**
 * The job lifecycle (SPEC §4.1), the one table consulted by user operations (`Jobs.request`)
 * and by the engine. `retry` keeps the state it re-enters (`running`/`clearing`) with the
 * operation pending until the engine has reset the failed tasks.
 */
export const lifecycle: Readonly<Record<State, Partial<Readonly<Record<Event, State>>>>> = {
  pending: { start: "running", cancel: "canceling" },
  running: { complete: "completed", cancel: "canceling", pause: "paused" },
  paused: { resume: "running", cancel: "canceling" },
  canceling: { canceled: "canceled" },
  canceled: { rollback: "clearing" },
  completed: { rollback: "clearing", confirm: "clearing", retry: "running", "auto-rollback": "clearing" },
  clearing: { cleared: "cleared", "clear-failed": "clear-failed" },
  cleared: {},
  "clear-failed": { retry: "clearing" }
}

/** The state `event` moves a job in `from` to, if the lifecycle allows it. */
export const next = (from: State, event: Event): State | undefined => lifecycle[from][event]

/** Whether some event moves a job from `from` to `to`. */
export const canTransition = (from: State, to: State): boolean => Object.values(lifecycle[from]).includes(to)

/** States in which no runner has anything to do until a user asks. */
export const isTerminal = (state: State): boolean =>
  state === "completed" || state === "canceled" || state === "cleared" || state === "clear-failed"
