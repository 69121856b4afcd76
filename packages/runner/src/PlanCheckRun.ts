/**
 * The pre-flight check of a recovery plan (`@migrator/tasks-openstack/check/PlanCheck`)
 * on a cluster of the runner's configuration, as `migrator plan check`, the
 * `POST /api/plans/check` route and the scheduled re-check run it: the plan
 * parsed and validated, the cluster picked (`--cluster`, else the plan's
 * target), a client made with its credentials, the cloud read.
 *
 * Failures say which exit code they mean: a bad plan or an unknown cluster
 * is bad input (2), a cloud that cannot be read is unreachable (3). A plan
 * that does not fit is not a failure here: the report says so.
 *
 * @since 0.1.0
 */
import { OpenStackClient } from "@migrator/tasks-openstack"
import * as PlanCheck from "@migrator/tasks-openstack/check/PlanCheck"
import * as Plan from "@migrator/tasks-openstack/plan/Plan"
import { Effect, Schema } from "effect"
import { FetchHttpClient } from "effect/http"

/** The plan is not a valid plan: its problems, with field paths. */
export class PlanInvalid extends Schema.TaggedError<PlanInvalid>()("PlanInvalid", {
  problems: Schema.Array(Schema.Struct({ path: Schema.String, message: Schema.String }))
}) {
  override get message(): string {
    return this.problems.map((p) => `${p.path === "" ? "plan" : p.path}: ${p.message}`).join("\n")
  }
}

/** No cluster of that name in the configuration. */
export class UnknownCluster extends Schema.TaggedError<UnknownCluster>()("UnknownCluster", {
  message: Schema.String
}) {}

/** The cloud could not be read (down, refused the credentials, answered an error). */
export class CloudUnreachable extends Schema.TaggedError<CloudUnreachable>()("CloudUnreachable", {
  cluster: Schema.String,
  message: Schema.String
}) {}

export type CheckError = PlanInvalid | UnknownCluster | CloudUnreachable

/** Parses and validates a plan's text (JSON or YAML). */
export const parse = (text: string, format?: Plan.Format): Effect.Effect<Plan.Plan, PlanInvalid> =>
  Plan.parse(text, format).pipe(
    Effect.mapError((e) => new PlanInvalid({ problems: e.problems.map((p) => ({ path: p.path, message: p.message })) }))
  )

/** Checks `plan` on `cluster` (default: the plan's target) of `clusters`. GETs only. */
export const check = (
  plan: Plan.Plan,
  clusters: Readonly<Record<string, OpenStackClient.ClientConfig>>,
  cluster?: string | undefined
): Effect.Effect<PlanCheck.Report, UnknownCluster | CloudUnreachable> =>
  Effect.gen(function* () {
    const name = cluster ?? plan.target
    const config = clusters[name]
    if (config === undefined) {
      const known = Object.keys(clusters)
      return yield* new UnknownCluster({
        message: `no cluster "${name}" in the runner configuration (clusters: ${known.join(", ") || "none"})${cluster === undefined ? "; the plan's target names it, --cluster picks another" : ""}`
      })
    }
    // a check should answer soon: a few quick retries, not the handlers' patient ones
    const client = yield* OpenStackClient.make({
      ...config,
      retry: { times: 2, baseDelay: "200 millis", maxDelay: "1 second" }
    })
    return yield* PlanCheck.check(client, plan, name).pipe(
      Effect.mapError((e) => new CloudUnreachable({ cluster: name, message: e.message }))
    )
  }).pipe(Effect.provide(FetchHttpClient.layer))
