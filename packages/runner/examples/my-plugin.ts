/** A one-handler plugin for the custom-runner example: `example/notify` logs a message. */
import { TaskContext, TaskHandler } from "@migrator/core"
import { Effect, Schema } from "effect"

export const Notify = TaskHandler.make("example/notify", {
  input: Schema.Struct({ message: Schema.String }),
  output: Schema.Struct({ sent: Schema.Boolean })
})

export const layer = Notify.toLayer((input) =>
  Effect.gen(function* () {
    const task = yield* TaskContext.TaskContext
    yield* Effect.logInfo(input.message).pipe(Effect.annotateLogs({ job: task.jobId, task: task.taskId }))
    return { sent: true }
  })
)
