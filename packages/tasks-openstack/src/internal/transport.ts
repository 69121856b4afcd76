/**
 * The HTTP side of the OpenStack client: one exchange (`send`: headers,
 * timeout, the server's error turned into a typed `OpenStackError` with
 * secrets scrubbed), JSON bodies, and the retry policy around an attempt.
 *
 * @since 0.1.0
 */
import { Clock, Duration, Effect, Schedule } from "effect"
import { Headers, HttpClient, HttpClientRequest } from "effect/http"
import type { Method, Query, Service } from "../ClientConfig.ts"
import * as OpenStackError from "../OpenStackError.ts"
import * as errorBody from "./errorBody.ts"
import * as retry from "./retry.ts"

export interface Response {
  readonly status: number
  readonly text: string
  readonly contentType: string
  /** Keystone sends the new token in this header. */
  readonly subjectToken: string | undefined
}

export interface Call {
  readonly service: Service
  readonly method: Method
  readonly url: URL
  readonly headers: Record<string, string>
  readonly body: string | undefined
  /** Values to scrub from anything reported about this call. */
  readonly secrets: ReadonlyArray<string>
}

export const at = (call: Call) => ({ service: call.service, method: call.method, path: call.url.pathname })

export const idempotentByDefault = (method: Method) => method !== "POST" && method !== "PATCH"

// Header names whose values must never reach logs or spans.
const secretHeaders = ["x-auth-token", "x-subject-token"]

export const scrub = (text: string, secrets: ReadonlyArray<string>): string =>
  secrets.reduce((acc, secret) => (secret.length >= 4 ? acc.split(secret).join("<redacted>") : acc), text)

const requestIdOf = (headers: Headers.Headers): string | undefined =>
  headers["x-openstack-request-id"] ?? headers["x-compute-request-id"]

// Connection failures that prove nothing was sent (as opposed to a connection
// dropped mid-request, whose outcome is unknown).
const notSentPattern =
  /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|UND_ERR_CONNECT|connection refused|bad port|invalid url/i

const describeCause = (cause: unknown): { readonly text: string; readonly notSent: boolean } => {
  const parts: Array<string> = []
  let current: unknown = cause
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { code?: unknown }).code
    const message = (current as { message?: unknown }).message
    if (typeof code === "string") parts.push(code)
    else if (typeof message === "string" && message.length > 0) parts.push(message)
    current = (current as { cause?: unknown }).cause
  }
  // runtimes name the URL in their messages: keep it, without its query
  const text = (parts.length === 0 ? "connection failed" : parts.join(": ")).replace(
    /(https?:\/\/[^\s?)]+)\?[^\s)]*/g,
    "$1"
  )
  return { text, notSent: notSentPattern.test(text) }
}

export const microversionHeaders = (service: Service, microversion: string | undefined): Record<string, string> => {
  if (microversion === undefined) return {}
  switch (service) {
    case "compute":
      return { "OpenStack-API-Version": `compute ${microversion}`, "X-OpenStack-Nova-API-Version": microversion }
    case "volumev3":
      return { "OpenStack-API-Version": `volume ${microversion}` }
    default:
      return { "OpenStack-API-Version": `${service} ${microversion}` }
  }
}

