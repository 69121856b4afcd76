/**
 * How the job commands reach the jobs: straight through etcd (the default)
 * or through a runner's HTTP API (`--server URL --token …`, see
 * `http/API.md`). Both give the same job documents, so every command prints
 * the same thing whichever way it went.
 *
 * Failures are CliExits with the documented codes: 2 bad input (unknown
 * job, invalid operation, refused token), 3 store or server unreachable,
 * 1 anything else.
 *
 * @since 0.2.0
 */
import { hostname, userInfo } from "node:os"
import type { Job, JobBuilder, Keys, StoreError } from "@migrator/core"
import { JobArchive, JobDeletion, Jobs, Store, TaskPages } from "@migrator/core"
import { Duration, Effect, Option, Redacted, Schema } from "effect"
import { badInput, CliExit, JOB_FAILED, STORE_UNREACHABLE, storeFailed } from "../CliExit.ts"
import { type ArchivedJson, archivedJson } from "../http/ArchiveRoutes.ts"
import { document, type EventJson, eventJson, type JobJson, type PageJson, pageJson } from "../http/JobDocument.ts"
import * as OperationPreview from "../http/OperationPreview.ts"

export interface ListFilter {
  readonly states: ReadonlyArray<Job.State>
  readonly labels: ReadonlyArray<readonly [string, string]>
}

export interface JobClient {
  /** Where the jobs are read from, for messages. */
  readonly via: string
  readonly submit: (built: JobBuilder.BuiltJob, document: unknown) => Effect.Effect<string, CliExit>
  /** Jobs, oldest first. */
  readonly list: (filter: ListFilter) => Effect.Effect<ReadonlyArray<JobJson>, CliExit>
  /** The job document: a large job's holds its counts and first pages, unless `all` asks for every task. */
  readonly show: (id: string, all?: boolean) => Effect.Effect<JobJson, CliExit>
  /** A page of the job's tasks (`GET /api/jobs/:id/tasks`). */
  readonly page: (id: string, options: TaskPages.PageOptions) => Effect.Effect<PageJson, CliExit>
  readonly events: (id: string) => Effect.Effect<ReadonlyArray<EventJson>, CliExit>
  readonly request: (
    id: string,
    operation: Job.Operation,
    reason: string | undefined
  ) => Effect.Effect<{ readonly state: string }, CliExit>
  /**
   * Deletes a finished job, archiving its summary. Exit codes of `job delete`: 1 for an unknown
   * job, 2 for one that is not finished or holds shared resources (without `releaseShared`).
   */
  readonly remove: (
    id: string,
    options: { readonly reason: string | undefined; readonly releaseShared: boolean }
  ) => Effect.Effect<ArchivedJson, CliExit>
  /** Archived summaries of deleted and expired jobs, oldest finish first. */
  readonly archive: Effect.Effect<ReadonlyArray<ArchivedJson>, CliExit>
  /** The archived summary of one job, if it was deleted or expired. */
  readonly archived: (id: string) => Effect.Effect<Option.Option<ArchivedJson>, CliExit>
}

/** A refused deletion: unknown is 1 (the contract of `job delete`), anything else that is not finished 2. */
const deleteRefused = (e: JobDeletion.DeleteError, archived: Option.Option<JobArchive.ArchivedJob>) =>
  new CliExit({
    code: e.reason === "NotFound" ? JOB_FAILED : 2,
    message: Option.isSome(archived)
      ? `job "${e.job}" was already deleted (${archived.value.removedBy}, ${new Date(archived.value.removedAt).toISOString()})`
      : e.message
  })

/** The actor recorded for operations made through etcd: the local user and host. */
export const localActor = (): string => {
  try {
    return `${userInfo().username}@${hostname()}`
  } catch {
    return `cli@${hostname()}`
  }
}

const READ_TIMEOUT = "10 seconds"
/** A large job's counts are a scan of its tasks: many requests, each answered (or not) within the store's timeout. */
const SCAN_TIMEOUT = "120 seconds"

const oldestFirst = (a: JobJson, b: JobJson) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1)

