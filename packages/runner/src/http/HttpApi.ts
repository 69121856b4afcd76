/**
 * The runner's HTTP service (SPEC §7): health and readiness probes,
 * Prometheus metrics, a JSON job API with Server-Sent Events, and the live
 * dashboard page.
 *
 *   GET  /healthz                      the process is up
 *   GET  /readyz                       the store answers and this runner's lease is held (else 503)
 *   GET  /metrics                      Prometheus text
 *   GET  /api/jobs?state=&label=k=v    jobs, with their labels
 *   POST /api/jobs                     submit a job document (400 with per-task/field problems)
 *   GET  /api/jobs/:id                 a job with every task (a large job: counts and first pages; ?all=true: every task)
 *   GET  /api/jobs/:id/tasks           a page of tasks: ?after=<phase/task>&limit=N&filter=failed|problems|…
 *   GET  /api/jobs/:id/events          the job's event log
 *   GET  /api/jobs/:id/stream          SSE: a snapshot, then every change of the job
 *   GET  /api/stream                   SSE: changes of the job list
 *   GET  /api/jobs/:id/preview/:op     what an operation would do (a rollback: deleted, kept, skipped)
 *   POST /api/jobs/:id/:operation      cancel, pause, resume, rollback, confirm, retry (body: { reason })
 *   DELETE /api/jobs/:id               delete a finished job (admin); GET /api/archive[/:id]: see ArchiveRoutes.ts
 *   GET  /api/whoami                   the caller's token name and role
 *   GET  /api/jobs/:id/progress        tasks per phase by state, and the RTO (for the dashboard's list)
 *   POST /api/plans/check              pre-flight check of a recovery plan on the recovery cloud (PlanCheckRoute.ts)
 *   GET  /, /jobs/:id                  the dashboard (any other page: its not-found page, 404)
 *
 * Every `/api/` route needs a bearer token with a role (viewer, operator,
 * admin), or a loopback client when no token is configured: see Auth.ts and
 * API.md. Store reads give up after a few seconds with a 503, so a client
 * sees an etcd outage at once instead of hanging.
 *
 * @since 0.1.0
 */
import { createServer } from "node:http"
import { createServer as createTlsServer } from "node:https"
import { NodeHttpServer } from "@effect/platform-node"
import { Job, JobBuilder, Jobs, type Keys, Store, type StoreError, TaskPages, TaskRegistry } from "@migrator/core"
import type { OpenStackClient } from "@migrator/tasks-openstack"
import { Duration, Effect, Layer, Metric, Option, Random, Redacted, Schema, Stream } from "effect"
import { HttpRouter, type HttpServerError, type HttpServerRequest, HttpServerResponse } from "effect/http"
import * as ArchiveRoutes from "./ArchiveRoutes.ts"
import * as Auth from "./Auth.ts"
import * as Dashboard from "./Dashboard.ts"
import * as DashboardApi from "./DashboardApi.ts"
import { allowedOperations, document, eventJson, pageJson, stateJson } from "./JobDocument.ts"
import * as JobStream from "./JobStream.ts"
import { parseJson, sse } from "./JobStream.ts"
import * as Metrics from "./Metrics.ts"
import * as OperationPreview from "./OperationPreview.ts"
import * as PlanCheckRoute from "./PlanCheckRoute.ts"

export interface Options {
  readonly keys: Keys.Layout
  /** This runner's id: readiness checks its registration, kept on its lease. */
  readonly runnerId: string
  readonly host: string
  readonly port: number
  /** True once the runner is shutting down: readiness then fails (default: never). */
  readonly draining?: Effect.Effect<boolean> | undefined
  /** Interval of SSE keep-alive comments (default 15 s). */
  readonly heartbeat?: Duration.Input | undefined
  /** API tokens (hashed); none: loopback clients only. */
  readonly tokens?: ReadonlyArray<Auth.ApiToken> | undefined
  /** Serve HTTPS with this certificate (PEM) and key. */
  readonly tls?: { readonly cert: string; readonly key: Redacted.Redacted<string> } | undefined
  /** How long an API request waits for the store before answering 503 (default 3 s). */
  readonly storeTimeout?: Duration.Input | undefined
  /** How long a read that scans a large job's tasks may take (default 60 s; the store must answer its first read within `storeTimeout`). */
  readonly scanTimeout?: Duration.Input
  /** The OpenStack clusters `POST /api/plans/check` checks plans on (default: none). */
  readonly clusters?: Readonly<Record<string, OpenStackClient.ClientConfig>> | undefined
}

