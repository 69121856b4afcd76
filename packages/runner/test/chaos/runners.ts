/**
 * `migrator run` processes for the chaos test: each slot runs one process at
 * a time (a new runner id per incarnation), its output appended to a log file;
 * processes are stopped by PID only.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { closeSync, openSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

const bin = fileURLToPath(new URL("../../bin/migrator.js", import.meta.url))

export interface RunnerSlot {
  readonly index: number
  generation: number
  /** When the current process was spawned (ms since the epoch). */
  startedAt: number
  child: ChildProcess | undefined
  readonly log: string
}

export interface StopResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly ms: number
}

const alive = (c: ChildProcess | undefined): c is ChildProcess =>
  c?.pid !== undefined && c.exitCode === null && c.signalCode === null

export const makeRunners = (options: {
  readonly count: number
  readonly dir: string
  readonly args: ReadonlyArray<string>
}) => {
  const slots: Array<RunnerSlot> = Array.from({ length: options.count }, (_, index) => ({
    index,
    generation: 0,
    startedAt: 0,
    child: undefined,
    log: join(options.dir, `runner-${index}.log`)
  }))

  const start = (i: number) => {
    const slot = slots[i]!
    if (alive(slot.child)) return
    slot.generation++
    const fd = openSync(slot.log, "a")
    const child = spawn(
      process.execPath,
      [bin, "run", "--plugins", "test", "--runner-id", `r${i}.${slot.generation}`, ...options.args],
      { stdio: ["ignore", fd, fd] }
    )
    closeSync(fd)
    slot.child = child
    slot.startedAt = Date.now()
  }

  /** Sends `signal` and waits for the exit (SIGKILL after `ms` if it does not come). */
  const stop = (i: number, signal: NodeJS.Signals, ms = 20_000) =>
    new Promise<StopResult | undefined>((resolve) => {
      const child = slots[i]!.child
      if (!alive(child)) return resolve(undefined)
      const began = Date.now()
      const timer = setTimeout(() => child.kill("SIGKILL"), ms)
      child.once("exit", (code, sig) => {
        clearTimeout(timer)
        resolve({ code, signal: sig, ms: Date.now() - began })
      })
      child.kill(signal)
    })

  /** Sends a signal without waiting (SIGSTOP/SIGCONT freeze and thaw a process). */
  const signal = (i: number, sig: NodeJS.Signals) => {
    const child = slots[i]!.child
    if (alive(child)) child.kill(sig)
  }

  return {
    slots,
    start,
    stop,
    signal,
    running: (i: number) => alive(slots[i]!.child),
    /** Whether the current process has logged its start (its signal handlers are installed by then). */
    ready: (i: number) => {
      const slot = slots[i]!
      return alive(slot.child) && safeRead(slot.log).includes(`migrator runner r${i}.${slot.generation} `)
    },
    alive: () => slots.filter((s) => alive(s.child)).length,
    stopAll: () => Promise.all(slots.map((_, i) => stop(i, "SIGKILL"))),
    logs: () => slots.map((s) => ({ index: s.index, text: safeRead(s.log) }))
  }
}

const safeRead = (path: string) => {
  try {
    return readFileSync(path, "utf8")
  } catch {
    return ""
  }
}
