/**
 * What history costs an idle runner (issue 12, item 3), and what a large job leaves in etcd (item 4).
 *
 * History: idle runners on an empty prefix, then on the same prefix after it holds N finished jobs,
 * each time their CPU seconds and etcd's range requests per minute, and pickup; then the same on
 * another, empty prefix of that etcd (a control for the machine's drift); last, idle runners on the
 * history and on an empty prefix side by side, whose CPU compares within one window. The finished jobs
 * are one job really run by a runner, copied N - 1 times under other ids with the plain etcd3
 * client (running 10,000 jobs would take the bench hours and measure nothing more).
 */
import type { Keys } from "@migrator/core"
import { type Bench, freshKeys, PICKUP_GAP_MS, PICKUP_SAMPLES, pickup, runJob, start, stopAll } from "./cases.ts"
import { round, sleep } from "./common.ts"
import { counters, footprint, revision } from "./etcd.ts"
import { independentTasks, treeTasks } from "./jobs.ts"
import { runnersCpuSeconds } from "./runners.ts"

export interface HistoryOptions {
  readonly jobs: number
  readonly tasksPerJob: number
  readonly warmupSeconds: number
  readonly idleSeconds: number
}

/** Idle runners on `keys`: per-minute runner CPU and etcd requests after a warm-up, then pickup. */
const idle = async (bench: Bench, keys: Keys.Layout, tag: string, options: HistoryOptions) => {
  const runners = await start(bench, keys, tag, bench.runners)
  try {
    const cpu = () => runnersCpuSeconds(runners)
    const mainCpu = () => runners.reduce((sum, r) => sum + r.mainThreadCpuSeconds(), 0)
    // the start-up is paid once, and it ends well after the runner registered: 30-60 s after its
    // start V8's memory reducer compacts the start-up heap (three full collections, ~0.2 s of CPU).
    // When that fell inside the window, it made one idle runner cost three times another, whatever
    // the store held: the window begins after it, and the start-up figure counts it
    await sleep(options.warmupSeconds * 1000)
    const startupCpu = cpu()
    const startupMainCpu = mainCpu()
    const before = await counters(bench.endpoint)
    await sleep(options.idleSeconds * 1000)
    const after = await counters(bench.endpoint)
    const perMinute = (x: number) => (x * 60) / options.idleSeconds
    const figures = {
      startupCpuSeconds: startupCpu,
      cpuSecondsPerMinute: perMinute(cpu() - startupCpu),
      mainThreadCpuSecondsPerMinute: perMinute(mainCpu() - startupMainCpu),
      rangeRequestsPerMinute: perMinute(after.rangeRequests - before.rangeRequests),
      mvccRangesPerMinute: perMinute(after.mvccRanges - before.mvccRanges),
      txnRequestsPerMinute: perMinute(after.txnRequests - before.txnRequests)
    }
    // a runner swamped by history may not pick a job up at all: that is a finding, not a crash;
    // as many samples as the pickup case, so the two p50s compare
    const picked = await pickup(bench, keys, tag, bench.n(PICKUP_SAMPLES), PICKUP_GAP_MS, 30_000).then(
      (p) => ({ p50: p.p50, failure: undefined }),
      (e: Error) => ({ p50: Number.NaN, failure: e.message })
    )
    return { ...figures, pickupMsP50: picked.p50, pickupFailure: picked.failure }
  } finally {
    await stopAll(runners)
  }
}

/**
 * Idle runners on `history` and on `empty` at the same time: their CPU per minute in the same
 * window, so a drift of the machine between two windows (0.16 vs 0.19 s/min for the same empty
 * prefix minutes apart) is not read as the cost of history. etcd's request counters are the
 * server's, not a runner's: the requests come from the sequential windows.
 */
