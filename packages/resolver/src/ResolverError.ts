/**
 * Why a task input could not be resolved. Schema-encodable, because it ends
 * up in the task's failure reason. Every reason names where in the input the
 * offending reference sits (`location`, a JSON pointer).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** The reference names a task whose output was not given (not a dependency, or it has no output). */
export class UnknownTask extends Schema.TaggedError<UnknownTask>()("UnknownTask", {
  taskId: Schema.String,
  location: Schema.String
}) {
  override get message(): string {
    return `reference at "${this.location}" names task "${this.taskId}", whose output is not available`
  }
}

/** The pointer does not exist in the task's output. */
export class PointerNotFound extends Schema.TaggedError<PointerNotFound>()("PointerNotFound", {
  taskId: Schema.String,
  pointer: Schema.String,
  /** The longest prefix of the pointer that does exist ("" is the whole output). */
  deepestExisting: Schema.String,
  location: Schema.String
}) {
  override get message(): string {
    return `pointer "${this.pointer}" does not exist in the output of "${this.taskId}" (deepest existing: "${this.deepestExisting}"), referenced at "${this.location}"`
  }
}

/** Not `{"$ref": "<taskId>#<pointer>"}`. */
export class MalformedReference extends Schema.TaggedError<MalformedReference>()("MalformedReference", {
  ref: Schema.Unknown,
  location: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `malformed reference at "${this.location}": ${this.reason}`
  }
}

/** References that lead back to themselves through task outputs. */
export class ReferenceCycle extends Schema.TaggedError<ReferenceCycle>()("ReferenceCycle", {
  chain: Schema.Array(Schema.String),
  location: Schema.String
}) {
  override get message(): string {
    return `reference cycle: ${this.chain.join(" -> ")}`
  }
}

/** The input or what it resolves to is deeper or larger than allowed. */
export class LimitExceeded extends Schema.TaggedError<LimitExceeded>()("LimitExceeded", {
  limit: Schema.Literals(["depth", "nodes"]),
  max: Schema.Number,
  location: Schema.String
}) {
  override get message(): string {
    return `resolved value exceeds the ${this.limit} limit of ${this.max} at "${this.location}"`
  }
}

export const Reason = Schema.Union([UnknownTask, PointerNotFound, MalformedReference, ReferenceCycle, LimitExceeded])
export type Reason = typeof Reason.Type

export class ResolverError extends Schema.TaggedError<ResolverError>()("ResolverError", { reason: Reason }) {
  override get message(): string {
    return this.reason.message
  }
}
