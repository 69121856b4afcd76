/**
 * The failure a task handler reports. Schema-encodable (it is persisted as
 * the task's reason) and explicit about whether a retry may help, in the
 * spirit of Temporal's non-retryable application failures.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

export class TaskError extends Schema.TaggedError<TaskError>()("TaskError", {
  /** Stable machine code, e.g. `openstack.quota` or `test.fail`. */
  code: Schema.String,
  message: Schema.String,
  retryable: Schema.Boolean,
  details: Schema.optional(Schema.Json)
}) {}

export const retryable = (code: string, message: string, details?: Schema.Json) =>
  new TaskError({ code, message, retryable: true, ...(details === undefined ? {} : { details }) })

export const permanent = (code: string, message: string, details?: Schema.Json) =>
  new TaskError({ code, message, retryable: false, ...(details === undefined ? {} : { details }) })
