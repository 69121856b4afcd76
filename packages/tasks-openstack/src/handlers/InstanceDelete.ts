/**
 * `openstack/instance.delete`: undo of `instance.create`. Deletes the server
 * and waits until it is gone, then deletes the Neutron ports the create task
 * made (its `portIds`, and whatever still carries its `portTag`). Volumes are
 * not deleted (the `volume.*` clear tasks undo them) but are awaited until
 * Nova has detached them, so those tasks find them `available`. Already gone
 * is success.
 *
 * Also exports the server and port helpers `instance.create` uses to clean
 * up after a failed boot.
 *
 * @since 0.1.0
 */
import { type TaskContext, type TaskError, TaskHandler } from "@migrator/core"
import { type Duration, Effect, Option, Schema } from "effect"
import * as Clouds from "../Clouds.ts"
import { awaitState, done, mapErrors, pending } from "../internal/handler.ts"
import type { Client } from "../OpenStackClient.ts"
import * as OpenStackError from "../OpenStackError.ts"
import { readVolume } from "./VolumeCopy.ts"

/**
 * @category schemas
 * @since 0.1.0
 */
export const Input = Schema.Struct({
  projectId: Schema.NonEmptyString,
  /** `instance.create`'s output. */
  serverId: Schema.NonEmptyString,
  /** `instance.create`'s `portIds`. */
  portIds: Schema.optional(Schema.Array(Schema.String)),
  /** `instance.create`'s `portTag`: ports carrying it are deleted too. */
  portTag: Schema.optional(Schema.String),
  /** `instance.create`'s `volumeIds`: awaited until detached (also read from the server while it exists). */
  volumeIds: Schema.optional(Schema.Array(Schema.String))
})

/**
 * @category schemas
 * @since 0.1.0
 */
export const Output = Schema.Struct({})

/**
 * @category definitions
 * @since 0.1.0
 */
export const definition = TaskHandler.make("openstack/instance.delete", {
  input: Input,
  output: Output,
  retry: { maxAttempts: 5 },
  timeout: "20 minutes",
  description: "Deletes a server and its ports and waits until its volumes are detached; already gone is success"
})

// ---------------------------------------------------------------- shared server helpers

/** 2.74: `host` at boot (2.52 tags at boot, 2.26 tags filter). */
export const computeMicroversion = "2.74"

export const ServerView = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  status: Schema.String,
  "OS-EXT-STS:task_state": Schema.optional(Schema.NullOr(Schema.String)),
  "OS-EXT-SRV-ATTR:host": Schema.optional(Schema.NullOr(Schema.String)),
  "OS-EXT-AZ:availability_zone": Schema.optional(Schema.NullOr(Schema.String)),
  fault: Schema.optional(Schema.Struct({ message: Schema.optional(Schema.String) })),
  "os-extended-volumes:volumes_attached": Schema.optional(Schema.Array(Schema.Struct({ id: Schema.String }))),
  metadata: Schema.optional(Schema.Record(Schema.String, Schema.String)),
  tags: Schema.optional(Schema.Array(Schema.String))
})
export type ServerView = typeof ServerView.Type

/** The server, or none once it is gone. */
export const readServer = (client: Client, serverId: string) =>
  client
    .request("compute", "GET", `/servers/${encodeURIComponent(serverId)}`, {
      microversion: computeMicroversion,
      schema: Schema.Struct({ server: ServerView })
    })
    .pipe(
      Effect.map((body) => Option.some(body.server)),
      OpenStackError.catchNotFound(() => Option.none<ServerView>())
    )

/** Deletes a server (any state) and waits until Nova no longer knows it. */
export const deleteServer = (client: Client, serverId: string, deadline: Duration.Input) =>
  Effect.gen(function* () {
    const path = `/servers/${encodeURIComponent(serverId)}`
    const send = client
      .request("compute", "DELETE", path, { microversion: computeMicroversion, retryOnConflict: true })
      .pipe(OpenStackError.catchNotFound(() => undefined))
    yield* send
    yield* awaitState(
      `server ${serverId} deletion`,
      Effect.flatMap(readServer(client, serverId), (found) => {
        if (Option.isNone(found) || found.value.status === "DELETED") return Effect.succeed(done(undefined))
        // soft delete keeps it until the reclaim interval: we want it gone now
        if (found.value.status === "SOFT_DELETED") {
          return client
            .request("compute", "POST", `${path}/action`, { body: { forceDelete: null }, idempotent: true })
            .pipe(
              OpenStackError.catchNotFound(() => undefined),
              Effect.as(pending("SOFT_DELETED"))
            )
        }
        return Effect.succeed(pending(found.value["OS-EXT-STS:task_state"] ?? found.value.status))
      }),
      { deadline }
    )
  })

const PortIds = Schema.Struct({ ports: Schema.Array(Schema.Struct({ id: Schema.String })) })

/** Deletes the given ports and those marked with `tag` (already gone is fine). */
export const deletePorts = (client: Client, portIds: ReadonlyArray<string>, tag: string | undefined) =>
  Effect.gen(function* () {
    const ids = new Set(portIds)
    if (tag !== undefined) {
      // the description is set with the port, the tag just after: look for both
      for (const query of [{ description: tag }, { tags: tag }]) {
        const found = yield* client.request("network", "GET", "/ports", {
          query: { ...query, fields: "id" },
          schema: PortIds
        })
        for (const p of found.ports) ids.add(p.id)
      }
    }
    yield* Effect.forEach(
      ids,
      (id) =>
        client
          .request("network", "DELETE", `/ports/${encodeURIComponent(id)}`)
          .pipe(OpenStackError.catchNotFound(() => undefined)),
      { concurrency: 4, discard: true }
    )
  })

/** Waits until none of the volumes is attached or changing (a missing volume is fine). */
export const awaitVolumesDetached = (client: Client, volumeIds: ReadonlyArray<string>, deadline: Duration.Input) =>
  Effect.forEach(
    volumeIds,
    (volumeId) =>
      awaitState(
        `volume ${volumeId} detachment`,
        Effect.map(readVolume(client, volumeId), (found) => {
          if (Option.isNone(found)) return done(undefined)
          const v = found.value
          if ((v.attachments ?? []).length === 0 && (v.status === "available" || v.status.startsWith("error"))) {
            return done(undefined)
          }
          if (v.status === "deleting") return done(undefined)
          return pending(v.status)
        }),
        { deadline }
      ),
    { concurrency: 4, discard: true }
  )

// ---------------------------------------------------------------- handler

/**
 * @category handlers
 * @since 0.1.0
 */
export const run = (
  input: typeof Input.Type
): Effect.Effect<typeof Output.Type, TaskError.TaskError, Clouds.Clouds | TaskContext.TaskContext> =>
  mapErrors(
    Effect.gen(function* () {
      const client = (yield* Clouds.current).forProject(input.projectId)
      const server = yield* readServer(client, input.serverId)
      const volumeIds = new Set(input.volumeIds ?? [])
      if (Option.isSome(server)) {
        for (const v of server.value["os-extended-volumes:volumes_attached"] ?? []) volumeIds.add(v.id)
        yield* deleteServer(client, input.serverId, "10 minutes")
      }
      yield* deletePorts(client, input.portIds ?? [], input.portTag)
      yield* awaitVolumesDetached(client, [...volumeIds], "5 minutes")
      return {}
    })
  )

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = definition.toLayer(run)
