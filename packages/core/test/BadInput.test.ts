/**
 * The bad input matrix at the core level (SPEC §4.7, §8), completing
 * JobBuilder.test.ts and EngineRules.test.ts: documents of the wrong shape
 * and every validation rule name the task and the field; corrupted records
 * of any kind are logged with their key while the engine keeps serving other
 * jobs; references that resolve to the wrong type fail their task only.
 */
import { assert, describe, it } from "@effect/vitest"
import { Job, JobBuilder, Jobs, Store, Task, TaskRegistry } from "@migrator/core"
import { TestPlugin } from "@migrator/core/testing"
import { Effect, Layer, Logger, type Schema, type Scope } from "effect"
import { awaitState, keys, runner, show, submit, terminal } from "./utils/engine.ts"

const types = new Map<string, Schema.Codec<unknown, unknown>>(
  TestPlugin.definitions.map((d) => [d.type, d.input as unknown as Schema.Codec<unknown, unknown>])
)

const problems = (document: unknown) =>
  JobBuilder.build(document, { types }).pipe(
    Effect.flip,
    Effect.map((e) => e.problems.map((p) => ({ task: p.task, field: p.field, message: p.message })))
  )

const has = (
  found: ReadonlyArray<{ task?: string | undefined; field: string; message: string }>,
  task: string | undefined,
  field: string,
  text = ""
) =>
  assert.isTrue(
    found.some((p) => p.task === task && p.field === field && p.message.includes(text)),
    `${task} ${field} "${text}" in ${JSON.stringify(found)}`
  )

const echo = (id: string, extra: Record<string, unknown> = {}) => ({ id, type: "test/echo", input: {}, ...extra })

