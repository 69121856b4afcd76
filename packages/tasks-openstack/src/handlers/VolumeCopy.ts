/**
 * `openstack/volume.copy`: a new Cinder volume in the recovery project,
 * cloned from the replicated source volume (`source_volid`) or from one of
 * its snapshots (`snapshot_id`), awaited until `available`.
 *
 * Identity: the owner tag is the volume's `migrator_owner` metadata; before
 * creating, the project's volumes are searched for it and an earlier
 * attempt's volume is adopted (awaited if still `creating`). A copy that
 * ends in `error` is deleted before the task fails, so a retry starts clean.
 *
 * Also exports the volume helpers the other `volume.*` handlers share.
 *
 * @since 0.1.0
 */
import { type TaskContext, TaskError, TaskHandler } from "@migrator/core"
import { type Duration, Effect, Option, Schema } from "effect"
import * as Clouds from "../Clouds.ts"
import { awaitState, done, failed, mapErrors, ownerTag, pending } from "../internal/handler.ts"
import type { Client } from "../OpenStackClient.ts"
import * as OpenStackError from "../OpenStackError.ts"

/**
 * @category schemas
 * @since 0.1.0
 */
export const Input = Schema.Struct({
  /** The recovery project (`tenant.create`'s output). */
  projectId: Schema.NonEmptyString,
  name: Schema.String,
  /** The replicated source volume to clone; exactly one of this and `sourceSnapshotId`. */
  sourceVolumeId: Schema.optional(Schema.String),
  /** A snapshot of the replicated source volume to clone. */
  sourceSnapshotId: Schema.optional(Schema.String),
  /** Default: the size of the source. */
  sizeGiB: Schema.optional(Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1)))),
  volumeType: Schema.optional(Schema.String),
  availabilityZone: Schema.optional(Schema.String),
  description: Schema.optional(Schema.String),
  metadata: Schema.optional(Schema.Record(Schema.String, Schema.String)),
  /** Mark the copy bootable (a clone inherits the source's flag otherwise). */
  bootable: Schema.optional(Schema.Boolean),
  /** How long to wait for `available` (default 4 hours: a copy moves data). */
  waitSeconds: Schema.optional(Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1))))
})

/**
 * @category schemas
 * @since 0.1.0
 */
export const Output = Schema.Struct({
  volumeId: Schema.String,
  sizeGiB: Schema.Number,
  bootable: Schema.Boolean
})

/**
 * @category definitions
 * @since 0.1.0
 */
export const definition = TaskHandler.make("openstack/volume.copy", {
  input: Input,
  output: Output,
  retry: { maxAttempts: 3 },
  timeout: "5 hours",
  description: "Clones the replicated source volume or snapshot into a new volume of the recovery project"
})

// ---------------------------------------------------------------- shared volume helpers

/**
 * The owner tag cut to fit a field of at most `max` characters (Nova and
 * Neutron tags: 60; metadata values: 255): a prefix of the tag and a hash of
 * all of it, so distinct tags stay distinct.
 */
export const boundedTag = (tag: string, max: number): string => {
  if (tag.length <= max) return tag
  // FNV-1a, 64 bits
  let h = 0xcbf29ce484222325n
  for (let i = 0; i < tag.length; i++) h = ((h ^ BigInt(tag.charCodeAt(i))) * 0x100000001b3n) & 0xffffffffffffffffn
  const hash = h.toString(16).padStart(16, "0")
  return `${tag.slice(0, max - hash.length - 1)}#${hash}`
}

/** Metadata key holding the owner tag of volumes made by a task. */
export const ownerKey = "migrator_owner"

/** Statuses from which Cinder accepts a delete or an unmanage. */
export const removable: ReadonlyArray<string> = [
  "available",
  "error",
  "error_restoring",
  "error_extending",
  "error_managing"
]