const idlePair = async (bench: Bench, history: Keys.Layout, empty: Keys.Layout, options: HistoryOptions) => {
  const [withHistory, without] = await Promise.all([
    start(bench, history, "idle-pair-history", bench.runners),
    start(bench, empty, "idle-pair-empty", bench.runners)
  ])
  try {
    await sleep(options.warmupSeconds * 1000)
    const from = [runnersCpuSeconds(withHistory), runnersCpuSeconds(without)] as const
    await sleep(options.idleSeconds * 1000)
    const perMinute = (x: number) => (x * 60) / options.idleSeconds
    return {
      history: perMinute(runnersCpuSeconds(withHistory) - from[0]),
      empty: perMinute(runnersCpuSeconds(without) - from[1])
    }
  } finally {
    await stopAll([...withHistory, ...without])
  }
}

const TEMPLATE = "histtemplate"

/**
 * Copies every key of job `TEMPLATE` (with its index and expiry entries; a finished job has no
 * active entry) as jobs `hist-1` … `hist-<copies>`.
 */
const cloneJobs = async (bench: Bench, keys: Keys.Layout, copies: number) => {
  const source = await bench.client.getAll().prefix(keys.prefix).buffers()
  const template = Object.entries(source).filter(
    ([key]) =>
      key.startsWith(keys.job(TEMPLATE)) ||
      key === keys.indexEntry(TEMPLATE) ||
      (key.startsWith(keys.expiry) && key.endsWith(`/${TEMPLATE}`))
  )
  const ops: Array<{ request_put: { key: Buffer; value: Buffer } }> = []
  const write = async () => {
    const batch = ops.splice(0, 120)
    await bench.client.kv.txn({ compare: [], success: batch, failure: [] })
  }
  const writers: Array<Promise<void>> = []
  for (let i = 1; i <= copies; i++) {
    const id = `hist-${i}`
    for (const [key, value] of template) {
      ops.push({
        request_put: {
          key: Buffer.from(key.replace(TEMPLATE, id)),
          value: Buffer.from(value.toString().replaceAll(TEMPLATE, id))
        }
      })
    }
    while (ops.length >= 120) {
      writers.push(write())
      if (writers.length >= 8) await Promise.all(writers.splice(0))
    }
  }
  while (ops.length > 0) writers.push(write())
  await Promise.all(writers)
  return template.length
}

export const history = async (bench: Bench, options: HistoryOptions) => {
  const keys = freshKeys("history")
  const empty = await idle(bench, keys, "idle-empty", options)
  await runJob(bench, "history-template", 1, independentTasks(TEMPLATE, options.tasksPerJob), keys)
  const keysPerJob = await cloneJobs(bench, keys, options.jobs - 1)
  // what the runners list: the finished jobs must not be there
  const active = await bench.client.getAll().prefix(keys.active).count()
  const full = await idle(bench, keys, "idle-history", options)
  // control: the same on an empty prefix of the same etcd, now that it holds the history; what
  // differs from the empty figures then comes from the machine or etcd's size, not from the runner
  const control = await idle(bench, freshKeys("history-control"), "idle-control", options)
  const paired = await idlePair(bench, keys, freshKeys("history-paired"), options)
  const failures = [empty.pickupFailure, full.pickupFailure, control.pickupFailure].filter((f) => f !== undefined)
  const figures = {
    historyFinishedJobs: options.jobs,
    historyTasksPerJob: options.tasksPerJob,
    historyKeysPerJob: keysPerJob,
    historyActiveEntries: active,
    historyIdleSeconds: options.idleSeconds,
    idleRunnerCpuSecondsPerMinuteEmpty: round(empty.cpuSecondsPerMinute, 3),
    idleRunnerCpuSecondsPerMinuteHistory: round(full.cpuSecondsPerMinute, 3),
    ratioIdleCpuHistoryToEmpty: round(full.cpuSecondsPerMinute / empty.cpuSecondsPerMinute, 2),
    // the JavaScript thread alone, without V8's helper threads (collector, compiler)
    idleRunnerMainThreadCpuSecondsPerMinuteEmpty: round(empty.mainThreadCpuSecondsPerMinute, 3),
    idleRunnerMainThreadCpuSecondsPerMinuteHistory: round(full.mainThreadCpuSecondsPerMinute, 3),
    idleRunnerMainThreadCpuSecondsPerMinuteOtherPrefix: round(control.mainThreadCpuSecondsPerMinute, 3),
    idleEtcdRangeRequestsPerMinuteEmpty: round(empty.rangeRequestsPerMinute, 1),
    idleEtcdRangeRequestsPerMinuteHistory: round(full.rangeRequestsPerMinute, 1),
    ratioIdleRangeRequestsHistoryToEmpty: round(
      full.rangeRequestsPerMinute / Math.max(1, empty.rangeRequestsPerMinute),
      2
    ),
    idleEtcdMvccRangesPerMinuteEmpty: round(empty.mvccRangesPerMinute, 1),
    idleEtcdMvccRangesPerMinuteHistory: round(full.mvccRangesPerMinute, 1),
    idleEtcdTxnRequestsPerMinuteEmpty: round(empty.txnRequestsPerMinute, 1),
    idleEtcdTxnRequestsPerMinuteHistory: round(full.txnRequestsPerMinute, 1),
    idleRunnerStartupCpuSecondsEmpty: round(empty.startupCpuSeconds, 2),
    idleRunnerStartupCpuSecondsHistory: round(full.startupCpuSeconds, 2),
    historyPickupLatencyMsP50Empty: round(empty.pickupMsP50),
    historyPickupLatencyMsP50: round(full.pickupMsP50),
    idleRunnerCpuSecondsPerMinuteOtherPrefix: round(control.cpuSecondsPerMinute, 3),
    idleRunnerCpuSecondsPerMinuteHistoryPaired: round(paired.history, 3),
    idleRunnerCpuSecondsPerMinuteEmptyPaired: round(paired.empty, 3),
    ratioIdleCpuHistoryToEmptyPaired: round(paired.history / paired.empty, 2),
    idleEtcdRangeRequestsPerMinuteOtherPrefix: round(control.rangeRequestsPerMinute, 1),
    historyPickupLatencyMsP50OtherPrefix: round(control.pickupMsP50)
  }
  return { figures, failures }
}

