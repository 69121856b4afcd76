/**
 * A large job's counts per phase and state, kept current from the store's
 * watch: one scan notes each task's status and result (a small number per
 * task, no spec), then every status or result change moves one task from
 * one count to another. What `job watch` and the job stream of the API
 * follow a 100,000-task job with, instead of re-reading it at each change.
 *
 * @since 0.3.0
 */
import { Effect } from "effect"
import type * as Keys from "./Keys.ts"
import type { WatchEvent } from "./Store.ts"
import type { Phase } from "./Task.ts"
import { type Counts, emptyCounts, field, type Group, type JobCounts, scan } from "./TaskPages.ts"

const STATUSES = ["waiting", "running", "done"] as const
const RESULTS = ["success", "failed", "ignored", "canceled", "skipped"] as const
type CountedState = Exclude<keyof Counts, "total">

/** status index (2 bits) + 4 × (result index + 1, 0: none) */
const pack = (status: number, result: number) => status | (result << 2)
const stateOf = (packed: number): CountedState => {
  const result = packed >> 2
  if (result > 0) return RESULTS[result - 1]!
  return (packed & 3) === 1 ? "running" : "waiting"
}
const statusIndex = (v: unknown) => Math.max(0, STATUSES.indexOf(v as (typeof STATUSES)[number]))
const resultIndex = (v: unknown) => RESULTS.indexOf(v as (typeof RESULTS)[number]) + 1

export interface Tally {
  readonly counts: JobCounts
  /** Applies one watch event of the job; true when a count changed. */
  readonly apply: (event: WatchEvent) => boolean
}

const make = (keys: Keys.Layout, id: string, tasks: Map<string, number>, counts: JobCounts): Tally => {
  const prefix = keys.tasks(id)
  return {
    counts,
    apply: (event) => {
      const key = event._tag === "put" ? event.kv.key : event.key
      if (!key.startsWith(prefix)) return false
      const record = key.slice(key.lastIndexOf("/") + 1)
      if (record !== "status" && record !== "result") return false
      const task = key.slice(prefix.length, key.lastIndexOf("/"))
      const phase: Phase = task.startsWith("run/") ? "run" : "clear"
      const before = tasks.get(task)
      // a task the scan did not see (written after it) is counted from its first record
      let packed = before ?? 0
      if (record === "status") {
        packed = event._tag === "put" ? pack(statusIndex(field(event.kv.value, "status")), packed >> 2) : packed
      } else {
        packed = pack(packed & 3, event._tag === "put" ? resultIndex(field(event.kv.value, "result")) : 0)
      }
      tasks.set(task, packed)
      const c = counts[phase]
      if (before === undefined) {
        c.total++
        c[stateOf(packed)]++
        return true
      }
      const was = stateOf(before)
      const is = stateOf(packed)
      if (was === is) return false
      c[was]--
      c[is]++
      return true
    }
  }
}

/** Builds a tally from the tasks of a scan made for something else (e.g. `TaskPages.summary`), one at a time. */
export const builder = (keys: Keys.Layout, id: string) => {
  const tasks = new Map<string, number>()
  const counts: JobCounts = { run: emptyCounts(), clear: emptyCounts() }
  return {
    add: (g: Group) => {
      let status = 0
      let result = 0
      for (const kv of g.kvs) {
        if (kv.key.endsWith("/status")) status = statusIndex(field(kv.value, "status"))
        else if (kv.key.endsWith("/result")) result = resultIndex(field(kv.value, "result"))
      }
      const packed = pack(status, result)
      tasks.set(`${g.phase}/${g.task}`, packed)
      counts[g.phase].total++
      counts[g.phase][stateOf(packed)]++
    },
    tally: (): Tally => make(keys, id, tasks, counts)
  }
}

/** Scans job `id`'s tasks once (their specs are read, not decoded) and returns the live tally. */
export const tally = Effect.fn("TaskTally.tally")(function* (keys: Keys.Layout, id: string) {
  const b = builder(keys, id)
  yield* scan(keys, id, undefined, 20_000, (g) => {
    b.add(g)
    return true
  })
  return b.tally()
})
