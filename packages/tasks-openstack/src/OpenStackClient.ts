/**
 * A small OpenStack REST client on Effect's `HttpClient` (fetch: works on Node
 * and Deno). One generic `request` and a paginating `list`/`stream`, shared by
 * every task handler, instead of one method per API call.
 *
 * What it takes care of:
 * - Keystone v3 auth with a password (project or domain scope) or an
 *   application credential; the token is reused until shortly before it
 *   expires (measured on the Effect `Clock`), and refreshed once on a 401;
 * - the service catalog: endpoint by service type, region and interface;
 * - microversions: `OpenStack-API-Version: compute 2.79` (plus the legacy
 *   `X-OpenStack-Nova-API-Version`) and `volume 3.x`;
 * - pagination (`*_links` next links, Keystone/Glance `next`, Neutron markers);
 * - retries with exponential backoff and jitter, honouring `Retry-After`, only
 *   where sending the request again cannot do harm (see `RequestOptions`);
 * - typed errors (`OpenStackError`) with the method, path, status, the server's
 *   message and the request id; passwords, secrets and tokens never appear in
 *   errors or logs.
 *
 * Paths are relative to the versioned API root of the service: `/servers`
 * (compute, `…/v2.1`), `/networks` (network, `…/v2.0`), `/volumes` (volumev3,
 * `…/v3/<project>`), `/images` (image, `…/v2`), `/projects` (identity, `…/v3`).
 *
 * @since 0.1.0
 */
import {
  Clock,
  type Config,
  Context,
  DateTime,
  Duration,
  Effect,
  Layer,
  Option,
  Redacted,
  Schedule,
  Schema,
  Semaphore,
  Stream
} from "effect"
import { FetchHttpClient, Headers, HttpClient, HttpClientRequest } from "effect/http"
import {
  type ClientConfig,
  DEFAULT_COMPUTE_MICROVERSION,
  DEFAULT_VOLUME_MICROVERSION,
  type Interface,
  type Method,
  openRcConfig,
  type Query,
  type Service
} from "./ClientConfig.ts"
import * as errorBody from "./internal/errorBody.ts"
import * as keystone from "./internal/keystone.ts"
import * as pagination from "./internal/pagination.ts"
import * as retry from "./internal/retry.ts"
import * as OpenStackError from "./OpenStackError.ts"

// the configuration lives in ClientConfig.ts; it stays reachable as `OpenStackClient.<name>`
export type {
  ApplicationCredentialAuth,
  Auth,
  ClientConfig,
  Interface,
  Method,
  PasswordAuth,
  Query,
  RetryConfig,
  Service
} from "./ClientConfig.ts"
export { DEFAULT_COMPUTE_MICROVERSION, DEFAULT_VOLUME_MICROVERSION, openRcConfig } from "./ClientConfig.ts"

/**
 * @category models
 * @since 0.1.0
 */
export interface RequestOptions {
  /** JSON request body. */
  readonly body?: unknown
  readonly query?: Query | undefined
  /** Microversion for this request (default: the configured one for compute and volume). */
  readonly microversion?: string | undefined
  /**
   * Whether sending the request twice does no harm. Decides whether a request
   * whose outcome is unknown (timeout, dropped connection, 500) is sent again.
   * Default: true for GET, HEAD, PUT and DELETE, false for POST and PATCH.
   */
  readonly idempotent?: boolean | undefined
  /** Retry on 409 (e.g. a server action while a task state clears). Default false. */
  readonly retryOnConflict?: boolean | undefined
  /** Extra headers (never logged). */
  readonly headers?: Readonly<Record<string, string>> | undefined
}

/**
 * @category models
 * @since 0.1.0
 */
export interface ListOptions {
  readonly microversion?: string | undefined
  /** Page size for this listing (default: `pageSize` of the configuration). */
  readonly pageSize?: number | undefined
}