/**
 * One job of `tasks` no-op tasks (a tree) to completion, then what it left in etcd per task. If the
 * run fails (a runner that cannot take a job this large), what the submission wrote is still measured.
 */
export const scale = async (bench: Bench, tasks: number) => {
  const keys = freshKeys("scale")
  const before = await counters(bench.endpoint)
  const fromRevision = await revision(bench.client)
  const run = await runJob(bench, "scale", bench.runners, treeTasks("scale", tasks), keys).then(
    (r) => ({ ...r, failure: undefined }),
    (e: Error) => ({ failure: e.message })
  )
  const writes = (await revision(bench.client)) - fromRevision
  const after = await counters(bench.endpoint)
  // the job's records and its event log, which sorts after the rest of the prefix (`Keys.followedEnd`)
  const records = await footprint(bench.client, keys.job("scale"))
  const log = await footprint(bench.client, keys.events("scale"))
  const held = { keys: records.keys + log.keys, bytes: records.bytes + log.bytes }
  const mb = (bytes: number) => round(bytes / 2 ** 20, 1)
  const ran =
    run.failure === undefined
      ? {
          scaleSubmitSeconds: round(run.submitSeconds),
          scaleRunSeconds: round(run.seconds),
          scaleTasksPerSecond: round(run.tasksPerSecond, 0),
          scaleRunnerPeakRssMb: round(run.peakRssMb, 0),
          scaleRunnerCpuMsPerTask: round(run.runnerCpuMsPerTask, 3)
        }
      : {}
  const figures = {
    scaleTasks: tasks,
    scaleCompleted: run.failure === undefined ? 1 : 0,
    ...ran,
    scaleKeysPerTask: round(held.keys / tasks, 2),
    scaleBytesPerTask: round(held.bytes / tasks, 0),
    scaleEventLogKeysPerTask: round(log.keys / tasks, 2),
    scaleWritesPerTask: round(writes / tasks, 2),
    scaleEtcdDbMb: mb(after.dbBytes),
    scaleEtcdDbInUseMb: mb(after.dbBytesInUse),
    scaleEtcdDbGrowthMb: mb(after.dbBytes - before.dbBytes)
  }
  return { figures, failure: run.failure }
}
