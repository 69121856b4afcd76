/**
 * A job's progress for the dashboard's job list: tasks per phase by state
 * (waiting, running, and each result), plus the RTO. Counted from the task
 * records without decoding the task specs, so a list of large jobs stays cheap.
 *
 * @since 0.1.0
 */
import { type Keys, Store } from "@migrator/core"
import { Effect } from "effect"

export interface Counts {
  total: number
  waiting: number
  running: number
  success: number
  failed: number
  ignored: number
  canceled: number
  skipped: number
}

export interface Progress {
  readonly id: string
  readonly run: Counts
  readonly clear: Counts
}

const empty = (): Counts => ({
  total: 0,
  waiting: 0,
  running: 0,
  success: 0,
  failed: 0,
  ignored: 0,
  canceled: 0,
  skipped: 0
})

const field = (json: string, name: string): unknown => {
  try {
    const v = JSON.parse(json) as unknown
    return typeof v === "object" && v !== null ? (v as Record<string, unknown>)[name] : undefined
  } catch {
    return undefined
  }
}

const results = new Set(["success", "failed", "ignored", "canceled", "skipped"])

/** Counts the tasks of job `id` (an unknown job has no tasks). */
export const progress = (keys: Keys.Layout, id: string) =>
  Effect.gen(function* () {
    const store = yield* Store.Store
    const { kvs } = yield* store.range(keys.tasks(id))
    const tasks = new Map<string, { phase: "run" | "clear"; status?: unknown; result?: unknown }>()
    for (const kv of kvs) {
      const parsed = keys.parse(kv.key)
      if (parsed?._tag !== "task" || parsed.record === "claim") continue
      const slot = tasks.get(`${parsed.phase}/${parsed.task}`) ?? { phase: parsed.phase }
      tasks.set(`${parsed.phase}/${parsed.task}`, slot)
      if (parsed.record === "status") slot.status = field(kv.value, "status")
      else if (parsed.record === "result") slot.result = field(kv.value, "result")
    }
    const out: Progress = { id, run: empty(), clear: empty() }
    for (const t of tasks.values()) {
      const c = out[t.phase]
      c.total++
      if (typeof t.result === "string" && results.has(t.result)) c[t.result as keyof Counts]++
      else if (t.status === "running") c.running++
      else c.waiting++
    }
    return out
  })
