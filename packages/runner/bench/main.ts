/**
 * `pnpm bench [--json] [--quick]`: the engine against a real etcd on loopback, side by side
 * with the raw etcd transaction rate measured in the same run (SPEC §8).
 */
import { spawn } from "node:child_process"
import { readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Engine, JobBuilder, Jobs, Keys, Store, TaskRegistry } from "@migrator/core"
import { TestPlugin } from "@migrator/core/testing"
import { EtcdStore } from "@migrator/etcd-store"
import { startEtcd } from "@migrator/etcd-store/testing"
import { Effect, Fiber, Layer, Option, References, Stream } from "effect"

const json = process.argv.includes("--json")
const quick = process.argv.includes("--quick")
const n = (full: number) => (quick ? Math.max(10, Math.floor(full / 10)) : full)

const server = await startEtcd("bench")
const endpoints = [server.endpoint]
const handlers = TestPlugin.layer.pipe(Layer.provideMerge(TaskRegistry.layer))
const now = () => performance.now()
const percentile = (xs: ReadonlyArray<number>, p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN
}
const round = (x: number, d = 2) => Number(x.toFixed(d))

let prefixes = 0
const freshKeys = () => Keys.make(`bench-${++prefixes}/`)

/** Runs `count` engines (each with its own etcd client, like separate processes). */
const runners = (keys: Keys.Layout, count: number, concurrency = 64) =>
  Effect.forEach(
    Array.from({ length: count }, (_, i) => i),
    (i) =>
      Engine.run({ runnerId: `bench-${prefixes}-${i}`, prefix: keys.prefix, leaseTtl: "5 seconds", concurrency }).pipe(
        Effect.provide(handlers),
        Effect.provide(EtcdStore.layer({ endpoints })),
        Effect.forkScoped
      )
  )

const awaitState = (keys: Keys.Layout, id: string, done: (s: string) => boolean) =>
  Effect.gen(function* () {
    const store = yield* Store.Store
    const from = yield* store.revision
    const current = yield* store.get(keys.jobState(id))
    if (Option.isSome(current) && done(JSON.parse(current.value.value).state)) return
    yield* store.watch(keys.jobState(id), { fromRevision: from + 1 }).pipe(
      Stream.filter((e) => e._tag === "put" && done(JSON.parse(e.kv.value).state)),
      Stream.runHead
    )
  })

const submit = (keys: Keys.Layout, document: unknown) =>
  JobBuilder.build(document).pipe(Effect.flatMap((built) => Jobs.submit(keys, built)))

const rawTxnRate = Effect.gen(function* () {
  const store = yield* Store.Store
  const total = n(6000)
  const start = now()
  yield* Effect.forEach(
    Array.from({ length: total }, (_, i) => i),
    (i) =>
      store.txn({
        compare: [{ key: `raw/${i}`, target: "createRevision", op: "==", value: 0 }],
        success: [{ _tag: "put", key: `raw/${i}`, value: "x" }]
      }),
    { concurrency: 64, discard: true }
  )
  return total / ((now() - start) / 1000)
})

const throughput = (runnerCount: number) =>
  Effect.gen(function* () {
    const keys = freshKeys()
    const store = yield* Store.Store
    yield* runners(keys, runnerCount)
    const total = n(3000)
    const tasks = Array.from({ length: total }, (_, i) => ({ id: `t${i}`, type: "test/echo", input: { i } }))
    const built = yield* JobBuilder.build({ id: "noop", tasks })
    yield* Jobs.submit(keys, built)
    const before = yield* store.revision
    const start = now()
    yield* awaitState(keys, "noop", (s) => s === "completed")
    const seconds = (now() - start) / 1000
    const after = yield* store.revision
    return { tasksPerSecond: total / seconds, writesPerTask: (after - before) / total }
  }).pipe(Effect.scoped)

/** Commit of the submission (its spec key) → first task running, both seen by one watcher. */
const pickup = Effect.gen(function* () {
  const keys = freshKeys()
  const store = yield* Store.Store
  yield* runners(keys, 1)
  const samples: Array<number> = []
  for (let i = 0; i < n(200); i++) {
    const id = `p${i}`
    const built = yield* JobBuilder.build({ id, tasks: [{ id: "a", type: "test/echo", input: 1 }] })
    const from = yield* store.revision
    let committed = 0
    const running = yield* store.watch(keys.job(id), { fromRevision: from + 1 }).pipe(
      Stream.tap((e) =>
        Effect.sync(() => {
          if (e._tag === "put" && e.kv.key === keys.jobSpec(id)) committed = now()
        })
      ),
      Stream.filter(
        (e) => e._tag === "put" && e.kv.key.endsWith("/a/status") && JSON.parse(e.kv.value).status !== "waiting"
      ),
      Stream.runHead,
      Effect.map(() => now() - committed),
      Effect.forkScoped
    )
    yield* Jobs.submit(keys, built)
    samples.push(yield* Fiber.join(running))
  }
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) }
}).pipe(Effect.scoped)

