/**
 * Who may call the job API (SPEC §7, see API.md): bearer tokens with a role,
 * checked on every `/api/` request. Tokens are kept as SHA-256 hashes only,
 * compared in constant time, and never logged.
 *
 * With no token configured the API serves loopback clients only, as the
 * local operator (`admin`), and refuses every other client with a message
 * saying how to configure tokens.
 *
 * Browser-made cross-site requests are refused on every POST (CSRF): a
 * browser sends `Origin`/`Sec-Fetch-Site` with them, which must name this
 * server. Clients that are not browsers (the CLI, curl) send neither.
 *
 * @since 0.2.0
 */
import { createHash, timingSafeEqual } from "node:crypto"
import { Option, Schema } from "effect"
import type { HttpServerRequest } from "effect/http"

export const Role = Schema.Literals(["viewer", "operator", "admin"])
export type Role = typeof Role.Type

const rank: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 }

/** Whether `role` includes everything `required` may do. */
export const allows = (role: Role, required: Role) => rank[role] >= rank[required]

/** The role an operation on a job needs; reading needs `viewer`. */
export const roleFor = (operation: string): Role =>
  operation === "submit" ||
  operation === "cancel" ||
  operation === "pause" ||
  operation === "resume" ||
  operation === "retry"
    ? "operator"
    : "admin"

/** A configured API token: only its hash is kept. */
export interface ApiToken {
  readonly name: string
  readonly role: Role
  /** SHA-256 of the token, hex. */
  readonly hash: string
}

export const hashToken = (token: string) => createHash("sha256").update(token, "utf8").digest("hex")

/** The caller of an API request, as recorded in the job's event log. */
export interface Actor {
  /** The token's name, or `local` for a loopback caller when no token is configured. */
  readonly name: string
  readonly role: Role
}

/** A refused request: the HTTP status and the JSON body (see API.md). */
export interface Refusal {
  readonly status: 401 | 403
  readonly body: { readonly error: string; readonly reason: string; readonly [k: string]: unknown }
  readonly headers?: Readonly<Record<string, string>>
}

export const NO_TOKENS_HINT =
  "no API tokens are configured, so only loopback clients are served; add tokens to the runner's configuration " +
  "(http.tokens: [{ name, role: viewer|operator|admin, token: { env: NAME } }]) and send `Authorization: Bearer <token>`"

const loopbackAddress = (address: string) =>
  address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.")

/** Host names a loopback client may use (the Host header is checked too, against DNS rebinding). */
const loopbackHost = (host: string) => {
  const name = host.replace(/:\d+$/, "").replace(/^\[|\]$/g, "")
  return name === "localhost" || name === "::1" || name.startsWith("127.")
}

const header = (request: HttpServerRequest.HttpServerRequest, name: string): string | undefined => {
  const value = request.headers[name]
  return typeof value === "string" ? value : undefined
}

/** Refuses a POST or DELETE a browser made from another site (CSRF); undefined when the request may go on. */
export const crossSite = (request: HttpServerRequest.HttpServerRequest): Refusal | undefined => {
  if (request.method !== "POST" && request.method !== "DELETE") return undefined
  const site = header(request, "sec-fetch-site")
  const origin = header(request, "origin")
  const host = header(request, "host")
  let foreignOrigin = false
  if (origin !== undefined) {
    try {
      foreignOrigin = new URL(origin).host !== host
    } catch {
      foreignOrigin = true
    }
  }
  if ((site !== undefined && site !== "same-origin" && site !== "none") || foreignOrigin) {
    return {
      status: 403,
      body: { error: "cross-site requests are refused", reason: "CrossSite" }
    }
  }
  return undefined
}

const sameHash = (a: string, b: string) => {
  const x = Buffer.from(a, "hex")
  const y = Buffer.from(b, "hex")
  return x.length === y.length && timingSafeEqual(x, y)
}

/**
 * Who is calling, if they may do what needs `required`; a refusal otherwise
 * (401 without or with an unknown token, 403 with too small a role, from a
 * non-loopback client when no token is configured, or cross-site).
 */
export const authorize = (
  request: HttpServerRequest.HttpServerRequest,
  tokens: ReadonlyArray<ApiToken>,
  required: Role
): { readonly actor: Actor } | { readonly refusal: Refusal } => {
  const csrf = crossSite(request)
  if (csrf !== undefined) return { refusal: csrf }
  const authorization = header(request, "authorization")
  if (tokens.length === 0) {
    const address = Option.getOrElse(request.remoteAddress, () => "")
    if (loopbackAddress(address) && loopbackHost(header(request, "host") ?? "")) {
      return { actor: { name: "local", role: "admin" } }
    }
    return { refusal: { status: 403, body: { error: NO_TOKENS_HINT, reason: "NoTokensConfigured" } } }
  }
  const challenge = { "www-authenticate": 'Bearer realm="migrator"' }
  const match = authorization === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(authorization)
  if (match === null) {
    return {
      refusal: {
        status: 401,
        body: { error: "authentication required: send `Authorization: Bearer <token>`", reason: "Unauthenticated" },
        headers: challenge
      }
    }
  }
  const hash = hashToken(match[1]!)
  const token = tokens.find((t) => sameHash(t.hash, hash))
  if (token === undefined) {
    return {
      refusal: {
        status: 401,
        body: { error: "unknown or revoked token", reason: "Unauthenticated" },
        headers: challenge
      }
    }
  }
  if (!allows(token.role, required)) {
    return {
      refusal: {
        status: 403,
        body: {
          error: `token "${token.name}" has role ${token.role}; this needs ${required}`,
          reason: "Forbidden",
          role: token.role,
          required
        }
      }
    }
  }
  return { actor: { name: token.name, role: token.role } }
}
