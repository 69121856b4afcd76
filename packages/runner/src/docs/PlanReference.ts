/**
 * The recovery-plan format reference (`docs/recovery-plan-format.md`),
 * generated from the plan's Schema (`@migrator/tasks-openstack/plan/PlanSchema`)
 * through its JSON Schema, so the reference cannot drift from what
 * `migrator plan validate` accepts: a test compares the file with `render()`,
 * and `pnpm --filter @migrator/runner exec tsx src/docs/PlanReference.ts`
 * rewrites it.
 *
 * @since 0.2.0
 */
import * as PlanSchema from "@migrator/tasks-openstack/plan/PlanSchema"
import { Schema } from "effect"

type Json = { readonly [k: string]: unknown }

const MAX_SAFE = Number.MAX_SAFE_INTEGER

const resolve = (definitions: Json, node: Json): Json => {
  const ref = node.$ref
  if (typeof ref !== "string") return node
  const name = decodeURIComponent(ref.replace(/^#\/\$defs\//, ""))
  return resolve(definitions, (definitions[name] ?? {}) as Json)
}

/** A short type text: `string`, `integer ≥ 1`, `"a" \| "b"`, `array of object (see …)`. */
const typeText = (definitions: Json, raw: Json, path: string, sections: Array<[string, Json]>): string => {
  const node = resolve(definitions, raw)
  if (Array.isArray(node.anyOf) || Array.isArray(node.oneOf)) {
    const members = ((node.anyOf ?? node.oneOf) as ReadonlyArray<Json>).map((m) =>
      typeText(definitions, m, path, sections)
    )
    return [...new Set(members)].join(" \\| ")
  }
  if (node.enum !== undefined)
    return (node.enum as ReadonlyArray<unknown>).map((v) => `\`${JSON.stringify(v)}\``).join(" \\| ")
  if (node.const !== undefined) return `\`${JSON.stringify(node.const)}\``
  const type = node.type
  if (type === "array") {
    return `array of ${typeText(definitions, (node.items ?? {}) as Json, `${path}[]`, sections)}`
  }
  if (type === "object") {
    if (node.properties !== undefined) {
      sections.push([path, node])
      return `object ([${path}](#${anchor(path)}))`
    }
    const values = node.additionalProperties
    return typeof values === "object" && values !== null
      ? `map of ${typeText(definitions, values as Json, `${path}.*`, sections)}`
      : "object"
  }
  const checks: Array<string> = []
  if (typeof node.minimum === "number") checks.push(`≥ ${node.minimum}`)
  if (typeof node.maximum === "number" && node.maximum !== MAX_SAFE) checks.push(`≤ ${node.maximum}`)
  if (typeof node.minLength === "number" && node.minLength > 0) checks.push(`length ≥ ${node.minLength}`)
  if (typeof node.maxLength === "number") checks.push(`length ≤ ${node.maxLength}`)
  if (typeof node.pattern === "string") checks.push(`pattern \`${node.pattern}\``)
  const base = Array.isArray(type) ? type.join(" \\| ") : typeof type === "string" ? type : "any JSON"
  return checks.length === 0 ? base : `${base} (${checks.join(", ")})`
}

const anchor = (path: string) =>
  path
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "")

/** The reference, as Markdown. */
export const render = (): string => {
  const document = Schema.toJsonSchemaDocument(PlanSchema.Plan) as unknown as { schema: Json; definitions?: Json }
  const definitions = (document.definitions ?? {}) as Json
  const sections: Array<[string, Json]> = []
  typeText(definitions, document.schema, "plan", sections)
  const out: Array<string> = [
    "# Recovery-plan format",
    "",
    "<!-- Generated from packages/tasks-openstack/src/plan/PlanSchema.ts by packages/runner/src/docs/PlanReference.ts: do not edit. -->",
    "",
    "A recovery plan (JSON or YAML) names the source resources of a protection group and the recovery",
    "cluster they are rebuilt on. `migrator plan validate` checks it (every problem with its field path),",
    "`plan preview` shows what it creates, shares and deletes, `plan build` turns it into a job document",
    "and `plan submit` submits that job. Beyond these types, validation checks references between",
    "resources (a router interface names a subnet of the plan, an instance's NIC a network, …) and",
    "unique ids; see `packages/tasks-openstack/examples/plans/` for complete plans.",
    ""
  ]
  for (let i = 0; i < sections.length; i++) {
    const [path, node] = sections[i]!
    const required = new Set((node.required ?? []) as ReadonlyArray<string>)
    out.push(`## ${path}`, "", "| field | type | required |", "|---|---|---|")
    for (const [name, field] of Object.entries(node.properties as Json)) {
      out.push(
        `| \`${name}\` | ${typeText(definitions, field as Json, `${path}.${name}`, sections)} | ${required.has(name) ? "yes" : "no"} |`
      )
    }
    out.push("")
  }
  return `${out.join("\n").trimEnd()}\n`
}

const main = async () => {
  const { writeFile } = await import("node:fs/promises")
  const target = new URL("../../../../docs/recovery-plan-format.md", import.meta.url)
  await writeFile(target, render())
}

if (import.meta.url === `file://${process.argv[1]}`) void main()
