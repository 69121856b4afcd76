/**
 * The Keystone side of the OpenStack client: tokens per scope (the
 * configured one, or a project), fetched once for concurrent callers, reused
 * until shortly before they expire and dropped on a 401; and the endpoint of
 * a service from the token's catalog.
 *
 * @since 0.1.0
 */
import { Clock, DateTime, Duration, Effect, Option, Redacted, Schema, Semaphore } from "effect"
import type { ClientConfig, Interface, Method, Service } from "../ClientConfig.ts"
import * as OpenStackError from "../OpenStackError.ts"
import * as keystone from "./keystone.ts"
import { at, type Call, fail, type Transport } from "./transport.ts"

/**
 * Who the current token speaks for (the token itself is not exposed).
 *
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

export interface Token {
  readonly value: Redacted.Redacted<string>
  readonly refreshAt: number
  readonly catalog: keystone.Catalog
  readonly session: Session
}

interface TokenSlot {
  readonly lock: Semaphore.Semaphore
  current: Token | undefined
}

/** The sessions of one client (one per scope). */
export const make = (config: ClientConfig, transport: Transport) => {
  const { send, decodeJson } = transport
  const iface: Interface = config.interface ?? "public"
  const identityRoot = keystone.versionedRoot("identity", config.authUrl)
  const refreshMargin = Duration.toMillis(Duration.fromInputUnsafe(config.tokenRefreshMargin ?? "5 minutes"))
  const configSecrets = keystone.secretsOf(config.auth)
  const slots = new Map<string, TokenSlot>()

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

  return { getToken, invalidate, endpointOf }
}
