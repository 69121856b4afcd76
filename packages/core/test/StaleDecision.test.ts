/**
 * A decision is carried out against the state it was taken on. The engine
 * decides from its view and forks the write; if the view moves in between
 * (another runner's transition, a user's operation), the write's
 * compare-and-swap must use the revision the decision saw, or it overwrites
 * the newer state. The chaos test found this as a job completed twice
 * ("cleared" written at two revisions).
 *
 * Here a user's pause lands after the runner decided to complete the job and
 * before the forked write runs: the completion, decided on the running state,
 * must lose its CAS, so the job is still paused, can be resumed, and
 * completes exactly once, after the resume. (Before the fix the completion
 * overwrote the pause and the resume was refused.) Likewise a cancel landing
 * between the decision to claim a task and the claim: the claim loses, no
 * task starts in the canceling job.
 */
import { assert, describe, it } from "@effect/vitest"
import { Jobs, Store, TaskRegistry } from "@migrator/core"
import { TestPlugin } from "@migrator/core/testing"
import { Effect, Layer, Option, Stream } from "effect"
import { keys, runner, show, submit } from "./utils/engine.ts"

/**
 * The memory store, where a user's operation lands while the runner is between a decision and
 * its write: when the runner's watch delivers `key`, the runner applies it and decides (forking
 * the write); then `operation` commits and is delivered before the forked write starts.
 */
const operationAfter = (job: string, key: string, operation: "pause" | "cancel") =>
  Layer.effect(
    Store.Store,
    Effect.gen(function* () {
      const inner = (yield* Store.makeMemory).store
      let done = false
      const operate = Effect.suspend(() => {
        done = true
        return Jobs.request(keys, job, operation).pipe(Effect.provideService(Store.Store, inner), Effect.orDie)
      })
      return Store.Store.of({
        ...inner,
        watch: (prefix, options) =>
          inner
            .watch(prefix, options)
            .pipe(
              Stream.flatMap((e) =>
                !done && prefix === keys.prefix && e._tag === "put" && e.kv.key === key
                  ? Stream.concat(
                      Stream.succeed(e),
                      Stream.fromEffect(Effect.yieldNow.pipe(Effect.andThen(operate))).pipe(Stream.drain)
                    )
                  : Stream.succeed(e)
              )
            )
      })
    })
  )

const withStore = (layer: Layer.Layer<Store.Store>) =>
  Effect.provide(TestPlugin.layer.pipe(Layer.provideMerge(TaskRegistry.layer), Layer.provideMerge(layer)))

describe("decisions are carried out against the state they were taken on", () => {
  it.effect("a pause landing between the decision to complete and its write wins", () =>
    Effect.gen(function* () {
      yield* runner("r1")
      const id = yield* submit({
        id: "gap",
        tasks: [
          { id: "a", type: "test/echo", input: 1 },
          { id: "z", type: "test/echo", dependencies: ["a"], input: 2 }
        ]
      })
      const store = yield* Store.Store
      const stateIs = (state: string) =>
        store.watch(keys.jobState(id), { fromRevision: 1 }).pipe(
          Stream.filter((e) => e._tag === "put" && JSON.parse(e.kv.value).state === state),
          Stream.take(1),
          Stream.runDrain
        )
      yield* stateIs("paused")
      // a completion decided on the running state must not have replaced the pause: resume is
      // still possible, and the job completes once, after it
      yield* Jobs.request(keys, id, "resume")
      yield* stateIs("completed")
      const types = (yield* Jobs.events(keys, id)).map((e) => e.type).filter((t) => t.startsWith("job."))
      assert.deepStrictEqual(types.filter((t) => t === "job.completed").length, 1, types.join(" "))
      assert.isBelow(types.indexOf("job.resume"), types.indexOf("job.completed"), types.join(" "))
      assert.strictEqual((yield* show(id)).state.outcome, "succeeded")
      assert.isTrue(Option.isSome(yield* store.get(keys.task(id, "run", "z", "result"))))
    }).pipe(withStore(operationAfter("gap", keys.task("gap", "run", "z", "result"), "pause")))
  )

  it.effect("a cancel landing between the decision to claim and the claim: no task starts", () =>
    Effect.gen(function* () {
      yield* runner("r1")
      const store = yield* Store.Store
      // a job run to the end proves the runner has loaded its view and is watching
      const probe = yield* submit({ id: "probe", tasks: [{ id: "p", type: "test/echo", input: 0 }] })
      yield* store.watch(keys.jobState(probe), { fromRevision: 1 }).pipe(
        Stream.filter((e) => e._tag === "put" && JSON.parse(e.kv.value).state === "completed"),
        Stream.take(1),
        Stream.runDrain
      )
      const id = yield* submit({ id: "early", tasks: [{ id: "a", type: "test/sleep", input: { ms: 60_000 } }] })
      yield* store.watch(keys.jobState(id), { fromRevision: 1 }).pipe(
        Stream.filter((e) => e._tag === "put" && JSON.parse(e.kv.value).state === "canceled"),
        Stream.take(1),
        Stream.runDrain
      )
      const types = (yield* Jobs.events(keys, id)).map((e) => e.type)
      // the claim decided on the pending state lost its CAS: the task never started
      assert.notInclude(types, "task.started", types.join(" "))
      assert.notInclude(types, "job.started", types.join(" "))
      const view = yield* show(id)
      assert.strictEqual(view.tasks[0]?.result?.result, "canceled")
      assert.strictEqual(view.tasks[0]?.result?.reason?.code, "job.canceled")
    }).pipe(withStore(operationAfter("early", keys.jobSpec("early"), "cancel")))
  )
})