const json = (body: unknown, status = 200, headers: Readonly<Record<string, string>> = {}) =>
  HttpServerResponse.jsonUnsafe(body, { status, headers: { "cache-control": "no-store", ...headers } })

const problem = (status: number, error: string, extra: Record<string, unknown> = {}) =>
  json({ error, ...extra }, status)

const storeFailure = (e: StoreError.StoreError) =>
  Effect.succeed(
    e.reason._tag === "Unavailable"
      ? problem(503, `store unreachable: ${e.message}`, { reason: "StoreUnavailable" })
      : problem(500, `store: ${e.message}`, { reason: "StoreError" })
  )

const jobError = (e: Jobs.JobError) =>
  Effect.succeed(problem(e.reason === "NotFound" ? 404 : 409, e.message, { reason: e.reason }))

const lastSegment = (request: HttpServerRequest.HttpServerRequest) =>
  new URL(request.url, "http://localhost").pathname.split("/").pop() ?? ""

const encoder = new TextEncoder()

/** Tasks per page of `GET /api/jobs/:id/tasks` unless asked, and at most. */
const DEFAULT_PAGE = 100
const MAX_PAGE = 1000

/** The routes, needing the Store and the TaskRegistry of the runner. */
export const routes = (options: Options) => {
  const { keys } = options
  const heartbeat = options.heartbeat ?? "15 seconds"

  const searchParams = (request: HttpServerRequest.HttpServerRequest) =>
    new URL(request.url, "http://localhost").searchParams

  const pathId = Effect.map(HttpRouter.params, (p) => p.id ?? "")
  const tokens = options.tokens ?? []
  const storeTimeout = options.storeTimeout ?? "3 seconds"
  const unreachable = () =>
    Effect.succeed(
      problem(503, `store unreachable: no answer within ${Duration.format(Duration.fromInputUnsafe(storeTimeout))}`, {
        reason: "StoreUnavailable"
      })
    )

  /**
   * An API route: the caller must hold `required` (a role, or one read from the request);
   * the handler gets the caller and may wait for the store only `storeTimeout` (then 503).
   */
  const guard =
    <E, R>(
      required: Auth.Role | ((request: HttpServerRequest.HttpServerRequest) => Auth.Role),
      handler: (
        request: HttpServerRequest.HttpServerRequest,
        actor: Auth.Actor
      ) => Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>,
      budget: Duration.Input = storeTimeout
    ) =>
    (request: HttpServerRequest.HttpServerRequest) => {
      const check = Auth.authorize(request, tokens, typeof required === "function" ? required(request) : required)
      if ("refusal" in check)
        return Effect.succeed(json(check.refusal.body, check.refusal.status, check.refusal.headers))
      return handler(request, check.actor).pipe(Effect.timeoutOrElse({ duration: budget, orElse: unreachable }))
    }

  const keepAlive = Stream.tick(heartbeat).pipe(Stream.map(() => encoder.encode(": keep-alive\n\n")))

  const eventStream = (body: Stream.Stream<Uint8Array, unknown>) =>
    HttpServerResponse.stream(
      Stream.merge(body, keepAlive, { haltStrategy: "left" }).pipe(Stream.catchCause(() => Stream.empty)),
      { contentType: "text/event-stream", headers: { "cache-control": "no-store", "x-accel-buffering": "no" } }
    )

  const healthz = HttpRouter.route("GET", "/healthz", json({ status: "ok", runner: options.runnerId }))

  const readyz = HttpRouter.route(
    "GET",
    "/readyz",
    Effect.gen(function* () {
      const store = yield* Store.Store
      const registration = yield* store.get(keys.runner(options.runnerId)).pipe(
        Effect.timeout("2 seconds"),
        Effect.map((kv) => ({ store: "reachable", kv })),
        Effect.catch((e) =>
          Effect.succeed({
            store: e._tag === "StoreError" && e.reason._tag !== "Unavailable" ? `error: ${e.message}` : "unreachable",
            kv: Option.none()
          })
        )
      )
      const leaseHeld = Option.isSome(registration.kv) && registration.kv.value.lease !== undefined
      const draining = options.draining === undefined ? false : yield* options.draining
      const ready = registration.store === "reachable" && leaseHeld && !draining
      return json(
        { ready, store: registration.store, lease: leaseHeld, ...(draining ? { draining } : {}) },
        ready ? 200 : 503
      )
    })
  )

  /**
   * Whether this runner exports the fleet-wide gauges (jobs by state): the one holding the
   * reporter key, put on its own lease with a CAS, so the gauges are exported once in the fleet
   * and another runner takes over when the holder dies.
   */
  const reporter = Effect.gen(function* () {
    const store = yield* Store.Store
    const registration = yield* store.get(keys.runner(options.runnerId))
    const lease = Option.isSome(registration) ? registration.value.lease : undefined
    if (lease === undefined) return false
    const key = Metrics.reporterKey(keys)
    const r = yield* store.txn({
      compare: [{ key, target: "createRevision", op: "==", value: 0 }],
      success: [{ _tag: "put", key, value: options.runnerId, lease }],
      failure: [{ _tag: "get", key }]
    })
    if (r.succeeded) return true
    const held = r.results[0]
    return held?._tag === "get" && held.kv?.value === options.runnerId
  })

  const metrics = HttpRouter.route(
    "GET",
    "/metrics",
    Effect.gen(function* () {
      const snapshots = yield* Metric.snapshot
      const fleet = yield* Effect.gen(function* () {
        const mine = yield* reporter
        return { mine, jobs: mine ? yield* Jobs.list(keys) : [] }
      }).pipe(Effect.timeout("2 seconds"), Effect.option)
      const extra: Array<Metrics.Sample> = [
        {
          name: "migrator_store_up",
          help: "Whether the store answered the last scrape's read",
          type: "gauge",
          values: [{ labels: {}, value: Option.isSome(fleet) ? 1 : 0 }]
        },
        {
          name: "migrator_reporter",
          help: "Whether this runner exports the fleet-wide gauges (one runner in the fleet does)",
          type: "gauge",
          values: [{ labels: {}, value: Option.isSome(fleet) && fleet.value.mine ? 1 : 0 }]
        }
      ]
      if (Option.isSome(fleet) && fleet.value.mine) {
        const counts = new Map<string, number>(Job.State.literals.map((s) => [s, 0]))
        for (const j of fleet.value.jobs) counts.set(j.state.state, (counts.get(j.state.state) ?? 0) + 1)
        extra.push({
          name: "migrator_jobs",
          help: "Jobs by state, fleet-wide (exported by the reporter runner only)",
          type: "gauge",
          values: [...counts].map(([state, value]) => ({ labels: { state }, value }))
        })
      }
      return HttpServerResponse.text(Metrics.render(snapshots, extra), { contentType: Metrics.CONTENT_TYPE })
    })
  )

  const whoami = HttpRouter.route(
    "GET",
    "/api/whoami",
    guard("viewer", (_, actor) =>
      Effect.succeed(json({ name: actor.name, role: actor.role, tokens: tokens.length > 0 }))
    )
  )

  const list = HttpRouter.route(
    "GET",
    "/api/jobs",
    guard("viewer", (request) =>
      Effect.gen(function* () {
        const params = searchParams(request)
        const states = params.getAll("state").flatMap((s) => s.split(","))
        const wanted = params.getAll("label").map((l) => {
          const i = l.indexOf("=")
          return i < 0 ? ([l, undefined] as const) : ([l.slice(0, i), l.slice(i + 1)] as const)
        })
        const store = yield* Store.Store
        const jobs = (yield* Jobs.list(keys)).filter((j) => states.length === 0 || states.includes(j.state.state))
        const withLabels = yield* Effect.forEach(
          jobs,
          (j) =>
            store.get(keys.jobSpec(j.id)).pipe(
              Effect.flatMap((kv) =>
                Option.isNone(kv)
                  ? Effect.succeed(undefined)
                  : Jobs.decodeSpec(kv.value.key, kv.value.value).pipe(Effect.option, Effect.map(Option.getOrUndefined))
              ),
              Effect.map((spec) => ({ job: j, spec }))
            ),
          { concurrency: 16 }
        )
        const out = withLabels
          .filter(({ spec }) => spec !== undefined)
          .filter(({ spec }) =>
            wanted.every(([k, v]) => k in spec!.labels && (v === undefined || spec!.labels[k] === v))
          )
          .map(({ job, spec }) => ({
            id: job.id,
            labels: spec!.labels,
            target: spec!.target ?? null,
            createdAt: spec!.createdAt,
            runTasks: spec!.runTasks,
            clearTasks: spec!.clearTasks,
            ...stateJson(job.state)
          }))
          .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? -1 : 1))
        return json(out)
      }).pipe(Effect.catchTag("StoreError", storeFailure))
    )
  )

  const submit = HttpRouter.route(
    "POST",
    "/api/jobs",
    guard("operator", (request, actor) =>
      Effect.gen(function* () {
        const text = yield* request.text.pipe(Effect.orElseSucceed(() => undefined))
        const document = text === undefined ? undefined : parseJson(text)
        if (document === undefined) return problem(400, "the body must be a JSON job document")
        const registry = yield* TaskRegistry.TaskRegistry
        const types = new Map<string, Schema.Codec<unknown, unknown>>()
        for (const t of registry.types()) {
          const h = registry.get(t)
          if (Option.isSome(h)) types.set(t, h.value.definition.input as Schema.Codec<unknown, unknown>)
        }
        const n = yield* Random.nextIntBetween(0, 2 ** 31 - 1)
        const built = yield* JobBuilder.build(document, { types, generateId: Effect.succeed(`job-${n.toString(36)}`) })
        const id = yield* Jobs.submit(keys, built, { actor: actor.name })
        return json({ id }, 201)
      }).pipe(
        Effect.catchTags({
          JobValidationError: (e) =>
            Effect.succeed(
              problem(400, "invalid job document", {
                problems: e.problems.map((p) => ({ task: p.task ?? null, field: p.field, message: p.message }))
              })
            ),
          JobError: jobError,
          StoreError: storeFailure
        })
      )
    )
  )

  /**
   * The job's spec, within the store timeout (an unreachable store is a 503 soon), before a read
   * that may scan a large job's tasks for longer.
   */
  const specFirst = (id: string) =>
    Effect.gen(function* () {
      const store = yield* Store.Store
      const spec = yield* store.get(keys.jobSpec(id)).pipe(Effect.timeoutOption(storeTimeout))
      if (Option.isNone(spec)) return problem(503, "store unreachable", { reason: "StoreUnavailable" })
      if (Option.isNone(spec.value)) return problem(404, `no job "${id}"`, { reason: "NotFound" })
      return undefined
    })
  const scanBudget = options.scanTimeout ?? "60 seconds"
  /** `read`, once job `id`'s spec is there (a 404 or 503 otherwise). */
  const existing = <R>(
    id: string,
    read: Effect.Effect<HttpServerResponse.HttpServerResponse, Jobs.JobError | StoreError.StoreError, R>
  ) => Effect.flatMap(specFirst(id), (refused) => (refused === undefined ? read : Effect.succeed(refused)))
  /** A viewer's read of a job that may scan its tasks: the scan's budget, the job's errors as answers. */
  const jobRead = <R>(
    handler: (
      request: HttpServerRequest.HttpServerRequest
    ) => Effect.Effect<HttpServerResponse.HttpServerResponse, Jobs.JobError | StoreError.StoreError, R>
  ) =>
    guard(
      "viewer",
      (request) => handler(request).pipe(Effect.catchTags({ JobError: jobError, StoreError: storeFailure })),
      scanBudget
    )

  const show = HttpRouter.route(
    "GET",
    "/api/jobs/:id",
    jobRead((request) =>
      Effect.flatMap(pathId, (id) =>
        existing(id, Effect.map(document(keys, id, { all: searchParams(request).get("all") === "true" }), json))
      )
    )
  )

  const tasks = HttpRouter.route(
    "GET",
    "/api/jobs/:id/tasks",
    jobRead((request) =>
      Effect.gen(function* () {
        const id = yield* pathId
        const query = searchParams(request)
        const limitText = query.get("limit") ?? String(DEFAULT_PAGE)
        const limit = Number(limitText)
        if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
          return problem(400, `limit: expected an integer from 1 to ${MAX_PAGE}, got "${limitText}"`, {
            reason: "BadRequest"
          })
        }
        const filter = query.get("filter") ?? undefined
        if (filter !== undefined && !TaskPages.isFilter(filter)) {
          return problem(400, `filter: expected one of ${TaskPages.filters.join(", ")}, got "${filter}"`, {
            reason: "BadRequest"
          })
        }
        const after = query.get("after") ?? undefined
        if (after !== undefined && TaskPages.parseCursor(after) === undefined) {
          return problem(400, `after: expected run/<task> or clear/<task>, got "${after}"`, { reason: "BadRequest" })
        }
        return yield* existing(
          id,
          Effect.map(TaskPages.page(keys, id, { after, limit, filter }), (p) => json(pageJson(p)))
        )
      })
    )
  )

  const preview = HttpRouter.route(
    "GET",
    "/api/jobs/:id/preview/:operation",
    jobRead(() =>
      Effect.gen(function* () {
        const params = yield* HttpRouter.params
        const op = params.operation ?? ""
        if (!Schema.is(Job.Operation)(op)) {
          return problem(404, `unknown operation "${op}" (one of ${Job.Operation.literals.join(", ")})`, {
            reason: "UnknownOperation"
          })
        }
        // a preview reads every task: a large job's takes longer than the store timeout
        return yield* existing(params.id ?? "", Effect.map(OperationPreview.preview(keys, params.id ?? "", op), json))
      })
    )
  )

  const events = HttpRouter.route(
    "GET",
    "/api/jobs/:id/events",
    guard("viewer", () =>
      Effect.gen(function* () {
        const id = yield* pathId
        const store = yield* Store.Store
        if (Option.isNone(yield* store.get(keys.jobSpec(id))))
          return problem(404, `no job "${id}"`, { reason: "NotFound" })
        const log = yield* Jobs.events(keys, id)
        return json(log.map((e) => eventJson(e)))
      }).pipe(Effect.catchTag("StoreError", storeFailure))
    )
  )

  const operation = HttpRouter.route(
    "POST",
    "/api/jobs/:id/:operation",
    guard(
      (request) => Auth.roleFor(lastSegment(request)),
      (request, actor) =>
        Effect.gen(function* () {
          const params = yield* HttpRouter.params
          const id = params.id ?? ""
          const op = params.operation ?? ""
          if (!Schema.is(Job.Operation)(op)) {
            return problem(404, `unknown operation "${op}" (one of ${Job.Operation.literals.join(", ")})`, {
              reason: "UnknownOperation"
            })
          }
          // an optional JSON body: { "reason": "…" }
          const text = yield* request.text.pipe(Effect.orElseSucceed(() => ""))
          const body = text.trim() === "" ? {} : parseJson(text)
          const reason = typeof body === "object" && body !== null ? (body as { reason?: unknown }).reason : undefined
          if (body === undefined || (reason !== undefined && typeof reason !== "string")) {
            return problem(400, 'the body must be empty or JSON like { "reason": "…" }', { reason: "BadRequest" })
          }
          if (typeof reason === "string" && reason.length > 1000) {
            return problem(400, "reason: at most 1000 characters", { reason: "BadRequest" })
          }
          const next = yield* Jobs.request(keys, id, op, { actor: actor.name, reason })
          return json({ id, ...stateJson(next) })
        }).pipe(
          Effect.catchTags({
            JobError: (e) =>
              e.reason === "InvalidOperation"
                ? Jobs.readState(keys, e.job).pipe(
                    Effect.map((state) =>
                      problem(
                        409,
                        `${e.message}; ${OperationPreview.hint(state, lastSegment(request) as Job.Operation)}`,
                        {
                          reason: e.reason,
                          operations: allowedOperations(state)
                        }
                      )
                    ),
                    Effect.catch(() => jobError(e))
                  )
                : jobError(e),
            StoreError: storeFailure
          })
        )
    )
  )

  const jobStream = HttpRouter.route(
    "GET",
    "/api/jobs/:id/stream",
    jobRead(() =>
      Effect.gen(function* () {
        const id = yield* pathId
        const from = yield* Effect.flatMap(Store.Store, (store) => store.revision)
        return yield* existing(id, Effect.map(JobStream.jobStream(keys, id, from + 1), eventStream))
      })
    )
  )

  const listStream = HttpRouter.route(
    "GET",
    "/api/stream",
    guard("viewer", () =>
      Effect.gen(function* () {
        const store = yield* Store.Store
        const from = yield* store.revision
        const changes = store
          .watch(keys.index, { fromRevision: from + 1 })
          .pipe(
            Stream.map((e) =>
              e._tag === "put"
                ? sse("job", { id: e.kv.key.slice(keys.index.length), state: parseJson(e.kv.value) ?? null })
                : sse("job", { id: e.key.slice(keys.index.length), state: null })
            )
          )
        return eventStream(Stream.concat(Stream.make(sse("hello", { revision: from })), changes))
      }).pipe(Effect.catchTag("StoreError", storeFailure))
    )
  )

  const progress = HttpRouter.route(
    "GET",
    "/api/jobs/:id/progress",
    jobRead(() =>
      Effect.map(
        Effect.flatMap(pathId, (id) => DashboardApi.progress(keys, id)),
        json
      )
    )
  )

  // an unknown API path answers JSON, not the dashboard's not-found page
  const unknownApi = HttpRouter.route("*", "/api/*", (request) =>
    Effect.succeed(
      problem(404, `no API endpoint ${request.method} ${new URL(request.url, "http://localhost").pathname}`, {
        reason: "NotFound"
      })
    )
  )

  return HttpRouter.addAll([
    healthz,
    readyz,
    metrics,
    whoami,
    list,
    submit,
    show,
    tasks,
    preview,
    events,
    jobStream,
    listStream,
    operation,
    progress,
    PlanCheckRoute.route(options.clusters ?? {}, tokens),
    ...ArchiveRoutes.routes({ keys, tokens, storeTimeout }),
    unknownApi,
    ...Dashboard.routes
  ])
}

/**
 * Serves the routes for the life of the layer. The Store and the
 * TaskRegistry are taken from the caller's context, so the server shares
 * the runner's etcd connection and handlers.
 */
export const layer = (
  options: Options
): Layer.Layer<never, HttpServerError.ServeError, Store.Store | TaskRegistry.TaskRegistry> =>
  Layer.unwrap(
    Effect.gen(function* () {
      const context = yield* Effect.context<Store.Store | TaskRegistry.TaskRegistry>()
      return HttpRouter.serve(routes(options), { disableLogger: true, disableListenLog: true }).pipe(
        Layer.provide(Layer.succeedContext(context)),
        Layer.provide(
          NodeHttpServer.layer(
            () =>
              options.tls === undefined
                ? createServer()
                : createTlsServer({ cert: options.tls.cert, key: Redacted.value(options.tls.key) }),
            {
              host: options.host,
              port: options.port,
              gracefulShutdownTimeout: "1 second"
            }
          )
        )
      )
    })
  ) as Layer.Layer<never, HttpServerError.ServeError, Store.Store | TaskRegistry.TaskRegistry>
