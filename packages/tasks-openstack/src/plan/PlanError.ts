/**
 * Problems of a plan: each names the path of the field it is about, e.g.
 * `projects[0].instances[2].nics[0].network: unknown network "net-x"`.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

export class Problem extends Schema.Class<Problem>("@migrator/tasks-openstack/plan/Problem")({
  /** Path of the field in the plan, e.g. `projects[0].instances[2].nics[0].network`. */
  path: Schema.String,
  message: Schema.String
}) {}

export class PlanError extends Schema.TaggedError<PlanError>()("PlanError", {
  problems: Schema.Array(Problem)
}) {
  override get message(): string {
    return this.problems.map((p) => `${p.path === "" ? "plan" : p.path}: ${p.message}`).join("\n")
  }
}

/** Formats a property path as `a.b[0].c`. */
export const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path
    .map((k, i) =>
      typeof k === "number" || (typeof k === "string" && /^\d+$/.test(k))
        ? `[${String(k)}]`
        : `${i === 0 ? "" : "."}${String(k)}`
    )
    .join("")
