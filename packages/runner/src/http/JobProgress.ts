/**
 * A job's progress for the dashboard's job list: tasks per phase by state
 * (waiting, running, and each result), plus the RTO. Counted from the task
 * records without decoding the task specs, so a list of large jobs stays cheap.
 *
 * @since 0.1.0
 */
import { type Keys, TaskPages } from "@migrator/core"
import { Effect } from "effect"

/** Tasks of one phase by state (the same shape `TaskPages` counts in). */
export type Counts = TaskPages.Counts

export interface Progress {
  readonly id: string
  readonly run: Counts
  readonly clear: Counts
}

/** Counts the tasks of job `id` (an unknown job has no tasks), a page of records at a time. */
export const progress = (keys: Keys.Layout, id: string) =>
  Effect.map(TaskPages.counts(keys, id), (c): Progress => ({ id, run: c.run, clear: c.clear }))
