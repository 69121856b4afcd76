/**
 * Typed failures of the `Store`. Every driver maps its own errors to one of
 * these reasons, so engine code decides about retries without knowing the
 * driver. Schema-encodable because they end up in task failure reasons.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/** A compare of a transaction did not hold, or a resource changed under us. */
export class Conflict extends Schema.TaggedError<Conflict>()("Conflict", { message: Schema.String }) {
  get retryable(): boolean {
    return true
  }
}

/** The key, lease or revision does not exist. */
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", { message: Schema.String }) {
  get retryable(): boolean {
    return false
  }
}

/** The store could not be reached, or did not answer in time. */
export class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", { message: Schema.String }) {
  get retryable(): boolean {
    return true
  }
}

/** A lease expired or was revoked: everything attached to it is gone. */
export class LeaseExpired extends Schema.TaggedError<LeaseExpired>()("LeaseExpired", {
  message: Schema.String,
  lease: Schema.String
}) {
  get retryable(): boolean {
    return false
  }
}

/** The requested revision was compacted away: re-list, then watch from the list's revision. */
export class Compacted extends Schema.TaggedError<Compacted>()("Compacted", {
  message: Schema.String,
  revision: Schema.Number,
  compactRevision: Schema.Number
}) {
  get retryable(): boolean {
    return false
  }
}

/** The request itself is invalid (too large, too many operations, malformed). */
export class InvalidRequest extends Schema.TaggedError<InvalidRequest>()("InvalidRequest", {
  message: Schema.String
}) {
  get retryable(): boolean {
    return false
  }
}

/** Anything else; treated as a transient failure. */
export class Unknown extends Schema.TaggedError<Unknown>()("Unknown", { message: Schema.String }) {
  get retryable(): boolean {
    return true
  }
}

export const Reason = Schema.Union([Conflict, NotFound, Unavailable, LeaseExpired, Compacted, InvalidRequest, Unknown])
export type Reason = typeof Reason.Type

/**
 * The single error type of every `Store` operation.
 *
 * @category errors
 * @since 0.1.0
 */
export class StoreError extends Schema.TaggedError<StoreError>()("StoreError", {
  operation: Schema.String,
  reason: Reason
}) {
  get retryable(): boolean {
    return this.reason.retryable
  }
  override get message(): string {
    return `${this.operation}: ${this.reason._tag}: ${this.reason.message}`
  }
}

export const make = (operation: string, reason: Reason): StoreError => new StoreError({ operation, reason })
export const unavailable = (operation: string, message: string) => make(operation, new Unavailable({ message }))
export const unknown = (operation: string, message: string) => make(operation, new Unknown({ message }))
export const invalid = (operation: string, message: string) => make(operation, new InvalidRequest({ message }))
export const notFound = (operation: string, message: string) => make(operation, new NotFound({ message }))
export const leaseExpired = (operation: string, lease: string) =>
  make(operation, new LeaseExpired({ message: `lease ${lease} expired or was revoked`, lease }))
export const compacted = (operation: string, revision: number, compactRevision: number) =>
  make(
    operation,
    new Compacted({
      message: `revision ${revision} was compacted (compact revision ${compactRevision})`,
      revision,
      compactRevision
    })
  )
