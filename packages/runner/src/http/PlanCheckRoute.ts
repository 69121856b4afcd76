/**
 * `POST /api/plans/check`: the pre-flight check of a recovery plan through
 * the API (what `migrator plan check` does), on the clusters of the runner's
 * configuration. Operator role; read-only on the cloud.
 *
 * Body: `{ "plan": <the plan, as a JSON object or as JSON/YAML text>, "cluster"?: "<name>" }`
 * (default cluster: the plan's target). Answers:
 * - 200 the report `{ plan?, cluster, ok, summary: { pass, warn, fail }, checks: [{ status, check, path, found, needed }] }`
 *   (`ok` false when a check failed);
 * - 400 `{ error, reason: "PlanInvalid", problems: [{ path, message }] }`, or `reason: "UnknownCluster"`,
 *   or `reason: "BadRequest"` for a body that is not such an object;
 * - 502 `{ error, reason: "CloudUnreachable" }` when the cloud cannot be read.
 *
 * It has no store timeout: reading a cloud takes seconds, and the client's own
 * quick retries bound it.
 *
 * @since 0.1.0
 */
import type { OpenStackClient } from "@migrator/tasks-openstack"
import { Effect } from "effect"
import { HttpRouter, type HttpServerRequest, HttpServerResponse } from "effect/http"
import * as PlanCheckRun from "../PlanCheckRun.ts"
import * as Auth from "./Auth.ts"

const json = (body: unknown, status = 200, headers: Readonly<Record<string, string>> = {}) =>
  HttpServerResponse.jsonUnsafe(body, { status, headers: { "cache-control": "no-store", ...headers } })

const parseBody = (text: string): { readonly plan: unknown; readonly cluster: string | undefined } | string => {
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    return "the body must be JSON: { plan, cluster? }"
  }
  if (typeof body !== "object" || body === null || Array.isArray(body) || !("plan" in body)) {
    return "the body must be an object with the plan: { plan, cluster? }"
  }
  const { plan, cluster } = body as { readonly plan: unknown; readonly cluster?: unknown }
  if (cluster !== undefined && typeof cluster !== "string") return "cluster must be a string"
  return { plan, cluster }
}

/** The route, on these clusters and API tokens. */
export const route = (
  clusters: Readonly<Record<string, OpenStackClient.ClientConfig>>,
  tokens: ReadonlyArray<Auth.ApiToken>
) =>
  HttpRouter.route("POST", "/api/plans/check", (request: HttpServerRequest.HttpServerRequest) => {
    const access = Auth.authorize(request, tokens, "operator")
    if ("refusal" in access)
      return Effect.succeed(json(access.refusal.body, access.refusal.status, access.refusal.headers))
    return Effect.gen(function* () {
      const text = yield* request.text.pipe(Effect.orElseSucceed(() => ""))
      const body = parseBody(text)
      if (typeof body === "string") return json({ error: body, reason: "BadRequest" }, 400)
      const plan = yield* typeof body.plan === "string"
        ? PlanCheckRun.parse(body.plan)
        : PlanCheckRun.parse(JSON.stringify(body.plan), "json")
      return json(yield* PlanCheckRun.check(plan, clusters, body.cluster))
    }).pipe(
      Effect.catchTags({
        PlanInvalid: (e) =>
          Effect.succeed(json({ error: "invalid plan", reason: "PlanInvalid", problems: e.problems }, 400)),
        UnknownCluster: (e) => Effect.succeed(json({ error: e.message, reason: "UnknownCluster" }, 400)),
        CloudUnreachable: (e) =>
          Effect.succeed(
            json({ error: `cluster ${e.cluster} is unreachable: ${e.message}`, reason: "CloudUnreachable" }, 502)
          )
      })
    )
  })
