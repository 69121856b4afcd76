import { assert, describe, it } from "@effect/vitest"
import { Codec, Job, JobEvent, Keys, Reason, Task } from "@migrator/core"
import { Effect, Schema } from "effect"

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
})