/** Straight through etcd: `store` runs an effect with the connected Store. */
export const etcd = (
  keys: Keys.Layout,
  store: <A, E>(effect: Effect.Effect<A, E, Store.Store>) => Effect.Effect<A, E | CliExit>
): JobClient => {
  const run = <A>(effect: Effect.Effect<A, Jobs.JobError | StoreError.StoreError | CliExit, Store.Store>) =>
    store(effect).pipe(
      Effect.catchTags({
        StoreError: (e: StoreError.StoreError) => Effect.fail(storeFailed(e)),
        JobError: (e: Jobs.JobError) =>
          Effect.fail(
            e.reason === "NotFound" || e.reason === "AlreadyExists"
              ? badInput(e.message)
              : new CliExit({ code: 1, message: e.message })
          )
      })
    )
  // reads and operations give up after a while: an etcd outage is exit 3 soon, not after the client's retries
  const bounded = <A>(effect: Effect.Effect<A, CliExit>, duration: Duration.Input = READ_TIMEOUT) =>
    effect.pipe(
      Effect.timeoutOrElse({
        duration,
        orElse: () =>
          Effect.fail(
            new CliExit({
              code: STORE_UNREACHABLE,
              message: `store: no answer within ${Duration.format(Duration.fromInputUnsafe(duration))}`
            })
          )
      })
    )
  return {
    via: "etcd",
    submit: (built) => run(Jobs.submit(keys, built, { actor: localActor() })),
    list: (filter) =>
      bounded(
        run(
          Effect.gen(function* () {
            const index = (yield* Jobs.list(keys)).filter(
              (j) => filter.states.length === 0 || filter.states.includes(j.state.state)
            )
            const docs = yield* Effect.forEach(
              index,
              (j) =>
                document(keys, j.id).pipe(
                  Effect.map(Option.some),
                  Effect.catchTag("JobError", () => Effect.succeed(Option.none<JobJson>()))
                ),
              { concurrency: 8 }
            )
            return docs
              .flatMap((d) => Option.toArray(d))
              .filter((j) => filter.labels.every(([k, v]) => j.labels[k] === v))
              .sort(oldestFirst)
          })
        ),
        SCAN_TIMEOUT
      ),
    show: (id, all) => bounded(run(document(keys, id, { all: all === true })), SCAN_TIMEOUT),
    page: (id, options) => bounded(run(Effect.map(TaskPages.page(keys, id, options), pageJson)), SCAN_TIMEOUT),
    events: (id) =>
      bounded(
        run(
          Effect.gen(function* () {
            const s = yield* Store.Store
            if (Option.isNone(yield* s.get(keys.jobSpec(id)))) return yield* badInput(`no job "${id}"`)
            return (yield* Jobs.events(keys, id)).map(eventJson)
          })
        )
      ),
    request: (id, operation, reason) =>
      bounded(
        run(
          Jobs.request(keys, id, operation, { actor: localActor(), reason }).pipe(
            Effect.catchTag(
              "JobError",
              (e): Effect.Effect<never, Jobs.JobError | StoreError.StoreError | CliExit, Store.Store> =>
                e.reason === "InvalidOperation"
                  ? Effect.flatMap(
                      Jobs.readState(keys, id).pipe(
                        Effect.catchTag("JobError", () => Effect.fail(badInput(e.message)))
                      ),
                      (state) => Effect.fail(badInput(`${e.message}; ${OperationPreview.hint(state, operation)}`))
                    )
                  : Effect.fail(e)
            )
          )
        )
      ),
    remove: (id, options) =>
      bounded(
        run(
          JobDeletion.remove(keys, id, {
            removedBy: "delete",
            actor: localActor(),
            reason: options.reason,
            releaseShared: options.releaseShared
          }).pipe(
            Effect.map(archivedJson),
            Effect.catchTag("DeleteError", (e) =>
              Effect.flatMap(
                e.reason === "NotFound" ? JobArchive.read(keys, id) : Effect.succeed(Option.none()),
                (archived) => Effect.fail(deleteRefused(e, archived))
              )
            )
          )
        )
      ),
    archive: bounded(run(Effect.map(JobArchive.list(keys), (jobs) => jobs.map(archivedJson)))),
    archived: (id) => bounded(run(Effect.map(JobArchive.read(keys, id), Option.map(archivedJson))))
  }
}

const ErrorBody = Schema.Struct({ error: Schema.String, reason: Schema.optional(Schema.String) })
const decodeError = Schema.decodeUnknownOption(ErrorBody)

