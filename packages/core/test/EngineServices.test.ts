/**
 * Each engine service on its own, on the memory store with the test clock.
 */
import { assert, describe, it } from "@effect/vitest"
import { Jobs, LeaderElection, Monitor, ResultTxn, RetryPolicy, SharedRefs, Store, Task } from "@migrator/core"
import { Duration, Effect, Fiber, Layer, Option, Schema } from "effect"
import { TestClock } from "effect/testing"
import { keys, submit } from "./utils/engine.ts"

const options = { runnerId: "r1", prefix: keys.prefix, leaseTtl: Duration.seconds(2), types: ["probe/work"] }

/** The services over one memory store; `memory` drives its faults. */
const services = Effect.gen(function* () {
  const memory = yield* Store.makeMemory
  const context = yield* Layer.build(
    Layer.mergeAll(SharedRefs.layer(options), ResultTxn.layer).pipe(
      Layer.provideMerge(Layer.mergeAll(Monitor.layer(options), LeaderElection.layer(options))),
      Layer.provideMerge(Layer.succeed(Store.Store, memory.store))
    )
  )
  return { memory, context }
})

const oneTask = (id: string, extra: Record<string, unknown> = {}) =>
  submit({ id, tasks: [{ id: "t", type: "probe/work", input: {}, ...extra }] })

/** The monitor's view of a job once it has seen it. */
const seen = (job: string) =>
  Effect.gen(function* () {
    const monitor = yield* Monitor.Monitor
    for (;;) {
      const wake = yield* monitor.wake.next
      const slot = monitor.view.jobs.get(job)
      if (slot?.spec !== undefined && slot.tasks.run.get("t")?.spec !== undefined) return slot
      yield* wake
    }
  })

describe("Monitor", () => {
  it.effect("discovers a submitted job with its tasks and reports it dirty once per change", () =>
    Effect.gen(function* () {
      const { context } = yield* services
      yield* Effect.gen(function* () {
        const monitor = yield* Monitor.Monitor
        yield* oneTask("m1")
        const slot = yield* seen("m1")
        assert.strictEqual(slot.state?.value.state, "pending")
        assert.include(yield* monitor.takeDirty, "m1")
        assert.deepStrictEqual(yield* monitor.takeDirty, [])
        yield* Jobs.request(keys, "m1", "cancel")
        for (;;) {
          const wake = yield* monitor.wake.next
          if (monitor.view.jobs.get("m1")?.state?.value.state === "canceling") break
          yield* wake
        }
        assert.deepStrictEqual(yield* monitor.takeDirty, ["m1"])
      }).pipe(Effect.provide(context))
    })
  )

  it.effect("sees runners' registrations and which task types are served", () =>
    Effect.gen(function* () {
      const { context } = yield* services
      yield* Effect.gen(function* () {
        const monitor = yield* Monitor.Monitor
        const election = yield* LeaderElection.LeaderElection
        yield* election.session
        yield* oneTask("m2") // any later change proves the registration was seen before it
        yield* seen("m2")
        assert.isTrue(monitor.view.served("probe/work"))
        assert.isFalse(monitor.view.served("other/type"))
      }).pipe(Effect.scoped, Effect.provide(context))
    })
  )
})

