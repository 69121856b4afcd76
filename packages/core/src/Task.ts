/**
 * Tasks: the immutable spec of one node of a job's DAG, its mutable status
 * (`waiting | running | done`) and its result once done. Each is its own
 * small record in the store (SPEC §4.1).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { Reason } from "./Reason.ts"

/** Task ids: short, printable, no `/` (they are key segments) and no `#` (they appear in `$ref`s). */
export const TaskId = Schema.String.pipe(
  Schema.check(Schema.isPattern(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,199}$/)),
  Schema.brand("~@migrator/core/TaskId")
)
export type TaskId = typeof TaskId.Type

/** Namespaced, persisted wire id of a handler, e.g. `openstack/network.create`. */
export const TaskType = Schema.String.pipe(Schema.check(Schema.isPattern(/^[a-z0-9][a-z0-9-]*\/[a-z0-9][a-z0-9.-]*$/)))
export type TaskType = typeof TaskType.Type

export const Phase = Schema.Literals(["run", "clear"])
export type Phase = typeof Phase.Type

export const Status = Schema.Literals(["waiting", "running", "done"])
export type Status = typeof Status.Type

export const Result = Schema.Literals(["success", "failed", "ignored", "canceled", "skipped"])
export type Result = typeof Result.Type

/**
 * A task's status as readers show it: `done` once it has a result. The transaction that writes a
 * result writes no status (the result says it), so a finished task's stored status stays its last
 * attempt's `running`, or `waiting` for a task settled without running; stores written by earlier
 * versions also hold `done` statuses.
 */
export const statusOf = (status: Status | undefined, result: Result | undefined): Status =>
  result !== undefined ? "done" : (status ?? "waiting")

/** Per-task overrides of the handler's retry policy and timeout. */
export class RetryOverride extends Schema.Class<RetryOverride>("@migrator/core/RetryOverride")({
  /** Total attempts, including the first. */
  maxAttempts: Schema.optional(Schema.Int.pipe(Schema.check(Schema.isBetween({ minimum: 1, maximum: 100 })))),
  /** Base delay of the exponential backoff, in milliseconds. */
  baseDelayMs: Schema.optional(Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0))))
}) {}

export class TaskSpec extends Schema.Class<TaskSpec>("@migrator/core/TaskSpec")({
  id: TaskId,
  type: TaskType,
  phase: Phase,
  dependencies: Schema.Array(TaskId),
  input: Schema.Json,
  /** Identity of a resource shared between jobs (SPEC §4.5). */
  shared: Schema.optional(Schema.NonEmptyString),
  /** For clear tasks: the run task this one reverses. */
  undoes: Schema.optional(TaskId),
  /** Per-attempt timeout override, in milliseconds. */
  timeoutMs: Schema.optional(Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0)))),
  retry: Schema.optional(RetryOverride),
  /** Clear tasks: also run on `confirm` (by default only `rollback` runs them). */
  runOnConfirm: Schema.optional(Schema.Boolean)
}) {}

export class TaskStatus extends Schema.Class<TaskStatus>("@migrator/core/TaskStatus")({
  status: Status,
  /** Attempts started so far; survives runner restarts and takeovers. */
  attempt: Schema.Int,
  /** The runner holding the task while `running` (and, once it has a result, the one that ran it). */
  runner: Schema.optional(Schema.String),
  /** Epoch milliseconds. */
  updatedAt: Schema.Number,
  startedAt: Schema.optional(Schema.Number),
  /** Earliest time the next attempt may start (backoff), epoch milliseconds. */
  notBefore: Schema.optional(Schema.Number)
}) {}

export class TaskResult extends Schema.Class<TaskResult>("@migrator/core/TaskResult")({
  result: Result,
  output: Schema.optional(Schema.Json),
  reason: Schema.optional(Reason),
  /** Whether the last error was retryable (for failed results). */
  retryable: Schema.optional(Schema.Boolean),
  attempt: Schema.Int,
  finishedAt: Schema.Number
}) {}
