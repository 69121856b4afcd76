/**
 * `openstack/volume.delete-copy`: undo of `volume.copy`: deletes the copy
 * (the replicated source is untouched).
 * Awaits a volume still detaching from a deleted instance first, then waits
 * until it is gone. Already gone is success.
 *
 * @since 0.1.0
 */
import { TaskHandler } from "@migrator/core"
import { RemovalInput, RemovalOutput, removal } from "./VolumeCopy.ts"

/**
 * @category schemas
 * @since 0.1.0
 */
export const Input = RemovalInput

/**
 * @category schemas
 * @since 0.1.0
 */
export const Output = RemovalOutput

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
export const run = removal("delete")

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = definition.toLayer(run)