/**
 * Who the current token speaks for (the token itself is not exposed).
 *
 * @category models
 * @since 0.1.0
 */
export interface Session {
  readonly userId: string | undefined
  readonly projectId: string | undefined
  readonly projectName: string | undefined
  readonly domainId: string | undefined
  /** When the token expires, in epoch milliseconds of the Effect `Clock`. */
  readonly expiresAt: number
}

/**
 * The client's operations.
 *
 * @category models
 * @since 0.1.0
 */
export interface Client {
  /**
   * One request; succeeds with the decoded JSON body (`undefined` when there
   * is none), or with the value decoded by `schema`.
   */
  readonly request: {
    <S extends Schema.Constraint>(
      service: Service,
      method: Method,
      path: string,
      options: RequestOptions & { readonly schema: S }
    ): Effect.Effect<S["Type"], OpenStackError.OpenStackError, S["DecodingServices"]>
    (
      service: Service,
      method: Method,
      path: string,
      options?: RequestOptions
    ): Effect.Effect<unknown, OpenStackError.OpenStackError>
  }
  /** Every item of a collection (`collectionKey`: `servers`, `networks`, …), following pagination. */
  readonly list: (
    service: Service,
    path: string,
    collectionKey: string,
    query?: Query,
    options?: ListOptions
  ) => Effect.Effect<ReadonlyArray<unknown>, OpenStackError.OpenStackError>
  /** The items of a collection as a stream, fetching pages as they are consumed. */
  readonly stream: (
    service: Service,
    path: string,
    collectionKey: string,
    query?: Query,
    options?: ListOptions
  ) => Stream.Stream<unknown, OpenStackError.OpenStackError>
  /** The versioned API root of a service, from the catalog. */
  readonly endpoint: (service: Service) => Effect.Effect<string, OpenStackError.OpenStackError>
  /** Authenticates if needed and tells who the token speaks for. */
  readonly session: Effect.Effect<Session, OpenStackError.OpenStackError>
  /**
   * The same client with tokens scoped to another project (password auth
   * only: an application credential is bound to its project).
   */
  readonly forProject: (projectId: string) => Client
}

/**
 * @category services
 * @since 0.1.0
 */
export class OpenStackClient extends Context.Service<OpenStackClient, Client>()(
  "@migrator/tasks-openstack/OpenStackClient"
) {}

interface Token {
  readonly value: Redacted.Redacted<string>
  readonly refreshAt: number
  readonly catalog: keystone.Catalog
  readonly session: Session
}

interface TokenSlot {
  readonly lock: Semaphore.Semaphore
  current: Token | undefined
}

interface Response {
  readonly status: number
  readonly text: string
  readonly contentType: string
  /** Keystone sends the new token in this header. */
  readonly subjectToken: string | undefined
}

interface Call {
  readonly service: Service
  readonly method: Method
  readonly url: URL
  readonly headers: Record<string, string>
  readonly body: string | undefined
  /** Values to scrub from anything reported about this call. */
  readonly secrets: ReadonlyArray<string>
}

const at = (call: Call) => ({ service: call.service, method: call.method, path: call.url.pathname })

const idempotentByDefault = (method: Method) => method !== "POST" && method !== "PATCH"

// Header names whose values must never reach logs or spans.
const secretHeaders = ["x-auth-token", "x-subject-token"]

const scrub = (text: string, secrets: ReadonlyArray<string>): string =>
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

