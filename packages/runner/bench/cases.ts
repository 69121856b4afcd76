/**
 * The benchmark's job cases, each against separate `migrator run` processes on a fresh key prefix:
 * throughput, pickup, the chain, the large job and takeover after a crash.
 */
import { Keys } from "@migrator/core"
import type { Etcd3 } from "etcd3"
import { now, percentile, sleep, within } from "./common.ts"
import { counters, revision, watchPuts } from "./etcd.ts"
import { chainTasks, independentTasks, type Submitter, treeTasks, waitingTasks, watchJob } from "./jobs.ts"
import { measureReads } from "./reads.ts"
import {
  busyShare,
  machineCpu,
  processCpuSeconds,
  type RunnerProcess,
  runnersCpuSeconds,
  startRunners
} from "./runners.ts"

export interface Bench {
  readonly endpoint: string
  readonly client: Etcd3
  readonly etcdPid: () => number | undefined
  readonly submitter: Submitter
  /** Scales a case's size down under `--quick`. */
  readonly n: (full: number) => number
  /** The runner processes' V8 heap limit (`--runner-heap-mb`), if any. */
  readonly runnerHeapMb?: number | undefined
  /** Node or V8 flags every runner process runs with (`--runner-node-flags`), if any. */
  readonly runnerNodeFlags?: ReadonlyArray<string> | undefined
  /** Tasks of the large job (`--big-tasks`), if not the default. */
  readonly bigTasks?: number | undefined
  /** Runner processes of the pickup, chain, large-job, history and scale cases (`--runners`). */
  readonly runners: number
  /** Where runner processes write their CPU profiles (`--cpu-prof`), if anywhere. */
  readonly profileDir: string | undefined
  /** Tasks per runner process of the unmeasured job before a case's warm figures (`--warm-up N`; 0: none). */
  readonly warmUpTasks: number
  /** The runners' own in-memory warm-up (`--runner-warm-up N`, their `--warm-up-tasks`); theirs by default. */
  readonly runnerWarmUpTasks: number | undefined
  /** The runners' own warm-up on etcd (`--runner-store-warm-up N`, their `--warm-up-store-tasks`). */
  readonly runnerStoreWarmUpTasks: number | undefined
  /** Profiles to summarise at the end: the runner (file name), the job, its tasks and its window. */
  readonly profiled: Array<{
    readonly name: string
    readonly job: string
    readonly tasks: number
    readonly fromUs: number
    readonly toUs: number
  }>
}

let prefixes = 0
/** A fresh key prefix per case, so no case sees another's jobs. */
export const freshKeys = (tag: string) => Keys.make(`bench-${++prefixes}-${tag}/`)

const idsOf = (tag: string, count: number) => Array.from({ length: count }, (_, i) => `${tag}-${i + 1}`)

export const start = (
  bench: Bench,
  keys: Keys.Layout,
  tag: string,
  count: number,
  leaseTtl?: string,
  plugins?: string
) =>
  startRunners(
    bench.client,
    {
      endpoint: bench.endpoint,
      keys,
      heapMb: bench.runnerHeapMb,
      nodeFlags: bench.runnerNodeFlags,
      plugins,
      warmUpTasks: bench.runnerWarmUpTasks,
      warmUpStoreTasks: bench.runnerStoreWarmUpTasks,
      ...(leaseTtl === undefined ? {} : { leaseTtl })
    },
    idsOf(tag, count),
    bench.profileDir
  )

/**
 * Runners that follow a job without running any of it: they serve only the OpenStack task types,
 * none of the bench's, so they claim nothing and their CPU is what following a job costs.
 */
const FOLLOWER_PLUGINS = "openstack"

export const stopAll = (runners: ReadonlyArray<RunnerProcess>) => Promise.all(runners.map((r) => r.stop()))

const DEADLINE = 15 * 60_000

/**
 * Jobs on runners already up, submitted together: seconds from the first spec commit to the last
 * completion, write transactions per task (etcd revisions in between), CPU per task of the
 * runners, of the followers and of etcd.
 */
