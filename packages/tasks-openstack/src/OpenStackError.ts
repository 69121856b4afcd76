/**
 * The single error type of the OpenStack client. Every failure (an HTTP error
 * status, a refused connection, a request that ran out of time, a catalog
 * without the wanted endpoint) becomes an `OpenStackError` whose `reason` says
 * what happened and whether trying again may help (`retryable`).
 *
 * Messages carry the method, the URL path (never the query), the HTTP status,
 * the OpenStack request id and the server's own message, so an operator can
 * find the call in the service logs. They never carry credentials or tokens:
 * the client scrubs its secrets out of server messages before they get here.
 *
 * Schema-encodable, because handler failures end up in etcd as task reasons.
 *
 * @since 0.1.0
 */
import { Effect, Predicate, Schema } from "effect"

/**
 * 404: the resource (or the URL) does not exist. Delete handlers treat it as
 * success.
 *
 * @category errors
 * @since 0.1.0
 */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", { message: Schema.String }) {
  get retryable(): boolean {
    return false
  }
}

/**
 * 409: the resource is in a state that does not allow the operation (a server
 * in task state `powering-off`, a port still in use) or already exists. The
 * state may change, so a later attempt of the task may succeed.
 *
 * @category errors
 * @since 0.1.0
 */
export class Conflict extends Schema.TaggedError<Conflict>()("Conflict", { message: Schema.String }) {
  get retryable(): boolean {
    return true
  }
}

/**
 * A quota of the project is exhausted (Nova 403/413, Cinder 413, Neutron 409
 * `OverQuota`). Needs an operator; retrying does not help.
 *
 * @category errors
 * @since 0.1.0
 */
export class QuotaExceeded extends Schema.TaggedError<QuotaExceeded>()("QuotaExceeded", {
  message: Schema.String
}) {
  get retryable(): boolean {
    return false
  }
}

/**
 * 400 (and any other 4xx without a better reason): the request is invalid.
 * `message` is the server's own explanation.
 *
 * @category errors
 * @since 0.1.0
 */
export class BadRequest extends Schema.TaggedError<BadRequest>()("BadRequest", { message: Schema.String }) {
  get retryable(): boolean {
    return false
  }
}

/**
 * 401: the credentials were refused (the client already re-authenticated once).
 *
 * @category errors
 * @since 0.1.0
 */
export class Unauthorized extends Schema.TaggedError<Unauthorized>()("Unauthorized", {
  message: Schema.String
}) {
  get retryable(): boolean {
    return false
  }
}

/**
 * 403: the policy does not allow the operation for this user or project.
 *
 * @category errors
 * @since 0.1.0
 */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", { message: Schema.String }) {
  get retryable(): boolean {
    return false
  }
}

/**
 * The service could not be reached or did not serve the request: 5xx, 429,
 * a refused or dropped connection. `maybeApplied` is false when the request
 * surely had no effect (429, 502, 503, 504, connection refused) and true when
 * it may have been carried out (500, connection dropped mid-request).
 *
 * @category errors
 * @since 0.1.0
 */
export class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", {
  message: Schema.String,
  maybeApplied: Schema.Boolean,
  /** The server's `Retry-After`, in milliseconds. */
  retryAfterMillis: Schema.optional(Schema.Number)
}) {
  get retryable(): boolean {
    return true
  }
}

/**
 * No answer within the request timeout. The request may have been carried
 * out, so a create must look its resource up before trying again.
 *
 * @category errors
 * @since 0.1.0
 */
export class Timeout extends Schema.TaggedError<Timeout>()("Timeout", { message: Schema.String }) {
  get retryable(): boolean {
    return true
  }
}

/**
 * The service catalog has no endpoint for the service, region and interface
 * (or the token has no catalog at all). A configuration problem; distinct from
 * `NotFound` so that a delete never mistakes it for "already gone".
 *
 * @category errors
 * @since 0.1.0
 */
export class EndpointNotFound extends Schema.TaggedError<EndpointNotFound>()("EndpointNotFound", {
  message: Schema.String
}) {
  get retryable(): boolean {
    return false
  }
}

/**
 * A successful response whose body is not the JSON the caller expects.
 *
 * @category errors
 * @since 0.1.0
 */
export class InvalidResponse extends Schema.TaggedError<InvalidResponse>()("InvalidResponse", {
  message: Schema.String
}) {
  get retryable(): boolean {
    return false
  }
}

/**
 * @category schemas
 * @since 0.1.0
 */
export const Reason = Schema.Union([
  NotFound,
  Conflict,
  QuotaExceeded,
  BadRequest,
  Unauthorized,
  Forbidden,
  Unavailable,
  Timeout,
  EndpointNotFound,
  InvalidResponse
])

/**
 * @category models
 * @since 0.1.0
 */
export type Reason = typeof Reason.Type

const TypeId = "~@migrator/tasks-openstack/OpenStackError"

/**
 * The error of every `OpenStackClient` operation.
 *
 * @category errors
 * @since 0.1.0
 */
export class OpenStackError extends Schema.TaggedError<OpenStackError>()("OpenStackError", {
  /** Catalog service type: `compute`, `network`, `volumev3`, `image`, `identity`. */
  service: Schema.String,
  method: Schema.String,
  /** The URL path of the request, without the query string. */
  path: Schema.String,
  /** The HTTP status, when a response arrived. */
  status: Schema.optional(Schema.Number),
  /** `x-openstack-request-id` (or `x-compute-request-id`) of the response. */
  requestId: Schema.optional(Schema.String),
  /** The server's error kind when it names one: `itemNotFound`, Neutron's `NetworkNotFound`, … */
  errorType: Schema.optional(Schema.String),
  reason: Reason
}) {
  readonly [TypeId] = TypeId

  get retryable(): boolean {
    return this.reason.retryable
  }

  override get message(): string {
    const status = this.status === undefined ? "" : ` HTTP ${this.status}`
    const id = this.requestId === undefined ? "" : ` [${this.requestId}]`
    return `${this.method} ${this.service} ${this.path}:${status} ${this.reason._tag}${id}: ${this.reason.message}`
  }
}

/**
 * @category guards
 * @since 0.1.0
 */
export const isOpenStackError = (u: unknown): u is OpenStackError => Predicate.hasProperty(u, TypeId)

/**
 * @category guards
 * @since 0.1.0
 */
export const isNotFound = (u: unknown): u is OpenStackError & { readonly reason: NotFound } =>
  isOpenStackError(u) && u.reason._tag === "NotFound"

/**
 * Turns a 404 into `onNotFound` (e.g. "already deleted" is success).
 *
 * @category error handling
 * @since 0.1.0
 */
export const catchNotFound =
  <B>(onNotFound: () => B) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A | B, E, R> =>
    Effect.catchIf(
      self,
      (e): e is E & OpenStackError => isNotFound(e),
      () => Effect.sync(onNotFound)
    )
