/**
 * `openstack/volume.delete-copy`: undo of `volume.copy`: deletes the copy
 * (the replicated source is untouched).
 * Awaits a volume still detaching from a deleted instance first, then waits
 * until it is gone. Already gone is success.
 *
 * @since 0.1.0
 */
import { type TaskContext, type TaskError, TaskHandler } from "@migrator/core"
import { Effect, Schema } from "effect"
import * as Clouds from "../Clouds.ts"
import { mapErrors } from "../internal/handler.ts"
import { removeVolume } from "./VolumeCopy.ts"

/**
 * @category schemas
 * @since 0.1.0
 */
export const Input = Schema.Struct({
  projectId: Schema.NonEmptyString,
  /** `volume.copy`'s output. */
  volumeId: Schema.NonEmptyString
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
export const definition = TaskHandler.make("openstack/volume.delete-copy", {
  input: Input,
  output: Output,
  retry: { maxAttempts: 5 },
  timeout: "25 minutes",
  description: "Deletes a volume copy and waits until it is gone; already gone is success"
})

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
      yield* removeVolume(client, input.volumeId, "delete", "10 minutes")
      return {}
    })
  )

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = definition.toLayer(run)