export const measureJobs = async (
  bench: Bench,
  runners: ReadonlyArray<RunnerProcess>,
  followers: ReadonlyArray<RunnerProcess>,
  jobs: ReadonlyArray<{ readonly keys: Keys.Layout; readonly document: { id: string; tasks: unknown[] } }>
) => {
  const etcdCpu = () => processCpuSeconds(bench.etcdPid() ?? 0)
  const sample = () => ({
    runners: runnersCpuSeconds(runners),
    etcd: etcdCpu(),
    followers: runnersCpuSeconds(followers),
    bench: processCpuSeconds(process.pid),
    machine: machineCpu()
  })
  let atCommit = sample()
  let atEnd = atCommit
  let committedCount = 0
  let completedCount = 0
  const from = (await revision(bench.client)) + 1
  const watches = await Promise.all(
    jobs.map(({ keys, document }) =>
      watchJob(bench.client, keys, document.id, from, {
        onCommitted: () => {
          if (committedCount++ === 0) atCommit = sample()
        },
        onCompleted: () => {
          if (++completedCount === jobs.length) atEnd = sample()
        }
      })
    )
  )
  const ids = [...new Set(jobs.map((j) => j.document.id))].join(", ")
  try {
    // etcd's own request counters, failed transactions included (and the submission's few)
    const before = await counters(bench.endpoint)
    const submitStart = now()
    await Promise.all(jobs.map(({ keys, document }) => bench.submitter.submit(keys, document)))
    const submitSeconds = (now() - submitStart) / 1000
    const committed = await Promise.all(watches.map((w) => w.committed))
    const completed = await within(
      Promise.all(watches.map((w) => w.completed)),
      DEADLINE,
      `completion of ${ids} on ${runners.map((r) => r.id).join(", ")}`
    )
    const first = committed.reduce((a, b) => (b.at < a.at ? b : a))
    const last = completed.reduce((a, b) => (b.at > a.at ? b : a))
    const tasks = jobs.reduce((n, j) => n + j.document.tasks.length, 0)
    const after = await counters(bench.endpoint)
    const peakRssMb = Math.max(...runners.map((r) => r.peakRssMb()))
    for (const r of [...runners, ...followers]) {
      bench.profiled.push({ name: r.id, job: ids, tasks, fromUs: first.us, toUs: last.us })
    }
    return {
      tasks,
      submitSeconds,
      seconds: (last.at - first.at) / 1000,
      tasksPerSecond: tasks / ((last.at - first.at) / 1000),
      writesPerTask: (last.revision - first.revision) / tasks,
      txnRequestsPerTask: (after.txnRequests - before.txnRequests) / tasks,
      rangeRequestsPerTask: (after.rangeRequests - before.rangeRequests) / tasks,
      runnerCpuMsPerTask: ((atEnd.runners - atCommit.runners) * 1000) / tasks,
      etcdCpuMsPerTask: ((atEnd.etcd - atCommit.etcd) * 1000) / tasks,
      /** Per follower. */
      followerCpuMsPerTask:
        followers.length === 0
          ? Number.NaN
          : ((atEnd.followers - atCommit.followers) * 1000) / tasks / followers.length,
      /** The bench process itself (its watch of the jobs): it shares the machine too. */
      benchCpuMsPerTask: ((atEnd.bench - atCommit.bench) * 1000) / tasks,
      /** Of all the machine's cores, the share busy while the jobs ran: near 1, more processes cannot add. */
      machineBusyShare: busyShare(atCommit.machine, atEnd.machine),
      peakRssMb
    }
  } finally {
    await Promise.all(watches.map((w) => w.cancel()))
  }
}

/** One job on runners already up (see `measureJobs`). */
export const measureJob = (
  bench: Bench,
  runners: ReadonlyArray<RunnerProcess>,
  followers: ReadonlyArray<RunnerProcess>,
  keys: Keys.Layout,
  document: { id: string; tasks: unknown[] }
) => measureJobs(bench, runners, followers, [{ keys, document }])