const microversionHeaders = (service: Service, microversion: string | undefined): Record<string, string> => {
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

const buildUrl = (root: string, path: string, query: Query | undefined): URL => {
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

/**
 * Builds a client. Nothing is sent until the first request.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function* (config: ClientConfig) {
  const http = yield* HttpClient.HttpClient
  const redactedNames = yield* Headers.CurrentRedactedNames
  const iface: Interface = config.interface ?? "public"
  const identityRoot = keystone.versionedRoot("identity", config.authUrl)
  const requestTimeout = Duration.fromInputUnsafe(config.requestTimeout ?? "60 seconds")
  const refreshMargin = Duration.toMillis(Duration.fromInputUnsafe(config.tokenRefreshMargin ?? "5 minutes"))
  const configSecrets = keystone.secretsOf(config.auth)
  const retrySettings: retry.Settings = {
    times: config.retry?.times ?? 5,
    baseDelay: Duration.fromInputUnsafe(config.retry?.baseDelay ?? "250 millis"),
    maxDelay: Duration.fromInputUnsafe(config.retry?.maxDelay ?? "15 seconds"),
    maxRetryAfter: Duration.fromInputUnsafe(config.retry?.maxRetryAfter ?? "60 seconds")
  }
  // Errors raised before the request left (auth, catalog): always safe to retry.
  const notSent = new WeakSet<OpenStackError.OpenStackError>()
  const slots = new Map<string, TokenSlot>()

  const fail = (
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

  const authenticate = (scope: keystone.Scope): Effect.Effect<Token, OpenStackError.OpenStackError> =>
    Effect.gen(function* () {
      const url = new URL(`${identityRoot}/auth/tokens`)
      const call: Call = {
        service: "identity",
        method: "POST",
        url,
        headers: { "Content-Type": "application/json" },
        body: undefined,
        secrets: configSecrets
      }
      if (config.auth.type === "application-credential" && scope._tag === "project") {
        return yield* fail(
          at(call),
          new OpenStackError.Forbidden({
            message: `an application credential is bound to its project; it cannot be scoped to project ${scope.projectId}`
          }),
          {}
        )
      }
      const start = yield* Clock.currentTimeMillis
      const response = yield* send({ ...call, body: keystone.authRequestBody(config.auth, scope) })
      const invalid = (message: string) =>
        fail(at(call), new OpenStackError.InvalidResponse({ message }), { status: response.status })
      const subjectToken = response.subjectToken
      if (subjectToken === undefined) return yield* invalid("the token response has no X-Subject-Token header")
      const parsed = yield* decodeJson(call, response)
      const body = yield* Schema.decodeUnknownEffect(keystone.TokenResponse)(parsed).pipe(
        Effect.mapError(() => invalid("the token response does not have the Keystone v3 shape"))
      )
      const expires = DateTime.make(body.token.expires_at)
      if (Option.isNone(expires)) return yield* invalid("the token response has an unreadable expires_at")
      const issued = body.token.issued_at === undefined ? Option.none() : DateTime.make(body.token.issued_at)
      // Lifetime measured on the server's clock, applied to ours: immune to clock skew.
      const lifetime = Option.isSome(issued)
        ? DateTime.toEpochMillis(expires.value) - DateTime.toEpochMillis(issued.value)
        : DateTime.toEpochMillis(expires.value) - start
      const expiresAt = start + lifetime
      const margin = Math.min(refreshMargin, lifetime / 2)
      const session: Session = {
        userId: body.token.user?.id,
        projectId: body.token.project?.id,
        projectName: body.token.project?.name,
        domainId: body.token.project?.domain?.id ?? body.token.domain?.id,
        expiresAt
      }
      yield* Effect.logDebug("openstack authenticated").pipe(
        Effect.annotateLogs({
          projectId: session.projectId ?? "",
          expiresInMillis: lifetime
        })
      )
      return {
        value: Redacted.make(subjectToken),
        refreshAt: expiresAt - margin,
        catalog: body.token.catalog ?? [],
        session
      }
    })

  const slotFor = (scope: keystone.Scope): TokenSlot => {
    const key = keystone.scopeKey(scope)
    let slot = slots.get(key)
    if (slot === undefined) {
      slot = { lock: Semaphore.makeUnsafe(1), current: undefined }
      slots.set(key, slot)
    }
    return slot
  }

  const fresh = (slot: TokenSlot, now: number) =>
    slot.current !== undefined && now < slot.current.refreshAt ? slot.current : undefined

  const getToken = (scope: keystone.Scope): Effect.Effect<Token, OpenStackError.OpenStackError> => {
    const slot = slotFor(scope)
    return Effect.gen(function* () {
      const cached = fresh(slot, yield* Clock.currentTimeMillis)
      if (cached !== undefined) return cached
      // single flight: concurrent requests wait for one authentication
      return yield* slot.lock.withPermits(1)(
        Effect.gen(function* () {
          const again = fresh(slot, yield* Clock.currentTimeMillis)
          if (again !== undefined) return again
          const token = yield* authenticate(scope)
          slot.current = token
          return token
        })
      )
    })
  }

  const invalidate = (scope: keystone.Scope, used: Token) =>
    Effect.sync(() => {
      const slot = slotFor(scope)
      if (slot.current === used) slot.current = undefined
    })

  const endpointOf = (
    token: Token,
    service: Service,
    method: Method,
    path: string
  ): Effect.Effect<string, OpenStackError.OpenStackError> => {
    const override = config.endpointOverrides?.[service]
    if (override !== undefined) return Effect.succeed(keystone.versionedRoot(service, override))
    const found = keystone.findEndpoint(token.catalog, service, config.region, iface)
    if (Option.isSome(found)) return Effect.succeed(keystone.versionedRoot(service, found.value))
    if (service === "identity") return Effect.succeed(identityRoot)
    const where = config.region === undefined ? "" : ` in region ${config.region}`
    return Effect.fail(
      fail(
        { service, method, path },
        new OpenStackError.EndpointNotFound({
          message:
            token.catalog.length === 0
              ? "the token has no service catalog (is it scoped to a project?)"
              : `the catalog has no ${iface} ${service} endpoint${where}`
        }),
        {}
      )
    )
  }

  const markNotSent = <A, R>(self: Effect.Effect<A, OpenStackError.OpenStackError, R>) =>
    Effect.tapError(self, (error) => Effect.sync(() => notSent.add(error)))

  const raw = (
    scope: keystone.Scope,
    service: Service,
    method: Method,
    path: string,
    options: RequestOptions
  ): Effect.Effect<unknown, OpenStackError.OpenStackError> => {
    const microversion =
      options.microversion ??
      (service === "compute"
        ? (config.computeMicroversion ?? DEFAULT_COMPUTE_MICROVERSION)
        : service === "volumev3"
          ? (config.volumeMicroversion ?? DEFAULT_VOLUME_MICROVERSION)
          : undefined)
    const body = options.body === undefined ? undefined : JSON.stringify(options.body)
    const attempt = (reauthenticated: boolean): Effect.Effect<unknown, OpenStackError.OpenStackError> =>
      Effect.gen(function* () {
        const token = yield* markNotSent(getToken(scope))
        const root = yield* markNotSent(endpointOf(token, service, method, path))
        const call: Call = {
          service,
          method,
          url: buildUrl(root, path, options.query),
          headers: {
            ...options.headers,
            ...microversionHeaders(service, microversion),
            ...(body === undefined ? {} : { "Content-Type": "application/json" }),
            "X-Auth-Token": Redacted.value(token.value)
          },
          body,
          secrets: [...configSecrets, Redacted.value(token.value)]
        }
        const response = yield* send(call).pipe(
          Effect.catchIf(
            (error) => error.reason._tag === "Unauthorized" && !reauthenticated,
            () => Effect.succeed(undefined)
          )
        )
        if (response === undefined) {
          // the token was revoked or expired early: get a new one, once
          yield* invalidate(scope, token)
          return yield* attempt(true)
        }
        return yield* decodeJson(call, response)
      })
    return attempt(false).pipe(
      withRetry({
        idempotent: options.idempotent ?? idempotentByDefault(method),
        retryOnConflict: options.retryOnConflict ?? false
      })
    )
  }

  const makeClient = (scope: keystone.Scope): Client => {
    const request = Effect.fn("OpenStackClient.request")(function* (
      service: Service,
      method: Method,
      path: string,
      options?: RequestOptions & { readonly schema?: Schema.Constraint }
    ) {
      yield* Effect.annotateCurrentSpan({ service, method, path: path.split("?")[0] ?? path })
      const value = yield* raw(scope, service, method, path, options ?? {})
      const schema = options?.schema
      if (schema === undefined) return value
      return yield* Schema.decodeUnknownEffect(schema)(value).pipe(
        Effect.mapError((error) =>
          fail(
            { service, method, path },
            new OpenStackError.InvalidResponse({
              message: `unexpected response: ${scrub(error.message, configSecrets).slice(0, 500)}`
            }),
            {}
          )
        )
      )
    }) as Client["request"]

    const stream = (
      service: Service,
      path: string,
      collectionKey: string,
      query?: Query,
      options?: ListOptions
    ): Stream.Stream<unknown, OpenStackError.OpenStackError> => {
      const pageSize = options?.pageSize ?? config.pageSize
      const first: Query = { ...(pageSize === undefined ? {} : { limit: pageSize }), ...query }
      const invalid = (message: string) =>
        Effect.fail(fail({ service, method: "GET", path }, new OpenStackError.InvalidResponse({ message }), {}))
      const readPages = (seen: Set<string>) =>
        Stream.paginate(first, (current: Query) =>
          raw(scope, service, "GET", path, { query: current, microversion: options?.microversion }).pipe(
            Effect.flatMap((body) => {
              const page = pagination.readPage(body, collectionKey, current)
              if (typeof page === "string") return invalid(page)
              seen.add(pagination.queryKey(current))
              if (page.next !== undefined && seen.has(pagination.queryKey(page.next))) {
                return invalid("the next page link points to a page already read")
              }
              return Effect.succeed([page.items, Option.fromUndefinedOr(page.next)] as const)
            })
          )
        )
      // the pages already read belong to one run of the stream
      return Stream.unwrap(Effect.sync(() => readPages(new Set<string>())))
    }

    const list = Effect.fn("OpenStackClient.list")(function* (
      service: Service,
      path: string,
      collectionKey: string,
      query?: Query,
      options?: ListOptions
    ) {
      return yield* Stream.runCollect(stream(service, path, collectionKey, query, options))
    })

    const endpoint = (service: Service) =>
      getToken(scope).pipe(Effect.flatMap((token) => endpointOf(token, service, "GET", "/")))

    return {
      request,
      list,
      stream,
      endpoint,
      session: Effect.map(getToken(scope), (token) => token.session),
      forProject: (projectId: string) => projectClient(projectId)
    }
  }

  const projectClients = new Map<string, Client>()
  const projectClient = (projectId: string): Client => {
    let client = projectClients.get(projectId)
    if (client === undefined) {
      client = makeClient({ _tag: "project", projectId })
      projectClients.set(projectId, client)
    }
    return client
  }

  return makeClient({ _tag: "configured" })
})

/**
 * The client on a caller-provided `HttpClient`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerNoDeps = (config: ClientConfig): Layer.Layer<OpenStackClient, never, HttpClient.HttpClient> =>
  Layer.effect(OpenStackClient, make(config))

/**
 * The client on the fetch-based `HttpClient` (Node and Deno).
 *
 * @category layers
 * @since 0.1.0
 */
export const layer = (config: ClientConfig): Layer.Layer<OpenStackClient> =>
  layerNoDeps(config).pipe(Layer.provide(FetchHttpClient.layer))

/**
 * The client from `Config` (by default the openrc variables, `openRcConfig`).
 *
 * @category layers
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Config<ClientConfig> = openRcConfig
): Layer.Layer<OpenStackClient, Config.ConfigError> => Layer.unwrap(Effect.map(config, layer))
