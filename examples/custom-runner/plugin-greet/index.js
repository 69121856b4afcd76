// A plugin is a module exporting `layer`: the Layer registering its handlers.
import { TaskContext, TaskHandler } from "@migrator/core"
import { Effect, Schema } from "effect"

export const Greet = TaskHandler.make("acme/greet", {
  input: Schema.Struct({ name: Schema.String }),
  output: Schema.Struct({ greeting: Schema.String, runner: Schema.String }),
  description: "Greets someone; the output names the runner that did it."
})

export const layer = Greet.toLayer(({ name }) =>
  Effect.gen(function* () {
    const task = yield* TaskContext.TaskContext
    return { greeting: `hello ${name}`, runner: task.runnerId }
  })
)