const chain = Effect.gen(function* () {
  const keys = freshKeys()
  const store = yield* Store.Store
  yield* runners(keys, 1)
  const length = n(1000)
  const tasks = Array.from({ length }, (_, i) => ({
    id: `c${i}`,
    type: "test/echo",
    dependencies: i === 0 ? [] : [`c${i - 1}`],
    input: i === 0 ? { v: 0 } : { v: { $ref: `c${i - 1}#/v` } }
  }))
  const built = yield* JobBuilder.build({ id: "chain", tasks })
  const from = yield* store.revision
  const arrivals: Array<number> = []
  const watcher = yield* store.watch(keys.tasks("chain", "run"), { fromRevision: from + 1 }).pipe(
    Stream.filter((e) => e._tag === "put" && e.kv.key.endsWith("/result")),
    Stream.take(length),
    Stream.runForEach(() => Effect.sync(() => arrivals.push(now()))),
    Effect.forkScoped
  )
  yield* Jobs.submit(keys, built)
  yield* Fiber.join(watcher)
  const levels = arrivals.slice(1).map((t, i) => t - arrivals[i]!)
  return { p50: percentile(levels, 50), total: arrivals[arrivals.length - 1]! - arrivals[0]! }
}).pipe(Effect.scoped)

/** A `migrator run` process, as operators run it, so its memory is its own. */
const bin = fileURLToPath(new URL("../bin/migrator.js", import.meta.url))
const spawnRunner = (keys: Keys.Layout, runnerId: string, extra: ReadonlyArray<string> = []) =>
  spawn(
    process.execPath,
    [
      bin,
      "run",
      "--plugins",
      "test",
      "--runner-id",
      runnerId,
      "--etcd",
      server.endpoint,
      "--prefix",
      keys.prefix,
      ...extra
    ],
    { stdio: "ignore" }
  )

/** Peak resident memory of a live process (Linux `VmHWM`), in MiB. */
const peakRssMb = (pid: number) => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  const kib = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN)
  return kib / 1024
}

const bigJob = Effect.gen(function* () {
  const keys = freshKeys()
  const child = spawnRunner(keys, "big", ["--concurrency", "64"])
  yield* Effect.addFinalizer(() => Effect.sync(() => child.kill("SIGKILL")))
  const total = n(10_000)
  const tasks = Array.from({ length: total }, (_, i) => ({
    id: `b${i}`,
    type: "test/echo",
    dependencies: i === 0 ? [] : [`b${Math.floor((i - 1) / 4)}`],
    input: { i }
  }))
  const start = now()
  yield* submit(keys, { id: "big", tasks })
  yield* awaitState(keys, "big", (s) => s === "completed")
  const seconds = (now() - start) / 1000
  return { tasks: total, seconds, peakRssMb: peakRssMb(child.pid!) }
}).pipe(Effect.scoped)

const takeover = Effect.gen(function* () {
  const keys = freshKeys()
  const store = yield* Store.Store
  const child = spawnRunner(keys, "victim", ["--lease-ttl", "2s"])
  yield* submit(keys, { id: "kill", tasks: [{ id: "s", type: "test/sleep", input: { ms: 600_000 } }] })
  const statusKey = keys.task("kill", "run", "s", "status")
  const byVictim = (e: Store.WatchEvent) => e._tag === "put" && JSON.parse(e.kv.value).runner === "victim"
  const from = 1
  yield* store.watch(statusKey, { fromRevision: from }).pipe(Stream.filter(byVictim), Stream.runHead)
  const rev = yield* store.revision
  const killedAt = now()
  child.kill("SIGKILL")
  yield* runners(keys, 1)
  yield* store.watch(statusKey, { fromRevision: rev + 1 }).pipe(
    Stream.filter((e) => e._tag === "put" && JSON.parse(e.kv.value).runner !== "victim"),
    Stream.runHead
  )
  return { ms: now() - killedAt, ttlMs: 2000 }
}).pipe(Effect.scoped)

const program = Effect.gen(function* () {
  const raw = yield* rawTxnRate
  const one = yield* throughput(1)
  const three = yield* throughput(3)
  const pick = yield* pickup
  const level = yield* chain
  const big = yield* bigJob
  const take = yield* takeover
  return {
    rawEtcdTxnPerSecond: round(raw, 0),
    noopTasksPerSecondOneRunner: round(one.tasksPerSecond, 0),
    noopTasksPerSecondThreeRunners: round(three.tasksPerSecond, 0),
    ratioOneRunnerToRaw: round(one.tasksPerSecond / raw, 3),
    ratioThreeRunnersToRaw: round(three.tasksPerSecond / raw, 3),
    writeTxnsPerTask: round(one.writesPerTask, 2),
    pickupLatencyMsP50: round(pick.p50),
    pickupLatencyMsP99: round(pick.p99),
    chainLevelLatencyMsP50: round(level.p50),
    chainTotalMs: round(level.total, 0),
    bigJobTasks: big.tasks,
    bigJobSeconds: round(big.seconds),
    bigJobRunnerPeakRssMb: round(big.peakRssMb, 0),
    takeoverAfterKillMs: round(take.ms, 0),
    takeoverLeaseTtlMs: take.ttlMs
  }
})

const figures = await Effect.runPromise(
  program.pipe(
    Effect.provide(EtcdStore.layer({ endpoints })),
    Effect.provideService(References.MinimumLogLevel, "Error")
  )
).finally(() => server.destroy())

if (json) console.log(JSON.stringify(figures, null, 2))
else {
  console.log("migrator benchmark (real etcd on loopback, one run)")
  for (const [k, v] of Object.entries(figures)) console.log(`  ${k.padEnd(34)} ${v}`)
}
process.exit(0)