/** Runs one job on `count` fresh runner processes (see `measureJob`). */
export const runJob = async (
  bench: Bench,
  tag: string,
  count: number,
  document: { id: string; tasks: unknown[] },
  keys: Keys.Layout = freshKeys(tag)
) => {
  const runners = await start(bench, keys, tag, count)
  try {
    return await measureJob(bench, runners, [], keys, document)
  } finally {
    await stopAll(runners)
  }
}

/**
 * `--warm-up N` independent no-op tasks per runner process (2,000) run, unmeasured, on runners
 * already up. A runner just started runs its first few thousand tasks two to three times slower than
 * later ones, while V8 compiles its hot paths: the cases measure a fresh runner's first job ("cold",
 * as a runner idle since its start meets a disaster) and, after this, runners that have each run
 * about N tasks before ("warm").
 */
export const warmUp = async (bench: Bench, keys: Keys.Layout, id: string, runners: number) => {
  if (bench.warmUpTasks === 0) return
  const document = independentTasks(id, bench.warmUpTasks * runners)
  const job = await watchJob(bench.client, keys, id, (await revision(bench.client)) + 1)
  await bench.submitter.submit(keys, document)
  await within(job.completed, DEADLINE, `completion of ${id} (warm-up)`).finally(() => job.cancel())
}

/**
 * 1,000 independent no-op tasks on `count` runner processes (and `followerCount` that run none
 * of them): the runners' first job, then the same job again after a warm-up.
 */
export const throughput = async (bench: Bench, count: number, followerCount = 0, round = 1) => {
  const tag = `throughput${count}${followerCount === 0 ? "" : `f${followerCount}`}${round === 1 ? "" : `r${round}`}`
  const keys = freshKeys(tag)
  const runners = await start(bench, keys, tag, count)
  const followers =
    followerCount === 0 ? [] : await start(bench, keys, `${tag}-follower`, followerCount, undefined, FOLLOWER_PLUGINS)
  try {
    const cold = await measureJob(bench, runners, followers, keys, independentTasks("noop", bench.n(1000)))
    await warmUp(bench, keys, "warm-up", count)
    const warm = await measureJob(bench, runners, followers, keys, independentTasks("noop-warm", bench.n(1000)))
    // what a runner's start cost before the cold job: its own warm-up included
    const startup = {
      seconds: runners[0]!.startSeconds,
      warmUpMs: runners[0]!.warmUpMs() ?? 0,
      storeWarmUpMs: runners[0]!.storeWarmUpMs() ?? 0
    }
    return { cold, warm, startup }
  } finally {
    await stopAll([...runners, ...followers])
  }
}

export type Throughput = Awaited<ReturnType<typeof throughput>>

/** Prefixes of the sharded case: one runner fleet (here one process) per prefix. */
export const SHARDS = 3

/**
 * The throughput case's job split over `SHARDS` key prefixes, one runner process on each and a
 * third of the tasks in a job on each, submitted together: no runner follows another's tasks
 * (prefixes share nothing), so this is what the processes do without the cost of following one
 * another, the most a fleet on one prefix could reach on the same machine.
 */
export const sharded = async (bench: Bench, round = 1) => {
  const tags = Array.from({ length: SHARDS }, (_, i) => `sharded${i + 1}${round === 1 ? "" : `r${round}`}`)
  const shards = tags.map((tag) => ({ tag, keys: freshKeys(tag) }))
  const runners = (await Promise.all(shards.map(({ tag, keys }) => start(bench, keys, tag, 1)))).flat()
  const perShard = Math.floor(bench.n(1000) / SHARDS)
  const jobs = (id: string) => shards.map(({ keys }) => ({ keys, document: independentTasks(id, perShard) }))
  try {
    const cold = await measureJobs(bench, runners, [], jobs("noop"))
    await Promise.all(shards.map(({ keys }) => warmUp(bench, keys, "warm-up", 1)))
    const warm = await measureJobs(bench, runners, [], jobs("noop-warm"))
    return { cold, warm }
  } finally {
    await stopAll(runners)
  }
}

