import { assert, describe, it } from "@effect/vitest"
import { JobBuilder, Jobs, Store, Task, TaskHandler, TaskRegistry } from "@migrator/core"
import { TestPlugin } from "@migrator/core/testing"
import { Effect, Layer, Option, Schema, type Scope } from "effect"
import { TestClock } from "effect/testing"
import { awaitState, awaitTask, keys, runner, show, submit, terminal } from "./utils/engine.ts"
import { makeProbe } from "./utils/probe.ts"

const BadOutput = TaskHandler.make("test/bad-output", {
  input: Schema.Json,
  output: Schema.Struct({ id: Schema.String })
})
const Defect = TaskHandler.make("test/defect", { input: Schema.Json, output: Schema.Json })

const env = Effect.gen(function* () {
  const probe = yield* makeProbe
  const extra = Layer.mergeAll(
    TestPlugin.layer,
    probe.layer,
    BadOutput.toLayer(() => Effect.succeed({ id: 42 } as unknown as { id: string })),
    Defect.toLayer(() => Effect.die(new Error("handler bug")))
  )
  const context = yield* Layer.build(
    extra.pipe(Layer.provideMerge(TaskRegistry.layer), Layer.provideMerge(Store.layerMemory))
  )
  return { probe, context }
})

const withEnv = <A, E>(
  f: (
    probe: Effect.Success<typeof makeProbe>
  ) => Effect.Effect<A, E, Store.Store | TaskRegistry.TaskRegistry | Scope.Scope>
) =>
  Effect.gen(function* () {
    const { probe, context } = yield* env
    return yield* f(probe).pipe(Effect.provide(context))
  })

const task = (view: Jobs.JobView, id: string, phase = "run") =>
  view.tasks.find((t) => t.spec.id === id && t.spec.phase === phase)

