/**
 * The text the job commands print from job documents: `job show`'s header
 * and task lines (failed first, with their reasons), `job list`'s table and
 * rows, and the failed-tasks summary `job watch` ends with.
 *
 * @since 0.2.0
 */
import type { Task } from "@migrator/core"
import type { JobJson, TaskJson } from "../http/JobDocument.ts"
import { formatDuration } from "./Progress.ts"

export const iso = (ms: number) => new Date(ms).toISOString()

export const phaseOfState = (state: string): Task.Phase =>
  state === "clearing" || state === "cleared" || state === "clear-failed" ? "clear" : "run"

const terminal = new Set(["completed", "canceled", "cleared", "clear-failed"])

/** The run phase's elapsed time: recorded at completion, else up to `now`. */
export const elapsedOf = (job: JobJson, now: number): number | undefined => {
  if (typeof job.elapsedMs === "number") return job.elapsedMs
  if (typeof job.startedAt !== "number") return undefined
  const end = terminal.has(job.state) ? (job.completedAt ?? job.updatedAt) : now
  return Math.max(0, end - job.startedAt)
}

const stateText = (job: { readonly state: string; readonly outcome: string | null }) =>
  `${job.state}${job.outcome === null ? "" : ` (${job.outcome})`}`

/** `RTO 1:00:00 met`, `RTO 30:00 missed`, `RTO 30:00` while running, or `-`. */
export const rtoText = (job: JobJson, now: number) => {
  if (job.rtoMs === null) return "-"
  const rto = formatDuration(job.rtoMs)
  if (typeof job.rtoMet === "boolean") return `RTO ${rto} ${job.rtoMet ? "met" : "missed"}`
  const elapsed = elapsedOf(job, now)
  return elapsed !== undefined && elapsed > job.rtoMs ? `RTO ${rto} missed` : `RTO ${rto}`
}

const isFailed = (t: TaskJson) => t.result === "failed"
/** Failed, ignored or canceled: what `job show` lists first. */
export const isProblem = (t: TaskJson) => t.result === "failed" || t.result === "ignored" || t.result === "canceled"
const problemRank = (t: TaskJson) =>
  t.result === "failed" ? 0 : t.result === "ignored" || t.result === "canceled" ? 1 : 2

export const reasonText = (t: TaskJson) => (t.reason === null ? "" : `${t.reason.code}: ${t.reason.message}`)

/** Failed tasks first, then ignored and canceled, then the rest; run before clear within each. */
export const problemsFirst = (tasks: ReadonlyArray<TaskJson>) =>
  [...tasks].sort((a, b) => problemRank(a) - problemRank(b) || (a.phase === b.phase ? 0 : a.phase === "run" ? -1 : 1))

export const counts = (job: JobJson, phase: Task.Phase) => {
  // every document since 0.3 carries its counts; a large job's document holds only some tasks
  const c = job.counts?.[phase]
  if (c !== undefined) {
    return {
      total: c.total,
      done: c.total - c.waiting - c.running,
      success: c.success,
      failed: c.failed,
      ignored: c.ignored,
      canceled: c.canceled,
      skipped: c.skipped,
      running: c.running
    }
  }
  const tasks = job.tasks.filter((t) => t.phase === phase)
  const by = (r: string) => tasks.filter((t) => t.result === r).length
  return {
    total: tasks.length,
    done: tasks.filter((t) => t.status === "done").length,
    success: by("success"),
    failed: by("failed"),
    ignored: by("ignored"),
    canceled: by("canceled"),
    skipped: by("skipped"),
    running: tasks.filter((t) => t.status === "running" && t.result === null).length
  }
}

/** `job show`: the header lines. */
export const header = (job: JobJson, now: number): ReadonlyArray<string> => {
  const phase = phaseOfState(job.state)
  const c = counts(job, phase)
  const elapsed = elapsedOf(job, now)
  const results = (["success", "failed", "ignored", "canceled", "skipped", "running"] as const)
    .filter((r) => c[r] > 0)
    .map((r) => `${c[r]} ${r}`)
  const labels = Object.entries(job.labels)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join(",")
  return [
    `job ${job.id}: ${stateText(job)}`,
    `  elapsed ${elapsed === undefined ? "-" : formatDuration(elapsed)}   ${rtoText(job, now)}   target ${job.target ?? "-"}   created ${iso(job.createdAt).replace(/\.\d+Z$/, "Z")}`,
    `  ${phase} phase ${c.done}/${c.total} done${results.length === 0 ? "" : ` (${results.join(", ")})`}${labels === "" ? "" : `   labels ${labels}`}`,
    ...(job.operations.length === 0 ? [] : [`  possible now: ${job.operations.join(", ")}`])
  ]
}

/** The line after a page of `job show`: how many tasks were shown and how to see the others. */
export const moreText = (id: string, shown: number, total: number, next: string | null, failedOnly: boolean) => {
  const rest =
    next === null ? "" : ` next page: migrator job show ${id}${failedOnly ? " --failed" : ""} --after ${next};`
  return `  showing ${shown} of ${total} tasks;${rest} every task: --all`
}

/** One line per task: phase, id, type, status, result, attempt, runner, then the reason or the output. */
export const taskLine = (t: TaskJson) =>
  `  ${t.phase.padEnd(5)} ${t.id.padEnd(24)} ${t.type.padEnd(28)} ${t.status.padEnd(8)} ${(t.result ?? "-").padEnd(9)} attempt ${t.attempt}` +
  (t.runner === null ? "" : ` on ${t.runner}`) +
  (t.reason === null ? "" : `  ${reasonText(t)}`) +
  (t.waitingFor === null ? "" : `  waiting: ${t.waitingFor}`) +
  (t.output === null ? "" : `  output ${JSON.stringify(t.output)}`)

/** The failed tasks with their full reasons (what `job watch` ends with); empty when none failed. */
export const failedSummary = (tasks: ReadonlyArray<TaskJson>, total?: number): ReadonlyArray<string> => {
  const failed = tasks.filter(isFailed)
  if (failed.length === 0) return []
  const count = Math.max(total ?? 0, failed.length)
  return [
    `failed tasks (${count}${count > failed.length ? `, the first ${failed.length} below; every one: migrator job show --failed` : ""}):`,
    ...failed.map(
      (t) =>
        `  ${t.phase} ${t.id} (${t.type}, attempt ${t.attempt}${t.runner === null ? "" : ` on ${t.runner}`}): ${reasonText(t) || "no reason recorded"}`
    )
  ]
}

export const labelsText = (labels: Readonly<Record<string, string>>) =>
  Object.entries(labels)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join(",")

export const table = (head: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  return [head, ...rows].map((r) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd()
  )
}

/** A row of `job list --json` (unchanged shape since 0.1.0). */
export const listRow = (job: JobJson) => {
  const phase = phaseOfState(job.state)
  const of = (p: Task.Phase) => {
    const c = counts(job, p)
    return { done: c.done, total: c.total }
  }
  return {
    id: job.id,
    state: job.state,
    outcome: job.outcome,
    labels: job.labels,
    createdAt: iso(job.createdAt),
    phase,
    tasks: { run: of("run"), clear: of("clear") }
  }
}
