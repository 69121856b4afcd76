/**
 * What the Keystone and Neutron handlers share: the owner marker of a task
 * (short enough for a Neutron tag), marking resources at creation, finding a
 * task's own resources again, creating with adoption when the answer of a
 * POST was lost, and deletes where 404 means done.
 *
 * Why the description: Zed's Neutron does not take `tags` in a POST (that
 * came with the `tag-creation` extension in 2024.2), and a tag added after the
 * POST is lost when the runner dies in between. So the marker goes into the
 * description, which is written with the resource, and a tag is added too so
 * operators (and `?tags=` filters) see it.
 */
import { createHash } from "node:crypto"
import { TaskContext, TaskError } from "@migrator/core"
import { Effect, Schema } from "effect"
import type { Client, Query, Service } from "../OpenStackClient.ts"
import * as OpenStackError from "../OpenStackError.ts"

/** Neutron refuses longer tags; Keystone allows 255. */
const MAX_MARKER = 60
/** Neutron's limit on descriptions. */
const MAX_DESCRIPTION = 255

/**
 * The marker of what a task makes, from its idempotency key (`<job>:<task>`, or
 * `shared:<key>` for a shared resource, so any job holding it finds it):
 * `migrator:<key>` when it fits a Neutron tag, else `migrator:h-` and 48 hex
 * digits of the key's SHA-256.
 */
export const markerFor = (idempotencyKey: string): string => {
  const full = `migrator:${idempotencyKey}`
  if (full.length <= MAX_MARKER) return full
  return `migrator:h-${createHash("sha256").update(idempotencyKey).digest("hex").slice(0, 48)}`
}

/** The marker of the running task. */
export const ownerMarker: Effect.Effect<string, never, TaskContext.TaskContext> = Effect.gen(function* () {
  const context = yield* TaskContext.TaskContext
  return markerFor(context.idempotencyKey)
})

/**
 * The marker of the run task a clear task undoes: the shared key's when the resource is shared
 * (whichever job made it), else that task's of the running job.
 */
export const markerOfTask = (taskId: string): Effect.Effect<string, never, TaskContext.TaskContext> =>
  Effect.gen(function* () {
    const context = yield* TaskContext.TaskContext
    return markerFor(context.shared === undefined ? `${context.jobId}:${taskId}` : context.idempotencyKey)
  })

/** A description that carries the marker: `<description> [<marker>]`, within Neutron's 255 characters. */
export const markedDescription = (description: string | undefined, marker: string): string => {
  const suffix = `[${marker}]`
  const text = (description ?? "").trim()
  if (text === "") return suffix
  const room = MAX_DESCRIPTION - suffix.length - 1
  return `${text.length > room ? text.slice(0, room) : text} ${suffix}`
}

export interface Marked {
  readonly description?: string | null | undefined
  readonly tags?: ReadonlyArray<string> | undefined
}

/** Whether a resource carries `marker` (as a tag, or in its description). */
export const isMarked = (resource: Marked, marker: string): boolean =>
  (resource.tags ?? []).includes(marker) || (resource.description ?? "").includes(`[${marker}]`)

const invalid = (what: string, error: Schema.SchemaError) =>
  TaskError.permanent("openstack.invalid-response", `unexpected ${what}: ${error.message}`)

/** Every item of a collection, decoded with `schema`. */
export const listAs = <S extends Schema.Top & { readonly DecodingServices: never }>(
  client: Client,
  service: Service,
  path: string,
  collection: string,
  schema: S,
  query?: Query
): Effect.Effect<ReadonlyArray<S["Type"]>, OpenStackError.OpenStackError | TaskError.TaskError> =>
  client.list(service, path, collection, query).pipe(
    Effect.flatMap((items) => Schema.decodeUnknownEffect(Schema.Array(schema))(items)),
    Effect.catchTag("SchemaError", (e) => Effect.fail(invalid(`${collection} list`, e)))
  ) as Effect.Effect<ReadonlyArray<S["Type"]>, OpenStackError.OpenStackError | TaskError.TaskError>

/** The project resources go to: the given one, or the one the client's token is scoped to. */
export const projectOf = (
  client: Client,
  projectId: string | undefined
): Effect.Effect<string, OpenStackError.OpenStackError | TaskError.TaskError> =>
  projectId !== undefined
    ? Effect.succeed(projectId)
    : Effect.flatMap(client.session, (session) =>
        session.projectId === undefined
          ? Effect.fail(
              TaskError.permanent(
                "openstack.no-project",
                "no projectId was given and the cloud's credentials are not scoped to a project"
              )
            )
          : Effect.succeed(session.projectId)
      )

/** Whether the outcome of a failed request is unknown: it may have been carried out. */
export const maybeApplied = (error: unknown): boolean =>
  OpenStackError.isOpenStackError(error) &&
  (error.reason._tag === "Timeout" || (error.reason._tag === "Unavailable" && error.reason.maybeApplied))

/**
 * Adopts what `find` finds, or creates. When the create's outcome is unknown
 * (a timeout, a dropped connection, a 500) or it conflicts, looks again: an
 * earlier or this very request may have made the resource after all.
 */
export const findOrCreate = <A, E, R, E2, R2>(
  find: Effect.Effect<A | undefined, E, R>,
  create: Effect.Effect<A, E2, R2>
): Effect.Effect<{ readonly value: A; readonly adopted: boolean }, E | E2, R | R2> =>
  Effect.gen(function* () {
    const found = yield* find
    if (found !== undefined) return { value: found, adopted: true }
    return yield* create.pipe(
      Effect.map((value) => ({ value, adopted: false })),
      Effect.catchIf(
        (e: E2) => maybeApplied(e) || (OpenStackError.isOpenStackError(e) && e.reason._tag === "Conflict"),
        (e) =>
          Effect.flatMap(find, (again) =>
            again === undefined ? Effect.fail(e) : Effect.succeed({ value: again, adopted: true })
          )
      )
    )
  })

