import { assert, describe, it } from "@effect/vitest"
import { Jobs, Store, Task } from "@migrator/core"
import { Effect, Layer } from "effect"
import { awaitState, awaitTask, handlers, keys, runner, show, submit, terminal } from "./utils/engine.ts"

const env = handlers.pipe(Layer.provideMerge(Store.layerMemory))

const byId = (view: Jobs.JobView) => new Map(view.tasks.map((t) => [`${t.spec.phase}/${t.spec.id}`, t]))

describe("engine", () => {
  it.live("runs a DAG, passing outputs into dependent inputs", () =>
    Effect.gen(function* () {
      yield* runner("r1")
      const id = yield* submit({
        id: "j1",
        tasks: [
          { id: "a", type: "test/echo", input: { tenant: { id: "t-1", name: "acme" } } },
          { id: "b", type: "test/echo", dependencies: ["a"], input: { tenantId: { $ref: "a#/tenant/id" } } },
          {
            id: "c",
            type: "test/echo",
            dependencies: ["a", "b"],
            input: { all: { $ref: "a#" }, b: { $ref: "b#/tenantId" } }
          }
        ]
      })
      yield* awaitState(id, terminal)
      const view = yield* show(id)
      assert.strictEqual(view.state.state, "completed")
      assert.strictEqual(view.state.outcome, "succeeded")
      const tasks = byId(view)
      assert.deepStrictEqual(tasks.get("run/b")?.result?.output, { tenantId: "t-1" })
      assert.deepStrictEqual(tasks.get("run/c")?.result?.output, {
        all: { tenant: { id: "t-1", name: "acme" } },
        b: "t-1"
      })
      for (const t of view.tasks) {
        // the result says done; the result's transaction leaves the attempt's status as it was
        assert.strictEqual(Task.statusOf(t.status?.status, t.result?.result), "done")
        assert.strictEqual(t.status?.status, "running")
        assert.strictEqual(t.status?.attempt, 1)
        assert.isUndefined(t.claim)
      }
    }).pipe(Effect.provide(env))
  )

  it.live("a failed task ignores its dependents; the outcome is partial", () =>
    Effect.gen(function* () {
      yield* runner("r1")
      const id = yield* submit({
        id: "j2",
        tasks: [
          { id: "ok", type: "test/echo", input: 1 },
          { id: "bad", type: "test/fail", input: { message: "nope", retryable: false } },
          { id: "after", type: "test/echo", dependencies: ["bad"], input: 2 }
        ]
      })
      yield* awaitState(id, terminal)
      const view = yield* show(id)
      assert.strictEqual(view.state.outcome, "partial")
      const tasks = byId(view)
      assert.strictEqual(tasks.get("run/bad")?.result?.result, "failed")
      assert.strictEqual(tasks.get("run/bad")?.result?.reason?.message, "nope")
      assert.strictEqual(tasks.get("run/bad")?.status?.attempt, 1)
      assert.strictEqual(tasks.get("run/after")?.result?.result, "ignored")
      assert.include(tasks.get("run/after")?.result?.reason?.message ?? "", "bad (failed)")
    }).pipe(Effect.provide(env))
  )

  it.live("retryable failures are retried up to the handler's attempts", () =>
    Effect.gen(function* () {
      yield* runner("r1")
      const id = yield* submit({
        id: "j3",
        tasks: [
          { id: "flaky", type: "test/fail", input: { message: "later", retryable: true }, retry: { baseDelayMs: 1 } }
        ]
      })
      yield* awaitState(id, terminal)
      const view = yield* show(id)
      const t = byId(view).get("run/flaky")
      assert.strictEqual(t?.result?.result, "failed")
      assert.strictEqual(t?.result?.attempt, 3)
      assert.isTrue(t?.result?.retryable)
    }).pipe(Effect.provide(env))
  )

  it.live("rollback runs the clear phase; clear tasks of never-started run tasks are skipped", () =>
    Effect.gen(function* () {
      yield* runner("r1")
      const id = yield* submit({
        id: "j4",
        tasks: [
          { id: "net", type: "test/echo", input: { id: "n-1" } },
          { id: "bad", type: "test/fail", input: { message: "x" } },
          { id: "vm", type: "test/echo", dependencies: ["bad"], input: 1 }
        ],
        clearTasks: [
          { id: "vm-del", type: "test/echo", undoes: "vm", input: 1 },
          {
            id: "net-del",
            type: "test/echo",
            undoes: "net",
            dependencies: ["vm-del"],
            input: { id: { $ref: "net#/id" } }
          }
        ]
      })
      yield* awaitState(id, terminal)
      yield* Jobs.request(keys, id, "rollback")
      yield* awaitState(id, (s) => s === "cleared" || s === "clear-failed")
      const view = yield* show(id)
      assert.strictEqual(view.state.state, "cleared")
      const tasks = byId(view)
      assert.strictEqual(tasks.get("clear/vm-del")?.result?.result, "skipped")
      assert.deepStrictEqual(tasks.get("clear/net-del")?.result?.output, { id: "n-1" })
    }).pipe(Effect.provide(env))
  )

  it.live("cancel interrupts tasks in flight and cancels the rest", () =>
    Effect.gen(function* () {
      yield* runner("r1")
      const id = yield* submit({
        id: "j5",
        tasks: [
          { id: "long", type: "test/sleep", input: { ms: 60000 } },
          { id: "next", type: "test/echo", dependencies: ["long"], input: 1 }
        ]
      })
      yield* awaitTask(id, "long", (s) => s.status === "running")
      yield* Jobs.request(keys, id, "cancel")
      yield* awaitState(id, terminal).pipe(Effect.timeout("5 seconds"))
      const view = yield* show(id)
      assert.strictEqual(view.state.state, "canceled")
      const tasks = byId(view)
      assert.strictEqual(tasks.get("run/long")?.result?.result, "canceled")
      assert.strictEqual(tasks.get("run/next")?.result?.result, "canceled")
    }).pipe(Effect.provide(env))
  )
})
