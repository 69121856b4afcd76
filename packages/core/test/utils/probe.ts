import { TaskContext, TaskError, TaskHandler } from "@migrator/core"
import { Deferred, Duration, Effect, Schema } from "effect"

/**
 * A handler-side witness of executions: counts starts per task, detects two
 * executions of one task at the same time, and lets tests hold a task open.
 */
export const makeProbe = Effect.sync(() => {
  const starts = new Map<string, number>()
  const active = new Map<string, number>()
  const overlaps: Array<string> = []
  const interrupted: Array<string> = []
  const failuresLeft = new Map<string, number>()
  const created = new Map<string, number>()
  const deleted: Array<string> = []
  const gates = new Map<string, Deferred.Deferred<void>>()

  const Work = TaskHandler.make("probe/work", {
    input: Schema.Struct({
      ms: Schema.optional(Schema.Int),
      failTimes: Schema.optional(Schema.Int),
      gate: Schema.optional(Schema.String),
      create: Schema.optional(Schema.String),
      remove: Schema.optional(Schema.String)
    }),
    output: Schema.Json,
    retry: { maxAttempts: 5, baseDelay: Duration.millis(10) }
  })

  const layer = Work.toLayer((input) =>
    Effect.gen(function* () {
      const ctx = yield* TaskContext.TaskContext
      const id = `${ctx.jobId}/${ctx.phase}/${ctx.taskId}`
      starts.set(id, (starts.get(id) ?? 0) + 1)
      const now = (active.get(id) ?? 0) + 1
      active.set(id, now)
      if (now > 1) overlaps.push(id)
      return yield* Effect.gen(function* () {
        if (input.gate !== undefined) {
          const gate = gates.get(input.gate) ?? (yield* Deferred.make<void>())
          gates.set(input.gate, gate)
          yield* Deferred.await(gate)
        }
        if (input.ms !== undefined) yield* Effect.sleep(Duration.millis(input.ms))
        if (input.failTimes !== undefined) {
          const left = failuresLeft.get(id) ?? input.failTimes
          if (left > 0) {
            failuresLeft.set(id, left - 1)
            return yield* Effect.fail(TaskError.retryable("probe.flaky", `fails ${left} more time(s)`))
          }
        }
        if (input.create !== undefined) created.set(input.create, (created.get(input.create) ?? 0) + 1)
        if (input.remove !== undefined) deleted.push(input.remove)
        return { task: ctx.taskId, attempt: ctx.attempt, token: ctx.fencingToken }
      }).pipe(
        Effect.onInterrupt(() => Effect.sync(() => interrupted.push(id))),
        Effect.ensuring(Effect.sync(() => active.set(id, (active.get(id) ?? 1) - 1)))
      )
    })
  )

  const open = (gate: string) =>
    Effect.gen(function* () {
      const d = gates.get(gate) ?? (yield* Deferred.make<void>())
      gates.set(gate, d)
      yield* Deferred.succeed(d, undefined)
    })

  return { layer, starts, overlaps, interrupted, created, deleted, open }
})