describe("bad job documents", () => {
  it.effect("documents that are not objects", () =>
    Effect.gen(function* () {
      for (const document of [null, 42, "tasks", [echo("a")], true]) {
        const found = yield* problems(document)
        assert.isAbove(found.length, 0, JSON.stringify(document))
      }
    })
  )

  it.effect("missing fields and fields of the wrong type name the task and the field", () =>
    Effect.gen(function* () {
      has(yield* problems({ id: "j" }), undefined, "/tasks")
      has(yield* problems({ id: "j", tasks: [{ id: "a" }] }), "a", "/tasks/0/type")
      has(yield* problems({ id: "j", tasks: [{ type: "test/echo" }] }), undefined, "/tasks/0/id")
      has(
        yield* problems({ id: "j", tasks: [echo("a"), echo("b", { dependencies: "a" })] }),
        "b",
        "/tasks/1/dependencies"
      )
      has(yield* problems({ id: "j", tasks: [echo("a", { timeoutMs: 1.5 })] }), "a", "/tasks/0/timeoutMs")
      has(
        yield* problems({ id: "j", tasks: [echo("a", { retry: { maxAttempts: "3" } })] }),
        "a",
        "/tasks/0/retry/maxAttempts"
      )
      has(yield* problems({ id: "j", labels: { team: 7 }, tasks: [echo("a")] }), undefined, "/labels/team")
      has(yield* problems({ id: 7, tasks: [echo("a")] }), undefined, "/id")
      has(yield* problems({ id: "j", tasks: [echo("a")], clearTasks: [echo("undo")] }), "undo", "/clearTasks/0/undoes")
    })
  )

  it.effect("unknown (misspelled) fields are refused, naming task and field", () =>
    Effect.gen(function* () {
      const found = yield* problems({
        id: "j",
        lables: { a: "b" },
        tasks: [echo("a"), echo("b", { dependecies: ["a"] })],
        clearTasks: [echo("u", { undoes: "a", runOnConfrim: true })]
      })
      has(found, undefined, "/lables", 'unknown field "lables"')
      has(found, "b", "/tasks/1/dependecies", 'unknown field "dependecies"')
      has(found, "u", "/clearTasks/0/runOnConfrim", 'unknown field "runOnConfrim"')
    })
  )

  it.effect("ids that would break the key layout", () =>
    Effect.gen(function* () {
      for (const id of ["a/b", "", "../up", "a b", "x".repeat(300)]) {
        has(yield* problems({ id: "j", tasks: [echo(id)] }), id, "/tasks/0/id", "invalid task id")
      }
      for (const id of ["../escape", "a/b", "with space", "-leading"]) {
        has(yield* problems({ id, tasks: [echo("a")] }), undefined, "/id", "invalid job id")
      }
    })
  )

  it.effect("dependencies: on itself, duplicated, across phases", () =>
    Effect.gen(function* () {
      has(
        yield* problems({ id: "j", tasks: [echo("a", { dependencies: ["a"] })] }),
        "a",
        "/tasks/0/dependencies/0",
        "itself"
      )
      has(
        yield* problems({ id: "j", tasks: [echo("a"), echo("b", { dependencies: ["a", "a"] })] }),
        "b",
        "/tasks/1/dependencies",
        "duplicate"
      )
      has(
        yield* problems({ id: "j", tasks: [echo("a")], clearTasks: [echo("u", { undoes: "a", dependencies: ["a"] })] }),
        "u",
        "/clearTasks/0/dependencies/0",
        "run phase"
      )
      has(
        yield* problems({
          id: "j",
          tasks: [echo("a"), echo("b", { dependencies: ["u"] })],
          clearTasks: [echo("u", { undoes: "a" })]
        }),
        "b",
        "/tasks/1/dependencies/0",
        "clear phase"
      )
    })
  )

  it.effect("references: to an unknown task, malformed, and into the run phase from a clear task (allowed)", () =>
    Effect.gen(function* () {
      has(
        yield* problems({ id: "j", tasks: [echo("a", { input: { x: { $ref: "ghost#/v" } } })] }),
        "a",
        "/tasks/0/input/x",
        "unknown task"
      )
      has(
        yield* problems({ id: "j", tasks: [echo("a"), echo("b", { dependencies: ["a"], input: [{ $ref: "a" }] })] }),
        "b",
        "/tasks/1/input/0"
      )
      const ok = yield* JobBuilder.build(
        { id: "j", tasks: [echo("a")], clearTasks: [echo("u", { undoes: "a", input: { id: { $ref: "a#/id" } } })] },
        { types }
      )
      assert.strictEqual(ok.tasks.length, 2)
    })
  )

  it.effect("absurdly deep nesting is a validation error naming the field, not a stack overflow", () =>
    Effect.gen(function* () {
      let input: unknown = 1
      for (let i = 0; i < 20_000; i++) input = { deeper: input }
      const found = yield* problems({ id: "deep", tasks: [echo("a"), echo("b", { input })] })
      assert.strictEqual(found.length, 1)
      assert.strictEqual(found[0]?.task, "b")
      assert.isTrue(found[0]?.field.startsWith("/tasks/1/input/deeper/deeper"))
      assert.include(found[0]?.message, `${JobBuilder.MAX_DEPTH} levels`)
      // reasonable nesting is fine
      let fine: unknown = 1
      for (let i = 0; i < 50; i++) fine = [fine]
      yield* JobBuilder.build({ id: "ok", tasks: [echo("a", { input: fine })] }, { types })
    })
  )

  it.effect("every problem of a document is reported at once", () =>
    Effect.gen(function* () {
      const found = yield* problems({
        id: "many",
        tasks: [
          echo("a", { dependencies: ["ghost"] }),
          { id: "b", type: "nope/x", input: {} },
          { id: "c", type: "test/sleep", input: { ms: -1 } },
          echo("a")
        ]
      })
      has(found, "a", "/tasks/0/dependencies/0")
      has(found, "b", "/tasks/1/type")
      has(found, "c", "/tasks/2/input/ms")
      has(found, "a", "/tasks/3/id", "duplicate")
    })
  )
})

// ---- corrupted records under a running engine ------------------------------------------------

