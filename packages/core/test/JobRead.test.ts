import { assert, describe, it } from "@effect/vitest"
import { Codec, JobBuilder, Jobs, Keys, Store, Task } from "@migrator/core"
import { Effect, Option } from "effect"

const keys = Keys.make("read/")

describe("Jobs.read", () => {
  it.effect("a job read while it finishes never shows its end without its tasks' results", () =>
    Effect.gen(function* () {
      const memory = yield* Store.makeMemory
      const built = yield* JobBuilder.build({ id: "j", tasks: [{ id: "a", type: "test/echo", input: 1 }] })
      yield* Jobs.submit(keys, built).pipe(Effect.provideService(Store.Store, memory.store))
      // the task's result and the job's end commit while the read is between its requests
      const finish = Effect.gen(function* () {
        const state = yield* memory.store.get(keys.jobState("j"))
        const ended = { ...JSON.parse(Option.getOrThrow(state).value), state: "completed", outcome: "succeeded" }
        const result = Codec.encode(Task.TaskResult)(
          new Task.TaskResult({ result: "success", output: { a: 1 }, attempt: 1, finishedAt: 1 })
        )
        yield* memory.store.txn({
          compare: [],
          success: [
            { _tag: "put", key: keys.task("j", "run", "a", "result"), value: result },
            { _tag: "put", key: keys.jobState("j"), value: JSON.stringify(ended) }
          ]
        })
      })
      let finished = false
      const racing: Store.Service = {
        ...memory.store,
        range: (prefix, options) =>
          Effect.tap(memory.store.range(prefix, options), () =>
            prefix === keys.tasks("j") && !finished
              ? Effect.andThen(
                  Effect.sync(() => (finished = true)),
                  finish
                )
              : Effect.void
          )
      }
      const view = yield* Jobs.read(keys, "j").pipe(Effect.provideService(Store.Store, racing))
      assert.isTrue(finished, "the job ended during the read")
      if (view.state.state === "completed") {
        for (const t of view.tasks) assert.isDefined(t.result, `${t.spec.id} has its result in a completed job`)
      }
      // read again, it shows the end with the result
      const after = yield* Jobs.read(keys, "j").pipe(Effect.provideService(Store.Store, memory.store))
      assert.strictEqual(after.state.state, "completed")
      assert.deepStrictEqual(after.tasks[0]?.result?.output, { a: 1 })
    })
  )
})
