/**
 * Loads task-handler plugins by name: `test` (core's test plugin),
 * `openstack` (the OpenStack handlers, on the configured clusters), an npm
 * package installed in the operator's project (`@acme/migrator-plugin-dns`)
 * or a module path. A plugin module exports `layer`, a Layer that registers
 * handlers in the TaskRegistry. Packages and relative paths are found from
 * the directory the names were given from (`from`: the configuration file's
 * directory, or the working directory), never from the runner's own.
 *
 * @since 0.1.0
 */
import { TaskRegistry } from "@migrator/core"
import { TestPlugin } from "@migrator/core/testing"
import type { OpenStackClient } from "@migrator/tasks-openstack"
import { Effect, Layer } from "effect"
import { badInput } from "./CliExit.ts"
import { resolvePlugin } from "./plugins/resolve.ts"

type PluginLayer = Layer.Layer<never, never, TaskRegistry.TaskRegistry>

export interface Options {
  /** OpenStack clusters by name, for the `openstack` plugin. */
  readonly clusters?: Readonly<Record<string, OpenStackClient.ClientConfig>> | undefined
  /** Directory package names and relative paths are resolved from (default: the working directory). */
  readonly from?: string | undefined
}

const isLayer = (u: unknown): u is Layer.Layer<never, never, unknown> => Layer.isLayer(u)

/**
 * Imports a plugin module. The bundled binary runs on plain Node, which
 * cannot load TypeScript: a `.ts` plugin is loaded through tsx, registered
 * the first time one is needed (Deno and the tsx-run sources load it as is).
 */
const importPlugin = async (specifier: string): Promise<Record<string, unknown>> => {
  try {
    return (await import(specifier)) as Record<string, unknown>
  } catch (error) {
    if ((error as { code?: string }).code !== "ERR_UNKNOWN_FILE_EXTENSION") throw error
    const tsx = (await import("tsx/esm/api")) as { register: () => unknown }
    tsx.register()
    // the failed load stays in the module cache under its URL: ask for it under another one
    const again = specifier.startsWith("file:") ? `${specifier}${specifier.includes("?") ? "&" : "?"}tsx` : specifier
    return (await import(again)) as Record<string, unknown>
  }
}

const importModule = (name: string, specifier: string) =>
  Effect.tryPromise({
    try: () => importPlugin(specifier),
    catch: (e) => badInput(`plugin "${name}" failed to load: ${(e as Error).message}`)
  }).pipe(
    Effect.flatMap((module) =>
      isLayer(module.layer)
        ? Effect.succeed(module.layer)
        : Effect.fail(badInput(`plugin "${name}" does not export a handler layer named "layer"`))
    )
  )

const load = (name: string, options: Options) =>
  Effect.suspend(() => {
    if (name === "test") return Effect.succeed(TestPlugin.layer as PluginLayer)
    if (name === "openstack") {
      return Effect.tryPromise({
        try: () => import("./plugins/OpenStack.ts"),
        catch: (e) => badInput(`plugin "openstack" failed to load: ${(e as Error).message}`)
      }).pipe(Effect.map((m) => m.layer(options.clusters ?? {}) as PluginLayer))
    }
    const from = options.from ?? process.cwd()
    const resolution = resolvePlugin(name, from)
    switch (resolution._tag) {
      case "NotInstalled":
        return Effect.fail(
          badInput(
            `plugin "${name}": package ${resolution.packageName} is not installed in the node_modules of ${from} or a parent directory (npm install ${resolution.packageName})`
          )
        )
      case "NotExported":
        return Effect.fail(
          badInput(`plugin "${name}": package ${resolution.packageName} exports no module "${resolution.subpath}"`)
        )
      case "Found":
        return importModule(name, resolution.url) as Effect.Effect<PluginLayer, ReturnType<typeof badInput>>
    }
  })

/** A layer registering every named plugin's handlers (and the registry itself). */
export const layer = (names: ReadonlyArray<string>, options: Options = {}) =>
  Effect.forEach(names, (name) => load(name, options)).pipe(
    Effect.map((layers) =>
      Layer.mergeAll(Layer.empty as PluginLayer, ...layers).pipe(Layer.provideMerge(TaskRegistry.layer))
    )
  )
