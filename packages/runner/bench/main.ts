/**
 * `pnpm bench`: `migrator run` processes (the bundled binary, as deployed) against a real etcd the
 * bench starts on 127.0.0.1, every figure beside the raw etcd floor of the same run, measured with the
 * plain etcd3 client (SPEC §8, issue 12). Times come from the bench's etcd watch. See the README's
 * "Benchmark" section for the flags.
 */
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from "node:fs"
import { resolve } from "node:path"
import { startEtcd } from "@migrator/etcd-store/testing"
import {
  type Bench,
  bigJob,
  chain,
  PICKUP_GAP_MS,
  PICKUP_SAMPLES,
  pickupCase,
  SHARDS,
  STANDBY_SECONDS,
  sharded,
  standby,
  type Throughput,
  takeover,
  throughput,
  WAIT_MS,
  WAITING_TASKS,
  waiting
} from "./cases.ts"
import { medianRun, round } from "./common.ts"
import { connect, measureFloor, measurePickupFloor } from "./etcd.ts"
import { history, scale } from "./history.ts"
import { submitter } from "./jobs.ts"
import { format, readProfile, SAVED_MAP, summarize } from "./profile.ts"
import { assertBundleFresh, bundle, killAll, RUNNER_CONCURRENCY } from "./runners.ts"