/**
 * How long the standby case leaves its runner idle: past V8's memory reducer, whose full
 * collections, some 50 s after a process went quiet, throw away optimised code that holds objects
 * gone by then, the warm-up's included (see `WarmUp.ts`).
 */
export const STANDBY_SECONDS = 75

/**
 * A standby runner's first job: one fresh runner process left idle `idleSeconds` after it
 * registered, as runners wait for a disaster, then 1,000 independent no-op tasks; and its resident
 * memory at rest, just before the job.
 */
export const standby = async (bench: Bench, idleSeconds: number) => {
  const keys = freshKeys("standby")
  const runners = await start(bench, keys, "standby", 1)
  try {
    await sleep(idleSeconds * 1000)
    const restingRssMb = runners[0]!.rssMb()
    const job = await measureJob(bench, runners, [], keys, independentTasks("standby", bench.n(1000)))
    return { ...job, restingRssMb }
  } finally {
    await stopAll(runners)
  }
}

/** How long each task of the waiting case waits: a cloud call of a recovery task takes seconds. */
export const WAIT_MS = 1000
/** Tasks of the waiting case: 15 rounds of 64 for one process, 5 of 192 for three (no round half full). */
export const WAITING_TASKS = 960

/**
 * Tasks that each wait a second on `count` fresh runner processes, 64 at a time each: bound by
 * the processes' concurrency, not by their CPU (a 100 ms wait already kept three processes'
 * first job 77% CPU-busy on 2 cores).
 */
export const waiting = (bench: Bench, count: number) =>
  runJob(bench, `waiting${count}`, count, waitingTasks("waiting", bench.n(WAITING_TASKS), WAIT_MS))

/** The large job: a tree of 10,000 no-op tasks (`--big-tasks N`: N), then what reading it costs. */
export const bigJob = async (bench: Bench) => {
  const keys = freshKeys("big")
  const run = await runJob(bench, "big", bench.runners, treeTasks("big", bench.bigTasks ?? bench.n(10_000)), keys)
  return { ...run, reads: await measureReads(bench, keys, "big", "bigJob") }
}

/**
 * Spec commit → the task `running`, both as etcd's watch delivers them, for one-task jobs submitted
 * one at a time to idle runners (each waits for the previous job to complete, then `gapMs`).
 */
export const pickup = async (
  bench: Bench,
  keys: Keys.Layout,
  tag: string,
  count: number,
  gapMs: number,
  deadlineMs = 60_000
) => {
  const samples: Array<number> = []
  for (let i = 0; i < count; i++) {
    const id = `${tag}-${i}`
    let committed: number | undefined
    let picked!: (ms: number) => void
    let done!: () => void
    const pickedUp = new Promise<number>((resolve) => {
      picked = resolve
    })
    const completed = new Promise<void>((resolve) => {
      done = resolve
    })
    const watcher = await watchPuts(bench.client, keys.job(id), (await revision(bench.client)) + 1, (kv, at) => {
      const key = kv.key.toString()
      if (key === keys.jobSpec(id)) committed = at.at
      else if (committed !== undefined && key.endsWith("/status")) {
        if ((JSON.parse(kv.value.toString()) as { status: string }).status !== "waiting") picked(at.at - committed)
      } else if (key === keys.jobState(id) && kv.value.toString().includes('"completed"')) done()
    })
    await bench.submitter.submit(keys, { id, tasks: [{ id: "a", type: "test/echo", input: 1 }] })
    samples.push(await within(pickedUp, deadlineMs, `pickup of ${id}`))
    await within(completed, deadlineMs, `completion of ${id}`)
    await watcher.cancel()
    await sleep(gapMs)
  }
  return { p50: percentile(samples, 50), p99: percentile(samples, 99) }
}

/** The quiet between pickups: each finds its runners (and etcd) idle. */
export const PICKUP_GAP_MS = 250

/**
 * Pickups per figure. Single pickups on this kind of machine spread from 0.2 to 10 ms, and the
 * median of 40 moved by ±0.5 ms from one run to the next; a median's spread shrinks with the square
 * root of the samples (to 0.63 of it with 100).
 */
