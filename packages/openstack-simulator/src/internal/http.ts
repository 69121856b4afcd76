/**
 * Request and response types of the simulator's handlers, a tiny router,
 * and the helpers the service modules share: pagination in each service's
 * style, tag filters, body access, microversion checks.
 */
import type * as M from "./model.ts"
import { badRequest, SimFailure, type State } from "./state.ts"

export interface SimRequest {
  readonly method: string
  readonly service: M.ServiceName
  /** Path below the service's versioned root. */
  readonly route: string
  readonly query: URLSearchParams
  readonly body: unknown
  /** Request headers, lower-case names. */
  readonly headers: Readonly<Record<string, string | undefined>>
  readonly token: M.Token | undefined
  /** Requested microversion (compute and volume), `[major, minor]`. */
  readonly microversion: readonly [number, number]
  /** Public URL of the service's versioned root, for links. */
  readonly root: string
}

export interface SimResponse {
  readonly status: number
  readonly body?: unknown
  readonly headers?: Readonly<Record<string, string>>
}

export type Params = Readonly<Record<string, string>>
export type Handler = (state: State, req: SimRequest, params: Params) => SimResponse

export interface Route {
  readonly method: string
  readonly pattern: RegExp
  readonly keys: ReadonlyArray<string>
  readonly handler: Handler
}

export const route = (method: string, path: string, handler: Handler): Route => {
  const keys: Array<string> = []
  const source = path.replace(/:([a-z_]+)/gi, (_, key: string) => {
    keys.push(key)
    return "([^/]+)"
  })
  return { method, pattern: new RegExp(`^${source}/?$`), keys, handler }
}

/** Error types of a request no route matches (rendered like the real services' routers do). */
export const routeMissing404 = "HTTPNotFound"
export const routeMissing405 = "HTTPMethodNotAllowed"

export const dispatch = (routes: ReadonlyArray<Route>, state: State, req: SimRequest): SimResponse => {
  let pathMatched = false
  for (const r of routes) {
    const m = r.pattern.exec(req.route)
    if (m === null) continue
    pathMatched = true
    if (r.method !== req.method) continue
    const params: Record<string, string> = {}
    r.keys.forEach((key, i) => {
      params[key] = decodeURIComponent(m[i + 1]!)
    })
    return r.handler(state, req, params)
  }
  // What Zed answers for a path or a method it has no route for: Nova and
  // Cinder say 404 to both; Neutron, Glance and Keystone say 405 to a known
  // path with another method. `core` renders each in the service's shape.
  if (pathMatched && req.service !== "compute" && req.service !== "volumev3") {
    throw new SimFailure(
      405,
      req.service === "network"
        ? "The server could not comply with the request since it is either malformed or otherwise incorrect."
        : `The method ${req.method} is not allowed for this resource.`,
      routeMissing405
    )
  }
  throw new SimFailure(404, "The resource could not be found.", routeMissing404)
}

export const json = (status: number, body: unknown, headers?: Record<string, string>): SimResponse =>
  headers === undefined ? { status, body } : { status, body, headers }

export const empty = (status: number): SimResponse => ({ status })

// ---------------------------------------------------------------- bodies

export const isRecord = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** The object under `key` of the request body (`{"server": {...}}`), or 400. */
export const member = (req: SimRequest, key: string): Record<string, unknown> => {
  if (!isRecord(req.body) || !isRecord(req.body[key])) {
    throw badRequest(`Malformed request body: expected an object under '${key}'`)
  }
  return req.body[key] as Record<string, unknown>
}

export const str = (o: Record<string, unknown>, key: string): string | undefined => {
  const v = o[key]
  if (v === undefined || v === null) return undefined
  if (typeof v !== "string")
    throw badRequest(`Invalid input for field/attribute ${key}. Value: ${JSON.stringify(v)}. is not a string`)
  return v
}

export const num = (o: Record<string, unknown>, key: string): number | undefined => {
  const v = o[key]
  if (v === undefined || v === null) return undefined
  const n = typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v
  if (typeof n !== "number" || !Number.isFinite(n)) {
    throw badRequest(`Invalid input for field/attribute ${key}. Value: ${JSON.stringify(v)}. is not a number`)
  }
  return n
}

export const bool = (o: Record<string, unknown>, key: string): boolean | undefined => {
  const v = o[key]
  if (v === undefined || v === null) return undefined
  if (typeof v === "boolean") return v
  if (typeof v === "string" && /^(true|false|1|0|yes|no)$/i.test(v)) return /^(true|1|yes)$/i.test(v)
  throw badRequest(`Invalid input for field/attribute ${key}. Value: ${JSON.stringify(v)}. is not a boolean`)
}

export const strings = (o: Record<string, unknown>, key: string): Array<string> | undefined => {
  const v = o[key]
  if (v === undefined || v === null) return undefined
  if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
    throw badRequest(`Invalid input for field/attribute ${key}. Value: ${JSON.stringify(v)}. is not a list of strings`)
  }
  return v as Array<string>
}