const args = process.argv.slice(2)
const has = (name: string) => args.includes(name)
const value = (name: string) => {
  const i = args.indexOf(name)
  const v = i === -1 ? undefined : args[i + 1]
  return v === undefined || v.startsWith("--") ? undefined : v
}
const integer = (name: string, fallback: number) => {
  const v = value(name)
  if (v === undefined) return fallback
  const n = Number(v)
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} wants a positive integer, got "${v}"`)
  return n
}

/** Flags for another program, which start with "--" themselves: the next argument as it is. */
const passedOn = (name: string) => {
  const i = args.indexOf(name)
  if (i === -1) return undefined
  const v = args[i + 1]
  if (v === undefined || v.trim() === "") throw new Error(`${name} wants flags, e.g. ${name} "--no-flush-bytecode"`)
  return v.trim().split(/\s+/)
}

/** A count that may be 0; undefined when not given. */
const count = (name: string) => (value(name) === "0" ? 0 : value(name) === undefined ? undefined : integer(name, 0))

const CASES = ["throughput", "standby", "waiting", "pickup", "chain", "big", "takeover", "history", "scale"] as const
const json = has("--json")
const quick = has("--quick")
const runnerCount = integer("--runners", 1)
const throughputRounds = integer("--rounds", quick ? 1 : 3)
const standbySeconds = integer("--standby-seconds", STANDBY_SECONDS)
const only = value("--only")?.split(",") ?? CASES.filter((c) => c !== "scale" || has("--scale"))
for (const c of only) if (!(CASES as ReadonlyArray<string>).includes(c)) throw new Error(`--only: unknown case "${c}"`)
const wanted = (c: (typeof CASES)[number]) => only.includes(c)
// pnpm runs scripts from the workspace root; a relative directory means the caller's
const profileDir =
  value("--cpu-prof") === undefined ? undefined : resolve(process.env.INIT_CWD ?? ".", value("--cpu-prof")!)
if (has("--cpu-prof") && profileDir === undefined) throw new Error("--cpu-prof wants a directory")
assertBundleFresh()
if (profileDir !== undefined) {
  mkdirSync(profileDir, { recursive: true })
  // the profiles stay readable after the bundle is rebuilt (its layout, so its map, changes)
  copyFileSync(`${bundle}.map`, resolve(profileDir, SAVED_MAP))
}
const server = await startEtcd("bench")
let stopping = false
const cleanUp = async () => {
  if (stopping) return
  stopping = true
  killAll()
  await server.destroy()
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void cleanUp().finally(() => process.exit(130)))
}

const client = connect(server.endpoint)
const bench: Bench = {
  endpoint: server.endpoint,
  client,
  etcdPid: server.pid,
  submitter: submitter(server.endpoint),
  n: (full) => (quick ? Math.max(10, Math.floor(full / 10)) : full),
  runners: runnerCount,
  bigTasks: value("--big-tasks") === undefined ? undefined : integer("--big-tasks", 10_000),
  runnerHeapMb: value("--runner-heap-mb") === undefined ? undefined : integer("--runner-heap-mb", 384),
  runnerNodeFlags: passedOn("--runner-node-flags"),
  profileDir,
  warmUpTasks: count("--warm-up") ?? (quick ? 200 : 2000),
  runnerWarmUpTasks: count("--runner-warm-up"),
  runnerStoreWarmUpTasks: count("--runner-store-warm-up"),
  profiled: []
}
const progress = (what: string) => {
  if (!json) process.stderr.write(`  … ${what}\n`)
}
const floorOptions = { sequential: bench.n(1000), parallel: bench.n(6000), inFlight: 64 }

const run = async () => {
  const figures: Record<string, number> = {}
  const failures: Record<string, string> = {}
  const rows: Array<readonly [string, string, string, string]> = []
  progress("raw etcd floor (etcd3 client)")
  const floor = await measureFloor(client, "raw/", floorOptions)
  const rawTps = floor.txnPerSecond
  const seq = floor.sequentialTxnMsP50
  Object.assign(figures, {
    rawSequentialTxnMsP50: round(seq),
    rawTxnPerSecond: round(rawTps, 0),
    rawEtcdTxnPerSecond: round(rawTps, 0),
    runnerProcesses: runnerCount,
    ...(bench.runnerHeapMb === undefined ? {} : { runnerHeapMb: bench.runnerHeapMb })
  })
  const txnFloor = `${round(rawTps, 0)} txn/s`
  const latencyFloor = `${round(seq)} ms txn`
  const ratio = (x: number) => `${x.toFixed(2)}×`
  /** A case's cold row and its warm row under it: value text and ratio to `floor` of each. */
  const coldAndWarm = (
    label: string,
    floor: [text: string, value: number],
    cold: number,
    warm: number,
    unit: string
  ) => {
    const [floorText, floorValue] = floor
    for (const [name, x] of [
      [label, cold],
      ["  same, warm", warm]
    ] as const) {
      rows.push([name, `${round(x, unit === "ms" ? 2 : 0)} ${unit}`, floorText, ratio(x / floorValue)])
    }
  }
  // a case that fails is reported and the others still run (each stops its own runners)
  const attempt = async (name: (typeof CASES)[number], measure: () => Promise<void>) => {
    if (!wanted(name)) return
    try {
      await measure()
    } catch (e) {
      failures[name] = (e as Error).message
      progress(`${name} failed: ${(e as Error).message}`)
    }
  }

  await attempt("throughput", async () => {
    const counts = [...new Set([1, 3, runnerCount])]
    const perTask = (t: Throughput["cold"]) => ({
      runnerCpuMsPerTask: round(t.runnerCpuMsPerTask, 3),
      etcdCpuMsPerTask: round(t.etcdCpuMsPerTask, 3),
      writeTxnsPerTask: round(t.writesPerTask, 2),
      txnRequestsPerTask: round(t.txnRequestsPerTask, 3),
      rangeRequestsPerTask: round(t.rangeRequestsPerTask, 3),
      benchCpuMsPerTask: round(t.benchCpuMsPerTask, 3),
      machineBusyShare: round(t.machineBusyShare, 2)
    })
    // a job of 1,000 no-op tasks lasts half a second, and the same job on the same processes
    // varies by ±20% from one run to the next: each figure is the median of `rounds` runs, each
    // on processes of its own, the counts taken in turn so that a slow minute does not fall on one
    const runs = new Map<number, Array<Throughput>>(counts.map((c) => [c, []]))
    const shardedRuns: Array<Awaited<ReturnType<typeof sharded>>> = []
    for (let r = 1; r <= throughputRounds; r++) {
      for (const count of counts) {
        progress(`throughput, ${count} runner process(es), round ${r} of ${throughputRounds}`)
        runs.get(count)!.push(await throughput(bench, count, 0, r))
      }
      progress(`throughput, ${SHARDS} runner processes on ${SHARDS} prefixes, round ${r} of ${throughputRounds}`)
      shardedRuns.push(await sharded(bench, r))
    }
    const medians = new Map<number, { readonly cold: number; readonly warm: number }>()
    for (const count of counts) {
      const all = runs.get(count)!
      const cold = medianRun(all.map((t) => t.cold))
      const warm = medianRun(all.map((t) => t.warm))
      const startup = all[0]!.startup
      medians.set(count, { cold: cold.tasksPerSecond, warm: warm.tasksPerSecond })
      const label = `${bench.n(1000)} no-op tasks, ${count} process${count === 1 ? "" : "es"}`
      coldAndWarm(label, [txnFloor, rawTps], cold.tasksPerSecond, warm.tasksPerSecond, "tasks/s")
      if (all.length > 1) {
        const spread = (rates: ReadonlyArray<number>) =>
          `${Math.round(Math.min(...rates))}-${Math.round(Math.max(...rates))}`
        rows.push([
          `  ${all.length} runs (the median above), first / warm`,
          `${spread(all.map((t) => t.cold.tasksPerSecond))} / ${spread(all.map((t) => t.warm.tasksPerSecond))} tasks/s`,
          "",
          ""
        ])
      }
      const c = perTask(cold)
      const w = perTask(warm)
      // a machine already busy throughout cannot run a job faster with more processes on it
      rows.push([
        "  machine busy (all cores), first / warm",
        `${Math.round(c.machineBusyShare * 100)}% / ${Math.round(w.machineBusyShare * 100)}%`,
        "",
        ""
      ])
      if (count === 1) {
        Object.assign(figures, {
          noopTasksPerSecondOneRunner: round(cold.tasksPerSecond, 0),
          ratioOneRunnerToRaw: round(cold.tasksPerSecond / rawTps, 3),
          writeTxnsPerTask: c.writeTxnsPerTask,
          runnerCpuMsPerTaskOneRunner: c.runnerCpuMsPerTask,
          etcdCpuMsPerTaskOneRunner: c.etcdCpuMsPerTask,
          noopTasksPerSecondOneRunnerWarm: round(warm.tasksPerSecond, 0),
          ratioOneRunnerWarmToRaw: round(warm.tasksPerSecond / rawTps, 3),
          runnerCpuMsPerTaskOneRunnerWarm: w.runnerCpuMsPerTask,
          etcdCpuMsPerTaskOneRunnerWarm: w.etcdCpuMsPerTask,
          txnRequestsPerTaskOneRunner: c.txnRequestsPerTask,
          rangeRequestsPerTaskOneRunner: c.rangeRequestsPerTask,
          txnRequestsPerTaskOneRunnerWarm: w.txnRequestsPerTask,
          rangeRequestsPerTaskOneRunnerWarm: w.rangeRequestsPerTask,
          benchCpuMsPerTaskOneRunner: c.benchCpuMsPerTask,
          machineBusyShareOneRunner: c.machineBusyShare,
          machineBusyShareOneRunnerWarm: w.machineBusyShare,
          runnerStartSeconds: round(startup.seconds, 2),
          runnerWarmUpMs: round(startup.warmUpMs, 0),
          runnerStoreWarmUpMs: round(startup.storeWarmUpMs, 0)
        })
        rows.push([
          "runner start → registered (its warm-ups: in memory, on etcd)",
          `${round(startup.seconds, 2)} s (${startup.warmUpMs} ms, ${startup.storeWarmUpMs} ms)`,
          "",
          ""
        ])
      } else if (count === 3) {
        Object.assign(figures, {
          noopTasksPerSecondThreeRunners: round(cold.tasksPerSecond, 0),
          threeProcessTasksPerSecond: round(cold.tasksPerSecond, 0),
          ratioThreeRunnersToRaw: round(cold.tasksPerSecond / rawTps, 3),
          ratioThreeProcessesToRaw: round(cold.tasksPerSecond / rawTps, 3),
          runnerCpuMsPerTaskThreeRunners: c.runnerCpuMsPerTask,
          etcdCpuMsPerTaskThreeRunners: c.etcdCpuMsPerTask,
          writeTxnsPerTaskThreeRunners: c.writeTxnsPerTask,
          threeProcessTasksPerSecondWarm: round(warm.tasksPerSecond, 0),
          ratioThreeProcessesWarmToRaw: round(warm.tasksPerSecond / rawTps, 3),
          runnerCpuMsPerTaskThreeRunnersWarm: w.runnerCpuMsPerTask,
          etcdCpuMsPerTaskThreeRunnersWarm: w.etcdCpuMsPerTask,
          txnRequestsPerTaskThreeRunners: c.txnRequestsPerTask,
          rangeRequestsPerTaskThreeRunners: c.rangeRequestsPerTask,
          txnRequestsPerTaskThreeRunnersWarm: w.txnRequestsPerTask,
          rangeRequestsPerTaskThreeRunnersWarm: w.rangeRequestsPerTask,
          machineBusyShareThreeRunners: c.machineBusyShare,
          machineBusyShareThreeRunnersWarm: w.machineBusyShare
        })
      } else {
        Object.assign(figures, {
          noopTasksPerSecondNRunners: round(cold.tasksPerSecond, 0),
          ratioNRunnersToRaw: round(cold.tasksPerSecond / rawTps, 3),
          runnerCpuMsPerTaskNRunners: c.runnerCpuMsPerTask,
          noopTasksPerSecondNRunnersWarm: round(warm.tasksPerSecond, 0),
          ratioNRunnersWarmToRaw: round(warm.tasksPerSecond / rawTps, 3),
          runnerCpuMsPerTaskNRunnersWarm: w.runnerCpuMsPerTask
        })
      }
    }
    const [one, three] = [medians.get(1)!, medians.get(3)!]
    Object.assign(figures, {
      throughputRounds,
      ratioThreeProcessesToOne: round(three.cold / one.cold, 2),
      ratioThreeProcessesToOneWarm: round(three.warm / one.warm, 2)
    })
    // the same processes without following one another: each on a prefix (and a job) of its own
    const shardedCold = medianRun(shardedRuns.map((t) => t.cold))
    const shardedWarm = medianRun(shardedRuns.map((t) => t.warm))
    coldAndWarm(
      `${shardedCold.tasks} no-op tasks, ${SHARDS} processes on ${SHARDS} prefixes (a job each)`,
      [txnFloor, rawTps],
      shardedCold.tasksPerSecond,
      shardedWarm.tasksPerSecond,
      "tasks/s"
    )
    rows.push([
      "  against 1 process on one prefix, first / warm",
      `${ratio(shardedCold.tasksPerSecond / one.cold)} / ${ratio(shardedWarm.tasksPerSecond / one.warm)}`,
      "",
      ""
    ])
    Object.assign(figures, {
      shardedTasksPerSecond: round(shardedCold.tasksPerSecond, 0),
      shardedTasksPerSecondWarm: round(shardedWarm.tasksPerSecond, 0),
      ratioShardedToOne: round(shardedCold.tasksPerSecond / one.cold, 2),
      ratioShardedToOneWarm: round(shardedWarm.tasksPerSecond / one.warm, 2),
      runnerCpuMsPerTaskSharded: round(shardedCold.runnerCpuMsPerTask, 3),
      runnerCpuMsPerTaskShardedWarm: round(shardedWarm.runnerCpuMsPerTask, 3),
      machineBusyShareSharded: round(shardedCold.machineBusyShare, 2),
      machineBusyShareShardedWarm: round(shardedWarm.machineBusyShare, 2)
    })
    // every runner follows every change of an active job: what that costs one that runs none of it
    progress("throughput, 1 runner process and 1 follower")
    const f = await throughput(bench, 1, 1)
    coldAndWarm(
      `${bench.n(1000)} no-op tasks, 1 process + 1 follower`,
      [txnFloor, rawTps],
      f.cold.tasksPerSecond,
      f.warm.tasksPerSecond,
      "tasks/s"
    )
    Object.assign(figures, {
      noopTasksPerSecondWithFollower: round(f.cold.tasksPerSecond, 0),
      followerCpuMsPerTask: round(f.cold.followerCpuMsPerTask, 3),
      runnerCpuMsPerTaskWithFollower: round(f.cold.runnerCpuMsPerTask, 3),
      noopTasksPerSecondWithFollowerWarm: round(f.warm.tasksPerSecond, 0),
      followerCpuMsPerTaskWarm: round(f.warm.followerCpuMsPerTask, 3),
      runnerCpuMsPerTaskWithFollowerWarm: round(f.warm.runnerCpuMsPerTask, 3)
    })
  })
  // a runner waits for a disaster: its first job after a rest, not right after its start
  await attempt("standby", async () => {
    progress(`standby: 1 runner process idle ${standbySeconds} s, then its first job`)
    const r = await standby(bench, standbySeconds)
    const label = `${bench.n(1000)} no-op tasks, 1 process idle ${standbySeconds} s before`
    rows.push([label, `${round(r.tasksPerSecond, 0)} tasks/s`, txnFloor, ratio(r.tasksPerSecond / rawTps)])
    rows.push(["  runner CPU per task, its first job after the rest", `${round(r.runnerCpuMsPerTask, 2)} ms`, "", ""])
    rows.push(["  runner resident memory at rest, before it", `${round(r.restingRssMb, 0)} MB`, "", ""])
    Object.assign(figures, {
      standbyIdleSeconds: standbySeconds,
      noopTasksPerSecondOneRunnerStandby: round(r.tasksPerSecond, 0),
      ratioOneRunnerStandbyToRaw: round(r.tasksPerSecond / rawTps, 3),
      runnerCpuMsPerTaskOneRunnerStandby: round(r.runnerCpuMsPerTask, 3),
      runnerRestingRssMb: round(r.restingRssMb, 0)
    })
  })
  // the no-op job above is bound by CPU; recovery tasks mostly wait on a cloud
  await attempt("waiting", async () => {
    progress("waiting tasks, 1 and 3 runner processes")
    const one = await waiting(bench, 1)
    const three = await waiting(bench, 3)
    const label = `${bench.n(WAITING_TASKS)} tasks waiting ${WAIT_MS / 1000} s, ${RUNNER_CONCURRENCY} at a time per process`
    const bound = (processes: number) => (RUNNER_CONCURRENCY * processes * 1000) / WAIT_MS
    for (const [name, r, processes] of [
      [`${label}: 1 process`, one, 1],
      ["  same, 3 processes", three, 3]
    ] as const) {
      const text = `${round(r.tasksPerSecond, 0)} tasks/s`
      rows.push([name, text, `${bound(processes)} tasks/s bound`, ratio(r.tasksPerSecond / bound(processes))])
    }
    rows.push(["  3 processes against 1", ratio(three.tasksPerSecond / one.tasksPerSecond), "", ""])
    Object.assign(figures, {
      waitingTaskMs: WAIT_MS,
      waitingTasksPerSecondOneRunner: round(one.tasksPerSecond, 0),
      waitingTasksPerSecondThreeRunners: round(three.tasksPerSecond, 0),
      ratioThreeProcessesToOneWaiting: round(three.tasksPerSecond / one.tasksPerSecond, 2),
      runnerCpuMsPerTaskWaitingOneRunner: round(one.runnerCpuMsPerTask, 3),
      runnerCpuMsPerTaskWaitingThreeRunners: round(three.runnerCpuMsPerTask, 3),
      writeTxnsPerTaskWaitingOneRunner: round(one.writesPerTask, 2),
      writeTxnsPerTaskWaitingThreeRunners: round(three.writesPerTask, 2),
      machineBusyShareWaitingOneRunner: round(one.machineBusyShare, 2),
      machineBusyShareWaitingThreeRunners: round(three.machineBusyShare, 2)
    })
  })
  /**
   * The sequential floor again, right before a latency case: etcd answers more slowly as a run
   * writes history it does not compact (at the end of a full run, about twice the first floor),
   * and a case measured late is compared with etcd as it is then, as well as with the first floor.
   */
  const adjacentFloor = async (tag: string) =>
    (await measureFloor(client, `raw-${tag}/`, { sequential: floorOptions.sequential, parallel: 0, inFlight: 1 }))
      .sequentialTxnMsP50
  /** A latency case's row and figures against the floor measured right before it (`adjacentFloor`). */
  const besideAdjacentFloor = (
    names: { readonly floor: string; readonly ratio: string },
    near: number,
    cold: number,
    warm: number
  ) => {
    coldAndWarm("  the same against the txn floor right before it", [`${round(near)} ms txn`, near], cold, warm, "ms")
    Object.assign(figures, {
      [`rawSequentialTxnMsP50Before${names.floor}`]: round(near),
      [`ratio${names.ratio}ToTxnBeforeIt`]: round(cold / near, 2),
      [`ratio${names.ratio}WarmToTxnBeforeIt`]: round(warm / near, 2)
    })
  }
  await attempt("pickup", async () => {
    progress("pickup")
    const near = await adjacentFloor("before-pickup")
    const { cold, warm } = await pickupCase(bench)
    coldAndWarm("pickup p50, spec commit → running", [latencyFloor, seq], cold.p50, warm.p50, "ms")
    besideAdjacentFloor({ floor: "Pickup", ratio: "Pickup" }, near, cold.p50, warm.p50)
    const floorPickup = await measurePickupFloor(client, "raw-pickup/", bench.n(PICKUP_SAMPLES), PICKUP_GAP_MS)
    coldAndWarm(
      "  the same against a pickup by etcd3 alone",
      [`${round(floorPickup)} ms`, floorPickup],
      cold.p50,
      warm.p50,
      "ms"
    )
    Object.assign(figures, {
      rawPickupMsP50: round(floorPickup),
      ratioPickupToRawPickup: round(cold.p50 / floorPickup, 2),
      ratioPickupWarmToRawPickup: round(warm.p50 / floorPickup, 2),
      pickupLatencyMsP50: round(cold.p50),
      pickupLatencyMsP99: round(cold.p99),
      ratioPickupToRawTxn: round(cold.p50 / seq, 2),
      pickupLatencyMsP50Warm: round(warm.p50),
      pickupLatencyMsP99Warm: round(warm.p99),
      ratioPickupWarmToRawTxn: round(warm.p50 / seq, 2)
    })
  })
  await attempt("chain", async () => {
    progress("chain")
    const near = await adjacentFloor("before-chain")
    const { cold, warm } = await chain(bench)
    coldAndWarm(`${bench.n(1000)}-task chain, per level p50`, [latencyFloor, seq], cold.p50, warm.p50, "ms")
    besideAdjacentFloor({ floor: "Chain", ratio: "ChainLevel" }, near, cold.p50, warm.p50)
    Object.assign(figures, {
      chainLevelLatencyMsP50: round(cold.p50),
      chainTotalMs: round(cold.totalMs, 0),
      ratioChainLevelToRawTxn: round(cold.p50 / seq, 2),
      chainLevelLatencyMsP50Warm: round(warm.p50),
      chainTotalMsWarm: round(warm.totalMs, 0),
      ratioChainLevelWarmToRawTxn: round(warm.p50 / seq, 2)
    })
  })
  await attempt("big", async () => {
    progress("large job")
    const b = await bigJob(bench)
    const label = `${b.tasks}-task job (tree), ${round(b.seconds)} s, ${round(b.peakRssMb, 0)} MB peak RSS`
    rows.push([label, `${round(b.tasksPerSecond, 0)} tasks/s`, txnFloor, ratio(b.tasksPerSecond / rawTps)])
    Object.assign(figures, {
      bigJobTasks: b.tasks,
      bigJobSeconds: round(b.seconds),
      bigJobTasksPerSecond: round(b.tasksPerSecond, 0),
      ratioBigJobToRaw: round(b.tasksPerSecond / rawTps, 3),
      bigJobRunnerPeakRssMb: round(b.peakRssMb, 0),
      bigJobPeakRssMb: round(b.peakRssMb, 0),
      bigJobSubmitSeconds: round(b.submitSeconds),
      bigJobRunnerCpuMsPerTask: round(b.runnerCpuMsPerTask, 3),
      ...b.reads.figures
    })
    const r = b.reads.figures
    rows.push([
      `${b.tasks}-task job: job show / --json / a page`,
      `${r.bigJobShowSeconds} / ${r.bigJobShowJsonSeconds} / ${r.bigJobShowPageSeconds} s`,
      `${r.bigJobShowPeakRssMb} MB peak`,
      ""
    ])
    rows.push([
      `${b.tasks}-task job: API document / page / stream snapshot`,
      `${r.bigJobApiJobMs} / ${r.bigJobApiTasksPageMs} / ${r.bigJobStreamSnapshotMs} ms`,
      "",
      ""
    ])
    if (b.reads.failures.length > 0) failures.big = b.reads.failures.join("; ")
  })
  await attempt("takeover", async () => {
    progress("takeover")
    const t = await takeover(bench)
    rows.push(["takeover after SIGKILL", `${round(t.ms, 0)} ms`, `${t.ttlMs} ms lease`, ratio(t.ms / t.ttlMs)])
    Object.assign(figures, { takeoverAfterKillMs: round(t.ms, 0), takeoverLeaseTtlMs: t.ttlMs })
  })
  await attempt("history", async () => {
    const jobs = integer("--history-jobs", bench.n(10_000))
    progress(`history: idle runners, empty store and ${jobs} finished jobs`)
    const { figures: h, failures: historyFailures } = await history(bench, {
      jobs,
      tasksPerJob: integer("--history-tasks", 5),
      // an idle runner's few requests come every 30 s (its resync) and 60 s (retention sweep) from
      // its start: a window opening on such a boundary counted 9 or 12 ranges depending on which
      // side of it a few milliseconds put them, so it opens midway between two
      warmupSeconds: integer("--idle-warmup-seconds", quick ? 5 : 105),
      idleSeconds: integer("--idle-seconds", quick ? 15 : 60)
    })
    const change = (empty: number, full: number, unit: string) => [
      `${empty} ${unit} empty`,
      ratio(full / Math.max(empty, 1e-9))
    ]
    const [cpuEmpty, cpuRatio] = change(
      h.idleRunnerCpuSecondsPerMinuteEmpty,
      h.idleRunnerCpuSecondsPerMinuteHistory,
      "s/min"
    )
    rows.push([
      `idle runner CPU, ${jobs} finished jobs`,
      `${h.idleRunnerCpuSecondsPerMinuteHistory} s/min`,
      cpuEmpty!,
      cpuRatio!
    ])
    const [pairedEmpty, pairedRatio] = change(
      h.idleRunnerCpuSecondsPerMinuteEmptyPaired,
      h.idleRunnerCpuSecondsPerMinuteHistoryPaired,
      "s/min"
    )
    rows.push([
      "  the same, both runners idle in one window",
      `${h.idleRunnerCpuSecondsPerMinuteHistoryPaired} s/min`,
      pairedEmpty!,
      pairedRatio!
    ])
    const [rEmpty, rRatio] = change(
      h.idleEtcdRangeRequestsPerMinuteEmpty,
      h.idleEtcdRangeRequestsPerMinuteHistory,
      "/min"
    )
    rows.push([
      `idle etcd range requests, ${jobs} finished jobs`,
      `${h.idleEtcdRangeRequestsPerMinuteHistory} /min`,
      rEmpty!,
      rRatio!
    ])
    rows.push([
      `pickup p50, ${jobs} finished jobs`,
      `${h.historyPickupLatencyMsP50} ms`,
      latencyFloor,
      ratio(h.historyPickupLatencyMsP50 / seq)
    ])
    Object.assign(figures, h)
    if (historyFailures.length > 0) failures.history = historyFailures.join("; ")
  })
  await attempt("scale", async () => {
    const tasks = integer("--scale", 100_000)
    progress(`scale: one ${tasks}-task job`)
    const { figures: s, failure } = await scale(bench, tasks)
    const label =
      s.scaleRunSeconds === undefined
        ? `${tasks}-task job: did not complete`
        : `${tasks}-task job, ${s.scaleRunSeconds} s, ${s.scaleRunnerPeakRssMb} MB peak RSS`
    const rate = s.scaleTasksPerSecond ?? Number.NaN
    rows.push([label, `${rate} tasks/s`, txnFloor, ratio(rate / rawTps)])
    rows.push([
      `${tasks}-task job in etcd, per task`,
      `${s.scaleKeysPerTask} keys, ${s.scaleBytesPerTask} B, ${s.scaleWritesPerTask} writes`,
      `db ${s.scaleEtcdDbMb} MB`,
      ""
    ])
    Object.assign(figures, s)
    if (failure !== undefined) failures.scale = failure
  })
  progress("raw etcd floor again (noise check)")
  const end = await measureFloor(client, "raw-end/", floorOptions)
  Object.assign(figures, {
    rawTxnPerSecondAtEnd: round(end.txnPerSecond, 0),
    rawSequentialTxnMsP50AtEnd: round(end.sequentialTxnMsP50)
  })
  return { figures, failures, rows, floor }
}

/** Summaries of the throughput, sharded and waiting runners' profiles, cut to the window of their job. */
const summarizeProfiles = (dir: string) => {
  const files = readdirSync(dir)
  const out: Array<string> = []
  for (const p of bench.profiled) {
    const file = files.find((f) => f === `${p.name}.cpuprofile`)
    if (file === undefined || !["throughput", "sharded", "waiting"].some((c) => p.name.startsWith(c))) continue
    const text = format(
      `${p.name}, job ${p.job} (its window: --from ${p.fromUs} --to ${p.toUs})`,
      summarize(readProfile(resolve(dir, file)), { from: p.fromUs, to: p.toUs }),
      p.tasks
    )
    writeFileSync(resolve(dir, `${p.name}.${p.job}.summary.txt`), `${text}\n`)
    out.push(text)
  }
  return out.join("\n\n")
}

try {
  const { figures, failures, rows, floor } = await run()
  await bench.submitter.dispose()
  client.close()
  const profiles = profileDir === undefined ? "" : summarizeProfiles(profileDir)
  // figures measured on runners with flags of their own say so
  const flags = bench.runnerNodeFlags === undefined ? {} : { runnerNodeFlags: bench.runnerNodeFlags.join(" ") }
  if (json) {
    console.log(
      JSON.stringify({ ...figures, ...flags, ...(Object.keys(failures).length === 0 ? {} : { failures }) }, null, 2)
    )
    if (profiles !== "") console.error(profiles)
  } else {
    console.log("migrator benchmark: one run, real etcd on 127.0.0.1, `migrator run` processes (bundled binary).")
    console.log("The machine may be shared: figures are noisy; compare ratios within one run.")
    console.log(
      `raw etcd floor (etcd3 client directly): sequential compare-and-put txn p50 ${round(floor.sequentialTxnMsP50)} ms, ` +
        `${round(floor.txnPerSecond, 0)} txn/s with 64 in flight (again at the end: ${figures.rawTxnPerSecondAtEnd} txn/s)`
    )
    if (bench.runnerNodeFlags !== undefined) console.log(`runner processes ran with ${flags.runnerNodeFlags}`)
    const widths = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i]!.length), 6))
    const show = (r: ReadonlyArray<string>) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ")
    console.log(show(["figure", "value", "floor", "ratio"]))
    for (const r of rows) console.log(show(r))
    console.log("\nall figures (--json):")
    for (const [k, v] of Object.entries(figures)) console.log(`  ${k.padEnd(40)} ${v}`)
    for (const [name, message] of Object.entries(failures)) console.log(`FAILED ${name}: ${message}`)
    if (profiles !== "") console.log(`\nCPU profiles in ${profileDir}\n\n${profiles}`)
  }
} finally {
  await cleanUp()
}
process.exit(0)
