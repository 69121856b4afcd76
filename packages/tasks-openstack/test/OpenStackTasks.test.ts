import { readdirSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { TaskRegistry } from "@migrator/core"
import { Clouds } from "@migrator/tasks-openstack"
import * as OpenStackTasks from "@migrator/tasks-openstack/OpenStackTasks"
import { Context, Effect, Layer } from "effect"

const handlerModules = readdirSync(new URL("../src/handlers/", import.meta.url)).filter((f) => f.endsWith(".ts"))

describe("OpenStackTasks: the catalogue of the handlers", () => {
  it.effect("holds every module of src/handlers, each task type once", () =>
    Effect.gen(function* () {
      const inCatalogue = new Set(OpenStackTasks.handlers.map((h) => h.definition.type))
      assert.strictEqual(inCatalogue.size, OpenStackTasks.handlers.length, "a task type listed twice")
      for (const file of handlerModules) {
        const module = (yield* Effect.promise(() => import(`../src/handlers/${file}`))) as {
          readonly definition: { readonly type: string }
        }
        assert.isTrue(inCatalogue.has(module.definition.type), `${file} (${module.definition.type}) is not listed`)
      }
      assert.strictEqual(inCatalogue.size, handlerModules.length)
    })
  )

  it.effect("its layer registers every type, its inputs map has every Schema", () =>
    Effect.gen(function* () {
      const context = yield* Layer.build(
        OpenStackTasks.layer.pipe(Layer.provide(Clouds.layerClients({})), Layer.provideMerge(TaskRegistry.layer))
      )
      const types = [...OpenStackTasks.definitions.map((d) => d.type)].sort()
      assert.deepStrictEqual(Context.get(context, TaskRegistry.TaskRegistry).types(), types)
      assert.deepStrictEqual([...OpenStackTasks.inputs.keys()].sort(), types)
    }).pipe(Effect.scoped)
  )
})
