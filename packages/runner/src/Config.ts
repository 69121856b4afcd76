/**
 * The runner's configuration (SPEC §7): a file (YAML or JSON, `--config`),
 * environment variables (`MIGRATOR_*`) and command-line flags, in rising
 * order of precedence. The merged document is validated with a Schema and
 * every error names the field path and where the value came from.
 *
 * Secrets (etcd password, cluster passwords and application-credential
 * secrets) are given inline, as `{ env: NAME }` or as `{ file: path }` and
 * are held as `Redacted`: they never appear in messages, logs or the store.
 *
 * @since 0.1.0
 */

import { dirname, resolve as resolvePath } from "node:path"
import { Keys } from "@migrator/core"
import type { OpenStackClient } from "@migrator/tasks-openstack"
import { Config, Data, type Duration, Effect, type LogLevel, Option, Redacted, Schema, SchemaIssue } from "effect"
import { parse as parseYaml } from "yaml"
import { DurationText, durationOf, RetentionText, retentionOf } from "./ConfigDurations.ts"
import * as Auth from "./http/Auth.ts"

// ---- the document -----------------------------------------------------------

const NonEmpty = Schema.NonEmptyString
const PositiveInt = Schema.Int.pipe(Schema.check(Schema.isGreaterThan(0)))
const WarmUpTasks = Schema.Int.pipe(
  Schema.check(Schema.isGreaterThanOrEqualTo(0)),
  Schema.check(Schema.isLessThanOrEqualTo(100_000))
)

/** A secret: inline, from an environment variable, or from a file. */
export const SecretSource = Schema.Union([
  NonEmpty,
  Schema.Struct({ env: NonEmpty }),
  Schema.Struct({ file: NonEmpty })
])
export type SecretSource = typeof SecretSource.Type

const PasswordCredentials = Schema.Struct({
  type: Schema.Literal("password"),
  username: Schema.optionalKey(NonEmpty),
  userId: Schema.optionalKey(NonEmpty),
  password: SecretSource,
  userDomainName: Schema.optionalKey(NonEmpty),
  userDomainId: Schema.optionalKey(NonEmpty),
  projectName: Schema.optionalKey(NonEmpty),
  projectId: Schema.optionalKey(NonEmpty),
  projectDomainName: Schema.optionalKey(NonEmpty),
  projectDomainId: Schema.optionalKey(NonEmpty),
  domainName: Schema.optionalKey(NonEmpty),
  domainId: Schema.optionalKey(NonEmpty)
})

const ApplicationCredentials = Schema.Struct({
  type: Schema.Literal("application-credential"),
  id: NonEmpty,
  secret: SecretSource
})

const Cluster = Schema.Struct({
  authUrl: Schema.String.pipe(
    Schema.check(Schema.isPattern(/^https?:\/\/\S+$/, { message: "expected an http(s) URL" }))
  ),
  region: Schema.optionalKey(NonEmpty),
  interface: Schema.optionalKey(Schema.Literals(["public", "internal", "admin"])),
  /** Default compute and volume API microversions, e.g. `2.79` and `3.59`. */
  computeMicroversion: Schema.optionalKey(Schema.String.pipe(Schema.check(Schema.isPattern(/^\d+\.\d+$/)))),
  volumeMicroversion: Schema.optionalKey(Schema.String.pipe(Schema.check(Schema.isPattern(/^\d+\.\d+$/)))),
  credentials: Schema.Union([PasswordCredentials, ApplicationCredentials])
})

const ListenAddress = Schema.String.pipe(
  Schema.check(
    Schema.isPattern(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]*):\d{1,5}$/, {
      message: "expected host:port, e.g. 127.0.0.1:8080"
    })
  )
)

/** An API token of the HTTP service (see http/API.md): a name (recorded as the actor), a role and the secret. */
const ApiTokenEntry = Schema.Struct({
  name: Schema.String.pipe(Schema.check(Schema.isPattern(/^[A-Za-z0-9][A-Za-z0-9@._-]{0,63}$/))),
  role: Auth.Role,
  token: SecretSource
})

