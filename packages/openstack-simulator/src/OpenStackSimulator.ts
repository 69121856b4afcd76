/**
 * An in-process OpenStack for tests and the demo: one HTTP server on
 * 127.0.0.1 (a free port) that answers the Keystone, Nova, Neutron, Cinder and
 * Glance calls the task handlers make, with the request and error shapes of a
 * real Zed cloud and state machines that take time (a configurable step):
 * servers BUILD → ACTIVE (or ERROR), stop → SHUTOFF, volumes creating →
 * available, attached → in-use, deleting → gone, ports DOWN → ACTIVE with
 * their server.
 *
 * Tests hold the `Simulator`: `faults` injects failures (HTTP errors with
 * `Retry-After`, a timeout after the side effect, servers going to ERROR, slow
 * transitions), `inventory` shows every resource and `requests` every call.
 *
 * ```ts
 * const sim = yield* OpenStackSimulator.make({ stepDelay: "20 millis" })
 * const layer = OpenStackClient.layer(sim.clientConfig())
 * yield* sim.faults.failNext({ service: "compute", method: "POST", path: "/servers", status: 503, retryAfter: 1 })
 * ```
 *
 * The server uses `node:http` (also available on Deno); simulated time is the
 * Effect `Clock`: transitions due at the current time are applied before each
 * request is answered.
 *
 * @since 0.1.0
 */
import * as Http from "node:http"
import type * as OpenStackClient from "@migrator/tasks-openstack/ClientConfig"
import { Clock, Duration, Effect, FiberSet, Random, Redacted, type Scope } from "effect"
import * as core from "./internal/core.ts"
import type * as M from "./internal/model.ts"
import * as nova from "./internal/nova.ts"
import { advance, type State } from "./internal/state.ts"
import * as world from "./internal/world.ts"

export type {
  Flavor,
  FloatingIp,
  Image,
  Keypair,
  Network,
  Port,
  Project,
  Quotas,
  RequestRecord,
  Router,
  SecurityGroup,
  SecurityGroupRule,
  Server,
  ServiceName,
  Snapshot,
  Subnet,
  Volume
} from "./internal/model.ts"

/**
 * Every resource by kind, copied at the time of the read.
 *
 * @category models
 * @since 0.1.0
 */
export type Inventory = world.Inventory

/**
 * @category models
 * @since 0.1.0
 */
export interface Options {
  /** Duration of one state transition (BUILD → ACTIVE, creating → available, …). Default 50 millis. */
  readonly stepDelay?: Duration.Input | undefined
  /** Lifetime of issued tokens. Default 1 hour. */
  readonly tokenTtl?: Duration.Input | undefined
  /** Catalog regions; the first one is the default. Default `["RegionOne"]`. */
  readonly regions?: ReadonlyArray<string> | undefined
  /** Largest page a list returns (Nova's `max_limit`). Default 1000. */
  readonly maxPageSize?: number | undefined
  /** Default `2.93` (Zed). */
  readonly computeMaxMicroversion?: string | undefined
  /** Default `3.70` (Zed). */
  readonly volumeMaxMicroversion?: string | undefined
  /** Zones and their compute hosts. Default `{ nova: ["sim-compute-1", "sim-compute-2"] }`. */
  readonly availabilityZones?: Readonly<Record<string, ReadonlyArray<string>>> | undefined
  /** Cinder backends for manage-existing. Default `["sim-cinder@fake#fake"]`. */
  readonly volumeBackends?: ReadonlyArray<string> | undefined
  /** vCPUs and RAM of each compute host (the hypervisor views). Default 64 and 131072 MiB. */
  readonly hostCapacity?: { readonly vcpus: number; readonly ramMb: number } | undefined
  /** Per-project quotas (defaults are generous). */
  readonly quotas?: Partial<M.Quotas> | undefined
  /** An external flat network with a subnet, created up front. Default `{ name: "public", cidr: "172.24.4.0/24" }`; `false` for none. */
  readonly externalNetwork?: { readonly name: string; readonly cidr: string } | false | undefined
  /** Glance images. Default one, `sim-tiny`. */
  readonly images?: ReadonlyArray<{ readonly name: string; readonly id?: string | undefined }> | undefined
  /** Password of the `admin` user. */
  readonly adminPassword?: string | undefined
  /** Secret of the admin's application credential. */
  readonly applicationCredentialSecret?: string | undefined
  /** Seed of the id generator (default: from the Effect `Random`). */
  readonly seed?: number | undefined
}

