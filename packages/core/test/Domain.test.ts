import { assert, describe, it } from "@effect/vitest"
import { Codec, Job, JobEvent, Keys, Reason, SharedResource, Task } from "@migrator/core"
import { Effect, Equal, Exit, Schema } from "effect"
import fc from "fast-check"
import * as Records from "../src/internal/records.ts"

const taskSpec = Codec.decode(Task.TaskSpec)
const jobState = Codec.decode(Job.JobState)

describe("domain model", () => {
  it.effect("task spec, status and result round-trip through the stored JSON", () =>
    Effect.gen(function* () {
      const spec = yield* taskSpec(
        "k",
        JSON.stringify({
          id: "net-1",
          type: "openstack/network.create",
          phase: "run",
          dependencies: ["tenant"],
          input: { tenant: { $ref: "tenant#/id" }, name: "n" },
          shared: "cluster-a/network/src-1",
          timeoutMs: 60000,
          retry: { maxAttempts: 3 }
        })
      )
      assert.strictEqual(spec.id, "net-1")
      assert.strictEqual(spec.retry?.maxAttempts, 3)
      const again = yield* taskSpec("k", Codec.encode(Task.TaskSpec)(spec))
      assert.deepStrictEqual(again, spec)

      const result = new Task.TaskResult({
        result: "failed",
        reason: Reason.make("handler.failed", "boom", { status: 503 }),
        retryable: true,
        attempt: 2,
        finishedAt: 10
      })
      const decoded = yield* Codec.decode(Task.TaskResult)("r", Codec.encode(Task.TaskResult)(result))
      assert.deepStrictEqual(decoded, result)
      const status = new Task.TaskStatus({ status: "running", attempt: 1, runner: "r1", updatedAt: 5 })
      assert.deepStrictEqual(yield* Codec.decode(Task.TaskStatus)("s", Codec.encode(Task.TaskStatus)(status)), status)
      const event = new JobEvent.JobEvent({ at: 1, type: "task.succeeded", taskId: "a", message: "ok" })
      assert.deepStrictEqual(yield* Codec.decode(JobEvent.JobEvent)("e", Codec.encode(JobEvent.JobEvent)(event)), event)
    })
  )

  it.effect("a record class decodes to the instance its own decoding makes, and fails the same way", () =>
    Effect.gen(function* () {
      // `plainClass` decodes a record class through its fields (see Codec.ts): the instance and
      // the errors must be those of the class's own schema pass
      const samples: ReadonlyArray<readonly [Schema.Codec<unknown, unknown>, unknown]> = [
        [
          Task.TaskResult,
          { result: "failed", reason: { code: "x", message: "m", details: { a: 1 } }, attempt: 2, finishedAt: 1 }
        ],
        [Task.TaskStatus, { status: "waiting", attempt: 0, updatedAt: 3, notBefore: 9 }],
        [
          Task.TaskSpec,
          { id: "a", type: "t/x", phase: "run", dependencies: [], input: { v: [1, "2"] }, retry: { maxAttempts: 2 } }
        ],
        [
          Job.JobState,
          { state: "running", pending: { operation: "cancel", requestedAt: 2 }, updatedAt: 1, startedAt: 1 }
        ],
        [Job.JobSpec, { id: "j", labels: { site: "b" }, runTasks: 2, clearTasks: 0, rtoMs: 5, createdAt: 1 }],
        [
          SharedResource.SharedRecord,
          { state: "ready", job: "j", task: "t", phase: "run", token: 4, output: null, holders: ["j"], updatedAt: 1 }
        ]
      ]
      for (const [schema, json] of samples) {
        const raw = JSON.stringify(json)
        const own = Schema.decodeUnknownExit(schema)(json)
        assert.isTrue(Exit.isSuccess(own), raw)
        const fast = yield* Codec.decode(schema, { plainClass: true })("k", raw)
        assert.deepStrictEqual(fast, Exit.isSuccess(own) ? own.value : undefined)
        assert.isTrue(Equal.equals(fast, Exit.isSuccess(own) ? own.value : undefined), raw)
        assert.strictEqual(
          Codec.encode(schema)(fast),
          Codec.encode(schema)(Exit.isSuccess(own) ? own.value : undefined)
        )
      }
      const wrong = { status: "waiting", attempt: 0.5, updatedAt: 3 }
      const own = Schema.decodeUnknownExit(Task.TaskStatus)(wrong)
      const error = yield* Effect.flip(Codec.decode(Task.TaskStatus, { plainClass: true })("k", JSON.stringify(wrong)))
      assert.isTrue(Exit.isFailure(own))
      if (Exit.isFailure(own)) {
        const reason = own.cause.reasons[0]
        assert.deepStrictEqual(
          { field: error.field, detail: error.detail },
          reason?._tag === "Fail" ? Codec.describeIssue(reason.error.issue) : undefined
        )
      }
      // a check of the class's struct is not one of its fields': such a class keeps the full pass
      const Bounds = Schema.Struct({ from: Schema.Number, to: Schema.Number }).check(
        Schema.makeFilter((w: { readonly from: number; readonly to: number }) => w.from <= w.to || "from after to")
      )
      class Window extends Schema.Class<Window>("Window")(Bounds) {}
      const backwards = yield* Effect.flip(
        Codec.decode(Window, { plainClass: true })("w", JSON.stringify({ from: 2, to: 1 }))
      )
      assert.include(backwards.message, "from after to")
    })
  )

  it("the engine's own records are the instances their constructors make, and still checked when encoded", () => {
    const status = { status: "running", attempt: 2, runner: "r1", startedAt: 3, updatedAt: 3 } as const
    const made = Records.make(Task.TaskStatus, status)
    assert.deepStrictEqual(made, new Task.TaskStatus(status))
    assert.isTrue(Equal.equals(made, new Task.TaskStatus(status)))
    assert.strictEqual(Codec.encode(Task.TaskStatus)(made), Codec.encode(Task.TaskStatus)(new Task.TaskStatus(status)))
    const event = { at: 1, type: "task.started", message: "m", runner: "r1", taskId: "a", phase: "run" } as const
    assert.deepStrictEqual(Records.make(JobEvent.JobEvent, event), new JobEvent.JobEvent(event))
    const result = { result: "success", output: { a: [1] }, attempt: 1, finishedAt: 2 } as const
    assert.deepStrictEqual(Records.make(Task.TaskResult, result), new Task.TaskResult(result))
    // what the constructor would have refused, the encoding refuses before anything is written
    assert.throws(() => Codec.encode(Task.TaskStatus)(Records.make(Task.TaskStatus, { ...status, attempt: 1.5 })))
    assert.throws(() =>
      Codec.encode(Task.TaskResult)(Records.make(Task.TaskResult, { ...result, output: { n: Number.NaN } }))
    )
  })

  it.effect("decode errors name the key and the field", () =>
    Effect.gen(function* () {
      const wrongType = yield* Effect.flip(
        taskSpec(
          "migrator/jobs/j/tasks/run/a/spec",
          JSON.stringify({ id: "a", type: "test/echo", phase: "run", dependencies: ["b", 7], input: null })
        )
      )
      assert.strictEqual(wrongType.key, "migrator/jobs/j/tasks/run/a/spec")
      assert.strictEqual(wrongType.field, "/dependencies/1")
      assert.include(wrongType.message, "migrator/jobs/j/tasks/run/a/spec")
      assert.include(wrongType.message, "/dependencies/1")

      const missing = yield* Effect.flip(taskSpec("k", JSON.stringify({ id: "a", phase: "run" })))
      assert.strictEqual(missing.field, "/type")

      const notJson = yield* Effect.flip(jobState("migrator/jobs/j/state", "{not json"))
      assert.strictEqual(notJson.field, "")
      assert.include(notJson.message, "not JSON")

      const unknownState = yield* Effect.flip(jobState("s", JSON.stringify({ state: "exploded", updatedAt: 1 })))
      assert.strictEqual(unknownState.field, "/state")

      const badId = yield* Effect.flip(
        taskSpec("k", JSON.stringify({ id: "a/b", type: "test/echo", phase: "run", dependencies: [], input: 1 }))
      )
      assert.strictEqual(badId.field, "/id")
      const badType = yield* Effect.flip(
        taskSpec("k", JSON.stringify({ id: "a", type: "Echo", phase: "run", dependencies: [], input: 1 }))
      )
      assert.strictEqual(badType.field, "/type")
    })
  )

  it("the job state machine allows exactly the transitions of SPEC §4.1", () => {
    // every (state, event) pair: the expected next state, or nothing
    const expected: Record<Job.State, Partial<Record<Job.Event, Job.State>>> = {
      pending: { start: "running", cancel: "canceling" },
      running: { complete: "completed", cancel: "canceling", pause: "paused" },
      paused: { resume: "running", cancel: "canceling" },
      canceling: { canceled: "canceled" },
      canceled: { rollback: "clearing" },
      completed: { rollback: "clearing", confirm: "clearing", retry: "running", "auto-rollback": "clearing" },
      clearing: { cleared: "cleared", "clear-failed": "clear-failed" },
      cleared: {},
      "clear-failed": { retry: "clearing" }
    }
    const events: ReadonlyArray<Job.Event> = [
      ...Job.Operation.literals,
      "start",
      "complete",
      "canceled",
      "cleared",
      "clear-failed",
      "auto-rollback"
    ]
    for (const from of Job.State.literals) {
      for (const event of events) {
        assert.strictEqual(Job.next(from, event), expected[from][event], `${from} --${event}-->`)
      }
    }
    assert.isTrue(Job.canTransition("completed", "running"), "retry re-enters running")
    assert.isFalse(Job.canTransition("cleared", "clearing"))
    assert.deepStrictEqual(Schema.decodeUnknownSync(Job.State)("clear-failed"), "clear-failed")
  })

  it("one module knows the key layout, and parses what it writes", () => {
    const keys = Keys.make("p/")
    assert.strictEqual(keys.task("j1", "run", "t1", "status"), "p/jobs/j1/tasks/run/t1/status")
    assert.deepStrictEqual(keys.parse(keys.task("j1", "clear", "t1", "claim")), {
      _tag: "task",
      job: "j1",
      phase: "clear",
      task: "t1",
      record: "claim"
    })
    assert.deepStrictEqual(keys.parse(keys.jobState("j1")), { _tag: "jobState", job: "j1" })
    assert.deepStrictEqual(keys.parse(keys.event("j1", "000042-r1-1")), { _tag: "event", job: "j1", id: "000042-r1-1" })
    assert.isUndefined(keys.parse("p/jobs/j1/tasks/run/t1/other"))
    assert.isUndefined(keys.parse("elsewhere"))
  })

  it("parses any key under jobs/ as the layout reads it part by part", () => {
    const keys = Keys.make("p/")
    // the layout's rule, written the plain way: the key's parts between slashes
    const reference = (key: string): Keys.ParsedKey | undefined => {
      const parts = key.slice("p/jobs/".length).split("/")
      const [id, kind] = parts
      if (id === undefined || id === "") return undefined
      if (parts.length === 2 && kind === "spec") return { _tag: "jobSpec", job: id }
      if (parts.length === 2 && kind === "state") return { _tag: "jobState", job: id }
      if (parts.length === 3 && kind === "events") return { _tag: "event", job: id, id: parts[2]! }
      const [, , phase, task, record] = parts
      if (
        parts.length === 5 &&
        kind === "tasks" &&
        (phase === "run" || phase === "clear") &&
        (record === "spec" || record === "status" || record === "result" || record === "claim")
      ) {
        return { _tag: "task", job: id, phase, task: task!, record }
      }
      return undefined
    }
    const part = fc.oneof(
      fc.constantFrom("", "j1", "spec", "state", "events", "tasks", "run", "clear", "status", "result", "claim", "x"),
      fc.string({ maxLength: 4 })
    )
    fc.assert(
      fc.property(fc.array(part, { minLength: 1, maxLength: 7 }), (parts) => {
        const key = `p/jobs/${parts.join("/")}`
        assert.deepStrictEqual(keys.parse(key), reference(key), key)
      }),
      { numRuns: 5000 }
    )
  })
})