export const LogLevelName = Schema.Literals(["trace", "debug", "info", "warn", "error", "fatal", "none"])
export const LogFormat = Schema.Literals(["pretty", "json"])
export type LogFormat = typeof LogFormat.Type

/** The configuration document (file, env and flags merged). */
export const Document = Schema.Struct({
  etcd: Schema.optionalKey(
    Schema.Struct({
      endpoints: Schema.optionalKey(Schema.Union([Schema.Array(NonEmpty), Schema.String])),
      tls: Schema.optionalKey(
        Schema.Struct({
          ca: Schema.optionalKey(NonEmpty),
          cert: Schema.optionalKey(NonEmpty),
          key: Schema.optionalKey(NonEmpty)
        })
      ),
      username: Schema.optionalKey(NonEmpty),
      password: Schema.optionalKey(SecretSource),
      prefix: Schema.optionalKey(Schema.String)
    })
  ),
  runnerId: Schema.optionalKey(NonEmpty),
  leaseTtl: Schema.optionalKey(DurationText),
  shutdownGrace: Schema.optionalKey(DurationText),
  concurrency: Schema.optionalKey(
    Schema.Struct({ perRunner: Schema.optionalKey(PositiveInt), perTarget: Schema.optionalKey(PositiveInt) })
  ),
  /** No-op tasks a runner runs in memory before it joins (see `WarmUp.ts`); 0: none. */
  warmUpTasks: Schema.optionalKey(WarmUpTasks),
  /** No-op tasks it then runs on etcd, under a prefix of its own (see `WarmUp.ts`); 0: none. */
  warmUpStoreTasks: Schema.optionalKey(WarmUpTasks),
  clusters: Schema.optionalKey(
    Schema.Record(Schema.String.pipe(Schema.check(Schema.isPattern(/^[A-Za-z0-9][A-Za-z0-9._-]*$/))), Cluster)
  ),
  plugins: Schema.optionalKey(Schema.Union([Schema.Array(NonEmpty), Schema.String])),
  http: Schema.optionalKey(
    Schema.Struct({
      listen: Schema.optionalKey(ListenAddress),
      /** PEM files of the listener's certificate (chain) and key: the API is served over HTTPS. */
      tls: Schema.optionalKey(Schema.Struct({ cert: Schema.optionalKey(NonEmpty), key: Schema.optionalKey(NonEmpty) })),
      tokens: Schema.optionalKey(Schema.Array(ApiTokenEntry))
    })
  ),
  /** Recovery plans the runner re-checks against their recovery cloud (see `PlanSchedule.ts`). */
  plans: Schema.optionalKey(
    Schema.Struct({ files: Schema.Array(NonEmpty), interval: Schema.optionalKey(DurationText) })
  ),
  log: Schema.optionalKey(
    Schema.Struct({ level: Schema.optionalKey(LogLevelName), format: Schema.optionalKey(LogFormat) })
  ),
  /** Finished jobs older than this are archived and their keys removed by the runners (JobRetention). */
  retention: Schema.optionalKey(Schema.Struct({ finishedJobs: Schema.optionalKey(RetentionText) }))
})
export type Document = typeof Document.Type

// ---- the resolved configuration ---------------------------------------------

export interface EtcdConfig {
  readonly endpoints: ReadonlyArray<string>
  /** Key prefix, ending in `/` (or empty). */
  readonly prefix: string
  /** PEM contents read from the configured files. */
  readonly tls:
    | { readonly ca: string; readonly cert?: string | undefined; readonly key?: string | undefined }
    | undefined
  readonly auth: { readonly username: string; readonly password: Redacted.Redacted<string> } | undefined
}