/**
 * Which requests a fault applies to. `path` is below the service's versioned
 * root (`/servers`, `/auth/tokens`, …); in a string `*` matches one path
 * segment (`/servers/<star>/action`) and `**` anything.
 *
 * @category models
 * @since 0.1.0
 */
export interface Match {
  readonly service?: M.ServiceName | undefined
  readonly method?: string | undefined
  readonly path: string | RegExp
}

/**
 * @category models
 * @since 0.1.0
 */
export interface Faults {
  /** Answer the next `times` (default 1) matching requests with `status`, without doing anything. */
  readonly failNext: (
    options: Match & {
      readonly status: number
      readonly times?: number | undefined
      /** `Retry-After`: seconds, or an HTTP date. */
      readonly retryAfter?: number | string | undefined
      readonly message?: string | undefined
      /** A body to send as is (string) or as JSON, instead of the service's error shape. */
      readonly body?: unknown
    }
  ) => Effect.Effect<void>
  /**
   * Carry out the next matching requests, then never answer (`hang`, the
   * default: the client times out) or drop the connection (`close`).
   */
  readonly timeoutAfterSideEffect: (
    options: Match & { readonly times?: number | undefined; readonly mode?: "hang" | "close" | undefined }
  ) => Effect.Effect<void>
  /** Answer the next matching requests only after `delay`. */
  readonly delayNext: (
    options: Match & { readonly delay: Duration.Input; readonly times?: number | undefined }
  ) => Effect.Effect<void>
  /** The next servers created whose name matches end their build in ERROR with `message`. */
  readonly failServers: (options?: {
    readonly name?: string | RegExp | undefined
    readonly message?: string | undefined
    readonly times?: number | undefined
  }) => Effect.Effect<void>
  /** The next volumes created or managed whose name matches end in `error` (`error_managing`). */
  readonly failVolumes: (options?: {
    readonly name?: string | RegExp | undefined
    readonly times?: number | undefined
  }) => Effect.Effect<void>
  /** An existing server goes to ERROR now (false when there is no such server). */
  readonly errorServer: (serverId: string, message?: string) => Effect.Effect<boolean>
  /** Transitions scheduled from now on take `stepDelay`. */
  readonly slowTransitions: (stepDelay: Duration.Input) => Effect.Effect<void>
  /** What `os-getConsoleOutput` returns for a server. */
  readonly setConsoleOutput: (serverId: string, output: string) => Effect.Effect<void>
  /** Invalidates every issued token (clients get 401 and must authenticate again). */
  readonly revokeTokens: Effect.Effect<void>
  /** Removes every pending fault and restores the step delay. */
  readonly clear: Effect.Effect<void>
}

/**
 * @category models
 * @since 0.1.0
 */
export interface Simulator {
  /** `http://127.0.0.1:<port>` */
  readonly url: string
  /** Keystone, e.g. `http://127.0.0.1:<port>/identity/v3`. */
  readonly authUrl: string
  readonly region: string
  readonly admin: {
    readonly userId: string
    readonly username: string
    readonly password: string
    readonly userDomainName: string
    readonly projectId: string
    readonly projectName: string
    readonly projectDomainName: string
  }
  readonly applicationCredential: { readonly id: string; readonly secret: string }
  /** Id of the external network created up front (if any). */
  readonly externalNetworkId: string | undefined
  /** First backend for manage-existing. */
  readonly volumeBackend: string
  /** A client configuration for this simulator (password auth unless told otherwise). */
  readonly clientConfig: (
    overrides?: Partial<OpenStackClient.ClientConfig> & {
      readonly authType?: "password" | "application-credential" | undefined
    }
  ) => OpenStackClient.ClientConfig
  readonly faults: Faults
  /** Every resource by kind (transitions due now applied first). */
  readonly inventory: Effect.Effect<Inventory>
  /** Every request so far, oldest first. */
  readonly requests: Effect.Effect<ReadonlyArray<M.RequestRecord>>
  readonly clearRequests: Effect.Effect<void>
}