export const PICKUP_SAMPLES = 100

/** Pickup on fresh runners, then again after a warm-up. */
export const pickupCase = async (bench: Bench) => {
  const keys = freshKeys("pickup")
  const runners = await start(bench, keys, "pickup", bench.runners)
  try {
    const cold = await pickup(bench, keys, "pickup", bench.n(PICKUP_SAMPLES), PICKUP_GAP_MS)
    await warmUp(bench, keys, "warm-up", bench.runners)
    return { cold, warm: await pickup(bench, keys, "pickup-warm", bench.n(PICKUP_SAMPLES), PICKUP_GAP_MS) }
  } finally {
    await stopAll(runners)
  }
}

/** A 1,000-task chain: the time between consecutive results, as the bench's watcher receives them. */
const chainLevels = async (bench: Bench, keys: Keys.Layout, id: string) => {
  const length = bench.n(1000)
  const arrivals: Array<number> = []
  let finished!: () => void
  const all = new Promise<void>((resolve) => {
    finished = resolve
  })
  const from = (await revision(bench.client)) + 1
  let failed: string | undefined
  const watcher = await watchPuts(bench.client, keys.tasks(id, "run"), from, (kv, at) => {
    if (!kv.key.toString().endsWith("/result")) return
    // a level that fails (and the ignored rest) ends fast: the figure would flatter a defect
    const { result } = JSON.parse(kv.value.toString()) as { result: string }
    if (result !== "success") failed ??= `${kv.key.toString()}: ${result}`
    arrivals.push(at.at)
    if (arrivals.length === length) finished()
  })
  try {
    await bench.submitter.submit(keys, chainTasks(id, length))
    await within(all, DEADLINE, `the last result of ${id}`)
  } finally {
    await watcher.cancel()
  }
  if (failed !== undefined) throw new Error(`the chain did not succeed: ${failed}`)
  const levels = arrivals.slice(1).map((t, i) => t - arrivals[i]!)
  return { p50: percentile(levels, 50), totalMs: arrivals[arrivals.length - 1]! - arrivals[0]! }
}

/** The chain on fresh runners, then again after a warm-up. */
export const chain = async (bench: Bench) => {
  const keys = freshKeys("chain")
  const runners = await start(bench, keys, "chain", bench.runners)
  try {
    const cold = await chainLevels(bench, keys, "chain")
    await warmUp(bench, keys, "warm-up", bench.runners)
    return { cold, warm: await chainLevels(bench, keys, "chain-warm") }
  } finally {
    await stopAll(runners)
  }
}

/** Two runners with a 2 s lease; the one running a long task is killed (SIGKILL); time until the other has it. */
export const takeover = async (bench: Bench) => {
  const keys = freshKeys("takeover")
  const ttlMs = 2000
  const runners = await start(bench, keys, "takeover", 2, `${ttlMs / 1000}s`)
  try {
    let holder: string | undefined
    let claimed!: (runner: string) => void
    let takenOver!: (at: number) => void
    const first = new Promise<string>((resolve) => {
      claimed = resolve
    })
    const second = new Promise<number>((resolve) => {
      takenOver = resolve
    })
    const statusKey = keys.task("kill", "run", "s", "status")
    const watcher = await watchPuts(bench.client, statusKey, (await revision(bench.client)) + 1, (kv, at) => {
      const status = JSON.parse(kv.value.toString()) as { status: string; runner?: string }
      if (status.status !== "running" || status.runner === undefined) return
      if (holder === undefined) {
        holder = status.runner
        claimed(status.runner)
      } else if (status.runner !== holder) takenOver(at.at)
    })
    await bench.submitter.submit(keys, { id: "kill", tasks: [{ id: "s", type: "test/sleep", input: { ms: 600_000 } }] })
    const victim = await within(first, 60_000, "the first claim")
    const killedAt = now()
    await runners.find((r) => r.id === victim)!.kill()
    const at = await within(second, 60_000, "the takeover")
    await watcher.cancel()
    return { ms: at - killedAt, ttlMs }
  } finally {
    await stopAll(runners)
  }
}
