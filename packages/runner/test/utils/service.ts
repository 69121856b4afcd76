import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { freePort } from "@migrator/etcd-store/testing"

const bin = fileURLToPath(new URL("../../bin/migrator.js", import.meta.url))

export interface Service {
  readonly child: ChildProcess
  readonly base: string
  /** Everything the process wrote to stdout and stderr so far. */
  readonly output: () => string
  readonly stop: (signal?: NodeJS.Signals) => Promise<void>
}

/** Waits for `check` to hold, trying every 50 ms (a condition, not a guess of how long things take). */
export const until = async <A>(
  what: string,
  check: () => Promise<A | undefined | false>,
  timeoutMs = 60_000
): Promise<A> => {
  const deadline = Date.now() + timeoutMs
  let last: unknown
  for (;;) {
    try {
      const v = await check()
      if (v !== undefined && v !== false) return v
    } catch (e) {
      last = e
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last === undefined ? "" : `: ${last}`}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/** Starts `migrator run --http 127.0.0.1:<free port> …` and waits until /healthz answers. */
export const startService = async (args: ReadonlyArray<string>, env: Record<string, string> = {}): Promise<Service> => {
  const port = await freePort()
  const child = spawn(process.execPath, [bin, "run", "--http", `127.0.0.1:${port}`, ...args], {
    env: { ...process.env, ...env }
  })
  let output = ""
  child.stdout.on("data", (d) => {
    output += d
  })
  child.stderr.on("data", (d) => {
    output += d
  })
  const base = `http://127.0.0.1:${port}`
  const stop = (signal: NodeJS.Signals = "SIGTERM") =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once("exit", () => resolve())
      child.kill(signal)
    })
  try {
    await until("the runner's /healthz", async () => {
      if (child.exitCode !== null) throw new Error(`runner exited ${child.exitCode}: ${output}`)
      return (await fetch(`${base}/healthz`)).ok
    })
  } catch (e) {
    await stop("SIGKILL")
    throw e
  }
  return { child, base, output: () => output, stop }
}

export interface PromSample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

/** A small parser of the Prometheus text format: every sample, and the declared TYPE of each family. */
export const parsePrometheus = (text: string) => {
  const types = new Map<string, string>()
  const samples: Array<PromSample> = []
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue
    if (line.startsWith("#")) {
      const m = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line)
      if (m !== null) types.set(m[1]!, m[2]!)
      else if (!/^# HELP \S+ /.test(line)) throw new Error(`bad comment line: ${line}`)
      continue
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null) throw new Error(`bad sample line: ${line}`)
    const labels: Record<string, string> = {}
    const body = m[2] ?? ""
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/g
    let consumed = 0
    for (let l = re.exec(body); l !== null; l = re.exec(body)) {
      labels[l[1]!] = l[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\")
      consumed = re.lastIndex
    }
    if (consumed !== body.length) throw new Error(`bad labels: ${line}`)
    const raw = m[3]!
    const value = raw === "+Inf" ? Number.POSITIVE_INFINITY : raw === "-Inf" ? Number.NEGATIVE_INFINITY : Number(raw)
    if (Number.isNaN(value) && raw !== "NaN") throw new Error(`bad value: ${line}`)
    const name = m[1]!
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, "")
    if (!types.has(family)) throw new Error(`sample of an undeclared family: ${line}`)
    samples.push({ name, labels, value })
  }
  /** The sum of the samples named `name` whose labels include `labels`. */
  const value = (name: string, labels: Readonly<Record<string, string>> = {}) =>
    samples
      .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
      .reduce((sum, s) => sum + s.value, 0)
  return { types, samples, value }
}
