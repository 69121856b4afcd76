import { assert, describe, it } from "@effect/vitest"
import { JobBuilder, Jobs, Store } from "@migrator/core"
import { TestPlugin } from "@migrator/core/testing"
import { Effect, Option, type Schema } from "effect"
import { keys } from "./utils/engine.ts"

const types = new Map<string, Schema.Codec<unknown, unknown>>(
  TestPlugin.definitions.map((d) => [d.type, d.input as unknown as Schema.Codec<unknown, unknown>])
)
const problems = (document: unknown) =>
  JobBuilder.build(document, { types }).pipe(
    Effect.flip,
    Effect.map((e) => e.problems.map((p) => ({ task: p.task, field: p.field, message: p.message })))
  )

describe("JobBuilder", () => {
  it.effect("accepts a valid job and fills defaults", () =>
    Effect.gen(function* () {
      const built = yield* JobBuilder.build(
        {
          id: "ok",
          labels: { plan: "p" },
          target: "cluster-1",
          tasks: [
            { id: "a", type: "test/echo", input: { x: 1 } },
            { id: "b", type: "test/echo", dependencies: ["a"], input: { $ref: "a#/x" } }
          ],
          clearTasks: [{ id: "a-del", type: "test/echo", undoes: "a", input: { id: { $ref: "a#/x" } } }]
        },
        { types }
      )
      assert.strictEqual(built.spec.runTasks, 2)
      assert.strictEqual(built.spec.clearTasks, 1)
      assert.strictEqual(built.spec.target, "cluster-1")
      assert.deepStrictEqual(
        built.tasks.map((t) => [t.id, t.phase]),
        [
          ["a", "run"],
          ["b", "run"],
          ["a-del", "clear"]
        ]
      )
    })
  )

  it.effect("names the task and field of every problem", () =>
    Effect.gen(function* () {
      const found = yield* problems({
        id: "bad",
        tasks: [
          { id: "a", type: "test/echo", input: {} },
          { id: "a", type: "test/echo" },
          { id: "b", type: "nope/unknown", dependencies: ["ghost"] },
          { id: "c", type: "test/echo", input: { x: { $ref: "a#/x" } } },
          { id: "d", type: "test/sleep", input: { ms: "soon" } },
          { id: "e", type: "test/echo", input: { x: { $ref: 42 } } }
        ],
        clearTasks: [{ id: "z", type: "test/echo", undoes: "missing" }]
      })
      const has = (task: string, field: string, text: string) =>
        assert.isTrue(
          found.some((p) => p.task === task && p.field === field && p.message.includes(text)),
          `${task} ${field} ${text} in ${JSON.stringify(found)}`
        )
      has("a", "/tasks/1/id", "duplicate")
      has("b", "/tasks/2/type", "unknown task type")
      has("b", "/tasks/2/dependencies/0", "unknown task")
      has("c", "/tasks/3/input/x", "not a dependency")
      has("d", "/tasks/4/input/ms", "")
      has("e", "/tasks/5/input/x", "malformed")
      has("z", "/clearTasks/0/undoes", "unknown run task")
    })
  )

  it.effect("refuses a task input too large for one store request, naming the task", () =>
    Effect.gen(function* () {
      const found = yield* problems({
        id: "huge",
        tasks: [{ id: "big", type: "test/echo", input: { blob: "x".repeat(600 * 1024) } }]
      })
      assert.strictEqual(found[0]?.task, "big")
      assert.strictEqual(found[0]?.field, "/tasks/0/input")
      assert.include(found[0]?.message ?? "", "limit")
    })
  )

  it.effect("reports dependency cycles, even around long chains", () =>
    Effect.gen(function* () {
      const chain = Array.from({ length: 5000 }, (_, i) => ({
        id: `t${i}`,
        type: "test/echo",
        dependencies: [`t${(i + 1) % 5000}`]
      }))
      const found = yield* problems({ id: "cyc", tasks: chain })
      assert.strictEqual(found.length, 1)
      assert.include(found[0]!.message, "dependency cycle")
    })
  )

  it.effect("rejects a document of the wrong shape with the field named", () =>
    Effect.gen(function* () {
      const found = yield* problems({ id: "shape", tasks: [{ id: "a", type: 7 }] })
      assert.deepStrictEqual(found[0]?.field, "/tasks/0/type")
      assert.strictEqual(found[0]?.task, "a")
      const empty = yield* problems({ id: "none", tasks: [] })
      assert.strictEqual(empty[0]?.field, "/tasks")
    })
  )

  it.effect("a 10,000-task job submits in chunks under etcd's limits; the spec is written last", () =>
    Effect.gen(function* () {
      const tasks = Array.from({ length: 10_000 }, (_, i) => ({
        id: `t${i}`,
        type: "test/echo",
        dependencies: i === 0 ? [] : [`t${Math.floor((i - 1) / 2)}`],
        input: { i }
      }))
      const built = yield* JobBuilder.build({ id: "big", tasks }, { types })
      yield* Jobs.submit(keys, built)
      const store = yield* Store.Store
      const { kvs } = yield* store.range(keys.tasks("big"))
      // one spec per task: a task has no status record until it is first claimed
      assert.strictEqual(kvs.length, 10_000)
      assert.isTrue(kvs.every((kv) => kv.key.endsWith("/spec")))
      const spec = Option.getOrThrow(yield* store.get(keys.jobSpec("big")))
      assert.isTrue(
        kvs.every((kv) => kv.modRevision < spec.modRevision),
        "tasks are written before the spec"
      )
      const again = yield* Effect.flip(Jobs.submit(keys, built))
      assert.strictEqual(again.reason, "AlreadyExists")
    }).pipe(Effect.provide(Store.layerMemory))
  )
})