/** Neutron collections that take tags, by their URL segment. */
export type Taggable = "networks" | "subnets" | "ports" | "routers" | "floatingips" | "security-groups"

/** Adds `marker` as a tag (idempotent: adding a tag twice is harmless). */
export const tagWith = (
  client: Client,
  collection: Taggable,
  id: string,
  marker: string
): Effect.Effect<void, OpenStackError.OpenStackError> =>
  Effect.asVoid(
    client.request("network", "PUT", `/${collection}/${encodeURIComponent(id)}/tags/${encodeURIComponent(marker)}`)
  )

/** Sends a DELETE; true when it deleted, false when the resource was already gone. */
export const deleteIfPresent = (
  client: Client,
  service: Service,
  path: string
): Effect.Effect<boolean, OpenStackError.OpenStackError> =>
  client.request(service, "DELETE", path).pipe(
    Effect.as(true),
    OpenStackError.catchNotFound(() => false)
  )

/**
 * Deletes what is at `path` if it is there; true when it was there (and is
 * gone now), false when it was gone already. Looking first keeps the answer
 * right when a DELETE whose answer was lost is repeated and meets a 404.
 */
export const removeIfPresent = (
  client: Client,
  service: Service,
  path: string
): Effect.Effect<boolean, OpenStackError.OpenStackError> =>
  Effect.gen(function* () {
    const present = yield* client.request(service, "GET", path).pipe(
      Effect.as(true),
      OpenStackError.catchNotFound(() => false)
    )
    if (!present) return false
    yield* deleteIfPresent(client, service, path)
    return true
  })

/** Reads one resource, `undefined` when it is gone. */
export const getIfPresent = <S extends Schema.Constraint>(
  client: Client,
  service: Service,
  path: string,
  schema: S
): Effect.Effect<S["Type"] | undefined, OpenStackError.OpenStackError, S["DecodingServices"]> =>
  client.request(service, "GET", path, { schema }).pipe(OpenStackError.catchNotFound(() => undefined))

/** A Neutron resource as the handlers look at it when they search their own. */
export const MarkedResource = Schema.Struct({
  id: Schema.String,
  name: Schema.optional(Schema.String),
  description: Schema.optional(Schema.NullOr(Schema.String)),
  tags: Schema.optional(Schema.Array(Schema.String)),
  project_id: Schema.optional(Schema.String)
})

/**
 * The ids of the resources of `collection` (e.g. `networks`) that task
 * `marker` made, looked up by tag and by description (within `projectId`
 * when known, since descriptions cannot be filtered on).
 */
export const findMarked = (
  client: Client,
  collection: string,
  marker: string,
  projectId: string | undefined
): Effect.Effect<ReadonlyArray<string>, OpenStackError.OpenStackError | TaskError.TaskError> =>
  Effect.gen(function* () {
    const key = collection.replace(/-/g, "_")
    const tagged = yield* listAs(client, "network", `/${collection}`, key, MarkedResource, { tags: marker })
    const described =
      projectId === undefined
        ? []
        : yield* listAs(client, "network", `/${collection}`, key, MarkedResource, { project_id: projectId })
    return [...new Set([...tagged, ...described].filter((r) => isMarked(r, marker)).map((r) => r.id))]
  })

/** The ids to delete: the given one, plus whatever the run task `createdBy` made (when named). */
export const idsToDelete = (
  client: Client,
  collection: string,
  input: {
    readonly id: string | undefined
    readonly createdBy: string | undefined
    readonly projectId: string | undefined
  }
): Effect.Effect<ReadonlyArray<string>, OpenStackError.OpenStackError | TaskError.TaskError, TaskContext.TaskContext> =>
  Effect.gen(function* () {
    if (input.id === undefined && input.createdBy === undefined) {
      return yield* Effect.fail(
        TaskError.permanent("openstack.invalid-input", `neither the id nor createdBy names what to delete`)
      )
    }
    const ids = input.id === undefined ? [] : [input.id]
    if (input.createdBy !== undefined) {
      const marker = yield* markerOfTask(input.createdBy)
      ids.push(...(yield* findMarked(client, collection, marker, input.projectId)))
    }
    return [...new Set(ids)]
  })

/** The output of every delete handler: the ids it removed (empty when all was gone already). */
export const DeleteOutput = Schema.Struct({ deleted: Schema.Array(Schema.String) })

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * The id of an external network given by id or by name, so a plan can say
 * `public` rather than the recovery cloud's id. No match, or several, fails
 * for good: no retry makes the name unique.
 */
export const externalNetworkId = (
  client: Client,
  nameOrId: string
): Effect.Effect<string, OpenStackError.OpenStackError | TaskError.TaskError> =>
  UUID.test(nameOrId)
    ? Effect.succeed(nameOrId)
    : listAs(client, "network", "/networks", "networks", Schema.Struct({ id: Schema.String }), {
        name: nameOrId,
        "router:external": "true"
      }).pipe(
        Effect.flatMap((found) =>
          found.length === 1
            ? Effect.succeed(found[0]!.id)
            : Effect.fail(
                TaskError.permanent(
                  "openstack.external-network",
                  found.length === 0
                    ? `no external network named "${nameOrId}"`
                    : `${found.length} external networks are named "${nameOrId}": give its id`
                )
              )
        )
      )
