/**
 * Loads task-handler plugins by name: `test` (core's test plugin), or a
 * module specifier / path whose module exports `layer` (a Layer that
 * registers handlers in the TaskRegistry).
 *
 * @since 0.1.0
 */
import { TaskRegistry } from "@migrator/core"
import { TestPlugin } from "@migrator/core/testing"
import { Effect, Layer } from "effect"
import { badInput } from "./CliExit.ts"

type PluginLayer = Layer.Layer<never, never, TaskRegistry.TaskRegistry>

const builtin: Record<string, PluginLayer> = {
  test: TestPlugin.layer
}

const isLayer = (u: unknown): u is PluginLayer => Layer.isLayer(u)

const load = (name: string) =>
  Effect.suspend(() => {
    const known = builtin[name]
    if (known !== undefined) return Effect.succeed(known)
    const specifier =
      name.startsWith(".") || name.startsWith("/") ? new URL(name, `file://${process.cwd()}/`).href : name
    return Effect.tryPromise({
      try: () => import(specifier) as Promise<Record<string, unknown>>,
      catch: (e) => badInput(`plugin "${name}" failed to load: ${(e as Error).message}`)
    }).pipe(
      Effect.flatMap((module) =>
        isLayer(module.layer)
          ? Effect.succeed(module.layer)
          : Effect.fail(badInput(`plugin "${name}" does not export a handler layer named "layer"`))
      )
    )
  })

/** A layer registering every named plugin's handlers (and the registry itself). */
export const layer = (names: ReadonlyArray<string>) =>
  Effect.forEach(names, load).pipe(
    Effect.map((layers) =>
      Layer.mergeAll(Layer.empty as PluginLayer, ...layers).pipe(Layer.provideMerge(TaskRegistry.layer))
    )
  )
