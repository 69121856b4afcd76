/**
 * `openstack/volume.unmanage`: undo of `volume.import`. Cinder forgets the
 * volume (`os-unmanage`) and the backend volume stays, still replicated.
 * Awaits a volume still detaching from a deleted instance first, then waits
 * until Cinder no longer knows the volume. Already gone is success.
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
export const definition = TaskHandler.make("openstack/volume.unmanage", {
  input: Input,
  output: Output,
  retry: { maxAttempts: 5 },
  timeout: "25 minutes",
  description: "Unmanages an imported volume (the backend volume stays); already gone is success"
})

/**
 * @category handlers
 * @since 0.1.0
 */
export const run = removal("unmanage")

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = definition.toLayer(run)
