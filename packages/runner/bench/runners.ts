/**
 * `migrator run` processes, as operators deploy them: the `migrator` bin running the esbuild bundle,
 * each in its own process, so its CPU and memory are its own. Every process is tracked by PID and
 * stopped by it; `--cpu-prof` makes each one write a `.cpuprofile` when it exits after SIGTERM.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import type { Keys } from "@migrator/core"
import type { Etcd3 } from "etcd3"
import { now, within } from "./common.ts"
import { revision, watchPuts } from "./etcd.ts"

const bin = new URL("../bin/migrator.js", import.meta.url).pathname
export const bundle = new URL("../dist/migrator.mjs", import.meta.url).pathname
const packages = new URL("../../", import.meta.url).pathname

const newestSource = () => {
  let newest = 0
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`
      if (entry.isDirectory()) walk(path)
      else newest = Math.max(newest, statSync(path).mtimeMs)
    }
  }
  for (const name of readdirSync(packages)) if (existsSync(`${packages}${name}/src`)) walk(`${packages}${name}/src`)
  return newest
}

/** The bin falls back to tsx when the bundle is stale: that would measure a runner nobody deploys. */
export const assertBundleFresh = () => {
  if (!existsSync(bundle) || statSync(bundle).mtimeMs <= newestSource()) {
    throw new Error(
      "the runner bundle (packages/runner/dist/migrator.mjs) is missing or older than the sources: " +
        "run `pnpm bench`, which bundles first, or `pnpm --filter @migrator/runner run bundle`"
    )
  }
}

/** `--concurrency` of the bench's runner processes: tasks each runs at once. */
export const RUNNER_CONCURRENCY = 64

export interface RunnerOptions {
  readonly endpoint: string
  readonly keys: Keys.Layout
  readonly id: string
  readonly concurrency?: number
  readonly leaseTtl?: string
  /** Serve the job API and the dashboard on this host:port. */
  readonly http?: string | undefined
  /** V8's old-space limit of the process (`--max-old-space-size`), MiB: V8 grows its heap lazily up to it. */
  readonly heapMb?: number | undefined
  /** Node or V8 flags of the process (`--runner-node-flags`), before the binary. */
  readonly nodeFlags?: ReadonlyArray<string> | undefined
  /** Write a CPU profile named `name` into `dir` when the process exits. */
  readonly profile?: { readonly dir: string; readonly name: string } | undefined
  /** The plugins it serves (`--plugins`); `test` (the bench's task types) by default. */
  readonly plugins?: string | undefined
  /** Its in-memory warm-up before it joins (`--warm-up-tasks`); the runner's default when undefined. */
  readonly warmUpTasks?: number | undefined
  /** Its warm-up on etcd after that (`--warm-up-store-tasks`); the runner's default when undefined. */
  readonly warmUpStoreTasks?: number | undefined
}

export interface RunnerProcess {
  readonly id: string
  readonly pid: number
  /** User + system CPU seconds so far. */
  readonly cpuSeconds: () => number
  /** The same, of the main (JavaScript) thread alone: without V8's and libuv's helper threads. */
  readonly mainThreadCpuSeconds: () => number
  /** Peak resident memory so far (Linux `VmHWM`), MiB. */
  readonly peakRssMb: () => number
  /** Resident memory now (Linux `VmRSS`), MiB. */
  readonly rssMb: () => number
  /** SIGTERM, then waits for the graceful exit (which writes the CPU profile); SIGKILL after 30 s. */
  readonly stop: () => Promise<void>
  /** SIGKILL, as a crash. */
  readonly kill: () => Promise<void>
  /** The last lines the process wrote to stderr. */
  readonly stderr: () => string
  /** What its warm-up took by its own log, ms; undefined before it logged it (or with none). */
  readonly warmUpMs: () => number | undefined
  /** Its warm-up on etcd, by its log. */
  readonly storeWarmUpMs: () => number | undefined
  /** Seconds from its spawn to its registration; set by `startRunners`. */
  startSeconds: number
}

const live = new Map<number, ChildProcess>()

/** Kills every runner still alive by its PID (on exit or interruption of the bench). */
export const killAll = () => {
  for (const pid of live.keys()) {
    try {
      process.kill(pid, "SIGKILL")
    } catch {
      // already gone
    }
  }
  live.clear()
}

const CLOCK_TICKS = 100

/** utime + stime of a live process from `/proc/<pid>/stat`, in seconds (0 once it is gone). */
export const processCpuSeconds = (pid: number) => cpuSecondsOf(`/proc/${pid}/stat`)

const cpuSecondsOf = (file: string) => {
  try {
    const stat = readFileSync(file, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS
  } catch {
    return 0
  }
}

/** CPU seconds of some runner processes together (all their threads). */
export const runnersCpuSeconds = (runners: ReadonlyArray<RunnerProcess>) =>
  runners.reduce((sum, r) => sum + r.cpuSeconds(), 0)

/** The machine's CPU time since boot, all cores: busy and idle (iowait counts as idle), in clock ticks. */
export const machineCpu = () => {
  const fields = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1).map(Number)
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0)
  const total = fields.slice(0, 8).reduce((sum, v) => sum + v, 0)
  return { idle, total }
}

