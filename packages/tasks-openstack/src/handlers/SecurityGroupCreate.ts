/**
 * `openstack/security-group.create`: a Neutron security group with its rules.
 *
 * `rules` is the group's rule set, except the rules whose remote is another
 * group (those are `security-group-rule.create` tasks, which need that
 * group's id): a rule may name its own group as remote (`remoteGroup:
 * "self"`). When given, the set is exact: the egress rules Neutron adds to
 * every new group are removed unless `rules` lists them, so a group that
 * allowed no egress on the protected side allows none after recovery. Without
 * `rules` the group keeps Neutron's defaults. Rules with another group as
 * remote are never touched.
 *
 * Identity: the group's description carries the task's marker (written with
 * the group; a tag is added too). A retry or a takeover adopts the marked
 * group of that name in the project; rules are adopted by their attributes.
 *
 * @since 0.1.0
 */
import { type TaskContext, TaskError, TaskHandler } from "@migrator/core"
import { Effect, Schema } from "effect"
import * as Clouds from "../Clouds.ts"
import { mapErrors } from "../internal/handler.ts"
import {
  findOrCreate,
  isMarked,
  listAs,
  MarkedResource,
  markedDescription,
  ownerMarker,
  projectOf,
  tagWith
} from "../internal/neutronHandler.ts"
import { ensureRule, listRules, RuleFields, ruleKey, viewKey } from "../internal/securityRules.ts"

/**
 * @category schemas
 * @since 0.1.0
 */
export const InlineRule = Schema.Struct({
  ...RuleFields,
  /** `self`: the remote side is this group itself. */
  remoteGroup: Schema.optional(Schema.Literal("self"))
})

/**
 * @category schemas
 * @since 0.1.0
 */
export const Input = Schema.Struct({
  /** The project (the output of `tenant.create`); default: the project of the cloud's credentials. */
  projectId: Schema.optional(Schema.String),
  name: Schema.NonEmptyString,
  description: Schema.optional(Schema.String),
  /** Default: Neutron's (stateful). */
  stateful: Schema.optional(Schema.Boolean),
  /**
   * The complete rule set, except rules whose remote is another group
   * (Neutron's default egress rules are removed unless listed). Absent: the
   * group keeps Neutron's defaults.
   */
  rules: Schema.optional(Schema.Array(InlineRule))
})

/**
 * @category schemas
 * @since 0.1.0
 */
export const Output = Schema.Struct({
  securityGroupId: Schema.String,
  name: Schema.String,
  /** The rules of `rules`, in their order (empty without `rules`). */
  ruleIds: Schema.Array(Schema.String)
})

/**
 * @category definitions
 * @since 0.1.0
 */
export const definition = TaskHandler.make("openstack/security-group.create", {
  input: Input,
  output: Output,
  retry: { maxAttempts: 5 },
  timeout: "3 minutes",
  description: "Creates a Neutron security group with its rules (the set is exact); adopts its own earlier group"
})

const Group = Schema.Struct({ ...MarkedResource.fields, name: Schema.String })

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
      const marker = yield* ownerMarker
      const projectId = yield* projectOf(client, input.projectId)
      for (const rule of input.rules ?? []) {
        if (rule.remoteGroup !== undefined && rule.remoteIpPrefix != null) {
          return yield* Effect.fail(
            TaskError.permanent("openstack.invalid-rule", "a rule has either a remote group or a remote IP prefix")
          )
        }
      }

      const find = listAs(client, "network", "/security-groups", "security_groups", Group, {
        name: input.name,
        project_id: projectId
      }).pipe(Effect.map((groups) => groups.find((g) => isMarked(g, marker))))
      const { value: group } = yield* findOrCreate(
        find,
        client
          .request("network", "POST", "/security-groups", {
            body: {
              security_group: {
                name: input.name,
                description: markedDescription(input.description, marker),
                project_id: projectId,
                ...(input.stateful === undefined ? {} : { stateful: input.stateful })
              }
            },
            schema: Schema.Struct({ security_group: Group })
          })
          .pipe(Effect.map((body) => body.security_group))
      )
      yield* tagWith(client, "security-groups", group.id, marker)

      if (input.rules === undefined) return { securityGroupId: group.id, name: group.name, ruleIds: [] }
      const wanted = input.rules.map((rule) => {
        const { remoteGroup, ...fields } = rule
        return { ...fields, remoteGroupId: remoteGroup === "self" ? group.id : null }
      })
      const existing = yield* listRules(client, group.id)
      const ruleIds: Array<string> = []
      for (const rule of wanted) ruleIds.push(yield* ensureRule(client, group.id, projectId, rule, existing))

      // the set is exact, except rules whose remote is another group
      const keep = new Set(wanted.map((rule) => ruleKey(rule)))
      const extra = (yield* listRules(client, group.id)).filter(
        (r) =>
          !ruleIds.includes(r.id) &&
          !keep.has(viewKey(r)) &&
          (r.remote_group_id === null || r.remote_group_id === group.id)
      )
      for (const rule of extra) {
        yield* client.request("network", "DELETE", `/security-group-rules/${encodeURIComponent(rule.id)}`).pipe(
          Effect.catchIf(
            (e) => e.reason._tag === "NotFound",
            () => Effect.void
          )
        )
      }
      return { securityGroupId: group.id, name: group.name, ruleIds }
    })
  )

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = definition.toLayer(run)