describe("engine rules", () => {
  it.effect("an attempt that exceeds its timeout is retried, then fails with a timeout reason", () =>
    withEnv(() =>
      Effect.gen(function* () {
        yield* runner("r1")
        const id = yield* submit({
          id: "slow",
          tasks: [
            {
              id: "s",
              type: "test/sleep",
              input: { ms: 60_000 },
              timeoutMs: 1_000,
              retry: { maxAttempts: 2, baseDelayMs: 10 }
            }
          ]
        })
        yield* awaitTask(id, "s", (s) => s.status === "running")
        yield* TestClock.adjust("1 second")
        // the failed attempt backs off before the next one
        yield* awaitTask(id, "s", (s) => s.status === "waiting" && s.attempt === 1)
        yield* TestClock.adjust("100 millis")
        yield* awaitTask(id, "s", (s) => s.status === "running" && s.attempt === 2)
        yield* TestClock.adjust("1 second")
        yield* awaitState(id, terminal)
        const t = task(yield* show(id), "s")
        assert.strictEqual(t?.result?.result, "failed")
        assert.strictEqual(t?.result?.reason?.code, "task.timeout")
        assert.strictEqual(t?.result?.attempt, 2)
      })
    )
  )

  // (a type no runner serves is not failed but waits: see EngineFaults)
  it.effect("bad inputs and outputs fail their task with a clear reason; other tasks go on", () =>
    withEnv(() =>
      Effect.gen(function* () {
        yield* runner("r1")
        const id = yield* submit({
          id: "bad",
          tasks: [
            { id: "input", type: "test/sleep", input: { ms: "soon" } },
            { id: "output", type: "test/bad-output", input: {} },
            { id: "defect", type: "test/defect", input: {} },
            { id: "src", type: "test/echo", input: { n: 1 } },
            { id: "ref", type: "test/echo", dependencies: ["src"], input: { $ref: "src#/missing/deeper" } },
            { id: "fine", type: "test/echo", input: { ok: true } }
          ]
        })
        yield* awaitState(id, terminal)
        const view = yield* show(id)
        assert.strictEqual(view.state.outcome, "partial")
        const reason = (t: string) => task(view, t)?.result?.reason
        assert.strictEqual(reason("input")?.code, "input.invalid")
        assert.include(reason("input")?.message ?? "", "/ms")
        assert.strictEqual(reason("output")?.code, "output.invalid")
        assert.include(reason("output")?.message ?? "", "/id")
        assert.strictEqual(reason("defect")?.code, "handler.defect")
        assert.strictEqual(reason("ref")?.code, "input.unresolved")
        assert.strictEqual(task(view, "fine")?.result?.result, "success")
      })
    )
  )

  it.effect("corrupted records are reported and skipped; the runner keeps serving other jobs", () =>
    withEnv(() =>
      Effect.gen(function* () {
        yield* Store.put(keys.jobState("garbage"), "{not json")
        yield* Store.put(keys.jobSpec("garbage"), JSON.stringify({ id: "garbage" }))
        yield* Store.put(keys.indexEntry("garbage"), JSON.stringify({ state: "exploded", updatedAt: 0 }))
        yield* runner("r1")
        const id = yield* submit({ id: "fine", tasks: [{ id: "a", type: "test/echo", input: 1 }] })
        yield* awaitState(id, terminal)
        assert.strictEqual((yield* show(id)).state.outcome, "succeeded")
        const listed = yield* Jobs.list(keys)
        assert.deepStrictEqual(
          listed.map((j) => j.id),
          ["fine"]
        )
      })
    )
  )

  it.effect("a job whose first tasks were written before the runner started watching runs without a resync", () =>
    withEnv(() =>
      Effect.gen(function* () {
        const built = yield* JobBuilder.build({
          id: "early-tasks",
          tasks: [
            { id: "a", type: "test/echo", input: 1 },
            { id: "b", type: "test/echo", dependencies: ["a"], input: 2 }
          ]
        })
        // the first half of a submission lands before the runner loads its view...
        const task = built.tasks[0]!
        yield* Store.put(keys.task("early-tasks", "run", "a", "spec"), Jobs.encodeTask(task))
        yield* Store.put(
          keys.task("early-tasks", "run", "a", "status"),
          Jobs.encodeStatus(new Task.TaskStatus({ status: "waiting", attempt: 0, updatedAt: 0 }))
        )
        yield* runner("r1")
        // a job run to the end proves the runner has loaded its view and is watching
        yield* submit({ id: "probe-job", tasks: [{ id: "p", type: "test/echo", input: 0 }] })
        yield* awaitState("probe-job", terminal)
        // ...and the rest, with the spec that commits it, after
        const rest = { ...built, tasks: built.tasks.slice(1) }
        yield* Jobs.submit(keys, rest)
        // no time passes: the periodic resync cannot be what finds task "a"
        yield* awaitState("early-tasks", terminal)
        assert.strictEqual((yield* show("early-tasks")).state.outcome, "succeeded")
      })
    )
  )

  it.effect("results of tasks finishing together share transactions, each still fenced", () =>
    withEnv((probe) =>
      Effect.gen(function* () {
        yield* runner("r1", { concurrency: 32 })
        const count = 20
        const tasks = Array.from({ length: count }, (_, i) => ({
          id: `t${i}`,
          type: "probe/work",
          input: { gate: "g" }
        }))
        const id = yield* submit({ id: "batch", tasks })
        for (const t of tasks) yield* awaitTask(id, t.id, (s) => s.status === "running")
        const store = yield* Store.Store
        const before = yield* store.revision
        yield* probe.open("g")
        yield* awaitState(id, terminal)
        const view = yield* show(id)
        assert.strictEqual(view.state.outcome, "succeeded")
        for (const t of tasks) {
          const claimed = task(view, t.id)
          assert.strictEqual(claimed?.result?.result, "success")
          assert.isUndefined(claimed?.claim)
        }
        // one revision per transaction: fewer transactions than results, plus the job's completion
        const transactions = (yield* store.revision) - before
        assert.isBelow(transactions, count)
      })
    )
  )

  it.effect("two jobs racing for one shared key: one creates, the other adopts", () =>
    withEnv((probe) =>
      Effect.gen(function* () {
        yield* runner("r1")
        yield* runner("r2")
        const job = (id: string) => ({
          id,
          tasks: [
            { id: "flavor", type: "probe/work", shared: "c1/flavor/f1", input: { create: "flavor", gate: "race" } }
          ]
        })
        const a = yield* submit(job("ja"))
        const b = yield* submit(job("jb"))
        yield* awaitTask(a, "flavor", (s) => s.status === "running")
        yield* awaitTask(b, "flavor", (s) => s.status === "running")
        yield* probe.open("race")
        yield* awaitState(a, terminal)
        yield* awaitState(b, terminal)
        assert.strictEqual(probe.created.get("flavor"), 1)
        const record = JSON.parse(Option.getOrThrow(yield* Store.getValue(keys.shared("c1/flavor/f1"))))
        assert.strictEqual(record.state, "ready")
        assert.deepStrictEqual([...record.holders].sort(), ["ja", "jb"])
      })
    )
  )

  it.effect("a failed shared creation is never adopted; the next job takes over creation", () =>
    withEnv((probe) =>
      Effect.gen(function* () {
        yield* runner("r1")
        const first = yield* submit({
          id: "f1",
          tasks: [
            { id: "net", type: "probe/work", shared: "c1/net/n1", input: { failTimes: 9 }, retry: { maxAttempts: 1 } }
          ]
        })
        yield* awaitState(first, terminal)
        assert.strictEqual((yield* show(first)).state.outcome, "failed")
        assert.strictEqual(
          JSON.parse(Option.getOrThrow(yield* Store.getValue(keys.shared("c1/net/n1")))).state,
          "failed"
        )
        const second = yield* submit({
          id: "f2",
          tasks: [{ id: "net", type: "probe/work", shared: "c1/net/n1", input: { create: "n1" } }]
        })
        yield* awaitState(second, terminal)
        assert.strictEqual((yield* show(second)).state.outcome, "succeeded")
        assert.strictEqual(probe.created.get("n1"), 1)
        const record = JSON.parse(Option.getOrThrow(yield* Store.getValue(keys.shared("c1/net/n1"))))
        assert.deepStrictEqual(record.holders, ["f2"])
      })
    )
  )

  it.effect(
    "confirm runs only the clear tasks marked for it; cancel of a pending job; invalid operations are refused",
    () =>
      withEnv(() =>
        Effect.gen(function* () {
          const pending = yield* submit({ id: "early", tasks: [{ id: "a", type: "test/echo", input: 1 }] })
          yield* Jobs.request(keys, pending, "cancel")
          yield* runner("r1")
          yield* awaitState(pending, terminal)
          assert.strictEqual((yield* show(pending)).state.state, "canceled")
          assert.strictEqual(task(yield* show(pending), "a")?.result?.result, "canceled")

          const id = yield* submit({
            id: "conf",
            tasks: [
              { id: "copy", type: "test/echo", input: 1 },
              { id: "vm", type: "test/echo", input: 2 }
            ],
            clearTasks: [
              { id: "copy-del", type: "test/echo", undoes: "copy", runOnConfirm: true, input: 1 },
              { id: "vm-del", type: "test/echo", undoes: "vm", input: 2 }
            ]
          })
          yield* awaitState(id, terminal)
          const refused = yield* Effect.flip(Jobs.request(keys, id, "resume"))
          assert.strictEqual(refused.reason, "InvalidOperation")
          yield* Jobs.request(keys, id, "confirm")
          yield* awaitState(id, (s) => s === "cleared" || s === "clear-failed")
          const view = yield* show(id)
          assert.strictEqual(view.state.state, "cleared")
          assert.strictEqual(task(view, "copy-del", "clear")?.result?.result, "success")
          assert.strictEqual(task(view, "vm-del", "clear")?.result?.result, "skipped")
        })
      )
  )

  it.effect("a drill rolls itself back after autoRollbackAfter; the RTO is recorded", () =>
    withEnv(() =>
      Effect.gen(function* () {
        yield* runner("r1")
        const id = yield* submit({
          id: "drill",
          autoRollbackAfterMs: 60_000,
          rtoMs: 5_000,
          tasks: [{ id: "a", type: "test/sleep", input: { ms: 2_000 } }],
          clearTasks: [{ id: "a-del", type: "test/echo", undoes: "a", input: 1 }]
        })
        yield* awaitTask(id, "a", (s) => s.status === "running")
        yield* TestClock.adjust("2 seconds")
        yield* awaitState(id, terminal)
        const completed = (yield* show(id)).state
        assert.strictEqual(completed.elapsedMs, 2_000)
        assert.isTrue(completed.rtoMet)
        yield* TestClock.adjust("59 seconds")
        assert.strictEqual((yield* show(id)).state.state, "completed")
        yield* TestClock.adjust("2 seconds")
        yield* awaitState(id, (s) => s === "cleared")
      })
    )
  )
})
