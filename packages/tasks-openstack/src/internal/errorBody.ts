/**
 * Reads the server's message out of the many OpenStack error body shapes and
 * maps an HTTP status to an `OpenStackError` reason.
 *
 * Shapes seen in the wild:
 * - Nova/Cinder: `{"badRequest": {"message": …, "code": 400}}`, `itemNotFound`,
 *   `conflictingRequest`, `forbidden`, `overLimit`, `computeFault`, …
 * - Neutron: `{"NeutronError": {"type": "NetworkNotFound", "message": …, "detail": …}}`
 * - Keystone: `{"error": {"code": 401, "title": "Unauthorized", "message": …}}`
 * - Placement: `{"errors": [{"status": 409, "title": …, "detail": …}]}`
 * - Glance, proxies: `text/plain` or HTML (`<h1>503 Service Unavailable</h1>…`)
 */
import * as OpenStackError from "../OpenStackError.ts"

export interface ServerMessage {
  readonly message: string
  readonly errorType?: string | undefined
}

const MAX_MESSAGE = 1000

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)
const nonEmpty = (u: unknown): u is string => typeof u === "string" && u.trim().length > 0

const clip = (s: string): string => {
  const t = s.replace(/\s+/g, " ").trim()
  return t.length > MAX_MESSAGE ? `${t.slice(0, MAX_MESSAGE)}…` : t
}

const fromObject = (o: Record<string, unknown>): ServerMessage | undefined => {
  const neutron = o.NeutronError
  if (isRecord(neutron)) {
    const detail = nonEmpty(neutron.detail) ? ` (${neutron.detail})` : ""
    if (nonEmpty(neutron.message)) {
      return { message: `${neutron.message}${detail}`, errorType: nonEmpty(neutron.type) ? neutron.type : undefined }
    }
  }
  if (nonEmpty(o.NeutronError)) return { message: o.NeutronError }
  const error = o.error
  if (isRecord(error)) {
    if (nonEmpty(error.message))
      return { message: error.message, errorType: nonEmpty(error.title) ? error.title : undefined }
  } else if (nonEmpty(error)) {
    return { message: error }
  }
  if (Array.isArray(o.errors) && o.errors.length > 0 && isRecord(o.errors[0])) {
    const first = o.errors[0]
    const text = nonEmpty(first.detail) ? first.detail : nonEmpty(first.title) ? first.title : undefined
    if (text !== undefined) return { message: text, errorType: nonEmpty(first.code) ? first.code : undefined }
  }
  if (nonEmpty(o.message)) return { message: o.message, errorType: nonEmpty(o.title) ? o.title : undefined }
  if (nonEmpty(o.faultstring)) return { message: o.faultstring }
  if (nonEmpty(o.description)) return { message: o.description, errorType: nonEmpty(o.title) ? o.title : undefined }
  // Ironic-style `error_message` holds another JSON document
  if (nonEmpty(o.error_message)) {
    try {
      const inner: unknown = JSON.parse(o.error_message)
      if (isRecord(inner)) {
        const found = fromObject(inner)
        if (found) return found
      }
    } catch {
      return { message: o.error_message }
    }
  }
  // Nova/Cinder: one key naming the fault, holding {message, code}
  for (const [key, value] of Object.entries(o)) {
    if (isRecord(value) && nonEmpty(value.message)) return { message: value.message, errorType: key }
  }
  return undefined
}

const stripHtml = (text: string): string =>
  text
    .replace(/<head[\s\S]*?<\/head>/gi, " ")
    .replace(/<[^>]+>/g, " ")
    .replace(/&nbsp;/g, " ")
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&")

/** The server's explanation of an error response, or a generic one. */
export const serverMessage = (status: number, body: string): ServerMessage => {
  const trimmed = body.trim()
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    try {
      const parsed: unknown = JSON.parse(trimmed)
      if (isRecord(parsed)) {
        const found = fromObject(parsed)
        if (found) return { message: clip(found.message), errorType: found.errorType }
      }
    } catch {
      // not JSON after all: fall through to text
    }
  }
  const text = clip(stripHtml(trimmed))
  return { message: text.length > 0 ? text : `HTTP ${status}` }
}

const quotaPattern = /quota|limit ?exceeded|over ?limit|overquota/i

/** The reason for an error status. `retryAfterMillis` comes from `Retry-After`. */
export const reasonFor = (
  status: number,
  found: ServerMessage,
  retryAfterMillis: number | undefined
): OpenStackError.Reason => {
  const message = found.message
  const retryAfter = retryAfterMillis === undefined ? {} : { retryAfterMillis }
  const quota = quotaPattern.test(message) || (found.errorType !== undefined && quotaPattern.test(found.errorType))
  switch (status) {
    case 400:
      return new OpenStackError.BadRequest({ message })
    case 401:
      return new OpenStackError.Unauthorized({ message })
    case 403:
      return quota ? new OpenStackError.QuotaExceeded({ message }) : new OpenStackError.Forbidden({ message })
    case 404:
      return new OpenStackError.NotFound({ message })
    case 409:
      return quota ? new OpenStackError.QuotaExceeded({ message }) : new OpenStackError.Conflict({ message })
    case 413:
      // Nova and Cinder answer quota exhaustion with 413 overLimit
      return /entity too large/i.test(message)
        ? new OpenStackError.BadRequest({ message })
        : new OpenStackError.QuotaExceeded({ message })
    case 408:
    case 429:
    case 502:
    case 503:
    case 504:
      // the request was not served: safe to send again
      return new OpenStackError.Unavailable({ message, maybeApplied: false, ...retryAfter })
  }
  if (status >= 500) return new OpenStackError.Unavailable({ message, maybeApplied: true, ...retryAfter })
  return new OpenStackError.BadRequest({ message: `unexpected HTTP ${status}: ${message}` })
}