/** Through a runner's API at `server` (e.g. https://runner-1:8443), with a bearer token if given. */
export const http = (server: string, token: Redacted.Redacted<string> | undefined): JobClient => {
  const base = server.replace(/\/+$/, "")
  const call = (
    method: "GET" | "POST" | "DELETE",
    path: string,
    body?: unknown,
    /** An exit code for an error answer other than the usual ones. */
    codeFor?: (status: number, reason: string | undefined) => number | undefined
  ) =>
    Effect.gen(function* () {
      const response = yield* Effect.tryPromise({
        try: (signal) =>
          fetch(`${base}${path}`, {
            method,
            signal,
            headers: {
              accept: "application/json",
              ...(token === undefined ? {} : { authorization: `Bearer ${Redacted.value(token)}` }),
              ...(body === undefined ? {} : { "content-type": "application/json" })
            },
            ...(body === undefined ? {} : { body: JSON.stringify(body) })
          }),
        catch: (e) =>
          new CliExit({
            code: STORE_UNREACHABLE,
            message: `server ${base} unreachable: ${((e as Error).cause as Error | undefined)?.message ?? (e as Error).message}`
          })
      }).pipe(
        Effect.timeoutOrElse({
          duration: "120 seconds",
          orElse: () =>
            Effect.fail(new CliExit({ code: STORE_UNREACHABLE, message: `server ${base}: no answer within 30s` }))
        })
      )
      const text = yield* Effect.tryPromise({
        try: () => response.text(),
        catch: () => new CliExit({ code: STORE_UNREACHABLE, message: `server ${base}: the answer was cut off` })
      })
      let parsed: unknown
      try {
        parsed = JSON.parse(text)
      } catch {
        return yield* new CliExit({ code: 1, message: `server ${base}: not a JSON answer (HTTP ${response.status})` })
      }
      if (response.ok) return parsed
      const error = Option.getOrUndefined(decodeError(parsed))
      const message = error?.error ?? `HTTP ${response.status}`
      const code =
        codeFor?.(response.status, error?.reason) ??
        (response.status === 503
          ? STORE_UNREACHABLE
          : response.status === 401 || response.status === 403 || response.status === 404 || response.status === 400
            ? 2
            : response.status === 409 && error?.reason !== "Conflict"
              ? 2
              : 1)
      return yield* new CliExit({ code, message: response.status === 401 ? `${message} (use --token)` : message })
    })
  const path = (id: string) => `/api/jobs/${encodeURIComponent(id)}`
  const show = (id: string, all?: boolean) =>
    Effect.map(call("GET", `${path(id)}${all === true ? "?all=true" : ""}`), (j) => j as JobJson)
  return {
    via: base,
    submit: (built, document) =>
      Effect.map(
        call(
          "POST",
          "/api/jobs",
          typeof document === "object" && document !== null ? { ...document, id: built.spec.id } : document
        ),
        (r) => (r as { id: string }).id
      ),
    list: (filter) =>
      Effect.gen(function* () {
        const query = new URLSearchParams()
        for (const s of filter.states) query.append("state", s)
        for (const [k, v] of filter.labels) query.append("label", `${k}=${v}`)
        const q = query.toString()
        const summaries = (yield* call("GET", `/api/jobs${q === "" ? "" : `?${q}`}`)) as ReadonlyArray<{ id: string }>
        const docs = yield* Effect.forEach(
          summaries,
          (s) =>
            show(s.id).pipe(
              Effect.map(Option.some),
              Effect.catch((e) => (e.code === 2 ? Effect.succeed(Option.none<JobJson>()) : Effect.fail(e)))
            ),
          { concurrency: 8 }
        )
        return docs.flatMap((d) => Option.toArray(d)).sort(oldestFirst)
      }),
    show,
    page: (id, options) => {
      const query = new URLSearchParams({ limit: String(options.limit) })
      if (options.after !== undefined) query.set("after", options.after)
      if (options.filter !== undefined) query.set("filter", options.filter)
      return Effect.map(call("GET", `${path(id)}/tasks?${query}`), (p) => p as PageJson)
    },
    events: (id) => Effect.map(call("GET", `${path(id)}/events`), (e) => e as ReadonlyArray<EventJson>),
    request: (id, operation, reason) =>
      Effect.map(
        call("POST", `${path(id)}/${operation}`, reason === undefined ? {} : { reason }),
        (r) => r as { state: string }
      ),
    remove: (id, options) =>
      Effect.map(
        call(
          "DELETE",
          `${path(id)}${options.releaseShared ? "?releaseShared=true" : ""}`,
          options.reason === undefined ? {} : { reason: options.reason },
          (status) => (status === 404 ? JOB_FAILED : status === 409 ? 2 : undefined)
        ),
        (r) => r as ArchivedJson
      ),
    archive: Effect.map(call("GET", "/api/archive"), (r) => r as ReadonlyArray<ArchivedJson>),
    archived: (id) =>
      call("GET", `/api/archive/${encodeURIComponent(id)}`).pipe(
        Effect.map((r) => Option.some(r as ArchivedJson)),
        Effect.catch((e) => (e.code === 2 ? Effect.succeed(Option.none<ArchivedJson>()) : Effect.fail(e)))
      )
  }
}