const captured = (messages: Array<string>) =>
  Logger.layer(
    [
      Logger.make(({ message }) => {
        messages.push((Array.isArray(message) ? message : [message]).map(String).join(" "))
      })
    ],
    { mergeWithExisting: false }
  )

const env = (messages: Array<string>) =>
  Layer.mergeAll(TestPlugin.layer).pipe(
    Layer.provideMerge(TaskRegistry.layer),
    Layer.provideMerge(Store.layerMemory),
    Layer.provideMerge(captured(messages))
  )

const withEnv = <A, E>(
  messages: Array<string>,
  f: Effect.Effect<A, E, Store.Store | TaskRegistry.TaskRegistry | Scope.Scope>
) => Effect.scoped(Effect.provide(f, env(messages)))

const waiting = Jobs.encodeStatus(new Task.TaskStatus({ status: "waiting", attempt: 0, updatedAt: 0 }))

/** Writes a valid pending job record by record, with `corrupt` (key suffix under the job -> value) replacing or adding some. */
const writeJob = (id: string, corrupt: Record<string, string>) =>
  Effect.gen(function* () {
    const built = yield* JobBuilder.build({ id, tasks: [echo("a", { input: 1 }), echo("b", { input: 2 })] })
    const state = Jobs.encodeState(new Job.JobState({ state: "pending", updatedAt: 0 }))
    const records = new Map<string, string>()
    for (const t of built.tasks) {
      records.set(keys.task(id, t.phase, t.id, "spec"), Jobs.encodeTask(t))
      records.set(keys.task(id, t.phase, t.id, "status"), waiting)
    }
    records.set(keys.jobState(id), state)
    records.set(keys.indexEntry(id), state)
    for (const [k, v] of Object.entries(corrupt)) records.set(`${keys.prefix}${k}`, v)
    const spec = keys.jobSpec(id)
    for (const [k, v] of records) if (k !== spec) yield* Store.put(k, v)
    yield* Store.put(spec, corrupt[`jobs/${id}/spec`] ?? Jobs.encodeSpec(built.spec))
  })

const corruptions: ReadonlyArray<{ readonly name: string; readonly corrupt: (job: string) => Record<string, string> }> =
  [
    { name: "a task status that is not JSON", corrupt: (j) => ({ [`jobs/${j}/tasks/run/a/status`]: "{oops" }) },
    {
      name: "a task status of the wrong schema",
      corrupt: (j) => ({ [`jobs/${j}/tasks/run/a/status`]: '{"status":"asleep"}' })
    },
    {
      name: "a task spec of the wrong schema",
      corrupt: (j) => ({ [`jobs/${j}/tasks/run/a/spec`]: '{"id":"a","type":1}' })
    },
    {
      name: "a task result of the wrong schema",
      corrupt: (j) => ({ [`jobs/${j}/tasks/run/a/result`]: '{"result":"maybe"}' })
    },
    { name: "a job spec that is not JSON", corrupt: (j) => ({ [`jobs/${j}/spec`]: "" }) },
    { name: "a job state of the wrong schema", corrupt: (j) => ({ [`jobs/${j}/state`]: '{"state":["running"]}' }) },
    { name: "a shared record that is not a record", corrupt: () => ({ "shared/c1%2Fnet%2Fbroken": "42" }) }
  ]

