/**
 * Plugins named by npm package: found in the node_modules of the operator's
 * project (the working directory, or the configuration file's directory when
 * the file names them), not next to the runner; a missing package or one
 * without a handler layer is a clear error naming it (exit code 2).
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { TaskRegistry } from "@migrator/core"
import { ConfigProvider, Context, Effect, Layer } from "effect"
import { afterAll } from "vitest"
import { BAD_INPUT } from "../src/CliExit.ts"
import * as Config from "../src/Config.ts"
import * as Plugins from "../src/Plugins.ts"

// an operator's project: its own node_modules with the plugin packages (and links to what they import)
const project = mkdtempSync(join(tmpdir(), "migrator-plugin-project-"))
afterAll(() => rmSync(project, { recursive: true, force: true }))

const workspace = fileURLToPath(new URL("../../../", import.meta.url))
const write = (path: string, content: string) => {
  mkdirSync(dirname(join(project, path)), { recursive: true })
  writeFileSync(join(project, path), content)
}
mkdirSync(join(project, "node_modules/@migrator"), { recursive: true })
symlinkSync(join(workspace, "node_modules/effect"), join(project, "node_modules/effect"))
symlinkSync(join(workspace, "packages/core"), join(project, "node_modules/@migrator/core"))

write(
  "node_modules/@acme/migrator-plugin-greet/package.json",
  JSON.stringify({ name: "@acme/migrator-plugin-greet", type: "module", exports: { ".": { import: "./main.ts" } } })
)
// TypeScript, because the @migrator/core it imports is the workspace's (sources); the runner loads it through tsx
write(
  "node_modules/@acme/migrator-plugin-greet/main.ts",
  [
    'import { TaskHandler } from "@migrator/core"',
    'import { Effect, Schema } from "effect"',
    'const Greet = TaskHandler.make("acme/greet", { input: Schema.Struct({ name: Schema.String }), output: Schema.String })',
    'export const layer = Greet.toLayer(({ name }) => Effect.succeed("hello " + name))'
  ].join("\n")
)
write(
  "node_modules/acme-no-layer/package.json",
  JSON.stringify({ name: "acme-no-layer", type: "module", main: "index.js" })
)
write("node_modules/acme-no-layer/index.js", "export const handlers = []\n")
write("deploy/runner.yaml", "plugins: ['@acme/migrator-plugin-greet']\n")
mkdirSync(join(project, "deploy/sub"), { recursive: true })

const typesOf = (names: ReadonlyArray<string>, from: string | undefined) =>
  Effect.flatMap(Plugins.layer(names, { from }), (layer) =>
    Effect.scoped(Effect.map(Layer.build(layer), (c) => Context.get(c, TaskRegistry.TaskRegistry).types()))
  )

const failure = (names: ReadonlyArray<string>, from: string) =>
  Effect.flip(typesOf(names, from)).pipe(Effect.map((e) => ({ code: e.code, message: e.message })))

describe("plugins by npm package name", () => {
  it.live("loads a package installed in the operator's project, from a subdirectory of it too", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* typesOf(["@acme/migrator-plugin-greet"], project), ["acme/greet"])
      assert.deepStrictEqual(yield* typesOf(["@acme/migrator-plugin-greet", "test"], join(project, "deploy/sub")), [
        "acme/greet",
        "test/echo",
        "test/fail",
        "test/sleep"
      ])
    })
  )

  it.live("names in the configuration file are found from the file's directory", () =>
    Effect.gen(function* () {
      const config = yield* Config.resolve({ config: join(project, "deploy/runner.yaml") }).pipe(
        Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env: {} }))
      )
      assert.strictEqual(config.pluginsFrom, join(project, "deploy"))
      assert.deepStrictEqual(yield* typesOf(config.plugins, config.pluginsFrom), ["acme/greet"])
      // given on the command line, they are found from the working directory
      const flagged = yield* Config.resolve({ config: join(project, "deploy/runner.yaml"), plugins: "test" }).pipe(
        Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env: {} }))
      )
      assert.isUndefined(flagged.pluginsFrom)
    })
  )

  it.live("a package that is not installed there: exit 2, naming it", () =>
    Effect.gen(function* () {
      // the workspace has no such package either, and the runner's own directory is not searched
      const e = yield* failure(["@acme/migrator-plugin-dns"], project)
      assert.strictEqual(e.code, BAD_INPUT)
      assert.include(e.message, "@acme/migrator-plugin-dns")
      assert.include(e.message, "not installed")
      // a package of the runner's own dependencies is not found from a directory that lacks it
      const own = yield* failure(["@migrator/tasks-openstack"], project)
      assert.include(own.message, "@migrator/tasks-openstack is not installed")
    })
  )

  it.live("a package without a handler layer, or without the module asked for: exit 2, naming it", () =>
    Effect.gen(function* () {
      const noLayer = yield* failure(["acme-no-layer"], project)
      assert.strictEqual(noLayer.code, BAD_INPUT)
      assert.include(noLayer.message, 'plugin "acme-no-layer" does not export a handler layer named "layer"')
      const noModule = yield* failure(["@acme/migrator-plugin-greet/extra"], project)
      assert.strictEqual(noModule.code, BAD_INPUT)
      assert.include(noModule.message, '@acme/migrator-plugin-greet exports no module "./extra"')
    })
  )
})
