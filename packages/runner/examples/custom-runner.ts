/**
 * Example: a runner of your own, composed from the packages instead of the
 * `migrator` binary — the engine on etcd with the OpenStack handlers and a
 * plugin of yours (see `packages/core/examples/dns-plugin.ts` for how to write
 * one), for one recovery cluster whose password comes from the
 * environment. Run it with `pnpm exec tsx packages/runner/examples/custom-runner.ts`.
 */
import { NodeRuntime } from "@effect/platform-node"
import { Engine, TaskRegistry } from "@migrator/core"
import { EtcdStore } from "@migrator/etcd-store"
import { Clouds } from "@migrator/tasks-openstack"
import { Config, Effect, Layer } from "effect"
import * as OpenStackPlugin from "../src/plugins/OpenStack.ts"
import * as MyPlugin from "./my-plugin.ts"

const program = Effect.gen(function* () {
  const endpoints = yield* Config.String("ETCD_ENDPOINTS").pipe(Config.withDefault("http://127.0.0.1:2379"))
  const password = yield* Config.Redacted("DR1_PASSWORD")

  // the handlers, each with the services it needs, registered in one registry
  const clouds = Clouds.layer({
    "dr-1": {
      authUrl: "https://keystone.dr-1.example:5000/v3",
      auth: { type: "password", username: "migrator", projectName: "dr", password }
    }
  })
  const handlers = Layer.mergeAll(OpenStackPlugin.handlers.pipe(Layer.provide(clouds)), MyPlugin.layer).pipe(
    Layer.provideMerge(TaskRegistry.layer)
  )

  // runs until interrupted (Ctrl-C hands the tasks in flight over to other runners)
  return yield* Engine.run({ runnerId: "custom-1", prefix: "migrator/", concurrency: 32, leaseTtl: "10 seconds" }).pipe(
    Effect.provide(handlers),
    Effect.provide(EtcdStore.layer({ endpoints: endpoints.split(",") }))
  )
})

NodeRuntime.runMain(program)
