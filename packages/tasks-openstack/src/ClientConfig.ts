/**
 * The configuration of the OpenStack client: the services and methods it
 * speaks, the Keystone credentials, retries, timeouts, and `openRcConfig`,
 * which reads it from the standard openrc variables.
 *
 * @since 0.1.0
 */
import { Config, type Duration, Option, type Redacted } from "effect"
import type * as pagination from "./internal/pagination.ts"

/**
 * Catalog service types the client talks to.
 *
 * @category models
 * @since 0.1.0
 */
export type Service = "compute" | "network" | "volumev3" | "identity" | "image"

/**
 * @category models
 * @since 0.1.0
 */
export type Method = "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE"

/**
 * Microversions sent when the configuration names none: without them a
 * cloud answers as compute 2.1 and volume 3.0, which lack what the handlers
 * use (server tags, host placement, volume metadata filters).
 *
 * @category constants
 * @since 0.1.0
 */
export const DEFAULT_COMPUTE_MICROVERSION = "2.79"
export const DEFAULT_VOLUME_MICROVERSION = "3.59"

/**
 * Endpoint interface of the service catalog.
 *
 * @category models
 * @since 0.1.0
 */
export type Interface = "public" | "internal" | "admin"

/**
 * Query parameters; arrays repeat the parameter (`fields=id&fields=name`).
 *
 * @category models
 * @since 0.1.0
 */
export type Query = pagination.Query

/**
 * Keystone password auth. The token is scoped to the project (by id, or by
 * name and domain), else to the domain, else unscoped.
 *
 * @category models
 * @since 0.1.0
 */
export interface PasswordAuth {
  readonly type: "password"
  readonly username?: string | undefined
  readonly userId?: string | undefined
  readonly password: Redacted.Redacted<string>
  /** Domain of the user (default: the `default` domain id). */
  readonly userDomainName?: string | undefined
  readonly userDomainId?: string | undefined
  readonly projectName?: string | undefined
  readonly projectId?: string | undefined
  /** Domain of the project when it is given by name (default: the `default` domain id). */
  readonly projectDomainName?: string | undefined
  readonly projectDomainId?: string | undefined
  /** Domain scope, used when no project is given. */
  readonly domainName?: string | undefined
  readonly domainId?: string | undefined
}

/**
 * Keystone application-credential auth (the credential fixes the project).
 *
 * @category models
 * @since 0.1.0
 */
export interface ApplicationCredentialAuth {
  readonly type: "application-credential"
  readonly id: string
  readonly secret: Redacted.Redacted<string>
}

/**
 * @category models
 * @since 0.1.0
 */
export type Auth = PasswordAuth | ApplicationCredentialAuth

/**
 * @category models
 * @since 0.1.0
 */
export interface RetryConfig {
  /** Retries after the first attempt (default 5). */
  readonly times?: number | undefined
  /** First backoff delay, doubled each time, with jitter (default 250 millis). */
  readonly baseDelay?: Duration.Input | undefined
  /** Cap of the backoff delay (default 15 seconds). */
  readonly maxDelay?: Duration.Input | undefined
  /** Cap of a server's `Retry-After` (default 60 seconds). */
  readonly maxRetryAfter?: Duration.Input | undefined
}

/**
 * @category models
 * @since 0.1.0
 */
export interface ClientConfig {
  /** Keystone URL, with or without `/v3` (e.g. `http://keystone:5000/v3`). */
  readonly authUrl: string
  /** Catalog region (default: the first endpoint of the wanted interface). */
  readonly region?: string | undefined
  /** Catalog interface (default `public`). */
  readonly interface?: Interface | undefined
  readonly auth: Auth
  /** Default compute microversion (default `2.79`, what the task handlers are written for). */
  readonly computeMicroversion?: string | undefined
  /** Default volume microversion (default `3.59`, what the task handlers are written for). */
  readonly volumeMicroversion?: string | undefined
  /** Time allowed for one HTTP exchange, body included (default 60 seconds). */
  readonly requestTimeout?: Duration.Input | undefined
  readonly retry?: RetryConfig | undefined
  /**
   * Refresh the token this long before it expires (default 5 minutes; at
   * most half the token's lifetime, so short-lived tokens are reused too).
   */
  readonly tokenRefreshMargin?: Duration.Input | undefined
  /** `limit` sent with list requests (default: the server's page size). */
  readonly pageSize?: number | undefined
  /** Endpoints to use instead of the catalog's, by service type. */
  readonly endpointOverrides?: Partial<Record<Service, string>> | undefined
}

const optionalString = (name: string): Config.Config<string | undefined> =>
  Config.String(name).pipe(Config.option, Config.map(Option.getOrUndefined))

const interfaceOf = (text: string | undefined): Interface | undefined => {
  // old openrc files say `publicURL`
  const name = text?.replace(/URL$/, "")
  return name === "public" || name === "internal" || name === "admin" ? name : undefined
}

/**
 * The configuration from the standard openrc variables: `OS_AUTH_URL`,
 * `OS_REGION_NAME`, `OS_INTERFACE`, `OS_COMPUTE_API_VERSION`,
 * `OS_VOLUME_API_VERSION`, and either `OS_APPLICATION_CREDENTIAL_ID` +
 * `OS_APPLICATION_CREDENTIAL_SECRET` or `OS_USERNAME`/`OS_USER_ID` +
 * `OS_PASSWORD` + `OS_USER_DOMAIN_NAME`/`_ID` + `OS_PROJECT_NAME`/`_ID` +
 * `OS_PROJECT_DOMAIN_NAME`/`_ID` (or `OS_DOMAIN_NAME`/`_ID` for domain scope).
 *
 * @category configuration
 * @since 0.1.0
 */
export const openRcConfig: Config.Config<ClientConfig> = Config.all({
  authUrl: Config.String("OS_AUTH_URL"),
  region: optionalString("OS_REGION_NAME"),
  interface: Config.map(optionalString("OS_INTERFACE"), interfaceOf),
  computeMicroversion: optionalString("OS_COMPUTE_API_VERSION"),
  volumeMicroversion: optionalString("OS_VOLUME_API_VERSION"),
  credentialId: optionalString("OS_APPLICATION_CREDENTIAL_ID")
}).pipe(
  Config.flatMap(({ credentialId, ...rest }) =>
    Config.map(
      credentialId !== undefined
        ? Config.map(
            Config.Redacted("OS_APPLICATION_CREDENTIAL_SECRET"),
            (secret): Auth => ({ type: "application-credential", id: credentialId, secret })
          )
        : Config.all({
            username: optionalString("OS_USERNAME"),
            userId: optionalString("OS_USER_ID"),
            password: Config.Redacted("OS_PASSWORD"),
            userDomainName: optionalString("OS_USER_DOMAIN_NAME"),
            userDomainId: optionalString("OS_USER_DOMAIN_ID"),
            projectName: optionalString("OS_PROJECT_NAME"),
            projectId: optionalString("OS_PROJECT_ID"),
            projectDomainName: optionalString("OS_PROJECT_DOMAIN_NAME"),
            projectDomainId: optionalString("OS_PROJECT_DOMAIN_ID"),
            domainName: optionalString("OS_DOMAIN_NAME"),
            domainId: optionalString("OS_DOMAIN_ID")
          }).pipe(Config.map((password): Auth => ({ type: "password", ...password }))),
      (auth): ClientConfig => ({ ...rest, auth })
    )
  )
)