export interface RunnerConfig {
  readonly etcd: EtcdConfig
  readonly runnerId: string | undefined
  readonly leaseTtl: Duration.Duration
  readonly shutdownGrace: Duration.Duration
  readonly concurrency: { readonly perRunner: number; readonly perTarget: number | undefined }
  readonly warmUpTasks: number
  readonly warmUpStoreTasks: number
  /** OpenStack clusters by name; credentials are `Redacted`. */
  readonly clusters: Readonly<Record<string, OpenStackClient.ClientConfig>>
  readonly plugins: ReadonlyArray<string>
  /** Where plugin packages and paths are found: the configuration file's directory when it names them, else the working directory (undefined). */
  readonly pluginsFrom: string | undefined
  readonly http: {
    readonly listen: { readonly host: string; readonly port: number } | undefined
    /** PEM contents; the key is a secret. */
    readonly tls: { readonly cert: string; readonly key: Redacted.Redacted<string> } | undefined
    /** API tokens, hashed: the secrets themselves are not kept. */
    readonly tokens: ReadonlyArray<Auth.ApiToken>
  }
  readonly log: { readonly level: LogLevel.LogLevel; readonly format: LogFormat }
  /** Plan files to re-check every `interval` (relative ones from the configuration file's directory). */
  readonly plans: { readonly files: ReadonlyArray<string>; readonly interval: Duration.Duration } | undefined
  /** How long finished jobs are kept (default 30 days); undefined: for ever. */
  readonly retention: { readonly finishedJobs: Duration.Duration | undefined }
}

/** Enough for the engine's paths to reach V8's optimising tier (under a second at start). */
export const DEFAULT_WARM_UP_TASKS = 2000
/** Enough for the etcd client's paths (its transactions and watch) to be compiled as well. */
export const DEFAULT_WARM_UP_STORE_TASKS = 2000

/** A configuration problem; `field` is the dotted path, `source` where the value came from. */
export class ConfigError extends Data.TaggedError("ConfigError")<{
  readonly problems: ReadonlyArray<{ readonly field: string; readonly source: string; readonly message: string }>
}> {
  override get message(): string {
    return `invalid configuration:\n${this.problems
      .map(
        (p) => `  ${p.field === "" ? "(document)" : p.field}${p.source === "" ? "" : ` (${p.source})`}: ${p.message}`
      )
      .join("\n")}`
  }
}

/** Values given on the command line of `migrator run` (all optional). */
export interface Flags {
  readonly config?: string | undefined
  readonly etcd?: string | undefined
  readonly prefix?: string | undefined
  readonly plugins?: string | undefined
  readonly concurrency?: number | undefined
  readonly targetConcurrency?: number | undefined
  readonly leaseTtl?: string | undefined
  readonly shutdownGrace?: string | undefined
  readonly runnerId?: string | undefined
  readonly http?: string | undefined
  readonly warmUpTasks?: number | undefined
  readonly warmUpStoreTasks?: number | undefined
  readonly logLevel?: string | undefined
  readonly logFormat?: string | undefined
}

export interface ResolveOptions {
  /** Whether stdout is a terminal: the default log format is pretty there, JSON lines elsewhere. */
  readonly tty?: boolean | undefined
}

/** Environment variables, by the dotted field they set. */
export const environment: ReadonlyArray<readonly [variable: string, field: string]> = [
  ["MIGRATOR_ETCD_ENDPOINTS", "etcd.endpoints"],
  ["MIGRATOR_PREFIX", "etcd.prefix"],
  ["MIGRATOR_ETCD_USERNAME", "etcd.username"],
  ["MIGRATOR_ETCD_PASSWORD", "etcd.password"],
  ["MIGRATOR_ETCD_TLS_CA", "etcd.tls.ca"],
  ["MIGRATOR_ETCD_TLS_CERT", "etcd.tls.cert"],
  ["MIGRATOR_ETCD_TLS_KEY", "etcd.tls.key"],
  ["MIGRATOR_RUNNER_ID", "runnerId"],
  ["MIGRATOR_LEASE_TTL", "leaseTtl"],
  ["MIGRATOR_SHUTDOWN_GRACE", "shutdownGrace"],
  ["MIGRATOR_CONCURRENCY", "concurrency.perRunner"],
  ["MIGRATOR_TARGET_CONCURRENCY", "concurrency.perTarget"],
  ["MIGRATOR_WARM_UP_TASKS", "warmUpTasks"],
  ["MIGRATOR_WARM_UP_STORE_TASKS", "warmUpStoreTasks"],
  ["MIGRATOR_PLUGINS", "plugins"],
  ["MIGRATOR_HTTP_LISTEN", "http.listen"],
  ["MIGRATOR_HTTP_TLS_CERT", "http.tls.cert"],
  ["MIGRATOR_HTTP_TLS_KEY", "http.tls.key"],
  ["MIGRATOR_LOG_LEVEL", "log.level"],
  ["MIGRATOR_LOG_FORMAT", "log.format"]
]

