/**
 * Invariants of the simulation checked from the store, not from the engine's
 * own word: claims held without an execution behind them (sampled while the
 * simulation runs), results written twice (from the full history), and
 * results that give up on a retryable failure with attempts left.
 */
import type { Jobs, Keys, Store } from "@migrator/core"
import { Effect } from "effect"

export interface ClaimSample {
  /** The live store contents under the prefix (read without faults). */
  readonly kvs: ReadonlyArray<Store.KeyValue>
  readonly now: number
  /** Runners that are neither crashed nor stopping. */
  readonly live: ReadonlySet<string>
}

/**
 * No live runner holds a claim on a task it is not executing for longer than `ttlMs`: a
 * claim whose answer was lost, or taken before waiting for a permit, is exactly that.
 * A shared task waiting for another job's creation or deletion of its resource is executing.
 * Time the store is down does not count: no runner can execute, resume or release anything then.
 * `permitWaits` tolerates claims of tasks with a target (today's engine takes its per-target
 * permits after the claim, so they wait claimed behind tasks that hold a permit).
 */
export const makeIdleClaims = (options: {
  readonly keys: Keys.Layout
  readonly ttlMs: number
  readonly activity: (claim: string) => { readonly busy: boolean; readonly lastBusy: number | undefined }
  readonly runningOn: (runner: string) => ReadonlyArray<string>
  readonly permitWaits: boolean
  /** Milliseconds the store was down (an outage) between two instants: nobody can act then. */
  readonly unavailableMs: (from: number, to: number) => number
  /** The shared key of a task, if any, and whether a job has a target (from the jobs as generated). */
  readonly sharedOf: (job: string, phase: string, task: string) => string | undefined
  readonly targeted: (job: string) => boolean
  /** A value in the store now, without faults. */
  readonly read: (key: string) => Effect.Effect<string | undefined>
  readonly violations: Array<string>
}) => {
  const firstSeen = new Map<string, number>()
  // reported claims not yet gone -> index of their violation, completed with their fate
  const reported = new Map<string, number>()
  const gone = new Set<string>()
  let worst = 0
  const sample = ({ kvs, now, live }: ClaimSample) =>
    Effect.gen(function* () {
      const present = new Set<string>()
      for (const kv of kvs) {
        // most keys are not claims: the cheap test first
        if (!kv.key.endsWith("/claim") || !live.has(kv.value)) continue
        const parsed = options.keys.parse(kv.key)
        if (parsed?._tag !== "task" || parsed.record !== "claim") continue
        const claim = `${parsed.job}/${parsed.phase}/${parsed.task}@${kv.createRevision}`
        present.add(claim)
        const seen = firstSeen.get(claim) ?? now
        firstSeen.set(claim, seen)
        const { busy, lastBusy } = options.activity(claim)
        let waiting = busy
        const sharedKey = options.sharedOf(parsed.job, parsed.phase, parsed.task)
        if (sharedKey !== undefined && !waiting) {
          const record = yield* options.read(options.keys.shared(sharedKey))
          const { state, job } = record === undefined ? { state: "", job: "" } : JSON.parse(record)
          waiting = (state === "creating" || state === "deleting") && job !== parsed.job
        }
        if (options.permitWaits && !waiting) waiting = options.targeted(parsed.job)
        if (waiting) {
          firstSeen.set(claim, now)
          continue
        }
        const since = Math.max(seen, lastBusy ?? seen)
        const idle = now - since - options.unavailableMs(since, now)
        worst = Math.max(worst, idle)
        if (idle > options.ttlMs && !reported.has(claim) && !gone.has(claim)) {
          reported.set(claim, options.violations.length)
          options.violations.push(
            `${kv.value} holds the claim ${claim} without executing it for ${idle} ms at ${now} ms (${lastBusy === undefined ? "never executed" : `last execution ended at ${lastBusy} ms`}; it executes ${options.runningOn(kv.value).join(", ") || "nothing"})`
          )
        }
      }
      for (const [claim, at] of reported) {
        if (present.has(claim)) continue
        options.violations[at] += `, released at ${now} ms`
        reported.delete(claim)
        gone.add(claim)
      }
    })
  const end = () => {
    for (const at of reported.values()) options.violations[at] += ", still held at the end"
  }
  return { sample, end, worst: () => worst }
}

/** Results written twice from the full history of the prefix. */
export const overwrittenResults = (keys: Keys.Layout, history: ReadonlyArray<Store.WatchEvent>) => {
  const violations: Array<string> = []
  const present = new Set<string>()
  for (const e of history) {
    const key = e._tag === "put" ? e.kv.key : e.key
    const parsed = keys.parse(key)
    if (parsed?._tag !== "task" || parsed.record !== "result") continue
    if (e._tag === "delete") present.delete(key)
    else {
      if (present.has(key)) violations.push(`result ${key} overwritten at revision ${e.revision}`)
      present.add(key)
    }
  }
  return violations
}

/**
 * A task that failed retryably must have used every attempt of its policy; `shared` says
 * whether shared tasks are held to it too (issue 11: today they are never retried).
 */
export const retriesUsed = (
  job: string,
  tasks: ReadonlyArray<Jobs.TaskView>,
  maxAttempts: (type: string) => number,
  shared: boolean
) => {
  const violations: Array<string> = []
  for (const t of tasks) {
    const r = t.result
    if (r === undefined || r.result !== "failed" || r.retryable !== true) continue
    if (t.spec.shared !== undefined && !shared) continue
    const max = t.spec.retry?.maxAttempts ?? maxAttempts(t.spec.type)
    if (r.attempt < max) {
      violations.push(
        `${job}/${t.spec.phase}/${t.spec.id}${t.spec.shared === undefined ? "" : ` (shared ${t.spec.shared})`} failed for good on attempt ${r.attempt} of ${max} with a retryable error: ${r.reason?.code}: ${r.reason?.message}`
      )
    }
  }
  return violations
}
