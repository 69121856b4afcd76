/**
 * Deleting finished jobs and reading what is left of them (see API.md):
 *
 *   DELETE /api/jobs/:id[?releaseShared=true]   admin; body optional `{ "reason": "…" }`
 *   GET    /api/archive                         viewer; every archived summary, oldest finish first
 *   GET    /api/archive/:id                     viewer; one archived summary
 *
 * A deletion answers 200 with the archived summary; 404 `NotFound` for an
 * unknown job (with `archived` when it was deleted before); 409 `NotFinished`,
 * `HoldsShared` (with `shared`: the shared keys) or `Conflict`.
 *
 * @since 0.3.0
 */
import { JobArchive, JobDeletion, type Keys, type StoreError } from "@migrator/core"
import { type Duration, Effect, Option, Schema } from "effect"
import { HttpRouter, type HttpServerRequest, HttpServerResponse } from "effect/http"
import * as Auth from "./Auth.ts"

export interface Options {
  readonly keys: Keys.Layout
  readonly tokens: ReadonlyArray<Auth.ApiToken>
  readonly storeTimeout: Duration.Input
}

const json = (body: unknown, status = 200) =>
  HttpServerResponse.jsonUnsafe(body, { status, headers: { "cache-control": "no-store" } })

const storeFailure = (e: StoreError.StoreError) =>
  Effect.succeed(
    e.reason._tag === "Unavailable"
      ? json({ error: `store unreachable: ${e.message}`, reason: "StoreUnavailable" }, 503)
      : json({ error: `store: ${e.message}`, reason: "StoreError" }, 500)
  )

const encodeArchived = Schema.encodeSync(JobArchive.ArchivedJob)

/** The JSON of an archived summary (times in epoch milliseconds, as stored). */
export type ArchivedJson = typeof JobArchive.ArchivedJob.Encoded
export const archivedJson = (job: JobArchive.ArchivedJob): ArchivedJson => encodeArchived(job)

const parseReason = (text: string): { readonly reason: string | undefined } | string => {
  if (text.trim() === "") return { reason: undefined }
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    return 'the body must be empty or JSON like { "reason": "…" }'
  }
  const reason = typeof body === "object" && body !== null ? (body as { reason?: unknown }).reason : undefined
  if (reason !== undefined && typeof reason !== "string") return "reason: expected a string"
  if (typeof reason === "string" && reason.length > 1000) return "reason: at most 1000 characters"
  return { reason }
}

export const routes = (options: Options) => {
  const { keys, tokens } = options
  const guarded =
    <E, R>(
      required: Auth.Role,
      handler: (request: HttpServerRequest.HttpServerRequest, actor: Auth.Actor) => Effect.Effect<unknown, E, R>
    ) =>
    (request: HttpServerRequest.HttpServerRequest) => {
      const check = Auth.authorize(request, tokens, required)
      if ("refusal" in check) {
        return Effect.succeed(
          HttpServerResponse.jsonUnsafe(check.refusal.body, {
            status: check.refusal.status,
            headers: { "cache-control": "no-store", ...check.refusal.headers }
          })
        )
      }
      return (handler(request, check.actor) as Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>).pipe(
        Effect.timeoutOrElse({
          duration: options.storeTimeout,
          orElse: () => Effect.succeed(json({ error: "store unreachable: no answer", reason: "StoreUnavailable" }, 503))
        })
      )
    }

  const remove = HttpRouter.route(
    "DELETE",
    "/api/jobs/:id",
    guarded("admin", (request, actor) =>
      Effect.gen(function* () {
        const id = (yield* HttpRouter.params).id ?? ""
        const body = parseReason(yield* request.text.pipe(Effect.orElseSucceed(() => "")))
        if (typeof body === "string") return json({ error: body, reason: "BadRequest" }, 400)
        const releaseShared = new URL(request.url, "http://localhost").searchParams.get("releaseShared") === "true"
        const summary = yield* JobDeletion.remove(keys, id, {
          removedBy: "delete",
          actor: actor.name,
          reason: body.reason,
          releaseShared
        })
        return json(archivedJson(summary))
      }).pipe(
        Effect.catchTags({
          DeleteError: (e) =>
            e.reason === "NotFound"
              ? Effect.map(JobArchive.read(keys, e.job), (archived) =>
                  json(
                    {
                      error: Option.isSome(archived) ? `job "${e.job}" was already deleted` : e.message,
                      reason: "NotFound",
                      ...(Option.isSome(archived) ? { archived: archivedJson(archived.value) } : {})
                    },
                    404
                  )
                )
              : Effect.succeed(
                  json(
                    { error: e.message, reason: e.reason, ...(e.shared === undefined ? {} : { shared: e.shared }) },
                    409
                  )
                ),
          StoreError: storeFailure
        }),
        // looking the archive up after a NotFound may fail too
        Effect.catchTag("StoreError", storeFailure)
      )
    )
  )

  const list = HttpRouter.route(
    "GET",
    "/api/archive",
    guarded("viewer", () =>
      Effect.map(JobArchive.list(keys), (jobs) => json(jobs.map(archivedJson))).pipe(
        Effect.catchTag("StoreError", storeFailure)
      )
    )
  )

  const show = HttpRouter.route(
    "GET",
    "/api/archive/:id",
    guarded("viewer", () =>
      Effect.gen(function* () {
        const id = (yield* HttpRouter.params).id ?? ""
        const archived = yield* JobArchive.read(keys, id)
        return Option.isSome(archived)
          ? json(archivedJson(archived.value))
          : json({ error: `no archived job "${id}"`, reason: "NotFound" }, 404)
      }).pipe(Effect.catchTag("StoreError", storeFailure))
    )
  )

  return [remove, list, show] as const
}