export const VolumeView = Schema.Struct({
  id: Schema.String,
  name: Schema.optional(Schema.NullOr(Schema.String)),
  status: Schema.String,
  size: Schema.Number,
  bootable: Schema.optional(Schema.Union([Schema.String, Schema.Boolean])),
  metadata: Schema.optional(Schema.Record(Schema.String, Schema.String)),
  attachments: Schema.optional(Schema.Array(Schema.Struct({ server_id: Schema.optional(Schema.String) })))
})
export type VolumeView = typeof VolumeView.Type

export const isBootable = (v: VolumeView): boolean => v.bootable === true || v.bootable === "true"

const invalid = (what: string) => (e: Schema.SchemaError) =>
  Effect.fail(TaskError.permanent("openstack.invalid-response", `unexpected ${what}: ${e.message}`))

/** The volume, or none once it is gone. */
export const readVolume = (client: Client, volumeId: string) =>
  client
    .request("volumev3", "GET", `/volumes/${encodeURIComponent(volumeId)}`, {
      schema: Schema.Struct({ volume: VolumeView })
    })
    .pipe(
      Effect.map((body) => Option.some(body.volume)),
      OpenStackError.catchNotFound(() => Option.none<VolumeView>())
    )

/** The volume of the project whose owner metadata is `tag`, if any. */
export const findOwnedVolume = (client: Client, tag: string) =>
  client.list("volumev3", "/volumes/detail", "volumes", { metadata: JSON.stringify({ [ownerKey]: tag }) }).pipe(
    Effect.flatMap(Schema.decodeUnknownEffect(Schema.Array(VolumeView))),
    Effect.catchTag("SchemaError", invalid("volume list")),
    // also checked here: a server that ignores the filter must not make us adopt a stranger
    Effect.map((volumes) =>
      Option.fromUndefinedOr(volumes.find((v) => v.metadata?.[ownerKey] === tag && v.status !== "deleting"))
    )
  )

/** Awaits one of the `want` statuses; an `error*` status fails at once with `onError`. */
export const awaitVolume = (
  client: Client,
  volumeId: string,
  options: {
    readonly deadline: Duration.Input
    readonly want: ReadonlyArray<string>
    readonly onError: (status: string) => TaskError.TaskError
  }
) =>
  awaitState(
    `volume ${volumeId}`,
    Effect.map(readVolume(client, volumeId), (found) => {
      if (Option.isNone(found)) {
        return failed(TaskError.retryable("openstack.volume-gone", `volume ${volumeId} disappeared`))
      }
      const v = found.value
      if (options.want.includes(v.status)) return done(v)
      if (v.status.startsWith("error")) return failed(options.onError(v.status))
      return pending(v.status)
    }),
    { deadline: options.deadline }
  )

/**
 * Removes a volume (`delete`, or `unmanage` which leaves the backend data)
 * and waits until it is gone. Already gone is success; a volume still
 * detaching or being created is awaited first.
 */
export const removeVolume = (client: Client, volumeId: string, how: "delete" | "unmanage", deadline: Duration.Input) =>
  Effect.gen(function* () {
    const path = `/volumes/${encodeURIComponent(volumeId)}`
    const state = yield* awaitState(
      `volume ${volumeId}`,
      Effect.map(readVolume(client, volumeId), (found) => {
        if (Option.isNone(found)) return done("gone" as const)
        const v = found.value
        if (v.status === "deleting") return done("deleting" as const)
        // Cinder takes no second delete of a volume whose deletion failed: an operator must look
        if (v.status === "error_deleting") {
          return failed(TaskError.permanent("openstack.volume-error", `volume ${volumeId} is in error_deleting`))
        }
        if (removable.includes(v.status) && (v.attachments ?? []).length === 0) return done("ready" as const)
        return pending(v.status)
      }),
      { deadline }
    )
    if (state === "gone") return
    if (state === "ready") {
      const call =
        how === "delete"
          ? client.request("volumev3", "DELETE", path)
          : client.request("volumev3", "POST", `${path}/action`, { body: { "os-unmanage": {} }, idempotent: true })
      yield* call.pipe(OpenStackError.catchNotFound(() => undefined))
    }
    yield* awaitState(
      `volume ${volumeId} removal`,
      Effect.map(readVolume(client, volumeId), (found) => {
        if (Option.isNone(found)) return done(undefined)
        const v = found.value
        if (v.status === "error_deleting") {
          return failed(TaskError.permanent("openstack.volume-error", `volume ${volumeId} went to error_deleting`))
        }
        return pending(v.status)
      }),
      { deadline }
    )
  })

