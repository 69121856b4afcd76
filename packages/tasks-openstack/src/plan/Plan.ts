/**
 * The recovery plan document: the source resources of a protection group
 * (projects with their networks, routers, security groups, keypairs,
 * flavors, volumes, floating IPs and instances), the target cluster they
 * are recovered to, and options. JSON or YAML. Resources refer to each other
 * by plan-local ids; every problem found is reported with the path of the
 * field, e.g. `projects[0].instances[2].nics[0].network: unknown network "net-x"`.
 *
 * `sourceId` (the id of the resource on the protection cluster) is what makes
 * a resource shareable between jobs (SPEC §4.5): without it the resource
 * belongs to the job alone.
 *
 * ```yaml
 * target: recovery-1
 * projects:
 *   - id: web
 *     sourceId: 5f0c…          # the protected project
 *     name: web
 *     networks:
 *       - { id: net, sourceId: 81aa…, name: front, subnets: [{ id: sub, cidr: 10.0.0.0/24 }] }
 *     flavors: [{ id: small, name: small, vcpus: 1, ramMb: 512, diskGb: 1 }]
 *     volumes:
 *       - { id: boot, name: web-boot, bootable: true, source: { copy: { volumeId: 3c9e… } } }
 *     instances:
 *       - id: web-1
 *         name: web-1
 *         flavor: small
 *         nics: [{ network: net, subnet: sub, fixedIp: 10.0.0.10 }]
 *         volumes: [{ volume: boot, bootIndex: 0 }]
 * ```
 *
 * This module is the plan's public face: the Schema (`PlanSchema.ts`), the
 * problems (`PlanError.ts`), the index of resources (`PlanIndex.ts`) and
 * validation (`PlanValidation.ts`, `InstanceValidation.ts`) are re-exported here.
 *
 * @since 0.1.0
 */
import { Effect, Schema, SchemaIssue } from "effect"
import * as YAML from "yaml"
import { formatPath, PlanError, Problem } from "./PlanError.ts"
import { Plan } from "./PlanSchema.ts"
import { validate } from "./PlanValidation.ts"

export * from "./PlanError.ts"
export * from "./PlanIndex.ts"
export * from "./PlanSchema.ts"
export { validate } from "./PlanValidation.ts"

const standard = SchemaIssue.makeFormatterStandardSchemaV1()

/** Schema messages said the way a plan's author thinks of them. */
const plainer: Record<string, string> = {
  "Expected no excess property": "unknown field (misspelt, or not in a plan document)",
  "Missing key": "required field is missing"
}

export type Format = "json" | "yaml"

/**
 * Parses a plan document: JSON when `format` says so or the text starts
 * with `{`, YAML otherwise; then decodes and validates it.
 */
export const parse = (text: string, format?: Format): Effect.Effect<Plan, PlanError> =>
  Effect.suspend(() => {
    const json = format === "json" || (format === undefined && text.trimStart().startsWith("{"))
    let document: unknown
    if (json) {
      try {
        document = JSON.parse(text)
      } catch (e) {
        return Effect.fail(
          new PlanError({ problems: [new Problem({ path: "", message: `not JSON: ${(e as Error).message}` })] })
        )
      }
    } else {
      const parsed = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true })
      if (parsed.errors.length > 0) {
        return Effect.fail(
          new PlanError({
            problems: parsed.errors.map((e) => new Problem({ path: "", message: `not YAML: ${e.message}` }))
          })
        )
      }
      try {
        document = parsed.toJS({ maxAliasCount: 100 })
      } catch (e) {
        // e.g. an alias expanding too far
        return Effect.fail(
          new PlanError({ problems: [new Problem({ path: "", message: `not YAML: ${(e as Error).message}` })] })
        )
      }
    }
    return decode(document)
  })

/** Decodes a plan from parsed JSON/YAML and validates its references and values. */
export const decode = (document: unknown): Effect.Effect<Plan, PlanError> =>
  Schema.decodeUnknownEffect(Plan)(document, { errors: "all", onExcessProperty: "error" }).pipe(
    Effect.mapError(
      (e) =>
        new PlanError({
          problems: standard(e.issue).issues.map(
            (i) =>
              new Problem({
                path: formatPath((i.path ?? []).map((p) => (typeof p === "object" ? p.key : p))),
                message: plainer[i.message] ?? i.message
              })
          )
        })
    ),
    Effect.flatMap((plan) => {
      const problems = validate(plan)
      return problems.length === 0 ? Effect.succeed(plan) : Effect.fail(new PlanError({ problems }))
    })
  )
