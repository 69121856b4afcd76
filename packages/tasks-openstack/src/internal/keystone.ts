/**
 * Keystone v3: the body of `POST /v3/auth/tokens` for password and
 * application-credential auth, the schema of its answer, and the service
 * catalog lookup (type, region, interface).
 */
import { Option, Redacted, Schema } from "effect"
import type { Auth, Interface, PasswordAuth } from "../ClientConfig.ts"

/** Where a token is scoped: the configured scope, or an explicit project id. */
export type Scope = { readonly _tag: "configured" } | { readonly _tag: "project"; readonly projectId: string }

export const scopeKey = (scope: Scope): string => (scope._tag === "configured" ? "" : `project:${scope.projectId}`)

const domainRef = (id: string | undefined, name: string | undefined) =>
  id !== undefined ? { id } : name !== undefined ? { name } : { id: "default" }

const scopeBody = (auth: PasswordAuth, scope: Scope): object | undefined => {
  if (scope._tag === "project") return { project: { id: scope.projectId } }
  if (auth.projectId !== undefined) return { project: { id: auth.projectId } }
  if (auth.projectName !== undefined) {
    return { project: { name: auth.projectName, domain: domainRef(auth.projectDomainId, auth.projectDomainName) } }
  }
  if (auth.domainId !== undefined) return { domain: { id: auth.domainId } }
  if (auth.domainName !== undefined) return { domain: { name: auth.domainName } }
  return undefined
}

/**
 * The JSON text of the token request. Built as text at the last moment so
 * that the secret only ever lives in the request body.
 */
export const authRequestBody = (auth: Auth, scope: Scope): string => {
  if (auth.type === "application-credential") {
    return JSON.stringify({
      auth: {
        identity: {
          methods: ["application_credential"],
          application_credential: { id: auth.id, secret: Redacted.value(auth.secret) }
        }
      }
    })
  }
  const user =
    auth.userId !== undefined
      ? { id: auth.userId, password: Redacted.value(auth.password) }
      : {
          name: auth.username,
          domain: domainRef(auth.userDomainId, auth.userDomainName),
          password: Redacted.value(auth.password)
        }
  const s = scopeBody(auth, scope)
  return JSON.stringify({
    auth: { identity: { methods: ["password"], password: { user } }, ...(s === undefined ? {} : { scope: s }) }
  })
}

/** The secrets of an auth configuration, to scrub from anything we report. */
export const secretsOf = (auth: Auth): ReadonlyArray<string> =>
  [auth.type === "password" ? Redacted.value(auth.password) : Redacted.value(auth.secret)].filter((s) => s.length > 0)

const Endpoint = Schema.Struct({
  interface: Schema.String,
  url: Schema.String,
  region: Schema.optional(Schema.NullOr(Schema.String)),
  region_id: Schema.optional(Schema.NullOr(Schema.String))
})

const CatalogEntry = Schema.Struct({
  type: Schema.String,
  name: Schema.optional(Schema.String),
  endpoints: Schema.Array(Endpoint)
})

export type Catalog = ReadonlyArray<typeof CatalogEntry.Type>

const Named = Schema.Struct({ id: Schema.String, name: Schema.optional(Schema.String) })

export const TokenResponse = Schema.Struct({
  token: Schema.Struct({
    expires_at: Schema.String,
    issued_at: Schema.optional(Schema.String),
    catalog: Schema.optional(Schema.Array(CatalogEntry)),
    user: Schema.optional(Named),
    project: Schema.optional(
      Schema.Struct({
        id: Schema.String,
        name: Schema.optional(Schema.String),
        domain: Schema.optional(Named)
      })
    ),
    domain: Schema.optional(Named)
  })
})

export type TokenResponse = typeof TokenResponse.Type

/** Catalog types tried for a service, in order (Cinder's newer name is `block-storage`). */
const catalogTypes = (service: string): ReadonlyArray<string> =>
  service === "volumev3" ? ["volumev3", "block-storage"] : [service]

/** The endpoint URL for a service type, region and interface. */
export const findEndpoint = (
  catalog: Catalog,
  service: string,
  region: string | undefined,
  iface: Interface
): Option.Option<string> => {
  for (const type of catalogTypes(service)) {
    for (const entry of catalog) {
      if (entry.type !== type) continue
      const found = entry.endpoints.find(
        (e) =>
          (e.interface === iface || e.interface === `${iface}URL`) &&
          (region === undefined || e.region_id === region || e.region === region)
      )
      if (found) return Option.some(found.url)
    }
  }
  return Option.none()
}

/**
 * The versioned API root of a service. Catalogs register Neutron, Glance and
 * sometimes Keystone without a version; Nova and Cinder with one (Cinder's
 * also with the project id).
 */
export const versionedRoot = (service: string, url: string): string => {
  const base = url.replace(/\/+$/, "")
  const suffix = service === "network" ? "/v2.0" : service === "image" ? "/v2" : service === "identity" ? "/v3" : ""
  return suffix === "" || base.endsWith(suffix) ? base : `${base}${suffix}`
}
