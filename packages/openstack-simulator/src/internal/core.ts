/**
 * One request through the simulator, independent of the HTTP server: find
 * the service from the path (`/identity`, `/compute/v2.1`, `/network/v2.0`,
 * `/volume/v3/<project>`, `/image/v2`, optionally under
 * `/_/<region>/<interface>`), apply injected faults, check the token and the
 * microversion, run the handler, render errors the way each service does,
 * and log the request.
 */
import * as cinder from "./cinder.ts"
import * as glance from "./glance.ts"
import {
  parseVersion,
  routeMissing404,
  routeMissing405,
  type SimRequest,
  type SimResponse,
  versionText
} from "./http.ts"
import * as keystone from "./keystone.ts"
import type * as M from "./model.ts"
import * as neutron from "./neutron.ts"
import * as nova from "./nova.ts"
import { advance, matches, SimFailure, type State, uuid } from "./state.ts"

export interface Incoming {
  readonly method: string
  /** Path and query, as in the request line. */
  readonly url: string
  readonly headers: Readonly<Record<string, string | undefined>>
  readonly body: string
}

export interface Outcome {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: string
  /** Leave the connection open without answering, or drop it, after the side effect. */
  readonly abandon: "hang" | "close" | undefined
  readonly delayMillis: number
}

interface Located {
  readonly service: M.ServiceName | "unknown"
  readonly route: string
  readonly root: string
  readonly region: string
  readonly iface: string
}

const locate = (state: State, path: string): Located => {
  let rest = path
  let region = state.settings.regions[0] ?? "RegionOne"
  let iface = "public"
  let prefix = ""
  const scoped = /^\/_\/([^/]+)\/(public|internal|admin)(\/.*)$/.exec(rest)
  if (scoped !== null) {
    region = decodeURIComponent(scoped[1]!)
    iface = scoped[2]!
    rest = scoped[3]!
    prefix = `/_/${scoped[1]}/${iface}`
  }
  const base = `${state.baseUrl}${prefix}`
  const known: ReadonlyArray<readonly [M.ServiceName, RegExp]> = [
    ["identity", /^(\/identity\/v3)(\/.*)?$/],
    ["compute", /^(\/compute\/v2\.1)(\/.*)?$/],
    ["network", /^(\/network\/v2\.0)(\/.*)?$/],
    ["volumev3", /^(\/volume\/v3(?:\/[0-9a-f]{32})?)(\/.*)?$/],
    ["image", /^(\/image\/v2)(\/.*)?$/]
  ]
  for (const [service, re] of known) {
    const m = re.exec(rest)
    if (m !== null) return { service, route: m[2] ?? "/", root: `${base}${m[1]}`, region, iface }
  }
  return { service: "unknown", route: rest, root: base, region, iface }
}

const titles: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  409: "Conflict",
  413: "Request Entity Too Large",
  429: "Too Many Requests",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout"
}

const novaKeys: Record<number, string> = {
  400: "badRequest",
  403: "forbidden",
  404: "itemNotFound",
  405: "HTTPMethodNotAllowed",
  // Nova and Cinder both answer an unsupported microversion with this key
  406: "computeFault",
  409: "conflictingRequest",
  413: "overLimit",
  429: "overLimit",
  500: "computeFault",
  501: "notImplemented",
  503: "serviceUnavailable"
}