export const stringMap = (o: Record<string, unknown>, key: string): Record<string, string> | undefined => {
  const v = o[key]
  if (v === undefined || v === null) return undefined
  if (!isRecord(v)) throw badRequest(`Invalid input for field/attribute ${key}: expected an object`)
  const out: Record<string, string> = {}
  for (const [k, value] of Object.entries(v)) {
    if (typeof value !== "string") throw badRequest(`Invalid input for field/attribute ${key}.${k}: not a string`)
    out[k] = value
  }
  return out
}

// ---------------------------------------------------------------- queries

/** Values of a query parameter; `a=x,y` and `a=x&a=y` both give `[x, y]` when `split`. */
export const queryValues = (query: URLSearchParams, key: string, split = false): Array<string> => {
  const all = query.getAll(key)
  return split ? all.flatMap((v) => v.split(",")).filter((v) => v.length > 0) : all
}

/** Neutron/Nova/Keystone tag filters: `tags`, `tags-any`, `not-tags`, `not-tags-any`. */
export const tagFilter = (query: URLSearchParams) => {
  const all = queryValues(query, "tags", true)
  const any = queryValues(query, "tags-any", true)
  const notAll = queryValues(query, "not-tags", true)
  const notAny = queryValues(query, "not-tags-any", true)
  return (tags: ReadonlyArray<string>): boolean =>
    all.every((t) => tags.includes(t)) &&
    (any.length === 0 || any.some((t) => tags.includes(t))) &&
    (notAll.length === 0 || !notAll.every((t) => tags.includes(t))) &&
    !notAny.some((t) => tags.includes(t))
}

const reserved = new Set([
  "limit",
  "marker",
  "fields",
  "sort_key",
  "sort_dir",
  "page_reverse",
  "tags",
  "tags-any",
  "not-tags",
  "not-tags-any",
  "all_tenants",
  "all_projects"
])

/** Neutron-style filtering: every other query parameter must equal the field (any of its values). */
export const fieldFilter = (query: URLSearchParams, special: ReadonlySet<string> = new Set()) => {
  const keys = [...new Set(query.keys())].filter((k) => !reserved.has(k) && !special.has(k))
  return (item: object): boolean =>
    keys.every((key) => {
      const wanted = query.getAll(key)
      const value = (item as Record<string, unknown>)[key]
      if (value === undefined) return true
      const text = value === null ? "" : String(value)
      return wanted.some((w) => (typeof value === "boolean" ? w.toLowerCase() === String(value) : w === text))
    })
}

/** Neutron's `fields=` selection. */
export const selectFields = (query: URLSearchParams, item: Record<string, unknown>): Record<string, unknown> => {
  const fields = queryValues(query, "fields", true)
  if (fields.length === 0) return item
  const out: Record<string, unknown> = {}
  for (const f of fields) if (f in item) out[f] = item[f]
  return out
}

export type PageStyle = "links" | "glance"

/**
 * One page of `items` after `marker`, at most `limit` (capped by the
 * simulator's max page size), with a next link when the page is full —
 * as Nova, Cinder and Neutron do, the last page may be empty.
 */
export const paginate = <T>(
  state: State,
  req: SimRequest,
  items: ReadonlyArray<T>,
  idOf: (item: T) => string,
  collection: string,
  style: PageStyle = "links"
): { readonly page: ReadonlyArray<T>; readonly extra: Record<string, unknown> } => {
  const limitParam = req.query.get("limit")
  const requested = limitParam === null ? undefined : Number(limitParam)
  if (requested !== undefined && (!Number.isInteger(requested) || requested < 0)) {
    throw badRequest(`limit must be a non-negative integer, got ${limitParam}`)
  }
  const limit = Math.min(requested ?? state.settings.maxPageSize, state.settings.maxPageSize)
  const marker = req.query.get("marker")
  let start = 0
  if (marker !== null) {
    const index = items.findIndex((i) => idOf(i) === marker)
    if (index === -1) throw badRequest(`marker [${marker}] not found`)
    start = index + 1
  }
  const page = items.slice(start, start + limit)
  const extra: Record<string, unknown> = {}
  if (page.length > 0 && page.length === limit) {
    const next = new URLSearchParams(req.query)
    next.set("limit", String(limit))
    next.set("marker", idOf(page[page.length - 1]!))
    const href = `${req.root}${req.route}?${next.toString()}`
    if (style === "glance") {
      extra.next = `${new URL(href).pathname.replace(/^.*?(\/v2\/)/, "/v2/")}?${next.toString()}`
    } else {
      extra[`${collection}_links`] = [{ rel: "next", href }]
    }
  }
  return { page, extra }
}

// ---------------------------------------------------------------- microversions

export const parseVersion = (text: string): readonly [number, number] | undefined => {
  const m = /^(\d+)\.(\d+)$/.exec(text.trim())
  return m === null ? undefined : [Number(m[1]), Number(m[2])]
}

export const atLeast = (req: SimRequest, version: string): boolean => {
  const [major, minor] = parseVersion(version)!
  return req.microversion[0] > major || (req.microversion[0] === major && req.microversion[1] >= minor)
}

export const versionText = (v: readonly [number, number]) => `${v[0]}.${v[1]}`

/** Project the token is scoped to; services need one. */
export const projectOf = (req: SimRequest): string => {
  const project = req.token?.projectId
  if (project === undefined) throw new SimFailure(403, "The request needs a token scoped to a project.", "forbidden")
  return project
}
