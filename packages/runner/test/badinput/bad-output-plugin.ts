// A plugin whose handler's output violates its own output Schema (loaded by path in BadInput tests).
import { TaskHandler } from "@migrator/core"
import { Effect, Schema } from "effect"

export const BadOutput = TaskHandler.make("bad/output", {
  input: Schema.Json,
  output: Schema.Struct({ id: Schema.String }),
  retry: { maxAttempts: 1 }
})

export const layer = BadOutput.toLayer(() => Effect.succeed({ id: 42 } as unknown as { id: string }))
