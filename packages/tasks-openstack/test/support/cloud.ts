/**
 * The cloud a handler test runs against: the simulator by default, or a real
 * OpenStack when `OS_AUTH_URL` (and the other openrc variables of an admin
 * user) are set, as `scripts/test-openstack.sh` does. The same test suite runs
 * on both. Fault-injection tests need `sim` and live in their own files, which
 * run on the simulator alone.
 */
import { TaskContext } from "@migrator/core"
import { Clouds, OpenStackClient } from "@migrator/tasks-openstack"
import { OpenStackSimulator } from "@migrator/tasks-openstack/testing"
import { ConfigProvider, Effect, Layer, Random, type Scope } from "effect"
import { FetchHttpClient } from "effect/http"

export interface Cloud {
  readonly kind: "simulator" | "real"
  /** An admin client scoped to the admin project. */
  readonly client: OpenStackClient.Client
  /** Present on the simulator only: fault injection and inventory. */
  readonly sim: OpenStackSimulator.Simulator | undefined
  /** The cluster name handlers see as their job's target. */
  readonly target: string
}

/** Whether this run targets a real OpenStack (read once, at import). */
export const realCloud: boolean = (process.env.OS_AUTH_URL ?? "") !== ""

const fastRetry = { baseDelay: "5 millis", maxDelay: "200 millis" } as const

export const cloud: Effect.Effect<Cloud, never, Scope.Scope> = Effect.gen(function* () {
  if (realCloud) {
    const config = yield* OpenStackClient.openRcConfig.pipe(
      Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv()),
      Effect.orDie
    )
    const client = yield* OpenStackClient.make({
      ...config,
      retry: { baseDelay: "100 millis", maxDelay: "2 seconds" }
    }).pipe(Effect.provide(FetchHttpClient.layer))
    return { kind: "real", client, sim: undefined, target: "recovery" } as const
  }
  const sim = yield* OpenStackSimulator.make({ stepDelay: "20 millis" })
  const client = yield* OpenStackClient.make(sim.clientConfig({ retry: fastRetry })).pipe(
    Effect.provide(FetchHttpClient.layer)
  )
  return { kind: "simulator", client, sim, target: "recovery" } as const
})

/** The services a handler's `run` needs, as if the engine ran task `taskId` of job `jobId`. */
export const taskLayer = (
  c: Cloud,
  task: { readonly jobId: string; readonly taskId: string; readonly attempt?: number; readonly phase?: "run" | "clear" }
): Layer.Layer<Clouds.Clouds | TaskContext.TaskContext> =>
  Layer.mergeAll(
    Clouds.layerClients({ [c.target]: c.client }),
    Layer.succeed(TaskContext.TaskContext, {
      jobId: task.jobId,
      taskId: task.taskId,
      phase: task.phase ?? "run",
      type: "openstack/test",
      attempt: task.attempt ?? 1,
      fencingToken: 1,
      target: c.target,
      runnerId: "test-runner",
      shared: undefined
    })
  )

/** A fresh id per test run, so runs on a shared real cloud never see each other's resources. */
export const uniqueJobId = (prefix: string): Effect.Effect<string> =>
  Effect.map(Random.nextIntBetween(0, 1e9, { halfOpen: true }), (n) => `${prefix}-${n.toString(36)}`)
