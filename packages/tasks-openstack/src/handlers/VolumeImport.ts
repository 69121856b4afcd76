/**
 * `openstack/volume.import`: brings a replicated backend volume under Cinder
 * in the recovery project (manage-existing: `POST /manageable_volumes` with
 * the backend host and the driver's reference, e.g. `{"source-name": …}`),
 * awaited until `available`.
 *
 * Identity: the owner tag is the volume's `migrator_owner` metadata; an
 * earlier attempt's volume is adopted. Managing the same backend volume twice
 * fails in Cinder, so the lookup must come first. A volume that ends in
 * `error_managing` is removed (Cinder does not touch the backend data when it
 * deletes a volume it failed to manage) and the task fails permanently: the
 * reference or the host is wrong.
 *
 * @since 0.1.0
 */
import { type TaskContext, TaskError, TaskHandler } from "@migrator/core"
import { Effect, Option, Schema } from "effect"
import * as Clouds from "../Clouds.ts"
import { mapErrors, ownerTag } from "../internal/handler.ts"
import {
  awaitVolume,
  boundedTag,
  ensureBootable,
  findOwnedVolume,
  isBootable,
  ownerKey,
  removeVolume,
  VolumeView
} from "./VolumeCopy.ts"

/**
 * @category schemas
 * @since 0.1.0
 */
export const Input = Schema.Struct({
  /** The recovery project (`tenant.create`'s output). */
  projectId: Schema.NonEmptyString,
  name: Schema.String,
  /** Cinder backend `host@backend#pool` (or `host@backend`). */
  host: Schema.NonEmptyString,
  /** The driver's reference of the backend volume, e.g. `{"source-name": "volume-…"}` or `{"source-id": …}`. */
  reference: Schema.Record(Schema.String, Schema.Union([Schema.String, Schema.Number])),
  volumeType: Schema.optional(Schema.String),
  availabilityZone: Schema.optional(Schema.String),
  description: Schema.optional(Schema.String),
  metadata: Schema.optional(Schema.Record(Schema.String, Schema.String)),
  bootable: Schema.optional(Schema.Boolean),
  /** How long to wait for `available` (default 30 minutes). */
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
export const definition = TaskHandler.make("openstack/volume.import", {
  input: Input,
  output: Output,
  retry: { maxAttempts: 4 },
  timeout: "1 hour",
  description: "Manages an existing backend volume into Cinder in the recovery project (manage-existing)"
})

// 3.8: the `manageable_volumes` resource
const microversion = "3.8"

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
      const tag = boundedTag(yield* ownerTag, 255)
      const owned = yield* findOwnedVolume(client, tag)
      let volumeId: string
      if (Option.isSome(owned)) {
        volumeId = owned.value.id
        yield* Effect.logInfo("adopting the volume an earlier attempt made").pipe(Effect.annotateLogs({ volumeId }))
      } else {
        const created = yield* client.request("volumev3", "POST", "/manageable_volumes", {
          body: {
            volume: {
              host: input.host,
              ref: input.reference,
              name: input.name,
              ...(input.volumeType === undefined ? {} : { volume_type: input.volumeType }),
              ...(input.availabilityZone === undefined ? {} : { availability_zone: input.availabilityZone }),
              ...(input.description === undefined ? {} : { description: input.description }),
              ...(input.bootable === undefined ? {} : { bootable: input.bootable }),
              metadata: { ...input.metadata, [ownerKey]: tag }
            }
          },
          microversion,
          schema: Schema.Struct({ volume: VolumeView })
        })
        volumeId = created.volume.id
      }
      const volume = yield* awaitVolume(client, volumeId, {
        deadline: `${input.waitSeconds ?? 1800} seconds`,
        want: ["available", "in-use"],
        onError: (status) =>
          TaskError.permanent(
            "openstack.volume-import-failed",
            `managing ${JSON.stringify(input.reference)} on ${input.host} ended in ${status}; the failed volume record ${volumeId} was removed`
          )
      }).pipe(
        Effect.tapError((e) =>
          e._tag === "TaskError" && e.code === "openstack.volume-import-failed"
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
