/**
 * The layout marker guard: a runner serves only a prefix in the key layout it knows. It does not
 * start on one a newer version has moved, stops when the prefix is moved under it, and its
 * claims are refused from the moment the marker moves. Memory store, test clock.
 */
import { assert, describe, it } from "@effect/vitest"
import { Engine, Jobs, LayoutVersion, LeaderElection, Monitor, Store } from "@migrator/core"
import { Duration, Effect, Fiber, Layer, Option, Stream } from "effect"
import { TestClock } from "effect/testing"
import { awaitResult, awaitTask, handlers, keys, runner, submit } from "./utils/engine.ts"

const env = handlers.pipe(Layer.provideMerge(Store.layerMemory))

const options = { runnerId: "r1", prefix: keys.prefix, leaseTtl: "2 seconds", shutdownGrace: "0 millis" } as const

const echo = (id: string) => ({ id, type: "test/echo", input: id })

const get = (key: string) =>
  Store.Store.pipe(
    Effect.flatMap((store) => store.get(key)),
    Effect.map(Option.getOrUndefined)
  )

/** Waits (by watch) until `key` holds `value`. */
const awaitValue = (key: string, value: string) =>
  Effect.gen(function* () {
    const store = yield* Store.Store
    const from = yield* store.revision
    if ((yield* get(key))?.value === value) return
    yield* store.watch(key, { fromRevision: from + 1 }).pipe(
      Stream.filter((e) => e._tag === "put" && e.kv.value === value),
      Stream.take(1),
      Stream.runDrain
    )
  })

describe("the key layout version", () => {
  it.effect("a runner does not start on a prefix in a layout it does not know, and claims nothing there", () =>
    Effect.gen(function* () {
      yield* Store.put(keys.layout, "3")
      yield* submit({ id: "j1", tasks: [echo("a")] })
      const error = yield* Engine.run(options).pipe(Effect.flip)
      assert.strictEqual(error._tag, "UnknownLayout")
      assert.strictEqual(error.found, "3")
      assert.strictEqual(error.prefix, keys.prefix)
      assert.include(error.message, `this migrator knows layout ${LayoutVersion.CURRENT}`)
      // nothing of the job was touched, and the marker is left as the newer version wrote it
      assert.isUndefined(yield* get(keys.task("j1", "run", "a", "claim")))
      assert.isUndefined(yield* get(keys.task("j1", "run", "a", "status")))
      assert.strictEqual((yield* Jobs.read(keys, "j1")).state.state, "pending")
      assert.strictEqual((yield* get(keys.layout))?.value, "3")
      // and its lease went with it: no registration is left behind
      assert.isUndefined(yield* get(keys.runner("r1")))
    }).pipe(Effect.provide(env))
  )

  it.effect("a running runner stops when its prefix moves to a layout it does not know", () =>
    Effect.gen(function* () {
      const fiber = yield* runner("r1", options)
      yield* submit({ id: "j1", tasks: [echo("a")] })
      yield* awaitResult("j1", "a")
      yield* submit({ id: "j2", tasks: [{ id: "slow", type: "test/sleep", input: { ms: 60_000 } }] })
      yield* awaitTask("j2", "slow", (s) => s.status === "running" && s.runner === "r1")
      // what a newer version does once no runner of this one is registered, done here under it
      yield* Store.put(keys.layout, "3")
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(exit._tag === "Failure" && String(exit.cause).includes("UnknownLayout"), String(exit))
      // its task in flight was stopped and its claim went with its lease, for the newer fleet to take
      assert.isUndefined(yield* get(keys.task("j2", "run", "slow", "claim")))
      assert.isUndefined(yield* get(keys.task("j2", "run", "slow", "result")))
      assert.isUndefined(yield* get(keys.runner("r1")))
    }).pipe(Effect.provide(env))
  )

  it.effect("a claim is refused once the marker moved, even by a runner whose view has not seen it", () =>
    Effect.gen(function* () {
      const memory = yield* Store.makeMemory
      const session = { runnerId: "r1", prefix: keys.prefix, leaseTtl: Duration.seconds(2), types: ["test/echo"] }
      const context = yield* Layer.build(
        Layer.mergeAll(Monitor.layer(session), LeaderElection.layer(session)).pipe(
          Layer.provideMerge(Layer.succeed(Store.Store, memory.store))
        )
      )
      yield* Effect.gen(function* () {
        const monitor = yield* Monitor.Monitor
        const s = yield* (yield* LeaderElection.LeaderElection).session
        yield* submit({ id: "j1", tasks: [echo("a"), echo("b")] })
        for (;;) {
          const wake = yield* monitor.wake.next
          if (monitor.view.jobs.get("j1")?.tasks.run.get("b")?.spec !== undefined) break
          yield* wake
        }
        const slot = monitor.view.jobs.get("j1")!
        const request = (task: string) => ({
          job: "j1",
          phase: "run" as const,
          decided: slot.state!,
          with: [],
          tasks: [{ spec: slot.tasks.run.get(task)!.spec!, status: undefined, slot: undefined }]
        })
        assert.strictEqual((yield* s.claim(request("a"))).claims.length, 1, "claimed in the layout it knows")
        // the decision was taken on the view as it was: the marker moves before the claim commits
        yield* memory.store.txn({ compare: [], success: [{ _tag: "put", key: keys.layout, value: "3" }] })
        assert.deepStrictEqual((yield* s.claim(request("b"))).claims, [])
        assert.isTrue(Option.isNone(yield* memory.store.get(keys.task("j1", "run", "b", "claim"))))
      }).pipe(Effect.scoped, Effect.provide(context))
    })
  )

  it.effect("a marker deleted by hand is put back, and the runner goes on claiming", () =>
    Effect.gen(function* () {
      yield* runner("r1", options)
      yield* submit({ id: "j1", tasks: [echo("a")] })
      yield* awaitResult("j1", "a")
      const store = yield* Store.Store
      yield* store.txn({ compare: [], success: [{ _tag: "delete", key: keys.layout }] })
      yield* TestClock.adjust("1 second") // the view is reloaded after a short pause
      yield* awaitValue(keys.layout, LayoutVersion.CURRENT)
      yield* submit({ id: "j2", tasks: [echo("a")] })
      assert.strictEqual((yield* awaitResult("j2", "a")).result, "success")
    }).pipe(Effect.provide(env))
  )

  it.effect("`check` passes a prefix without a marker or in this layout, and fails one in another", () =>
    Effect.gen(function* () {
      yield* LayoutVersion.check(keys) // a store written before the marker is read as this version reads it
      yield* Store.put(keys.layout, LayoutVersion.CURRENT)
      yield* LayoutVersion.check(keys)
      yield* Store.put(keys.layout, "3")
      const error = yield* LayoutVersion.check(keys).pipe(Effect.flip)
      assert.strictEqual(error._tag, "UnknownLayout")
      assert.strictEqual(error._tag === "UnknownLayout" ? error.found : undefined, "3")
    }).pipe(Effect.provide(Store.layerMemory))
  )
})