const millis = (d: Duration.Input) => Duration.toMillis(Duration.fromInputUnsafe(d))

const headerRecord = (headers: Http.IncomingHttpHeaders): Record<string, string | undefined> => {
  const out: Record<string, string | undefined> = {}
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v
  return out
}

const listen = (handler: Http.RequestListener) =>
  Effect.callback<Http.Server>((resume) => {
    const server = Http.createServer(handler)
    server.keepAliveTimeout = 1000
    server.once("error", (error) => resume(Effect.die(error)))
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  })

const close = (server: Http.Server) =>
  Effect.callback<void>((resume) => {
    server.closeAllConnections()
    server.close(() => resume(Effect.void))
  })

/**
 * Starts a simulator for the life of the scope.
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (options: Options = {}): Effect.Effect<Simulator, never, Scope.Scope> =>
  Effect.gen(function* () {
    // answers run as fibers of this scope: closing it interrupts the pending ones
    const runFork = yield* FiberSet.makeRuntime<never>()
    const now = yield* Clock.currentTimeMillis
    const seed = options.seed ?? (yield* Random.nextIntBetween(0, 2 ** 31 - 1))
    const adminPassword = options.adminPassword ?? "sim-admin-password"
    const applicationCredentialSecret = options.applicationCredentialSecret ?? "sim-appcred-secret"
    const volumeBackends = options.volumeBackends ?? ["sim-cinder@fake#fake"]
    const { state, identities } = world.make({
      settings: {
        regions: options.regions ?? ["RegionOne"],
        tokenTtlMillis: millis(options.tokenTtl ?? "1 hour"),
        maxPageSize: options.maxPageSize ?? 1000,
        computeMaxMicroversion: options.computeMaxMicroversion ?? "2.93",
        volumeMaxMicroversion: options.volumeMaxMicroversion ?? "3.70",
        availabilityZones: options.availabilityZones ?? { nova: ["sim-compute-1", "sim-compute-2"] },
        volumeBackends,
        hostCapacity: options.hostCapacity ?? { vcpus: 64, ramMb: 131_072 },
        quotas: {
          instances: 100,
          cores: 400,
          ram: 1024 * 1024,
          volumes: 200,
          gigabytes: 10_000,
          networks: 100,
          ports: 500,
          floatingips: 100,
          security_groups: 100,
          ...options.quotas
        }
      },
      stepDelayMillis: millis(options.stepDelay ?? "50 millis"),
      seed,
      now,
      adminPassword,
      applicationCredentialSecret,
      externalNetwork:
        options.externalNetwork === false
          ? undefined
          : (options.externalNetwork ?? { name: "public", cidr: "172.24.4.0/24" }),
      images: options.images ?? [{ name: "sim-tiny" }]
    })

    const answer = (req: Http.IncomingMessage, res: Http.ServerResponse, body: string) =>
      Effect.gen(function* () {
        const outcome = core.handle(
          state,
          { method: req.method ?? "GET", url: req.url ?? "/", headers: headerRecord(req.headers), body },
          yield* Clock.currentTimeMillis
        )
        if (outcome.delayMillis > 0) yield* Effect.sleep(Duration.millis(outcome.delayMillis))
        yield* Effect.sync(() => {
          if (outcome.abandon === "close") {
            // start the answer, then drop the connection: the client cannot
            // mistake it for a request that never arrived and send it again
            res.writeHead(outcome.status, { ...outcome.headers, "content-length": String(outcome.body.length + 64) })
            res.write(outcome.body.slice(0, 1), () => req.socket.destroy())
            return
          }
          // "hang": the side effect happened; the answer never comes
          if (outcome.abandon === "hang") return
          res.writeHead(outcome.status, outcome.headers)
          res.end(outcome.body)
        })
      })

    const handler: Http.RequestListener = (req, res) => {
      const chunks: Array<Uint8Array> = []
      req.on("data", (chunk: Uint8Array) => chunks.push(chunk))
      req.on("end", () => {
        const body = new TextDecoder().decode(concat(chunks))
        runFork(answer(req, res, body))
      })
    }

    const server = yield* Effect.acquireRelease(listen(handler), close)
    const address = server.address()
    const port = typeof address === "object" && address !== null ? address.port : 0
    state.baseUrl = `http://127.0.0.1:${port}`

    const sync = <A>(f: (state: State) => A): Effect.Effect<A> =>
      Effect.flatMap(Clock.currentTimeMillis, (t) =>
        Effect.sync(() => {
          advance(state, t)
          return f(state)
        })
      )

    const faults: Faults = {
      failNext: (o) =>
        sync((s) => {
          s.failRules.push({
            service: o.service,
            method: o.method,
            path: o.path,
            remaining: o.times ?? 1,
            status: o.status,
            retryAfter: o.retryAfter === undefined ? undefined : String(o.retryAfter),
            message: o.message,
            body: o.body
          })
        }),
      timeoutAfterSideEffect: (o) =>
        sync((s) => {
          s.sideEffectRules.push({
            service: o.service,
            method: o.method,
            path: o.path,
            remaining: o.times ?? 1,
            mode: o.mode ?? "hang"
          })
        }),
      delayNext: (o) =>
        sync((s) => {
          s.delayRules.push({
            service: o.service,
            method: o.method,
            path: o.path,
            remaining: o.times ?? 1,
            delayMillis: millis(o.delay)
          })
        }),
      failServers: (o) =>
        sync((s) => {
          s.serverFailRules.push({
            name: o?.name,
            remaining: o?.times ?? 1,
            message: o?.message ?? "No valid host was found. There are not enough hosts available."
          })
        }),
      failVolumes: (o) =>
        sync((s) => {
          s.volumeFailRules.push({ name: o?.name, remaining: o?.times ?? 1, message: "" })
        }),
      errorServer: (id, message) => sync((s) => nova.crashServer(s, id, message ?? "Simulated hypervisor failure")),
      slowTransitions: (d) =>
        sync((s) => {
          s.stepDelayMillis = millis(d)
        }),
      setConsoleOutput: (id, output) =>
        sync((s) => {
          const server = s.servers.get(id)
          if (server !== undefined) server.console_output = output
        }),
      revokeTokens: sync((s) => s.tokens.clear()),
      clear: sync((s) => {
        s.failRules.length = 0
        s.sideEffectRules.length = 0
        s.delayRules.length = 0
        s.serverFailRules.length = 0
        s.volumeFailRules.length = 0
        s.stepDelayMillis = s.initialStepDelayMillis
      })
    }

    const region = state.settings.regions[0] ?? "RegionOne"
    const authUrl = `${state.baseUrl}/identity/v3`
    const simulator: Simulator = {
      url: state.baseUrl,
      authUrl,
      region,
      admin: {
        userId: identities.adminUserId,
        username: "admin",
        password: adminPassword,
        userDomainName: "Default",
        projectId: identities.adminProjectId,
        projectName: "admin",
        projectDomainName: "Default"
      },
      applicationCredential: { id: identities.applicationCredentialId, secret: applicationCredentialSecret },
      externalNetworkId: identities.externalNetworkId,
      volumeBackend: volumeBackends[0] ?? "sim-cinder@fake#fake",
      clientConfig: (overrides = {}) => {
        const { authType, ...rest } = overrides
        return {
          authUrl,
          region,
          computeMicroversion: "2.79",
          volumeMicroversion: "3.59",
          auth:
            authType === "application-credential"
              ? {
                  type: "application-credential",
                  id: identities.applicationCredentialId,
                  secret: Redacted.make(applicationCredentialSecret)
                }
              : {
                  type: "password",
                  username: "admin",
                  password: Redacted.make(adminPassword),
                  userDomainName: "Default",
                  projectName: "admin",
                  projectDomainName: "Default"
                },
          ...rest
        }
      },
      faults,
      inventory: sync(world.inventory),
      requests: sync((s) => [...s.requests]),
      clearRequests: sync((s) => {
        s.requests.length = 0
      })
    }
    return simulator
  })

const concat = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let offset = 0
  for (const c of chunks) {
    out.set(c, offset)
    offset += c.length
  }
  return out
}