describe("LeaderElection", () => {
  it.effect("a claim's token is its create revision; a second claim of the same task gets nothing", () =>
    Effect.gen(function* () {
      const { context, memory } = yield* services
      yield* Effect.gen(function* () {
        const election = yield* LeaderElection.LeaderElection
        const session = yield* election.session
        yield* oneTask("l1")
        const slot = yield* seen("l1")
        const request = {
          job: "l1",
          phase: "run" as const,
          decided: slot.state!,
          with: [],
          tasks: [{ spec: slot.tasks.run.get("t")!.spec!, status: slot.tasks.run.get("t")!.status, slot: undefined }]
        }
        const first = yield* session.claim(request)
        assert.strictEqual(first.claims.length, 1)
        const claim = first.claims[0]!
        assert.strictEqual(claim.attempt, 1)
        const kv = Option.getOrThrow(yield* memory.store.get(keys.task("l1", "run", "t", "claim")))
        assert.strictEqual(claim.token, kv.createRevision)
        assert.strictEqual(kv.lease, session.lease.id)
        assert.deepStrictEqual((yield* session.claim(request)).claims, [])
        // a release with a stale token leaves the claim; with its own it goes
        yield* session.release({ ...claim, token: claim.token - 1 })
        assert.isTrue(Option.isSome(yield* memory.store.get(keys.task("l1", "run", "t", "claim"))))
        yield* session.release(claim)
        assert.isTrue(Option.isNone(yield* memory.store.get(keys.task("l1", "run", "t", "claim"))))
      }).pipe(Effect.scoped, Effect.provide(context))
    })
  )

  it.effect("a claim whose answer is lost is found by reading back what is on our lease", () =>
    Effect.gen(function* () {
      const { context, memory } = yield* services
      yield* Effect.gen(function* () {
        const election = yield* LeaderElection.LeaderElection
        const session = yield* election.session
        yield* oneTask("l2")
        const slot = yield* seen("l2")
        yield* memory.control.loseRepliesNext(1, ["txn"])
        const result = yield* session.claim({
          job: "l2",
          phase: "run",
          decided: slot.state!,
          with: [],
          tasks: [{ spec: slot.tasks.run.get("t")!.spec!, status: slot.tasks.run.get("t")!.status, slot: undefined }]
        })
        assert.strictEqual(result.claims.length, 1)
        const kv = Option.getOrThrow(yield* memory.store.get(keys.task("l2", "run", "t", "claim")))
        assert.strictEqual(result.claims[0]!.token, kv.createRevision)
      }).pipe(Effect.scoped, Effect.provide(context))
    })
  )

  it.effect("the session registers the runner with the task types it serves, on its lease", () =>
    Effect.gen(function* () {
      const { context, memory } = yield* services
      yield* Effect.gen(function* () {
        const session = yield* (yield* LeaderElection.LeaderElection).session
        const kv = Option.getOrThrow(yield* memory.store.get(keys.runner("r1")))
        assert.deepStrictEqual(JSON.parse(kv.value), { runner: "r1", types: ["probe/work"] })
        assert.strictEqual(kv.lease, session.lease.id)
      }).pipe(Effect.scoped, Effect.provide(context))
    })
  )
})

/** A task of job `job` claimed by the session, ready for a result. */
const claimed = (job: string, extra: Record<string, unknown> = {}) =>
  Effect.gen(function* () {
    const session = yield* (yield* LeaderElection.LeaderElection).session
    yield* oneTask(job, extra)
    const slot = yield* seen(job)
    const t = slot.tasks.run.get("t")!
    const { claims } = yield* session.claim({
      job,
      phase: "run",
      decided: slot.state!,
      with: [],
      tasks: [{ spec: t.spec!, status: t.status, slot: undefined }]
    })
    return claims[0]!
  })

describe("ResultTxn", () => {
  const result = (job: string, token: number) => ({
    claimKey: keys.task(job, "run", "t", "claim"),
    token,
    compare: [],
    ops: [
      {
        _tag: "put" as const,
        key: keys.task(job, "run", "t", "result"),
        value: Jobs.encodeResult(new Task.TaskResult({ result: "success", attempt: 1, finishedAt: token }))
      }
    ]
  })

  it.effect("writes under the claim's fence and deletes the claim; a stale token is refused", () =>
    Effect.gen(function* () {
      const { context, memory } = yield* services
      yield* Effect.gen(function* () {
        const results = yield* ResultTxn.ResultTxn
        const claim = yield* claimed("x1")
        assert.strictEqual((yield* results.write(result("x1", claim.token - 1))).status, "lost")
        assert.strictEqual((yield* results.write(result("x1", claim.token))).status, "written")
        assert.isTrue(Option.isNone(yield* memory.store.get(keys.task("x1", "run", "t", "claim"))))
      }).pipe(Effect.scoped, Effect.provide(context))
    })
  )

  it.effect("a result whose answer was lost is read back and counts as written", () =>
    Effect.gen(function* () {
      const { context, memory } = yield* services
      yield* Effect.gen(function* () {
        const results = yield* ResultTxn.ResultTxn
        const claim = yield* claimed("x2")
        yield* memory.control.loseRepliesNext(1, ["txn"])
        // the retry after the lost answer waits its backoff
        const writing = yield* Effect.forkChild(results.write(result("x2", claim.token)))
        yield* TestClock.adjust("1 second")
        assert.strictEqual((yield* Fiber.join(writing)).status, "written")
      }).pipe(Effect.scoped, Effect.provide(context))
    })
  )

  it.effect("a failed compare of its own while the claim holds is a conflict, not a loss", () =>
    Effect.gen(function* () {
      const { context } = yield* services
      yield* Effect.gen(function* () {
        const results = yield* ResultTxn.ResultTxn
        const claim = yield* claimed("x3")
        const written = yield* results.write({
          ...result("x3", claim.token),
          compare: [{ key: keys.shared("elsewhere"), target: "modRevision", op: "==", value: 12345 }],
          alone: true
        })
        assert.strictEqual(written.status, "conflict")
      }).pipe(Effect.scoped, Effect.provide(context))
    })
  )
})

