/**
 * A runner of one's own: the migrator engine on etcd with two OpenStack task
 * handlers (each imported alone: the other handlers, the plan builder and the
 * simulator are not loaded) and a plugin package of our own. The cloud is the
 * one of the standard openrc variables (OS_AUTH_URL, OS_USERNAME, …); etcd
 * and the key prefix come from ETCD_ENDPOINTS and MIGRATOR_PREFIX.
 *
 * Node: `npx tsc -p . && node dist/runner.js`. Deno: `deno run -A runner.ts`.
 */
import * as GreetPlugin from "@acme/migrator-plugin-greet"
import { NodeRuntime } from "@effect/platform-node"
import { Engine, TaskRegistry } from "@migrator/core"
import { EtcdStore } from "@migrator/etcd-store"
import { Clouds, OpenStackClient } from "@migrator/tasks-openstack"
import * as NetworkCreate from "@migrator/tasks-openstack/handlers/NetworkCreate"
import * as SubnetCreate from "@migrator/tasks-openstack/handlers/SubnetCreate"
import { Config, Effect, Layer } from "effect"

const program = Effect.gen(function* () {
  const endpoints = yield* Config.String("ETCD_ENDPOINTS").pipe(Config.withDefault("http://127.0.0.1:2379"))
  const prefix = yield* Config.String("MIGRATOR_PREFIX").pipe(Config.withDefault("migrator/"))
  const cloud = yield* OpenStackClient.openRcConfig

  // every handler registered in one registry; the OpenStack ones talk to the cluster jobs name "dr-1"
  const handlers = Layer.mergeAll(
    Layer.mergeAll(NetworkCreate.layer, SubnetCreate.layer).pipe(Layer.provide(Clouds.layer({ "dr-1": cloud }))),
    GreetPlugin.layer
  ).pipe(Layer.provideMerge(TaskRegistry.layer))

  // runs until interrupted (SIGTERM or Ctrl-C hands the tasks in flight over to other runners)
  return yield* Engine.run({ runnerId: "acme-1", prefix, leaseTtl: "10 seconds", concurrency: 8 }).pipe(
    Effect.provide(handlers),
    Effect.provide(EtcdStore.layer({ endpoints: endpoints.split(",") }))
  )
})

NodeRuntime.runMain(program)
