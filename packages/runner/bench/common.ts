/** Small helpers shared by the benchmark's cases: clocks, percentiles, rounding. */
import { setTimeout as delay } from "node:timers/promises"

/** Milliseconds on the monotonic clock. */
export const now = () => performance.now()

/** Microseconds on CLOCK_MONOTONIC: the clock of V8's `.cpuprofile` timestamps, so windows can be cut. */
export const monotonicUs = () => Number(process.hrtime.bigint() / 1000n)

export const sleep = (ms: number) => delay(ms)

export const percentile = (xs: ReadonlyArray<number>, p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN
}

/** The run of median `tasksPerSecond` (the lower one of an even count): its other figures come with it. */
export const medianRun = <A extends { readonly tasksPerSecond: number }>(runs: ReadonlyArray<A>): A =>
  [...runs].sort((a, b) => a.tasksPerSecond - b.tasksPerSecond)[Math.floor((runs.length - 1) / 2)]!

export const round = (x: number, digits = 2) => Number(x.toFixed(digits))

/** Races a promise against a deadline, naming what was awaited (a stuck case fails instead of hanging). */
export const within = async <A>(promise: Promise<A>, ms: number, what: string): Promise<A> => {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${Math.round(ms / 1000)} s`)), ms)
  })
  try {
    return await Promise.race([promise, deadline])
  } finally {
    clearTimeout(timer)
  }
}