/** Sets the bootable flag when it differs. */
export const ensureBootable = (client: Client, volume: VolumeView, bootable: boolean) =>
  isBootable(volume) === bootable
    ? Effect.void
    : client.request("volumev3", "POST", `/volumes/${encodeURIComponent(volume.id)}/action`, {
        body: { "os-set_bootable": { bootable } },
        idempotent: true
      })

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
      if ((input.sourceVolumeId === undefined) === (input.sourceSnapshotId === undefined)) {
        return yield* TaskError.permanent(
          "openstack.bad-input",
          "volume.copy needs exactly one of sourceVolumeId and sourceSnapshotId"
        )
      }
      const client = (yield* Clouds.current).forProject(input.projectId)
      const tag = boundedTag(yield* ownerTag, 255)
      const deadline = `${input.waitSeconds ?? 4 * 3600} seconds` as const
      const owned = yield* findOwnedVolume(client, tag)
      let volumeId: string
      if (Option.isSome(owned)) {
        volumeId = owned.value.id
        yield* Effect.logInfo("adopting the volume an earlier attempt made").pipe(Effect.annotateLogs({ volumeId }))
      } else {
        const created = yield* client.request("volumev3", "POST", "/volumes", {
          body: {
            volume: {
              name: input.name,
              ...(input.sourceVolumeId === undefined ? {} : { source_volid: input.sourceVolumeId }),
              ...(input.sourceSnapshotId === undefined ? {} : { snapshot_id: input.sourceSnapshotId }),
              ...(input.sizeGiB === undefined ? {} : { size: input.sizeGiB }),
              ...(input.volumeType === undefined ? {} : { volume_type: input.volumeType }),
              ...(input.availabilityZone === undefined ? {} : { availability_zone: input.availabilityZone }),
              ...(input.description === undefined ? {} : { description: input.description }),
              metadata: { ...input.metadata, [ownerKey]: tag }
            }
          },
          schema: Schema.Struct({ volume: VolumeView })
        })
        volumeId = created.volume.id
      }
      const volume = yield* awaitVolume(client, volumeId, {
        deadline,
        want: ["available", "in-use"],
        onError: (status) =>
          TaskError.retryable("openstack.volume-error", `the copy ${volumeId} went to ${status}; it was deleted`)
      }).pipe(
        Effect.tapError((e) =>
          e._tag === "TaskError" && e.code === "openstack.volume-error"
            ? removeVolume(client, volumeId, "delete", "10 minutes").pipe(Effect.ignore)
            : Effect.void
        )
      )
      if (input.bootable !== undefined) yield* ensureBootable(client, volume, input.bootable)
      return { volumeId, sizeGiB: volume.size, bootable: input.bootable ?? isBootable(volume) }
    })
  )

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = definition.toLayer(run)

/**
 * What the two volume undos share (`volume.delete-copy`, `volume.unmanage`):
 * the volume made by the run task, removed in the given way.
 *
 * @category schemas
 * @since 0.1.0
 */
export const RemovalInput = Schema.Struct({
  projectId: Schema.NonEmptyString,
  /** The run task's output. */
  volumeId: Schema.NonEmptyString
})

/**
 * @category schemas
 * @since 0.1.0
 */
export const RemovalOutput = Schema.Struct({})

/**
 * @category handlers
 * @since 0.1.0
 */
export const removal =
  (how: "delete" | "unmanage") =>
  (
    input: typeof RemovalInput.Type
  ): Effect.Effect<typeof RemovalOutput.Type, TaskError.TaskError, Clouds.Clouds | TaskContext.TaskContext> =>
    mapErrors(
      Effect.gen(function* () {
        const client = (yield* Clouds.current).forProject(input.projectId)
        yield* removeVolume(client, input.volumeId, how, "10 minutes")
        return {}
      })
    )
