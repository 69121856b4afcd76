/**
 * Invariants checked after the chaos run, from the store's full history (every
 * revision of the prefix, etcd keeps them until compaction) and its final
 * contents:
 *
 * - every task result is written once (a result put twice means two effective executors), and
 *   every successful one in the same transaction that released the claim it was fenced on;
 * - every job changes to completed (and to cleared) exactly once;
 * - at every revision that touches a shared record, its holders are exactly the jobs whose
 *   run task for it succeeded and whose clear task has not released it yet; in particular a
 *   shared record is never deleted while a job holds it;
 * - at the end, holders are the jobs that succeeded and were not rolled back.
 */
import { Keys, type Store } from "@migrator/core"
import type { ChaosJob } from "./jobs.ts"

export interface Findings {
  readonly violations: Array<string>
  readonly resultWrites: number
  readonly takeovers: number
  readonly attemptFailures: number
  readonly sharedDeletes: number
  readonly sharedUpdates: number
  readonly events: number
}

const sameSet = (a: ReadonlyArray<string>, b: ReadonlySet<string>) =>
  a.length === b.size && new Set(a).size === a.length && a.every((x) => b.has(x))

export const checkHistory = (
  prefix: string,
  history: ReadonlyArray<Store.WatchEvent>,
  jobs: ReadonlyArray<ChaosJob>
): Findings => {
  const keys = Keys.make(prefix)
  const violations: Array<string> = []
  const byId = new Map(jobs.map((j) => [j.id, j]))
  const resultPuts = new Map<string, Array<number>>()
  const succeededEvents = new Map<string, number>()
  const stateEvents = new Map<string, Array<string>>()
  // a result of an execution commits with the release of the claim it was fenced on
  const claimReleases = new Set<string>()
  const executed: Array<string> = []
  const states = new Map<string, Array<string>>()
  let takeovers = 0
  let attemptFailures = 0
  let events = 0
  // per shared key: job -> revision its run result (holder added) / clear result (holder removed) committed
  const acquired = new Map<string, Map<string, number>>()
  const released = new Map<string, Map<string, number>>()
  const sharedChanges: Array<{
    key: string
    revision: number
    holders: ReadonlyArray<string> | undefined
    releasing: string | undefined
  }> = []

  for (const e of history) {
    const key = e._tag === "put" ? e.kv.key : e.key
    if (key.startsWith(keys.sharedPrefix)) {
      const shared = decodeURIComponent(key.slice(keys.sharedPrefix.length))
      const record =
        e._tag === "put"
          ? (JSON.parse(e.kv.value) as { holders: ReadonlyArray<string>; state: string; job: string })
          : undefined
      sharedChanges.push({
        key: shared,
        revision: e.revision,
        holders: record?.holders,
        // the last holder marks the record deleting before its clear task's result releases it
        releasing: record?.state === "deleting" ? record.job : undefined
      })
      continue
    }
    const parsed = keys.parse(key)
    if (parsed?._tag === "task" && parsed.record === "claim" && e._tag === "delete") {
      claimReleases.add(`${parsed.job}/${parsed.phase}/${parsed.task}@${e.revision}`)
    }
    if (parsed === undefined || e._tag !== "put") continue
    if (parsed._tag === "event") {
      events++
      const ev = JSON.parse(e.kv.value) as { type: string; taskId?: string; phase?: string; runner?: string }
      if (ev.type === "task.retried") takeovers++
      if (ev.type === "task.attempt-failed") attemptFailures++
      if (ev.type === "task.succeeded") {
        const k = `${parsed.job}/${ev.phase}/${ev.taskId}`
        succeededEvents.set(k, (succeededEvents.get(k) ?? 0) + 1)
      }
      if (ev.type === "job.completed" || ev.type === "job.cleared" || ev.type === "job.clear-failed") {
        const k = `${parsed.job} ${ev.type}`
        stateEvents.set(k, [...(stateEvents.get(k) ?? []), `${e.revision} by ${ev.runner ?? "?"}`])
      }
      continue
    }
    if (parsed._tag === "jobState") {
      const st = JSON.parse(e.kv.value) as { state: string }
      states.set(parsed.job, [...(states.get(parsed.job) ?? []), `${st.state}@${e.revision}`])
    }
    if (parsed._tag !== "task" || parsed.record !== "result") continue
    const k = `${parsed.job}/${parsed.phase}/${parsed.task}`
    resultPuts.set(k, [...(resultPuts.get(k) ?? []), e.revision])
    const job = byId.get(parsed.job)
    if (job === undefined) continue
    const result = (JSON.parse(e.kv.value) as { result: string }).result
    if (result === "success") executed.push(`${k}@${e.revision}`)
    for (const [shared, task] of job.shared) {
      if (parsed.phase === "run" && parsed.task === task && result === "success") {
        const m = acquired.get(shared) ?? new Map<string, number>()
        m.set(job.id, e.revision)
        acquired.set(shared, m)
      }
      if (
        parsed.phase === "clear" &&
        parsed.task === `undo-${task}` &&
        (result === "success" || result === "skipped")
      ) {
        const m = released.get(shared) ?? new Map<string, number>()
        m.set(job.id, e.revision)
        released.set(shared, m)
      }
    }
  }

  for (const at of executed) {
    if (!claimReleases.has(at)) violations.push(`result ${at} was not written with the release of its claim`)
  }
  for (const [k, revisions] of resultPuts) {
    if (revisions.length > 1)
      violations.push(`result of ${k} written ${revisions.length} times (revisions ${revisions})`)
  }
  for (const [k, n] of succeededEvents) if (n > 1) violations.push(`task.succeeded logged ${n} times for ${k}`)
  for (const [k, at] of stateEvents) {
    if (at.length > 1) {
      violations.push(
        `${k} logged ${at.length} times (${at.join(", ")}); states ${states.get(k.split(" ")[0]!)?.join(" ")}`
      )
    }
  }

  const holdersAt = (shared: string, revision: number) => {
    const out = new Set<string>()
    for (const [job, at] of acquired.get(shared) ?? []) {
      const gone = released.get(shared)?.get(job)
      if (at <= revision && (gone === undefined || gone > revision)) out.add(job)
    }
    return out
  }
  let sharedDeletes = 0
  for (const c of sharedChanges) {
    const expected = holdersAt(c.key, c.revision)
    if (c.releasing !== undefined) expected.delete(c.releasing)
    if (c.holders === undefined) {
      sharedDeletes++
      if (expected.size > 0) {
        violations.push(`shared ${c.key} deleted at revision ${c.revision} while held by ${[...expected].join(", ")}`)
      }
    } else if (!sameSet(c.holders, expected)) {
      violations.push(
        `shared ${c.key} at revision ${c.revision}: holders [${c.holders.join(", ")}], expected [${[...expected].join(", ")}]`
      )
    }
  }

  // every result of every task written: run tasks always, clear tasks exactly for rolled-back jobs
  for (const job of jobs) {
    for (let k = 0; k < job.runTasks; k++) {
      if (!resultPuts.has(`${job.id}/run/t${k}`)) violations.push(`${job.id}: run task t${k} has no result`)
      const cleared = resultPuts.has(`${job.id}/clear/undo-t${k}`)
      if (cleared !== job.rollback) {
        violations.push(`${job.id}: clear task undo-t${k} ${cleared ? "ran without a rollback" : "has no result"}`)
      }
    }
  }

  return {
    violations,
    resultWrites: [...resultPuts.values()].reduce((n, r) => n + r.length, 0),
    takeovers,
    attemptFailures,
    sharedDeletes,
    sharedUpdates: sharedChanges.length - sharedDeletes,
    events
  }
}

/** Holders each shared record must have at the end: the jobs whose run task for it succeeded, not rolled back. */
export const expectedHolders = (jobs: ReadonlyArray<ChaosJob>) => {
  const out = new Map<string, Set<string>>()
  for (const job of jobs) {
    for (const shared of job.shared.keys()) {
      const set = out.get(shared) ?? new Set<string>()
      if (!job.rollback) set.add(job.id)
      out.set(shared, set)
    }
  }
  return out
}
