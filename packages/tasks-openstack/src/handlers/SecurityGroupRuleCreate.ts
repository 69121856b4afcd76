/**
 * `openstack/security-group-rule.create`: one rule in a security group,
 * typically one whose remote side is another group (whose id comes from that
 * group's `security-group.create` through a `$ref`). The rule goes to the
 * group's project.
 *
 * Identity: Neutron allows one rule per set of attributes, so an equal rule
 * already in the group is adopted (also after a lost answer: a 409 names the
 * existing rule). Rules are removed with their group by
 * `security-group.delete`; there is no rule delete task.
 *
 * @since 0.1.0
 */
import { type TaskContext, TaskError, TaskHandler } from "@migrator/core"
import { Effect, Schema } from "effect"
import * as Clouds from "../Clouds.ts"
import { mapErrors } from "../internal/handler.ts"
import { ensureRule, listRules, RuleFields } from "../internal/securityRules.ts"

/**
 * @category schemas
 * @since 0.1.0
 */
export const Input = Schema.Struct({
  securityGroupId: Schema.NonEmptyString,
  ...RuleFields,
  /** The remote side as a group (exclusive with `remoteIpPrefix`). */
  remoteGroupId: Schema.optional(Schema.NullOr(Schema.NonEmptyString))
})

/**
 * @category schemas
 * @since 0.1.0
 */
export const Output = Schema.Struct({
  ruleId: Schema.String,
  securityGroupId: Schema.String
})

/**
 * @category definitions
 * @since 0.1.0
 */
export const definition = TaskHandler.make("openstack/security-group-rule.create", {
  input: Input,
  output: Output,
  retry: { maxAttempts: 5 },
  timeout: "2 minutes",
  description: "Adds one rule (e.g. with another group as remote) to a security group; adopts an equal rule"
})

const GroupView = Schema.Struct({
  security_group: Schema.Struct({ id: Schema.String, project_id: Schema.optional(Schema.String) })
})

/**
 * @category handlers
 * @since 0.1.0
 */
export const run = (
  input: typeof Input.Type
): Effect.Effect<typeof Output.Type, TaskError.TaskError, Clouds.Clouds | TaskContext.TaskContext> =>
  mapErrors(
    Effect.gen(function* () {
      const client = yield* Clouds.current
      const { securityGroupId, ...rule } = input
      if (rule.remoteGroupId != null && rule.remoteIpPrefix != null) {
        return yield* Effect.fail(
          TaskError.permanent("openstack.invalid-rule", "a rule has either a remote group or a remote IP prefix")
        )
      }
      const group = yield* client
        .request("network", "GET", `/security-groups/${encodeURIComponent(securityGroupId)}`, { schema: GroupView })
        .pipe(
          Effect.catchIf(
            (e) => e.reason._tag === "NotFound",
            () =>
              Effect.fail(
                TaskError.permanent(
                  "openstack.security-group-not-found",
                  `security group ${securityGroupId} does not exist`
                )
              )
          )
        )
      const existing = yield* listRules(client, securityGroupId)
      const ruleId = yield* ensureRule(client, securityGroupId, group.security_group.project_id, rule, existing)
      return { ruleId, securityGroupId }
    })
  )

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = definition.toLayer(run)