describe("corrupted records: logged with their key, the engine keeps serving", () => {
  for (const c of corruptions) {
    it.effect(c.name, () => {
      const messages: Array<string> = []
      return withEnv(
        messages,
        Effect.gen(function* () {
          yield* runner("r1")
          const corrupt = c.corrupt("victim")
          yield* writeJob("victim", corrupt)
          // a good job submitted afterwards completes, and so does one using the broken shared key
          yield* submit({
            id: "good",
            tasks: [echo("a", { input: 1 }), echo("net", { shared: "c1/net/broken", input: { n: 1 } })]
          })
          yield* awaitState("good", terminal)
          assert.strictEqual((yield* show("good")).state.outcome, "succeeded")
          for (const key of Object.keys(corrupt)) {
            assert.isTrue(
              messages.some((m) => m.includes(`${keys.prefix}${key}`)),
              `a log names ${key}: ${JSON.stringify(messages)}`
            )
          }
          // a read of the job lists its unreadable records by key, or refuses it naming the job
          const read = yield* Effect.exit(show("victim"))
          if (read._tag === "Success") {
            for (const key of Object.keys(corrupt).filter((k) => k.startsWith("jobs/"))) {
              assert.isTrue(read.value.problems.some((p) => p.key === `${keys.prefix}${key}`))
            }
          }
          // the engine never died: nothing at error level
          assert.isFalse(
            messages.some((m) => /defect|task attempt|task execution/.test(m)),
            JSON.stringify(messages)
          )
        })
      )
    })
  }
})

describe("an unreadable task record", () => {
  for (const record of ["status", "result"] as const) {
    it.effect(`an unreadable ${record} is not claimed again on every change in the store`, () => {
      const messages: Array<string> = []
      let claims = 0
      const claimKey = keys.task("victim", "run", "a", "claim")
      const counting = Layer.effect(
        Store.Store,
        Effect.map(Store.makeMemory, ({ store }) =>
          Store.Store.of({
            ...store,
            txn: (request) =>
              Effect.suspend(() => {
                if (request.success.some((op) => op._tag === "put" && op.key === claimKey)) claims++
                return store.txn(request)
              })
          })
        )
      )
      return Effect.scoped(
        Effect.gen(function* () {
          yield* runner("r1")
          yield* writeJob("victim", { [`jobs/victim/tasks/run/a/${record}`]: "{unreadable" })
          // plenty of changes elsewhere: each one used to bring a failing claim of "a" along
          for (let i = 0; i < 5; i++) {
            yield* submit({ id: `busy-${i}`, tasks: [echo("x", { input: i }), echo("y", { input: i })] })
            yield* awaitState(`busy-${i}`, terminal)
          }
          assert.isAtMost(claims, 1, `claims of the unreadable task: ${claims}`)
          // its sibling ran
          const b = (yield* show("victim")).tasks.find((t) => t.spec.id === "b")
          assert.strictEqual(b?.result?.result, "success")
        }).pipe(
          Effect.provide(
            TestPlugin.layer.pipe(
              Layer.provideMerge(TaskRegistry.layer),
              Layer.provideMerge(counting),
              Layer.provideMerge(captured(messages))
            )
          )
        )
      )
    })
  }
})

describe("references resolving to the wrong type", () => {
  it.effect("fail their task with input.invalid naming the field; the job's other tasks go on", () => {
    const messages: Array<string> = []
    return withEnv(
      messages,
      Effect.gen(function* () {
        yield* runner("r1")
        yield* submit({
          id: "wrong-type",
          tasks: [
            echo("src", { input: { name: "ten", n: 10, list: [1, 2] } }),
            { id: "nap", type: "test/sleep", dependencies: ["src"], input: { ms: { $ref: "src#/name" } } },
            { id: "nap2", type: "test/sleep", dependencies: ["src"], input: { $ref: "src#/list" } },
            echo("ok", { dependencies: ["src"], input: { v: { $ref: "src#/list/0" } } })
          ]
        })
        yield* awaitState("wrong-type", terminal)
        const view = yield* show("wrong-type")
        const task = (id: string) => view.tasks.find((t) => t.spec.id === id)
        assert.strictEqual(task("nap")?.result?.reason?.code, "input.invalid")
        assert.include(task("nap")?.result?.reason?.message, "/ms")
        assert.strictEqual(task("nap2")?.result?.reason?.code, "input.invalid")
        assert.strictEqual(task("ok")?.result?.result, "success")
        assert.strictEqual(view.state.outcome, "partial")
      })
    )
  })
})
