/**
 * The recovery clouds a runner can act on, by cluster name: a job's `target`
 * names one. Handlers ask for the client of their task's target; a job
 * without a target uses the only configured cloud, and an unknown name is a
 * permanent task error (no retry can make the cluster appear).
 *
 * @since 0.1.0
 */
import { TaskContext, TaskError } from "@migrator/core"
import { Context, Effect, Layer } from "effect"
import { FetchHttpClient, type HttpClient } from "effect/http"
import * as OpenStackClient from "./OpenStackClient.ts"

/**
 * @category services
 * @since 0.1.0
 */
export class Clouds extends Context.Service<
  Clouds,
  {
    readonly names: ReadonlyArray<string>
    readonly client: (target: string | undefined) => Effect.Effect<OpenStackClient.Client, TaskError.TaskError>
  }
>()("@migrator/tasks-openstack/Clouds") {}

/**
 * Clouds from ready clients (tests, the demo).
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromClients = (clients: Readonly<Record<string, OpenStackClient.Client>>): Clouds["Service"] => {
  const names = Object.keys(clients)
  return {
    names,
    client: (target) => {
      const name = target ?? (names.length === 1 ? names[0] : undefined)
      const client = name === undefined ? undefined : clients[name]
      return client === undefined
        ? Effect.fail(
            TaskError.permanent(
              "openstack.unknown-cluster",
              target === undefined
                ? `the job names no target cluster and ${names.length} clusters are configured (${names.join(", ")})`
                : `unknown target cluster "${target}" (configured: ${names.join(", ") || "none"})`
            )
          )
        : Effect.succeed(client)
    }
  }
}

/**
 * @category layers
 * @since 0.1.0
 */
export const layerClients = (clients: Readonly<Record<string, OpenStackClient.Client>>): Layer.Layer<Clouds> =>
  Layer.succeed(Clouds, fromClients(clients))

/**
 * One client per configured cluster; nothing is sent until a handler asks.
 *
 * @category layers
 * @since 0.1.0
 */
export const layerNoDeps = (
  configs: Readonly<Record<string, OpenStackClient.ClientConfig>>
): Layer.Layer<Clouds, never, HttpClient.HttpClient> =>
  Layer.effect(
    Clouds,
    Effect.gen(function* () {
      const clients: Record<string, OpenStackClient.Client> = {}
      for (const [name, config] of Object.entries(configs)) clients[name] = yield* OpenStackClient.make(config)
      return fromClients(clients)
    })
  )

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = (configs: Readonly<Record<string, OpenStackClient.ClientConfig>>): Layer.Layer<Clouds> =>
  layerNoDeps(configs).pipe(Layer.provide(FetchHttpClient.layer))

/**
 * The client of the running task's target cluster.
 *
 * @category accessors
 * @since 0.1.0
 */
export const current: Effect.Effect<OpenStackClient.Client, TaskError.TaskError, Clouds | TaskContext.TaskContext> =
  Effect.gen(function* () {
    const clouds = yield* Clouds
    const context = yield* TaskContext.TaskContext
    return yield* clouds.client(context.target)
  })