const flagFields: ReadonlyArray<readonly [flag: keyof Flags, name: string, field: string]> = [
  ["etcd", "--etcd", "etcd.endpoints"],
  ["prefix", "--prefix", "etcd.prefix"],
  ["plugins", "--plugins", "plugins"],
  ["concurrency", "--concurrency", "concurrency.perRunner"],
  ["targetConcurrency", "--target-concurrency", "concurrency.perTarget"],
  ["leaseTtl", "--lease-ttl", "leaseTtl"],
  ["shutdownGrace", "--shutdown-grace", "shutdownGrace"],
  ["runnerId", "--runner-id", "runnerId"],
  ["http", "--http", "http.listen"],
  ["warmUpTasks", "--warm-up-tasks", "warmUpTasks"],
  ["warmUpStoreTasks", "--warm-up-store-tasks", "warmUpStoreTasks"],
  ["logLevel", "--log-level", "log.level"],
  ["logFormat", "--log-format", "log.format"]
]

const intFields = new Set(["concurrency.perRunner", "concurrency.perTarget", "warmUpTasks", "warmUpStoreTasks"])

type Mutable = { [key: string]: unknown }
const isObject = (u: unknown): u is Mutable => typeof u === "object" && u !== null && !Array.isArray(u)

/** Sets a dotted field in the merged document; returns false when a parent is not an object. */
const setField = (doc: Mutable, field: string, value: unknown): boolean => {
  const parts = field.split(".")
  let at = doc
  for (const part of parts.slice(0, -1)) {
    const next = at[part]
    if (next === undefined) at[part] = {}
    else if (!isObject(next)) return false
    at = at[part] as Mutable
  }
  at[parts[parts.length - 1]!] = value
  return true
}

const readText = (path: string) =>
  Effect.tryPromise({
    try: async () => (await import("node:fs/promises")).readFile(path, "utf8"),
    catch: (e) => (e as NodeJS.ErrnoException).code ?? (e as Error).message
  })

const parseFile = (path: string, text: string): Effect.Effect<unknown, ConfigError> =>
  Effect.try({
    try: () => (/\.json$/i.test(path) ? (JSON.parse(text) as unknown) : (parseYaml(text) as unknown)),
    catch: (e) =>
      new ConfigError({
        problems: [
          {
            field: "",
            source: path,
            message: `not valid ${/\.json$/i.test(path) ? "JSON" : "YAML"}: ${(e as Error).message.split("\n")[0]}`
          }
        ]
      })
  })

const standard = SchemaIssue.makeFormatterStandardSchemaV1()

const dotted = (path: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined) =>
  (path ?? []).map((p) => String(typeof p === "object" ? p.key : p)).join(".")

/** Where a field's value came from: the longest recorded prefix of the field. */
const sourceOf = (sources: ReadonlyMap<string, string>, field: string, file: string | undefined) => {
  const parts = field.split(".")
  for (let n = parts.length; n > 0; n--) {
    const s = sources.get(parts.slice(0, n).join("."))
    if (s !== undefined) return s
  }
  return file ?? ""
}

const env = (name: string) => Config.option(Config.String(name))

export { retentionOf }

const listOf = (value: ReadonlyArray<string> | string | undefined) =>
  (typeof value === "string" ? value.split(",") : (value ?? [])).map((s) => s.trim()).filter((s) => s !== "")

const logLevels: Record<typeof LogLevelName.Type, LogLevel.LogLevel> = {
  trace: "Trace",
  debug: "Debug",
  info: "Info",
  warn: "Warn",
  error: "Error",
  fatal: "Fatal",
  none: "None"
}