describe("SharedRefs", () => {
  it.effect("the first holder creates; its update makes the record ready for the next job to adopt", () =>
    Effect.gen(function* () {
      const { context, memory } = yield* services
      yield* Effect.gen(function* () {
        const shared = yield* SharedRefs.SharedRefs
        const results = yield* ResultTxn.ResultTxn
        const first = yield* claimed("s1", { shared: "net" })
        const decision = yield* shared.decide(first)
        assert.strictEqual(decision._tag, "run")
        if (decision._tag !== "run") return
        // a retryable failure leaves the record for the next attempt
        assert.isUndefined(decision.after({ _tag: "retry" }))
        const update = decision.after({ _tag: "success", output: { id: "n-1" } })!
        yield* results.write({
          claimKey: keys.task("s1", "run", "t", "claim"),
          token: first.token,
          compare: [update.compare],
          ops: [update.op],
          alone: true
        })
        const second = yield* claimed("s2", { shared: "net" })
        const adopted = yield* shared.decide(second)
        assert.strictEqual(adopted._tag, "adopt")
        if (adopted._tag === "adopt") assert.deepStrictEqual(adopted.output, { id: "n-1" })
        const record = JSON.parse(Option.getOrThrow(yield* memory.store.get(keys.shared("net"))).value)
        assert.deepStrictEqual(record.holders, ["s1"])
      }).pipe(Effect.scoped, Effect.provide(context))
    })
  )
})

describe("RetryPolicy", () => {
  const policy = { maxAttempts: 4, baseDelay: Duration.millis(100), maxDelay: Duration.millis(300) }

  it.effect("backs off exponentially with jitter, capped, and stops when attempts are used up", () =>
    Effect.gen(function* () {
      const delays: Array<number> = []
      for (let attempt = 1; attempt < 4; attempt++) {
        delays.push(Duration.toMillis(Option.getOrThrow(yield* RetryPolicy.delayAfter(policy, attempt))))
      }
      assert.isTrue(delays[0]! >= 50 && delays[0]! <= 100, `${delays[0]}`)
      assert.isTrue(delays[1]! >= 100 && delays[1]! <= 200, `${delays[1]}`)
      assert.isTrue(delays[2]! >= 150 && delays[2]! <= 300, `${delays[2]}`)
      assert.isTrue(Option.isNone(yield* RetryPolicy.delayAfter(policy, 4)))
      assert.isFalse(RetryPolicy.allows(policy, 5))
    })
  )

  it("a task's overrides win over its handler's policy", () => {
    const spec = Schema.decodeUnknownSync(Task.TaskSpec)({
      id: "t",
      type: "x/y",
      phase: "run",
      dependencies: [],
      input: null,
      retry: { maxAttempts: 1, baseDelayMs: 5 }
    })
    const merged = RetryPolicy.forTask(policy, spec)
    assert.strictEqual(merged.maxAttempts, 1)
    assert.strictEqual(Duration.toMillis(merged.baseDelay), 5)
    assert.strictEqual(Duration.toMillis(RetryPolicy.forTask(undefined, undefined).baseDelay), 1000)
  })
})
