/**
 * Job documents for the chaos test: a random DAG of `test/echo` and
 * `test/sleep` tasks with references between them, some tasks creating
 * resources shared between jobs, and a clear phase undoing every run task in
 * reverse dependency order (shared clear tasks carry the same key).
 */
import type { Rng } from "./random.ts"

export interface ChaosJob {
  readonly id: string
  readonly document: unknown
  /** Run tasks by shared key they carry. */
  readonly shared: ReadonlyMap<string, string>
  readonly runTasks: number
  readonly clearTasks: number
  /** Whether the controller rolls this job back once it completed. */
  readonly rollback: boolean
}

interface Entry {
  id: string
  type: "test/echo" | "test/sleep"
  dependencies: Array<string>
  input: unknown
  shared?: string
  retry: { maxAttempts: number; baseDelayMs: number }
}

// attempts survive takeovers: with runners killed every few seconds a task may need many
const retry = { maxAttempts: 100, baseDelayMs: 50 }

export const makeJob = (
  rng: Rng,
  id: string,
  options: { readonly sharedPool: ReadonlyArray<string>; readonly minTasks: number; readonly maxTasks: number }
): ChaosJob => {
  const n = rng.int(options.minTasks, options.maxTasks)
  const tasks: Array<Entry> = []
  const shared = new Map<string, string>()
  // a few shared resources per job, each at most once per job
  const keys = options.sharedPool.filter(() => rng.chance(0.5))
  const pointer = (t: Entry) => (t.type === "test/echo" ? "/k" : "/slept")
  for (let k = 0; k < n; k++) {
    const id = `t${k}`
    const deps = new Set<string>()
    if (k > 0) {
      const count = rng.int(0, Math.min(3, k))
      for (let d = 0; d < count; d++) deps.add(`t${rng.int(Math.max(0, k - 12), k - 1)}`)
    }
    const dependencies = [...deps]
    const key = keys[k] // the first tasks of the job are the shared creators
    if (key === undefined && rng.chance(0.5)) {
      tasks.push({ id, type: "test/sleep", dependencies, input: { ms: rng.int(100, 1500) }, retry })
    } else {
      const up = dependencies.map((d) => {
        const t = tasks.find((x) => x.id === d)!
        return { $ref: `${d}#${pointer(t)}` }
      })
      tasks.push({
        id,
        type: "test/echo",
        dependencies,
        input: key === undefined ? { k, up } : { k, resource: key, up },
        ...(key === undefined ? {} : { shared: key }),
        retry
      })
      if (key !== undefined) shared.set(key, id)
    }
  }
  const dependents = new Map<string, Array<string>>()
  for (const t of tasks) for (const d of t.dependencies) dependents.set(d, [...(dependents.get(d) ?? []), t.id])
  const clearTasks = tasks.map((t) => ({
    id: `undo-${t.id}`,
    type: "test/echo",
    undoes: t.id,
    dependencies: (dependents.get(t.id) ?? []).map((d) => `undo-${d}`),
    input: { undo: t.id, created: { $ref: `${t.id}#${pointer(t)}` } },
    ...(t.shared === undefined ? {} : { shared: t.shared }),
    retry
  }))
  return {
    id,
    document: { id, labels: { test: "chaos" }, tasks, clearTasks },
    shared,
    runTasks: tasks.length,
    clearTasks: clearTasks.length,
    rollback: rng.chance(0.6)
  }
}
