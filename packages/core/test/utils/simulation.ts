/**
 * Deterministic simulation: several runners in one process on the memory
 * store, driven by TestClock and a seeded random schedule of faults, over
 * random DAG jobs with shared keys and user operations. Invariants are
 * checked with handler-side witnesses and the store's full history, not
 * with the engine's own word.
 */
import {
  Engine,
  type Job,
  JobBuilder,
  Jobs,
  Keys,
  SharedResource,
  Store,
  TaskContext,
  TaskError,
  TaskHandler,
  TaskRegistry
} from "@migrator/core"
import { Duration, Effect, Fiber, Layer, Option, Random, References, Schedule, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import { crashable } from "./crashable.ts"

export interface Report {
  readonly seed: number
  readonly jobs: number
  readonly tasks: number
  readonly faults: Record<string, number>
  readonly violations: ReadonlyArray<string>
  readonly simulatedMs: number
}

const keys = Keys.make("sim/")
const TTL = Duration.seconds(2)

const Create = TaskHandler.make("sim/create", {
  input: Schema.Struct({
    key: Schema.String,
    ms: Schema.Int,
    fail: Schema.Literals(["never", "always", "transient"]),
    failFirst: Schema.Int,
    sideEffectTimeout: Schema.Boolean
  }),
  output: Schema.Struct({ key: Schema.String, by: Schema.String }),
  retry: { maxAttempts: 4, baseDelay: Duration.millis(50), maxDelay: Duration.seconds(1) },
  timeout: "5 seconds"
})

const Delete = TaskHandler.make("sim/delete", {
  input: Schema.Struct({ key: Schema.String, ms: Schema.Int }),
  output: Schema.Struct({ deleted: Schema.Boolean }),
  retry: { maxAttempts: 6, baseDelay: Duration.millis(50), maxDelay: Duration.seconds(1) },
  timeout: "5 seconds"
})

const pick = <A>(items: ReadonlyArray<A>) =>
  Effect.map(Random.nextIntBetween(0, items.length, { halfOpen: true }), (i) => items[i]!)
const chance = (p: number) => Effect.map(Random.next, (x) => x < p)

export const simulate = (seed: number, debug = false, only?: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const memory = yield* Store.makeMemory
    const store = memory.store
    const violations: Array<string> = []
    const faults: Record<string, number> = {}
    const count = (kind: string) => {
      faults[kind] = (faults[kind] ?? 0) + 1
    }
    const active = new Map<string, number>()
    const executors = new Map<string, string>()
    const inventory = new Map<string, { alive: boolean; owner: string }>()

    /** Wraps a handler body with the overlap detector. */
    const witnessed = <A, E, R>(body: Effect.Effect<A, E, R>) =>
      Effect.gen(function* () {
        const ctx = yield* TaskContext.TaskContext
        const id = `${ctx.jobId}/${ctx.phase}/${ctx.taskId}`
        const n = (active.get(id) ?? 0) + 1
        active.set(id, n)
        const at = yield* Effect.clockWith((c) => c.currentTimeMillis)
        if (n > 1) {
          violations.push(
            `two executions of ${id} at once (attempt ${ctx.attempt} on ${ctx.runnerId} at ${at} ms, while ${executors.get(id)} runs)`
          )
        }
        executors.set(id, `attempt ${ctx.attempt} on ${ctx.runnerId} since ${at} ms`)
        return yield* body.pipe(Effect.ensuring(Effect.sync(() => active.set(id, (active.get(id) ?? 1) - 1))))
      })

    const handlers = Layer.mergeAll(
      Create.toLayer((input) =>
        witnessed(
          Effect.gen(function* () {
            const ctx = yield* TaskContext.TaskContext
            const me = `${ctx.jobId}/${ctx.taskId}`
            yield* Effect.sleep(Duration.millis(input.ms))
            if (input.fail === "always") return yield* Effect.fail(TaskError.permanent("sim.always", "always fails"))
            if (input.fail === "transient" && ctx.attempt <= input.failFirst) {
              return yield* Effect.fail(TaskError.retryable("sim.transient", `fails on attempt ${ctx.attempt}`))
            }
            // idempotent by key: a retry or a takeover adopts what exists; but a shared
            // resource whose record is ready must have been adopted by the engine instead
            if (ctx.shared !== undefined) {
              const kv = yield* store.get(keys.shared(ctx.shared)).pipe(Effect.orElseSucceed(() => Option.none()))
              if (Option.isSome(kv) && JSON.parse(kv.value.value).state === "ready") {
                violations.push(
                  `${input.key} created by ${me} (attempt ${ctx.attempt}, token ${ctx.fencingToken}) although its record is ready: ${kv.value.value}`
                )
              }
            }
            const existing = inventory.get(input.key)
            if (existing?.alive !== true) inventory.set(input.key, { alive: true, owner: me })
            // a create whose answer is lost: the side effect happened, the attempt times out
            if (input.sideEffectTimeout && ctx.attempt === 1) yield* Effect.sleep("10 seconds")
            return { key: input.key, by: me }
          })
        )
      ),
      Delete.toLayer((input) =>
        witnessed(
          Effect.gen(function* () {
            const ctx = yield* TaskContext.TaskContext
            yield* Effect.sleep(Duration.millis(input.ms))
            if (ctx.shared !== undefined) {
              const kv = yield* store.get(keys.shared(ctx.shared)).pipe(Effect.orElseSucceed(() => Option.none()))
              if (Option.isSome(kv)) {
                const record = Schema.decodeUnknownSync(SharedResource.SharedRecord)(JSON.parse(kv.value.value))
                if (record.holders.length > 0)
                  violations.push(`${ctx.shared} deleted while held by ${record.holders.join(",")}`)
              }
            }
            const existing = inventory.get(input.key)
            if (existing !== undefined) existing.alive = false
            return { deleted: existing !== undefined }
          })
        )
      )
    )
    const registry = yield* Layer.build(handlers.pipe(Layer.provideMerge(TaskRegistry.layer)))

    // ---- runners ----------------------------------------------------------
    interface Slot {
      readonly id: string
      readonly fiber: Fiber.Fiber<never>
      readonly crash: Effect.Effect<void>
      readonly dropWatches: Effect.Effect<void>
      readonly loseKeepAlives: (lost: boolean) => Effect.Effect<void>
    }
    let started = 0
    const slots: Array<Slot> = []
    const startRunner = Effect.gen(function* () {
      const id = `r${++started}`
      const proc = crashable(store)
      const fiber = yield* Engine.run({
        runnerId: id,
        prefix: keys.prefix,
        leaseTtl: TTL,
        shutdownGrace: "2 seconds",
        concurrency: 8
      }).pipe(Effect.provideService(Store.Store, proc.store), Effect.provide(registry), Effect.forkScoped)
      slots.push({ id, fiber, crash: proc.crash, dropWatches: proc.dropWatches, loseKeepAlives: proc.loseKeepAlives })
    })
    for (let i = 0; i < 3; i++) yield* startRunner

    // ---- jobs -------------------------------------------------------------
    const jobCount = yield* Random.nextIntBetween(3, 7)
    let taskCount = 0
    const expectations = new Map<string, Map<string, string>>() // job -> task -> fail mode
    const makeJob = (j: number) =>
      Effect.gen(function* () {
        const id = `job${j}`
        const n = yield* Random.nextIntBetween(3, 11)
        const sharedKey = (yield* chance(0.5)) ? yield* pick(["s1", "s2", "s3"]) : undefined
        const sharedTask = sharedKey === undefined ? -1 : yield* Random.nextIntBetween(0, n, { halfOpen: true })
        const modes = new Map<string, string>()
        const tasks = []
        const dependents = new Map<number, Array<number>>()
        for (let i = 0; i < n; i++) {
          const deps: Array<number> = []
          for (let d = Math.max(0, i - 4); d < i; d++) if (yield* chance(0.35)) deps.push(d)
          for (const d of deps) dependents.set(d, [...(dependents.get(d) ?? []), i])
          const roll = yield* Random.next
          const fail = roll < 0.08 ? "always" : roll < 0.3 ? "transient" : "never"
          modes.set(`t${i}`, fail)
          const shared = i === sharedTask ? `cluster/${sharedKey}` : undefined
          tasks.push({
            id: `t${i}`,
            type: "sim/create",
            dependencies: deps.map((d) => `t${d}`),
            ...(shared === undefined ? {} : { shared }),
            input: {
              key: shared ?? `${id}/t${i}`,
              ms: yield* Random.nextIntBetween(0, 1500),
              fail,
              failFirst: yield* Random.nextIntBetween(1, 3),
              sideEffectTimeout: yield* chance(0.1)
            }
          })
        }
        const clearTasks = tasks.map((t, i) => ({
          id: `${t.id}-del`,
          type: "sim/delete",
          undoes: t.id,
          dependencies: (dependents.get(i) ?? []).map((d) => `t${d}-del`),
          ...(t.shared === undefined ? {} : { shared: t.shared }),
          input: { key: t.input.key, ms: 0 }
        }))
        taskCount += n * 2
        expectations.set(id, modes)
        const built = yield* JobBuilder.build({ id, tasks, clearTasks })
        yield* Jobs.submit(keys, built).pipe(
          Effect.provideService(Store.Store, store),
          Effect.retry({ schedule: Schedule.spaced("100 millis"), while: (e) => e._tag === "StoreError" })
        )
      })
    for (let j = 0; j < jobCount; j++) {
      yield* Effect.sleep(Duration.millis(yield* Random.nextIntBetween(0, 3000))).pipe(
        Effect.andThen(makeJob(j)),
        Effect.orDie,
        Effect.forkScoped
      )
    }

    // ---- faults -------------------------------------------------------------
    const chaosFor = 40_000
    const chaos = Effect.gen(function* () {
      const t0 = yield* Effect.clockWith((c) => c.currentTimeMillis)
      while ((yield* Effect.clockWith((c) => c.currentTimeMillis)) - t0 < chaosFor) {
        yield* Effect.sleep(Duration.millis(yield* Random.nextIntBetween(300, 4000)))
        const live = slots.filter((s) => s !== undefined)
        const kind = yield* pick(["crash", "stop", "lease", "outage", "flaky", "watch", "cancel", "rollback", "retry"])
        if (only !== undefined && !only.includes(kind)) continue
        count(kind)
        if (debug) {
          const at = yield* Effect.clockWith((c) => c.currentTimeMillis)
          yield* Effect.sync(() => console.log(`fault ${kind} at ${at}`))
        }
        switch (kind) {
          case "crash": {
            if (live.length <= 1) break
            const s = yield* pick(live)
            slots.splice(slots.indexOf(s), 1)
            yield* s.crash
            yield* Effect.forkScoped(Fiber.interrupt(s.fiber))
            yield* Effect.sleep(Duration.millis(yield* Random.nextIntBetween(0, 3000))).pipe(
              Effect.andThen(startRunner),
              Effect.forkScoped
            )
            break
          }
          case "stop": {
            if (live.length <= 1) break
            const s = yield* pick(live)
            slots.splice(slots.indexOf(s), 1)
            yield* Effect.forkScoped(Fiber.interrupt(s.fiber).pipe(Effect.andThen(startRunner)))
            break
          }
          case "lease": {
            // keep-alives of one runner stop getting through long enough for its lease to expire
            const s = yield* pick(live)
            yield* s.loseKeepAlives(true)
            yield* Effect.sleep(Duration.millis(yield* Random.nextIntBetween(2_500, 6_000))).pipe(
              Effect.andThen(s.loseKeepAlives(false)),
              Effect.forkScoped
            )
            break
          }
          case "outage": {
            yield* memory.control.setAvailable(false)
            yield* Effect.sleep(Duration.millis(yield* Random.nextIntBetween(200, 5000)))
            yield* memory.control.setAvailable(true)
            break
          }
          case "flaky":
            yield* memory.control.failNext(yield* Random.nextIntBetween(1, 30))
            break
          case "watch":
            yield* (yield* pick(live)).dropWatches
            break
          default: {
            const job = `job${yield* Random.nextIntBetween(0, jobCount, { halfOpen: true })}`
            const op = kind as Job.Operation
            yield* Jobs.request(keys, job, op).pipe(Effect.provideService(Store.Store, store), Effect.ignore)
          }
        }
      }
      yield* memory.control.setAvailable(true)
    })
    const chaosFiber = yield* Effect.forkScoped(chaos)

    // ---- drive to the end: roll everything back ----------------------------
    const t0 = yield* Effect.clockWith((c) => c.currentTimeMillis)
    const retries = new Map<string, number>()
    const checked = new Set<string>()
    let finished = false
    for (let step = 0; step < 4000 && !finished; step++) {
      yield* TestClock.adjust("250 millis")
      if (debug)
        yield* Effect.sync(() => console.log(`step ${step} chaos done: ${chaosFiber.pollUnsafe() !== undefined}`))
      if (!chaosFiber.pollUnsafe()) continue
      const jobs = yield* Jobs.list(keys).pipe(Effect.provideService(Store.Store, store), Effect.option)
      if (Option.isNone(jobs) || jobs.value.length < jobCount) continue
      finished = true
      for (const { id, state } of jobs.value) {
        if (state.state === "cleared") continue
        finished = false
        if (state.state === "completed" && !checked.has(id)) {
          checked.add(id)
          const view = yield* Jobs.read(keys, id).pipe(Effect.provideService(Store.Store, store), Effect.option)
          if (Option.isSome(view)) {
            const run = view.value.tasks.filter((t) => t.spec.phase === "run")
            const allOk = run.every((t) => t.result?.result === "success" || t.result?.result === "skipped")
            if ((state.outcome === "succeeded") !== allOk)
              violations.push(`${id}: outcome ${state.outcome} does not match its results`)
            for (const t of run) {
              // shared tasks may succeed by adopting what another job created
              const adopted = t.spec.shared !== undefined
              if (!adopted && expectations.get(id)?.get(t.spec.id) === "always" && t.result?.result === "success") {
                violations.push(`${id}/${t.spec.id} succeeded although its handler always fails`)
              }
            }
          }
        }
        const op: Job.Operation | undefined =
          state.state === "completed" || state.state === "canceled"
            ? "rollback"
            : state.state === "clear-failed"
              ? "retry"
              : state.state === "paused"
                ? "resume"
                : undefined
        if (op === "retry") {
          const n = (retries.get(id) ?? 0) + 1
          retries.set(id, n)
          if (n > 10) violations.push(`${id} keeps failing its clear phase`)
        }
        if (op !== undefined) {
          yield* Jobs.request(keys, id, op).pipe(
            Effect.provideService(Store.Store, store),
            Effect.tapError((e) =>
              debug ? Effect.sync(() => console.log(`request ${op} ${id}: ${e.message}`)) : Effect.void
            ),
            Effect.ignore
          )
        }
      }
    }
    const simulatedMs = (yield* Effect.clockWith((c) => c.currentTimeMillis)) - t0
    const chaosExit = chaosFiber.pollUnsafe()
    if (chaosExit !== undefined && chaosExit._tag === "Failure")
      violations.push(`the fault injector failed: ${String(chaosExit.cause)}`)
    if (!finished) {
      const states = yield* Jobs.list(keys).pipe(
        Effect.provideService(Store.Store, store),
        Effect.orElseSucceed(() => [])
      )
      violations.push(`jobs did not terminate: ${states.map((j) => `${j.id}=${j.state.state}`).join(" ")}`)
    }

    // ---- invariants from the store's history --------------------------------
    const head = yield* store.revision
    const history = yield* store.watch(keys.prefix, { fromRevision: 1 }).pipe(
      Stream.takeUntil((e) => e.revision >= head),
      Stream.runCollect
    )
    const present = new Set<string>()
    for (const e of history) {
      const key = e._tag === "put" ? e.kv.key : e.key
      const parsed = keys.parse(key)
      if (parsed?._tag !== "task" || parsed.record !== "result") continue
      if (e._tag === "delete") present.delete(key)
      else {
        if (present.has(key)) {
          violations.push(`result ${key} overwritten at revision ${e.revision}`)
          if (debug) {
            const prefix = key.slice(0, key.lastIndexOf("/"))
            for (const h of history) {
              const k = h._tag === "put" ? h.kv.key : h.key
              if (k.startsWith(prefix) || k.includes("/state") || k.includes("/events/"))
                console.log(`  ${h.revision} ${h._tag} ${k} ${h._tag === "put" ? h.kv.value.slice(0, 200) : ""}`)
            }
          }
        }
        present.add(key)
      }
    }
    for (const [key, r] of inventory)
      if (r.alive) violations.push(`resource ${key} left behind after every job was cleared`)
    const sharedLeft = yield* store.range(keys.sharedPrefix)
    for (const kv of sharedLeft.kvs) violations.push(`shared record ${kv.key} left: ${kv.value}`)
    for (const s of slots) yield* Fiber.interrupt(s.fiber).pipe(Effect.timeout("30 seconds"), Effect.ignore)
    return { seed, jobs: jobCount, tasks: taskCount, faults, violations, simulatedMs } satisfies Report
  }).pipe(
    Random.withSeed(seed),
    Effect.scoped,
    // faults make the engine log a lot; only errors matter here
    Effect.provideService(References.MinimumLogLevel, debug ? "Info" : "Error")
  )
