/**
 * What every OpenStack handler shares: turning client errors into task
 * errors, naming created resources after their job and task (idempotent
 * creation), and awaiting asynchronous states with a deadline.
 */
import { TaskContext, TaskError } from "@migrator/core"
import { Duration, Effect, Schedule } from "effect"
import * as OpenStackError from "../OpenStackError.ts"

/** A client failure as the task's reason; retryable when the client says a retry may help. */
export const toTaskError = (error: OpenStackError.OpenStackError): TaskError.TaskError => {
  const code = `openstack.${error.reason._tag.replace(/[A-Z]/g, (c, i) => (i === 0 ? c.toLowerCase() : `-${c.toLowerCase()}`))}`
  const details = {
    service: error.service,
    method: error.method,
    path: error.path,
    ...(error.status === undefined ? {} : { status: error.status }),
    ...(error.requestId === undefined ? {} : { requestId: error.requestId })
  }
  return error.retryable
    ? TaskError.retryable(code, error.message, details)
    : TaskError.permanent(code, error.message, details)
}

/** Maps every `OpenStackError` of `self` to a `TaskError`. */
export const mapErrors = <A, E, R>(
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, Exclude<E, OpenStackError.OpenStackError> | TaskError.TaskError, R> =>
  Effect.catchIf(
    self,
    (e): e is E & OpenStackError.OpenStackError => OpenStackError.isOpenStackError(e),
    (e) => Effect.fail(toTaskError(e))
  ) as Effect.Effect<A, Exclude<E, OpenStackError.OpenStackError> | TaskError.TaskError, R>

/**
 * The marker put on everything a task creates (name suffix, tag or
 * description), so a retry or a takeover, in this job or in another one
 * holding the same shared resource, finds and adopts it.
 */
export const ownerTag: Effect.Effect<string, never, TaskContext.TaskContext> = Effect.gen(function* () {
  const context = yield* TaskContext.TaskContext
  return `migrator:${context.idempotencyKey}`
})

export type Poll<A> =
  | { readonly _tag: "Done"; readonly value: A }
  | { readonly _tag: "Pending"; readonly status: string }
  | { readonly _tag: "Failed"; readonly error: TaskError.TaskError }

export const done = <A>(value: A): Poll<A> => ({ _tag: "Done", value })
export const pending = (status: string): Poll<never> => ({ _tag: "Pending", status })
export const failed = (error: TaskError.TaskError): Poll<never> => ({ _tag: "Failed", error })

/**
 * Polls `check` until it is done or failed (an `ERROR` state fails at once),
 * with a backoff from `interval` up to 5 s; past `deadline` the task fails
 * with a retryable timeout naming the last status seen.
 */
export const awaitState = <A, E, R>(
  what: string,
  check: Effect.Effect<Poll<A>, E, R>,
  options: { readonly deadline: Duration.Input; readonly interval?: Duration.Input | undefined }
): Effect.Effect<A, E | TaskError.TaskError, R> =>
  Effect.gen(function* () {
    let last = "unknown"
    const cap = Duration.seconds(5)
    const schedule = Schedule.exponential(options.interval ?? "250 millis", 1.5).pipe(
      Schedule.modifyDelay(({ output }) => Effect.succeed(Duration.min(output, cap)))
    )
    const poll = Effect.flatMap(check, (result): Effect.Effect<A, TaskError.TaskError | "pending", never> => {
      switch (result._tag) {
        case "Done":
          return Effect.succeed(result.value)
        case "Failed":
          return Effect.fail(result.error)
        case "Pending":
          last = result.status
          return Effect.fail("pending" as const)
      }
    })
    return yield* poll.pipe(
      Effect.retry({ schedule, while: (e) => e === "pending" }),
      Effect.timeoutOrElse({
        duration: options.deadline,
        orElse: () =>
          Effect.fail(
            TaskError.retryable(
              "openstack.timeout",
              `${what}: still ${last} after ${Duration.format(Duration.fromInputUnsafe(options.deadline))}`
            )
          )
      }),
      Effect.catchIf(
        (e): e is "pending" => e === "pending",
        () => Effect.die("unreachable: retry ends only when the poll is no longer pending")
      )
    )
  })
