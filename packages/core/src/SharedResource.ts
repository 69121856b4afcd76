/**
 * Records of resources shared between jobs (SPEC §4.5): who creates the
 * resource, its state, its output and the set of jobs holding it. Holder
 * changes happen in the same fenced transaction as the task result, so a job
 * holds a resource exactly once however often its task is retried.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

export const State = Schema.Literals(["creating", "ready", "failed", "deleting"])
export type State = typeof State.Type

export class SharedRecord extends Schema.Class<SharedRecord>("@migrator/core/SharedRecord")({
  state: State,
  /** The job and task creating (or deleting) the resource, and its claim's fencing token. */
  job: Schema.String,
  task: Schema.String,
  phase: Schema.Literals(["run", "clear"]),
  token: Schema.Number,
  output: Schema.optional(Schema.Json),
  holders: Schema.Array(Schema.String),
  updatedAt: Schema.Number
}) {}