/**
 * Reads, merges and validates the configuration. Environment variables are
 * read through Effect's `ConfigProvider` (the process environment by default).
 */
export const resolve = (flags: Flags, options: ResolveOptions = {}): Effect.Effect<RunnerConfig, ConfigError> =>
  resolveScope(flags, options, "all")

/**
 * Only the etcd connection (for the job and plan commands): the `etcd`
 * section of the file named by `MIGRATOR_CONFIG` (or `config`), the
 * `MIGRATOR_ETCD_*` and `MIGRATOR_PREFIX` variables and `--etcd`/`--prefix`.
 * Other sections are neither read nor validated.
 */
export const resolveConnection = (
  flags: Pick<Flags, "config" | "etcd" | "prefix">
): Effect.Effect<EtcdConfig, ConfigError> => Effect.map(resolveScope(flags, {}, "etcd"), (c) => c.etcd)

const resolveScope = (
  flags: Flags,
  options: ResolveOptions,
  scope: "all" | "etcd"
): Effect.Effect<RunnerConfig, ConfigError> =>
  Effect.gen(function* () {
    const inScope = (field: string) => scope === "all" || field.startsWith("etcd.")
    const fail = (field: string, source: string, message: string) =>
      Effect.fail(new ConfigError({ problems: [{ field, source, message }] }))
    const fromEnv = Effect.fnUntraced(function* (name: string) {
      return yield* env(name).pipe(
        Effect.mapError(() => new ConfigError({ problems: [{ field: "", source: name, message: "unreadable" }] }))
      )
    })

    // 1. the file
    const configEnv = yield* fromEnv("MIGRATOR_CONFIG")
    const file = flags.config ?? Option.getOrUndefined(configEnv)
    let doc: Mutable = {}
    if (file !== undefined) {
      const text = yield* readText(file).pipe(
        Effect.catch((code) => fail("", file, `cannot read the configuration file (${code})`))
      )
      const parsed = yield* parseFile(file, text)
      if (parsed === null || parsed === undefined) doc = {}
      else if (isObject(parsed)) doc = structuredClone(parsed)
      else return yield* fail("", file, "the configuration file must hold a mapping of settings")
      if (scope === "etcd") doc = doc.etcd === undefined ? {} : { etcd: doc.etcd }
    }

    // 2. environment, 3. flags; each records the source of the fields it sets
    const sources = new Map<string, string>()
    const overlay = (field: string, source: string, raw: string | number) => {
      const value =
        intFields.has(field) && typeof raw === "string" && /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : raw
      if (setField(doc, field, value)) sources.set(field, source)
    }
    for (const [variable, field] of environment) {
      if (!inScope(field)) continue
      const value = yield* fromEnv(variable)
      if (Option.isSome(value)) overlay(field, variable, value.value)
    }
    for (const [flag, name, field] of flagFields) {
      if (!inScope(field)) continue
      const value = flags[flag]
      if (value !== undefined) overlay(field, name, value as string | number)
    }

    const decoded = yield* Schema.decodeUnknownEffect(Document)(doc, { errors: "all", onExcessProperty: "error" }).pipe(
      Effect.mapError((e) => {
        const seen = new Set<string>()
        const problems: Array<{ field: string; source: string; message: string }> = []
        for (const issue of standard(e.issue).issues) {
          const field = dotted(issue.path)
          // a union reports one issue per member; the first is enough
          if (seen.has(field)) continue
          seen.add(field)
          // never echo a value: messages of the formatter may quote the input
          problems.push({ field, source: sourceOf(sources, field, file), message: scrub(issue.message) })
        }
        return new ConfigError({ problems })
      })
    )

    // secrets and TLS files
    const secret = (field: string, source: SecretSource) =>
      Effect.gen(function* () {
        if (typeof source === "string") return Redacted.make(source)
        if ("env" in source) {
          const value = yield* fromEnv(source.env)
          if (Option.isNone(value) || value.value === "") {
            return yield* fail(field, sourceOf(sources, field, file), `environment variable ${source.env} is not set`)
          }
          return Redacted.make(value.value)
        }
        const text = yield* readText(source.file).pipe(
          Effect.catch((code) =>
            fail(field, sourceOf(sources, field, file), `cannot read secret file ${source.file} (${code})`)
          )
        )
        return Redacted.make(text.replace(/\r?\n$/, ""))
      })
    const pem = (field: string, path: string | undefined) =>
      path === undefined
        ? Effect.succeed(undefined)
        : readText(path).pipe(
            Effect.catch((code) => fail(field, sourceOf(sources, field, file), `cannot read ${path} (${code})`))
          )

    const etcd = decoded.etcd ?? {}
    const endpoints = listOf(etcd.endpoints)
    const malformed = endpoints.find((e) => !ENDPOINT.test(e))
    if (malformed !== undefined) {
      return yield* fail(
        "etcd.endpoints",
        sourceOf(sources, "etcd.endpoints", file),
        `"${malformed.length > 60 ? `${malformed.slice(0, 60)}…` : malformed}" is not an endpoint: expected a URL like http://127.0.0.1:2379`
      )
    }
    const prefix = etcd.prefix ?? Keys.DEFAULT_PREFIX
    if (
      etcd.tls !== undefined &&
      etcd.tls.ca === undefined &&
      (etcd.tls.cert !== undefined || etcd.tls.key !== undefined)
    ) {
      return yield* fail(
        "etcd.tls.ca",
        sourceOf(sources, "etcd.tls", file),
        "a CA file is required with a client certificate"
      )
    }
    if ((etcd.tls?.cert === undefined) !== (etcd.tls?.key === undefined)) {
      return yield* fail("etcd.tls", sourceOf(sources, "etcd.tls", file), "cert and key must be given together")
    }
    if ((etcd.username === undefined) !== (etcd.password === undefined)) {
      return yield* fail(
        etcd.username === undefined ? "etcd.username" : "etcd.password",
        sourceOf(sources, "etcd", file),
        "username and password must be given together"
      )
    }
    const ca = yield* pem("etcd.tls.ca", etcd.tls?.ca)
    const cert = yield* pem("etcd.tls.cert", etcd.tls?.cert)
    const key = yield* pem("etcd.tls.key", etcd.tls?.key)
    const password = etcd.password === undefined ? undefined : yield* secret("etcd.password", etcd.password)

    const clusters: Record<string, OpenStackClient.ClientConfig> = {}
    for (const [name, c] of Object.entries(decoded.clusters ?? {})) {
      const at = `clusters.${name}.credentials`
      const auth: OpenStackClient.Auth =
        c.credentials.type === "password"
          ? (() => {
              const { type: _t, password: _p, ...rest } = c.credentials
              return { type: "password" as const, ...rest, password: Redacted.make("") }
            })()
          : { type: "application-credential", id: c.credentials.id, secret: Redacted.make("") }
      if (c.credentials.type === "password") {
        if (c.credentials.username === undefined && c.credentials.userId === undefined) {
          return yield* fail(`${at}.username`, sourceOf(sources, at, file), "username or userId is required")
        }
        ;(auth as { password: Redacted.Redacted<string> }).password = yield* secret(
          `${at}.password`,
          c.credentials.password
        )
      } else {
        ;(auth as { secret: Redacted.Redacted<string> }).secret = yield* secret(`${at}.secret`, c.credentials.secret)
      }
      clusters[name] = {
        authUrl: c.authUrl,
        ...(c.region === undefined ? {} : { region: c.region }),
        ...(c.interface === undefined ? {} : { interface: c.interface }),
        ...(c.computeMicroversion === undefined ? {} : { computeMicroversion: c.computeMicroversion }),
        ...(c.volumeMicroversion === undefined ? {} : { volumeMicroversion: c.volumeMicroversion }),
        auth
      }
    }

    const listen = decoded.http?.listen
    const listenAt = listen === undefined ? undefined : listenOf(listen)
    if (listenAt !== undefined && listenAt.port > 65_535) {
      return yield* fail("http.listen", sourceOf(sources, "http.listen", file), "port out of range")
    }

    const httpTls = decoded.http?.tls
    if (httpTls !== undefined && (httpTls.cert === undefined) !== (httpTls.key === undefined)) {
      return yield* fail("http.tls", sourceOf(sources, "http.tls", file), "cert and key must be given together")
    }
    const tlsCert = yield* pem("http.tls.cert", httpTls?.cert)
    const tlsKey = yield* pem("http.tls.key", httpTls?.key)
    const tokens: Array<Auth.ApiToken> = []
    for (const [i, entry] of (decoded.http?.tokens ?? []).entries()) {
      const at = `http.tokens.${i}`
      if (tokens.some((t) => t.name === entry.name)) {
        return yield* fail(`${at}.name`, sourceOf(sources, at, file), `token name "${entry.name}" is used twice`)
      }
      const value = Redacted.value(yield* secret(`${at}.token`, entry.token))
      // short tokens can be guessed: ask for at least 128 bits of hex or base64
      if (value.length < 24) {
        return yield* fail(`${at}.token`, sourceOf(sources, at, file), "too short: use at least 24 random characters")
      }
      const hash = Auth.hashToken(value)
      if (tokens.some((t) => t.hash === hash)) {
        return yield* fail(`${at}.token`, sourceOf(sources, at, file), "the same token is given twice")
      }
      tokens.push({ name: entry.name, role: entry.role, hash })
    }

    return {
      etcd: {
        endpoints: endpoints.length === 0 ? ["http://127.0.0.1:2379"] : endpoints,
        prefix: prefix.endsWith("/") || prefix === "" ? prefix : `${prefix}/`,
        tls: ca === undefined ? undefined : { ca, cert, key },
        auth: etcd.username === undefined || password === undefined ? undefined : { username: etcd.username, password }
      },
      runnerId: decoded.runnerId,
      leaseTtl: durationOf(decoded.leaseTtl ?? "10s"),
      shutdownGrace: durationOf(decoded.shutdownGrace ?? "10s"),
      concurrency: { perRunner: decoded.concurrency?.perRunner ?? 16, perTarget: decoded.concurrency?.perTarget },
      warmUpTasks: decoded.warmUpTasks ?? DEFAULT_WARM_UP_TASKS,
      warmUpStoreTasks: decoded.warmUpStoreTasks ?? DEFAULT_WARM_UP_STORE_TASKS,
      clusters,
      plugins: listOf(decoded.plugins),
      pluginsFrom:
        file !== undefined && decoded.plugins !== undefined && !sources.has("plugins") ? dirname(file) : undefined,
      http: {
        listen: listenAt,
        tls: tlsCert === undefined || tlsKey === undefined ? undefined : { cert: tlsCert, key: Redacted.make(tlsKey) },
        tokens
      },
      log: {
        level: logLevels[decoded.log?.level ?? "info"],
        format: decoded.log?.format ?? (options.tty === true ? "pretty" : "json")
      },
      plans:
        decoded.plans === undefined
          ? undefined
          : {
              files: decoded.plans.files.map((f) => (file === undefined ? f : resolvePath(dirname(file), f))),
              interval: durationOf(decoded.plans.interval ?? "15m")
            },
      retention: { finishedJobs: retentionOf(decoded.retention?.finishedJobs ?? "30 days") }
    } satisfies RunnerConfig
  })

/** An etcd endpoint: http(s)://host:port (IPv6 hosts in brackets). */
const ENDPOINT = /^https?:\/\/(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?\/?$/

const listenOf = (text: string) => {
  const i = text.lastIndexOf(":")
  const host = text.slice(0, i).replace(/^\[|\]$/g, "")
  // no host: loopback only (`0.0.0.0:8080` or `[::]:8080` serve every interface, when asked for)
  return { host: host === "" ? "127.0.0.1" : host, port: Number(text.slice(i + 1)) }
}

/** Drops quoted input from a schema message (the input may be a secret). */
const scrub = (message: string) =>
  message === "Expected no excess property"
    ? "unknown field"
    : message.replace(/, got .*$|: got .*$/s, "").replace(/"[^"]*"/g, (q) => (q.length > 40 ? '"…"' : q))
