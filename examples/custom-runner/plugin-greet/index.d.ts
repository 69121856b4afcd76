import type { TaskRegistry } from "@migrator/core"
import type { Layer } from "effect"

/** Registers the handler of `acme/greet`. */
export declare const layer: Layer.Layer<never, never, TaskRegistry.TaskRegistry>