/** The error body each service would send. */
const errorBody = (
  service: M.ServiceName | "unknown",
  status: number,
  message: string,
  type: string | undefined,
  acceptsJson: boolean
): { readonly contentType: string; readonly body: string } => {
  const title = titles[status] ?? "Error"
  // webob's error page: JSON when the client accepts JSON (as the client
  // does), else HTML; the message keeps webob's line breaks either way
  const html = () =>
    acceptsJson
      ? {
          contentType: "application/json",
          body: JSON.stringify({ message: `${message}<br /><br />\n\n\n`, code: `${status} ${title}`, title })
        }
      : {
          contentType: "text/html; charset=UTF-8",
          body: `<html>\n <head>\n  <title>${status} ${title}</title>\n </head>\n <body>\n  <h1>${status} ${title}</h1>\n  ${message}<br /><br />\n\n\n\n </body>\n</html>`
        }
  // no route for the path (or, for Nova and Cinder, the method): the routers
  // of every service but Neutron answer in HTML
  const routeMissing = (status === 404 && type === routeMissing404) || (status === 405 && type === routeMissing405)
  if (routeMissing && service === "identity" && status === 404) {
    // Keystone is a Flask app: Flask's own page, whatever the client accepts
    return {
      contentType: "text/html; charset=utf-8",
      body: `<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.</p>\n`
    }
  }
  if (routeMissing && service !== "network" && service !== "identity") return html()
  if (status === 401 || service === "identity") {
    // keystonemiddleware answers 401 for every service in Keystone's shape
    return {
      contentType: "application/json",
      body: JSON.stringify({ error: { code: status, message, title } })
    }
  }
  switch (service) {
    case "network":
      return {
        contentType: "application/json",
        body: JSON.stringify({ NeutronError: { type: type ?? title.replace(/ /g, ""), message, detail: "" } })
      }
    case "compute":
    case "volumev3":
      return {
        contentType: "application/json",
        body: JSON.stringify({ [novaKeys[status] ?? "computeFault"]: { code: status, message } })
      }
    default:
      // Glance and anything unknown: webob's HTML page
      return html()
  }
}

/** What each service says about a request body that is not JSON. */
const malformedBody = (service: M.ServiceName): SimFailure => {
  switch (service) {
    case "network":
      return new SimFailure(400, "Body contains invalid data", "HTTPBadRequest")
    case "image":
      return new SimFailure(400, "Malformed JSON in request body.", "HTTPBadRequest")
    case "identity":
      return new SimFailure(
        400,
        "Expecting to find valid JSON in request body. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.",
        "ValidationError"
      )
    default:
      return new SimFailure(400, "Malformed request body", "MalformedRequestBody")
  }
}

const maxVersion = (state: State, service: M.ServiceName): string | undefined =>
  service === "compute"
    ? state.settings.computeMaxMicroversion
    : service === "volumev3"
      ? state.settings.volumeMaxMicroversion
      : undefined

const minVersion = (service: M.ServiceName): string => (service === "compute" ? "2.1" : "3.0")

/** The microversion asked for in `OpenStack-API-Version` (or Nova's legacy header). */
const requestedVersion = (
  state: State,
  service: M.ServiceName,
  headers: Readonly<Record<string, string | undefined>>
): readonly [number, number] => {
  const max = maxVersion(state, service)
  if (max === undefined) return [0, 0]
  const serviceName = service === "compute" ? "compute" : "volume"
  let text: string | undefined
  const header = headers["openstack-api-version"]
  if (header !== undefined) {
    for (const part of header.split(",")) {
      const [name, version] = part.trim().split(/\s+/)
      if (name === serviceName && version !== undefined) text = version
    }
  }
  if (text === undefined && service === "compute") text = headers["x-openstack-nova-api-version"]
  if (text === undefined) return parseVersion(minVersion(service))!
  if (text === "latest") return parseVersion(max)!
  const version = parseVersion(text)
  const lo = parseVersion(minVersion(service))!
  const hi = parseVersion(max)!
  const below = version !== undefined && (version[0] < lo[0] || (version[0] === lo[0] && version[1] < lo[1]))
  const above = version !== undefined && (version[0] > hi[0] || (version[0] === hi[0] && version[1] > hi[1]))
  if (version === undefined || below || above) {
    throw new SimFailure(
      406,
      `Version ${text} is not supported by the API. Minimum is ${minVersion(service)} and maximum is ${max}.`,
      "HTTPNotAcceptable"
    )
  }
  return version
}

const takeRule = <R extends { remaining: number } & Parameters<typeof matches>[0]>(
  rules: Array<R>,
  service: M.ServiceName | "unknown",
  method: string,
  route: string
): R | undefined => {
  const index = rules.findIndex((r) => matches(r, service, method, route))
  if (index === -1) return undefined
  const rule = rules[index]!
  rule.remaining -= 1
  if (rule.remaining <= 0) rules.splice(index, 1)
  return rule
}

const handlers: Record<M.ServiceName, (state: State, req: SimRequest) => SimResponse> = {
  identity: keystone.handle,
  compute: nova.handle,
  network: neutron.handle,
  volumev3: cinder.handle,
  image: glance.handle
}