export const buildUrl = (root: string, path: string, query: Query | undefined): URL => {
  const url = new URL(/^https?:\/\//.test(path) ? path : `${root}${path.startsWith("/") ? "" : "/"}${path}`)
  if (query !== undefined) {
    for (const [key, value] of Object.entries(query)) {
      if (value === undefined) continue
      url.searchParams.delete(key)
      if (Array.isArray(value)) for (const v of value) url.searchParams.append(key, String(v))
      else url.searchParams.append(key, String(value))
    }
  }
  return url
}

/** An `OpenStackError` for a call (its path without the query). */
export const fail = (
  where: { readonly service: Service; readonly method: Method; readonly path: string },
  reason: OpenStackError.Reason,
  extra: {
    readonly status?: number
    readonly requestId?: string | undefined
    readonly errorType?: string | undefined
  }
) =>
  new OpenStackError.OpenStackError({
    service: where.service,
    method: where.method,
    // never the query: only the path identifies the call
    path: where.path.split("?")[0] ?? where.path,
    reason,
    ...(extra.status === undefined ? {} : { status: extra.status }),
    ...(extra.requestId === undefined ? {} : { requestId: extra.requestId }),
    ...(extra.errorType === undefined ? {} : { errorType: extra.errorType })
  })

export interface Settings {
  /** Time allowed for one HTTP exchange, body included. */
  readonly requestTimeout: Duration.Duration
  readonly retry: retry.Settings
}

export type Transport = Effect.Success<ReturnType<typeof make>>

/** The transport of one client, on the `HttpClient` in context. */
export const make = Effect.fnUntraced(function* (settings: Settings) {
  const http = yield* HttpClient.HttpClient
  const redactedNames = yield* Headers.CurrentRedactedNames
  const requestTimeout = settings.requestTimeout
  const retrySettings = settings.retry
  // Errors raised before the request left (auth, catalog): always safe to retry.
  const notSent = new WeakSet<OpenStackError.OpenStackError>()

  /** One HTTP exchange: status and body, or the error for a failed one. */
  const send = (call: Call): Effect.Effect<Response, OpenStackError.OpenStackError> => {
    let request = HttpClientRequest.make(call.method)(call.url.toString(), {
      headers: { Accept: "application/json", "User-Agent": "migrator-tasks-openstack", ...call.headers }
    })
    if (call.body !== undefined) request = HttpClientRequest.bodyText(request, call.body, "application/json")
    return Effect.gen(function* () {
      const start = yield* Clock.currentTimeMillis
      const response = yield* http.execute(request)
      const text = yield* response.text
      const requestId = requestIdOf(response.headers)
      const elapsed = (yield* Clock.currentTimeMillis) - start
      yield* Effect.logDebug("openstack request").pipe(
        Effect.annotateLogs({
          service: call.service,
          method: call.method,
          path: call.url.pathname,
          status: response.status,
          requestId: requestId ?? "",
          millis: elapsed
        })
      )
      if (response.status >= 200 && response.status < 300) {
        return {
          status: response.status,
          text,
          contentType: response.headers["content-type"] ?? "",
          subjectToken: response.headers["x-subject-token"]
        }
      }
      const found = errorBody.serverMessage(response.status, text)
      const retryAfterHeader = response.headers["retry-after"]
      let retryAfterMillis: number | undefined
      if (retryAfterHeader !== undefined) {
        const parsed = Headers.parseRetryAfter(retryAfterHeader)
        if (parsed._tag === "Success") {
          retryAfterMillis = Duration.toMillis(Headers.retryAfterDelay(parsed.success, yield* Clock.currentTimeMillis))
        }
      }
      const message = { message: scrub(found.message, call.secrets), errorType: found.errorType }
      return yield* fail(at(call), errorBody.reasonFor(response.status, message, retryAfterMillis), {
        status: response.status,
        requestId,
        errorType: found.errorType
      })
    }).pipe(
      Effect.catchTag("HttpClientError", (error) => {
        // the cause (e.g. ECONNREFUSED), not the error's own message, which prints the URL with its query
        const cause = describeCause("cause" in error.reason ? error.reason.cause : undefined)
        return Effect.fail(
          fail(
            at(call),
            new OpenStackError.Unavailable({
              message: scrub(`${error.reason._tag}: ${cause.text}`, call.secrets),
              maybeApplied: !cause.notSent
            }),
            {}
          )
        )
      }),
      Effect.timeoutOrElse({
        duration: requestTimeout,
        orElse: () =>
          Effect.fail(
            fail(
              at(call),
              new OpenStackError.Timeout({ message: `no answer within ${Duration.format(requestTimeout)}` }),
              {}
            )
          )
      }),
      // keep token headers out of spans and anything that prints requests
      Effect.provideService(Headers.CurrentRedactedNames, [...redactedNames, ...secretHeaders])
    )
  }

  const decodeJson = (call: Call, response: Response): Effect.Effect<unknown, OpenStackError.OpenStackError> => {
    if (response.status === 204 || response.text.trim().length === 0) return Effect.succeed(undefined)
    return Effect.try({
      try: (): unknown => JSON.parse(response.text),
      catch: () => undefined
    }).pipe(
      Effect.catch(() =>
        // a text answer (rare, e.g. from a proxy on a 2xx) is returned as is
        /json/i.test(response.contentType)
          ? Effect.fail(
              fail(at(call), new OpenStackError.InvalidResponse({ message: "the response body is not valid JSON" }), {
                status: response.status
              })
            )
          : Effect.succeed<unknown>(response.text)
      )
    )
  }

  const withRetry =
    (policy: retry.Policy) =>
    <A, R>(self: Effect.Effect<A, OpenStackError.OpenStackError, R>) =>
      Effect.retry(
        self,
        retry
          .schedule(retrySettings, (error) => retry.shouldRetry(error, policy, notSent.has(error)))
          .pipe(
            // only steps that lead to another attempt get here
            Schedule.tap(({ input, duration }) =>
              Effect.logWarning("openstack request failed, retrying").pipe(
                Effect.annotateLogs({
                  service: input.service,
                  method: input.method,
                  path: input.path,
                  status: input.status ?? 0,
                  reason: input.reason._tag,
                  requestId: input.requestId ?? "",
                  delayMillis: Duration.toMillis(duration)
                })
              )
            )
          )
      )

  const markNotSent = <A, R>(self: Effect.Effect<A, OpenStackError.OpenStackError, R>) =>
    Effect.tapError(self, (error) => Effect.sync(() => notSent.add(error)))

  return { send, decodeJson, withRetry, markNotSent }
})
