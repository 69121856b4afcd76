/**
 * `openstack/instance.stop`: stops a recovered server (`os-stop`) and waits
 * for `SHUTOFF`, for plans that recover an instance without starting it. A
 * server already `SHUTOFF` is success; a stop refused because the server is
 * busy (409) is retried by the next poll.
 *
 * @since 0.1.0
 */
import { type TaskContext, TaskError, TaskHandler } from "@migrator/core"
import { Effect, Option, Schema } from "effect"
import * as Clouds from "../Clouds.ts"
import { awaitState, done, failed, mapErrors, pending } from "../internal/handler.ts"
import { computeMicroversion, readServer } from "./InstanceDelete.ts"

/**
 * @category schemas
 * @since 0.1.0
 */
export const Input = Schema.Struct({
  projectId: Schema.NonEmptyString,
  /** `instance.create`'s output. */
  serverId: Schema.NonEmptyString,
  /** How long to wait for `SHUTOFF` (default 5 minutes). */
  waitSeconds: Schema.optional(Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1))))
})

/**
 * @category schemas
 * @since 0.1.0
 */
export const Output = Schema.Struct({
  serverId: Schema.String,
  status: Schema.String
})

/**
 * @category definitions
 * @since 0.1.0
 */
export const definition = TaskHandler.make("openstack/instance.stop", {
  input: Input,
  output: Output,
  retry: { maxAttempts: 5 },
  timeout: "10 minutes",
  description: "Stops a server and waits for SHUTOFF; already SHUTOFF is success"
})

/**
 * @category handlers
 * @since 0.1.0
 */
export const run = (
  input: typeof Input.Type
): Effect.Effect<typeof Output.Type, TaskError.TaskError, Clouds.Clouds | TaskContext.TaskContext> =>
  mapErrors(
    Effect.gen(function* () {
      const client = (yield* Clouds.current).forProject(input.projectId)
      const stop = client
        .request("compute", "POST", `/servers/${encodeURIComponent(input.serverId)}/action`, {
          body: { "os-stop": null },
          microversion: computeMicroversion,
          idempotent: true
        })
        .pipe(
          // busy or already stopping: the next poll looks again
          Effect.catchIf(
            (e) => e.reason._tag === "Conflict",
            () => Effect.void
          )
        )
      yield* awaitState(
        `server ${input.serverId} stop`,
        Effect.flatMap(readServer(client, input.serverId), (found) => {
          if (Option.isNone(found)) {
            return Effect.succeed(
              failed(TaskError.permanent("openstack.server-gone", `server ${input.serverId} does not exist`))
            )
          }
          const s = found.value
          const taskState = s["OS-EXT-STS:task_state"] ?? null
          if (s.status === "SHUTOFF" && taskState === null) return Effect.succeed(done(undefined))
          if (s.status === "ERROR") {
            return Effect.succeed(
              failed(
                TaskError.permanent(
                  "openstack.server-error",
                  `server ${input.serverId} is in ERROR${s.fault?.message === undefined ? "" : `: ${s.fault.message}`}`
                )
              )
            )
          }
          // stop only a server at rest; one with a task in flight is polled again
          if (taskState === null && s.status === "ACTIVE") return Effect.as(stop, pending("ACTIVE"))
          return Effect.succeed(pending(taskState ?? s.status))
        }),
        { deadline: `${input.waitSeconds ?? 300} seconds` }
      )
      return { serverId: input.serverId, status: "SHUTOFF" }
    })
  )

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = definition.toLayer(run)
