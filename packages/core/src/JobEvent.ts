/**
 * The per-job, append-only event log. Each event is its own key, written in
 * the same transaction as the change it describes.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

export class JobEvent extends Schema.Class<JobEvent>("@migrator/core/JobEvent")({
  /** Milliseconds since the epoch. */
  at: Schema.Number,
  /** e.g. `job.submitted`, `task.claimed`, `task.succeeded`, `job.completed`. */
  type: Schema.String,
  taskId: Schema.optional(Schema.String),
  phase: Schema.optional(Schema.Literals(["run", "clear"])),
  runner: Schema.optional(Schema.String),
  message: Schema.String,
  data: Schema.optional(Schema.Json),
  /** Who asked for a user operation (an API token's name, or the CLI's user). */
  actor: Schema.optional(Schema.String),
  /** Why, in the operator's words (e.g. `job rollback <id> --reason "…"`). */
  reason: Schema.optional(Schema.String)
}) {}