export const handle = (state: State, incoming: Incoming, now: number): Outcome => {
  advance(state, now)
  const url = new URL(incoming.url, "http://simulator.invalid")
  const method = incoming.method.toUpperCase()
  const where = locate(state, url.pathname)
  const requestId = `req-${uuid(state)}`
  let fault: M.RequestRecord["fault"]
  let abandon: Outcome["abandon"]
  let delayMillis = 0
  const headers: Record<string, string> = { "x-openstack-request-id": requestId }
  // Cinder sends the Nova-style header too
  if (where.service === "compute" || where.service === "volumev3") headers["x-compute-request-id"] = requestId

  const respond = (status: number, body: string, contentType?: string): Outcome => {
    if (contentType !== undefined && body.length > 0) headers["content-type"] = contentType
    state.requests.push({
      at: now,
      method,
      path: url.pathname,
      query: url.search.replace(/^\?/, ""),
      service: where.service,
      route: where.route,
      region: where.region,
      interface: where.iface,
      status: abandon === undefined ? status : 0,
      requestId,
      apiVersionHeader: incoming.headers["openstack-api-version"],
      novaApiVersionHeader: incoming.headers["x-openstack-nova-api-version"],
      fault
    })
    return { status, headers, body, abandon, delayMillis }
  }
  const acceptsJson = /application\/json|\*\/\*/.test(incoming.headers.accept ?? "")
  const failWith = (status: number, message: string, type: string | undefined) => {
    const rendered = errorBody(where.service, status, message, type, acceptsJson)
    return respond(status, rendered.body, rendered.contentType)
  }

  const injected = takeRule(state.failRules, where.service, method, where.route)
  if (injected !== undefined) {
    fault = "fail"
    if (injected.retryAfter !== undefined) headers["retry-after"] = injected.retryAfter
    if (injected.body !== undefined) {
      return respond(
        injected.status,
        typeof injected.body === "string" ? injected.body : JSON.stringify(injected.body),
        typeof injected.body === "string" ? "text/plain" : "application/json"
      )
    }
    return failWith(injected.status, injected.message ?? `Injected failure (HTTP ${injected.status})`, undefined)
  }
  const delayed = takeRule(state.delayRules, where.service, method, where.route)
  if (delayed !== undefined) {
    fault = "delay"
    delayMillis = delayed.delayMillis
  }

  if (where.service === "unknown") return failWith(404, "The resource could not be found.", undefined)
  try {
    const isTokenIssue =
      where.service === "identity" && where.route.replace(/\/$/, "") === "/auth/tokens" && method === "POST"
    const token = keystone.validToken(state, incoming.headers["x-auth-token"])
    if (!isTokenIssue && token === undefined) {
      headers["www-authenticate"] = `Keystone uri="${state.baseUrl}/identity"`
      throw new SimFailure(401, "The request you have made requires authentication.", "Unauthorized")
    }
    const microversion = requestedVersion(state, where.service, incoming.headers)
    if (where.service === "compute") {
      headers["openstack-api-version"] = `compute ${versionText(microversion)}`
      headers["x-openstack-nova-api-version"] = versionText(microversion)
    } else if (where.service === "volumev3") {
      headers["openstack-api-version"] = `volume ${versionText(microversion)}`
    }
    let body: unknown
    if (incoming.body.trim().length > 0) {
      try {
        body = JSON.parse(incoming.body)
      } catch {
        throw malformedBody(where.service)
      }
    }
    const response = handlers[where.service](state, {
      method,
      service: where.service,
      route: where.route,
      query: url.searchParams,
      body,
      headers: incoming.headers,
      token,
      microversion,
      root: where.root
    })
    for (const [k, v] of Object.entries(response.headers ?? {})) headers[k.toLowerCase()] = v
    const sideEffect = takeRule(state.sideEffectRules, where.service, method, where.route)
    if (sideEffect !== undefined) {
      abandon = sideEffect.mode
      fault = sideEffect.mode === "hang" ? "timeout-after-side-effect" : "close-after-side-effect"
    }
    return response.body === undefined
      ? respond(response.status, "")
      : respond(response.status, JSON.stringify(response.body), "application/json")
  } catch (e) {
    if (e instanceof SimFailure) return failWith(e.status, e.message, e.type)
    const message = e instanceof Error ? e.message : String(e)
    return failWith(500, `Unexpected simulator error: ${message}`, "InternalError")
  }
}
