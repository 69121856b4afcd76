/**
 * Finds the query of the next page in a collection response. OpenStack has
 * several conventions:
 * - Nova, Cinder, Neutron: `"<collection>_links": [{"rel": "next", "href": …}]`
 * - Keystone: `"links": {"next": <href or null>}`
 * - Glance: `"next": "/v2/images?marker=…"`
 * - Neutron without links: a full page (`limit` items) means "ask again with
 *   `marker=<last id>`".
 *
 * Only the query of a next link is used: the links name whatever host the
 * service thinks it has, which behind a proxy is often not the one we called.
 */
export type QueryValue = string | number | boolean | ReadonlyArray<string | number | boolean>
export type Query = Readonly<Record<string, QueryValue | undefined>>

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null && !Array.isArray(u)

const queryOf = (href: string): Query => {
  const url = new URL(href, "http://next.invalid")
  const out: Record<string, Array<string>> = {}
  for (const [k, v] of url.searchParams) {
    const list = out[k] ?? []
    list.push(v)
    out[k] = list
  }
  const query: Record<string, QueryValue> = {}
  for (const [k, v] of Object.entries(out)) query[k] = v.length === 1 ? v[0]! : v
  return query
}

const nextHref = (body: Record<string, unknown>, collectionKey: string): string | undefined => {
  for (const key of [`${collectionKey}_links`, "links"]) {
    const links = body[key]
    if (Array.isArray(links)) {
      const next = links.find((l) => isRecord(l) && l.rel === "next" && typeof l.href === "string")
      if (next) return next.href as string
    } else if (isRecord(links) && typeof links.next === "string" && links.next.length > 0) {
      return links.next
    }
  }
  return typeof body.next === "string" && body.next.length > 0 ? body.next : undefined
}

export interface Page {
  readonly items: ReadonlyArray<unknown>
  readonly next: Query | undefined
}

/** Items of a page and the query of the following one (undefined: last page). */
export const readPage = (body: unknown, collectionKey: string, sent: Query): Page | string => {
  if (!isRecord(body)) return "the response is not a JSON object"
  const items = body[collectionKey]
  if (!Array.isArray(items)) return `the response has no "${collectionKey}" array`
  if (items.length === 0) return { items, next: undefined }
  const href = nextHref(body, collectionKey)
  if (href !== undefined) return { items, next: queryOf(href) }
  const limit = Number(sent.limit)
  const last = items[items.length - 1]
  if (Number.isFinite(limit) && limit > 0 && items.length >= limit && isRecord(last) && typeof last.id === "string") {
    return { items, next: { ...sent, marker: last.id } }
  }
  return { items, next: undefined }
}

/** A stable text form of a query, to notice a server that sends us in circles. */
export const queryKey = (query: Query): string =>
  JSON.stringify(
    Object.entries(query)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  )
