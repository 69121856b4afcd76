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
 * This module is the client itself (scopes, requests, lists); its
 * configuration is `ClientConfig.ts`, tokens and the catalog are
 * `internal/session.ts`, and one HTTP exchange with its retries is
 * `internal/transport.ts`.
 *
 * @since 0.1.0
 */
import { type Config, Context, Duration, Effect, Layer, Option, Redacted, Schema, Stream } from "effect"
import { FetchHttpClient, type HttpClient } from "effect/http"
import {
  type ClientConfig,
  DEFAULT_COMPUTE_MICROVERSION,
  DEFAULT_VOLUME_MICROVERSION,
  type Method,
  openRcConfig,
  type Query,
  type Service
} from "./ClientConfig.ts"
import * as keystone from "./internal/keystone.ts"
import * as pagination from "./internal/pagination.ts"
import type { Session } from "./internal/session.ts"
import * as Sessions from "./internal/session.ts"
import * as Transport from "./internal/transport.ts"
import { buildUrl, type Call, fail, idempotentByDefault, microversionHeaders, scrub } from "./internal/transport.ts"
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
export type { Session } from "./internal/session.ts"

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

/**
 * Builds a client. Nothing is sent until the first request.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = Effect.fnUntraced(function* (config: ClientConfig) {
  const requestTimeout = Duration.fromInputUnsafe(config.requestTimeout ?? "60 seconds")
  const configSecrets = keystone.secretsOf(config.auth)
  const transport = yield* Transport.make({
    requestTimeout,
    retry: {
      times: config.retry?.times ?? 5,
      baseDelay: Duration.fromInputUnsafe(config.retry?.baseDelay ?? "250 millis"),
      maxDelay: Duration.fromInputUnsafe(config.retry?.maxDelay ?? "15 seconds"),
      maxRetryAfter: Duration.fromInputUnsafe(config.retry?.maxRetryAfter ?? "60 seconds")
    }
  })
  const { send, decodeJson, withRetry, markNotSent } = transport
  const { getToken, invalidate, endpointOf } = Sessions.make(config, transport)

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
