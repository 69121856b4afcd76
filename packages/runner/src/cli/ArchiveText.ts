/**
 * How `job list --archived` and `job show` print the archived summary of a
 * deleted or expired job.
 *
 * @since 0.3.0
 */
import type { ArchivedJson } from "../http/ArchiveRoutes.ts"
import { iso, labelsText, table as textTable } from "./JobText.ts"

/** Tasks by result, e.g. "3 success, 1 failed". */
export const countsText = (counts: Readonly<Record<string, number>>) =>
  Object.entries(counts)
    .map(([result, n]) => `${n} ${result}`)
    .join(", ") || "-"

const short = (ms: number) => iso(ms).replace(/\.\d+Z$/, "Z")

/** The table of `job list --archived`. */
export const table = (jobs: ReadonlyArray<ArchivedJson>): ReadonlyArray<string> =>
  textTable(
    ["ID", "STATE", "OUTCOME", "RUN TASKS", "LABELS", "FINISHED", "REMOVED"],
    jobs.map((j) => [
      j.id,
      j.state,
      j.outcome ?? "-",
      countsText(j.results.run),
      labelsText(j.labels) || "-",
      short(j.finishedAt),
      `${j.removedBy} ${short(j.removedAt)}`
    ])
  )

/** What `job show` prints for an archived job. */
export const details = (j: ArchivedJson): ReadonlyArray<string> => [
  `job ${j.id}: archived (${j.removedBy === "delete" ? "deleted" : "expired by the retention of finished jobs"} at ${iso(j.removedAt)}${j.actor === undefined ? "" : ` by ${j.actor}`}${j.reason === undefined ? "" : `, reason: ${j.reason}`})`,
  `  state      ${j.state}${j.outcome === undefined ? "" : ` (${j.outcome})`}`,
  ...(Object.keys(j.labels).length === 0 ? [] : [`  labels     ${labelsText(j.labels)}`]),
  ...(j.target === undefined ? [] : [`  target     ${j.target}`]),
  `  submitted  ${iso(j.submittedAt)}`,
  `  finished   ${iso(j.finishedAt)}`,
  `  run tasks  ${j.runTasks}: ${countsText(j.results.run)}`,
  `  clear tasks ${j.clearTasks}: ${countsText(j.results.clear)}`,
  ...(j.releasedShared === undefined ? [] : [`  released from shared resources ${j.releasedShared.join(", ")}`]),
  "  (its tasks and event log were removed)"
]