/** The share of the machine's CPU time that was busy between two readings of `machineCpu`. */
export const busyShare = (from: ReturnType<typeof machineCpu>, to: ReturnType<typeof machineCpu>) =>
  to.total === from.total ? Number.NaN : 1 - (to.idle - from.idle) / (to.total - from.total)

const statusMb = (pid: number, field: "VmHWM" | "VmRSS") => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8")
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? Number.NaN) / 1024
}

export const spawnRunner = (options: RunnerOptions): RunnerProcess => {
  const profile = options.profile
  const args = [
    ...(options.heapMb === undefined ? [] : [`--max-old-space-size=${options.heapMb}`]),
    ...(options.nodeFlags ?? []),
    ...(profile === undefined
      ? []
      : ["--cpu-prof", `--cpu-prof-dir=${profile.dir}`, `--cpu-prof-name=${profile.name}.cpuprofile`]),
    bin,
    "run",
    "--plugins",
    options.plugins ?? "test",
    "--runner-id",
    options.id,
    "--etcd",
    options.endpoint,
    "--prefix",
    options.keys.prefix,
    "--concurrency",
    String(options.concurrency ?? RUNNER_CONCURRENCY),
    ...(options.leaseTtl === undefined ? [] : ["--lease-ttl", options.leaseTtl]),
    ...(options.http === undefined ? [] : ["--http", options.http]),
    ...(options.warmUpTasks === undefined ? [] : ["--warm-up-tasks", String(options.warmUpTasks)]),
    ...(options.warmUpStoreTasks === undefined ? [] : ["--warm-up-store-tasks", String(options.warmUpStoreTasks)])
  ]
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"], env })
  const pid = child.pid!
  live.set(pid, child)
  let tail = ""
  let warmUpMs: number | undefined
  let storeWarmUpMs: number | undefined
  child.stderr?.on("data", (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4000)
    warmUpMs ??= Number(/warmed up: \d+ no-op tasks in (\d+) ms/.exec(tail)?.[1] ?? Number.NaN) || undefined
    storeWarmUpMs ??=
      Number(/warmed up on etcd: \d+ no-op tasks in (\d+) ms/.exec(tail)?.[1] ?? Number.NaN) || undefined
  })
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  void exited.then(() => live.delete(pid))
  const signal = async (name: NodeJS.Signals, graceMs: number) => {
    if (child.exitCode !== null || child.signalCode !== null) return
    process.kill(pid, name)
    await within(exited, graceMs, `runner ${options.id} exiting on ${name}`).catch(() => {
      process.kill(pid, "SIGKILL")
      return exited
    })
  }
  return {
    id: options.id,
    pid,
    cpuSeconds: () => processCpuSeconds(pid),
    mainThreadCpuSeconds: () => cpuSecondsOf(`/proc/${pid}/task/${pid}/stat`),
    peakRssMb: () => statusMb(pid, "VmHWM"),
    rssMb: () => statusMb(pid, "VmRSS"),
    stop: () => signal("SIGTERM", 30_000),
    kill: () => signal("SIGKILL", 10_000),
    stderr: () => tail,
    warmUpMs: () => warmUpMs,
    storeWarmUpMs: () => storeWarmUpMs,
    startSeconds: Number.NaN
  }
}

/**
 * Starts `count` runners on `keys` and waits until each has registered (its key under `runners/`),
 * so a case's clock starts with runners that are up, as in a running deployment.
 */
export const startRunners = async (
  client: Etcd3,
  base: Omit<RunnerOptions, "id" | "profile">,
  ids: ReadonlyArray<string>,
  profileDir: string | undefined
): Promise<ReadonlyArray<RunnerProcess>> => {
  const from = await revision(client)
  const waiting = new Set(ids.map((id) => base.keys.runner(id)))
  let registered!: () => void
  const all = new Promise<void>((resolve) => {
    registered = resolve
  })
  const spawnedAt = now()
  const runners = ids.map((id) =>
    spawnRunner({ ...base, id, profile: profileDir === undefined ? undefined : { dir: profileDir, name: id } })
  )
  const watcher = await watchPuts(client, base.keys.runners, from + 1, (kv) => {
    const key = kv.key.toString()
    const runner = runners.find((r) => base.keys.runner(r.id) === key)
    if (runner !== undefined && waiting.has(key)) runner.startSeconds = (now() - spawnedAt) / 1000
    waiting.delete(key)
    if (waiting.size === 0) registered()
  })
  try {
    await within(all, 60_000, `registration of runners ${ids.join(", ")}`)
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${runners.map((r) => `${r.id}: ${r.stderr()}`).join("\n")}`)
  } finally {
    await watcher.cancel()
  }
  return runners
}
