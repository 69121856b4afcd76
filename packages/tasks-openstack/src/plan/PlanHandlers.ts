/**
 * The handler definitions a recovery plan's jobs use, by task type id: to
 * validate built jobs with core's JobBuilder (unknown types, inputs that do
 * not match their handler's Schema) without running anything.
 *
 * @since 0.1.0
 */
import * as OpenStackTasks from "../OpenStackTasks.ts"

/** Every handler definition a plan may produce tasks for: the whole catalogue. */
export const definitions = OpenStackTasks.definitions

/** Input Schemas by task type id, as `JobBuilder.build`'s `types` option takes them. */
export const inputs = OpenStackTasks.inputs
