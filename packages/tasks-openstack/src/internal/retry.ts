/**
 * When the client sends a request again, and how long it waits first.
 *
 * A request is repeated only when repeating cannot do harm:
 * - the server said it did not serve it (429, 502, 503, 504, 408) or the
 *   connection was refused: always;
 * - the outcome is unknown (500, a dropped connection, a timeout): only for
 *   idempotent requests (GET, HEAD, PUT, DELETE by default), because a
 *   repeated POST may create a second server;
 * - 409: only when the caller says the conflict is transient.
 * Failures before the request was sent (authentication, catalog) count as
 * "not served".
 */
import { Duration, Effect, Schedule } from "effect"
import type * as OpenStackError from "../OpenStackError.ts"

export interface Policy {
  readonly idempotent: boolean
  readonly retryOnConflict: boolean
}

export const shouldRetry = (error: OpenStackError.OpenStackError, policy: Policy, notSent: boolean): boolean => {
  const reason = error.reason
  switch (reason._tag) {
    case "Unavailable":
      return notSent || !reason.maybeApplied || policy.idempotent
    case "Timeout":
      return notSent || policy.idempotent
    case "Conflict":
      return policy.retryOnConflict
    default:
      return false
  }
}

export interface Settings {
  readonly times: number
  readonly baseDelay: Duration.Duration
  readonly maxDelay: Duration.Duration
  readonly maxRetryAfter: Duration.Duration
}

/**
 * Exponential backoff with jitter, capped at `maxDelay`; a server's
 * `Retry-After` is the minimum wait (itself capped at `maxRetryAfter`).
 * Continues while `retryable` holds, at most `times` times.
 */
export const schedule = (
  settings: Settings,
  retryable: (error: OpenStackError.OpenStackError) => boolean
): Schedule.Schedule<Duration.Duration, OpenStackError.OpenStackError> =>
  Schedule.exponential(settings.baseDelay, 2).pipe(
    Schedule.jittered,
    Schedule.setInputType<OpenStackError.OpenStackError>(),
    Schedule.while(({ input, attempt }) => attempt <= settings.times && retryable(input)),
    Schedule.modifyDelay(({ input, duration }) => {
      const backoff = Duration.min(duration, settings.maxDelay)
      const reason = input.reason
      if (reason._tag !== "Unavailable" || reason.retryAfterMillis === undefined) return Effect.succeed(backoff)
      const retryAfter = Duration.min(Duration.millis(reason.retryAfterMillis), settings.maxRetryAfter)
      return Effect.succeed(Duration.max(backoff, retryAfter))
    })
  )
