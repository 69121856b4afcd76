/**
 * What an operation on a job would do, read-only, for the confirmation the
 * dashboard shows before it asks (`GET /api/jobs/:id/preview/:operation`,
 * see API.md). For a rollback or a confirm: each clear task, and whether it
 * would delete what its run task made, keep it (held by other jobs, or kept
 * on confirm) or be skipped (its run task never started) — the rules the
 * engine applies (SPEC §4.5, §4.6), read from the same records.
 *
 * @since 0.2.0
 */
import { type Job, Jobs, type Keys, SharedResource, Store } from "@migrator/core"
import { Effect, Option, Schema } from "effect"
import { allowedOperations } from "./JobDocument.ts"

export type ClearAction = "delete" | "keep" | "skip"

export interface ClearStep {
  readonly task: string
  readonly type: string
  readonly undoes: string | null
  readonly shared: string | null
  readonly action: ClearAction
  readonly why: string
  /** Other jobs holding the shared resource (it is kept while they do). */
  readonly heldBy: ReadonlyArray<string>
  /** The run task's output: the resource's ids as the run phase recorded them. */
  readonly resource: unknown
}

export interface Preview {
  readonly id: string
  readonly operation: Job.Operation
  readonly allowed: boolean
  /** What will happen, or why the operation is not allowed now (and what to do instead). */
  readonly message: string
  readonly state: string
  readonly outcome: string | null
  /** rollback and confirm: each clear task and what it would do. */
  readonly clear?: ReadonlyArray<ClearStep>
  readonly counts?: Readonly<Record<string, number>>
  /** retry: the tasks put back to waiting; cancel: the tasks interrupted. */
  readonly tasks?: ReadonlyArray<string>
}

const decodeShared = Schema.decodeUnknownOption(Schema.fromJsonString(SharedResource.SharedRecord))

/** What to do instead of an operation the state does not allow ("cancel it first"). */
export const hint = (state: Job.JobState, operation: Job.Operation): string => {
  const valid = allowedOperations(state)
  if ((operation === "rollback" || operation === "confirm") && valid.includes("cancel")) return "cancel it first"
  if (operation === "resume" && state.state === "running") return "it is not paused"
  if (operation === "retry" && state.outcome === "succeeded") return "it succeeded: nothing to retry"
  return valid.length === 0 ? "no operation is possible in this state" : `possible now: ${valid.join(", ")}`
}

const settled = (t: Jobs.TaskView) => t.result?.result

export const preview = (keys: Keys.Layout, id: string, operation: Job.Operation) =>
  Effect.gen(function* () {
    const view = yield* Jobs.read(keys, id)
    const state = view.state
    const base = { id, operation, state: state.state, outcome: state.outcome ?? null }
    if (!Jobs.canRequest(state, operation)) {
      return {
        ...base,
        allowed: false,
        message: `cannot ${operation} a job that is ${state.state}${state.outcome === undefined ? "" : ` (${state.outcome})`}; ${hint(state, operation)}`
      } satisfies Preview
    }
    const phase = state.state === "clear-failed" ? "clear" : "run"
    switch (operation) {
      case "rollback":
      case "confirm": {
        const store = yield* Store.Store
        const runs = new Map(view.tasks.filter((t) => t.spec.phase === "run").map((t) => [t.spec.id, t]))
        const clear = view.tasks.filter((t) => t.spec.phase === "clear")
        const steps = yield* Effect.forEach(
          clear,
          (t) =>
            Effect.gen(function* () {
              const run = t.spec.undoes === undefined ? undefined : runs.get(t.spec.undoes)
              const step = {
                task: t.spec.id,
                type: t.spec.type,
                undoes: t.spec.undoes ?? null,
                shared: t.spec.shared ?? null,
                resource: run?.result?.output ?? null,
                heldBy: [] as ReadonlyArray<string>
              }
              if (operation === "confirm" && t.spec.runOnConfirm !== true) {
                return { ...step, action: "keep", why: "kept on confirm (the recovered workload uses it)" } as const
              }
              if (run !== undefined && (run.status?.attempt ?? 0) === 0) {
                return { ...step, action: "skip", why: `run task ${run.spec.id} never started` } as const
              }
              if (t.spec.shared !== undefined) {
                const kv = yield* store.get(keys.shared(t.spec.shared))
                const record = Option.flatMap(kv, (r) => decodeShared(r.value))
                const others = Option.isSome(record) ? record.value.holders.filter((h) => h !== id) : []
                if (others.length > 0) {
                  return {
                    ...step,
                    heldBy: others,
                    action: "keep",
                    why: `shared: still held by ${others.length === 1 ? "job" : "jobs"} ${others.join(", ")}`
                  } as const
                }
              }
              return { ...step, action: "delete", why: "made by this job" } as const
            }),
          { concurrency: 8 }
        )
        const counts = { delete: 0, keep: 0, skip: 0 }
        for (const s of steps) counts[s.action]++
        return {
          ...base,
          allowed: true,
          message: `${operation}: ${counts.delete} to delete, ${counts.keep} kept, ${counts.skip} skipped`,
          clear: steps,
          counts
        } satisfies Preview
      }
      case "retry": {
        const again = view.tasks.filter((t) => {
          const r = settled(t)
          return t.spec.phase === phase && (r === "failed" || r === "ignored" || r === "canceled")
        })
        return {
          ...base,
          allowed: true,
          message: `retry: ${again.length} ${phase} tasks go back to waiting`,
          tasks: again.map((t) => t.spec.id)
        } satisfies Preview
      }
      case "cancel": {
        const running = view.tasks.filter((t) => t.status?.status === "running" && settled(t) === undefined)
        const waiting = view.tasks.filter(
          (t) => t.spec.phase === "run" && t.status?.status !== "running" && settled(t) === undefined
        )
        return {
          ...base,
          allowed: true,
          message: `cancel: ${running.length} tasks in flight are interrupted, ${waiting.length} not started are canceled`,
          tasks: running.map((t) => t.spec.id),
          counts: { interrupted: running.length, canceled: waiting.length }
        } satisfies Preview
      }
      case "pause":
        return { ...base, allowed: true, message: "pause: no new task starts; tasks in flight finish" }
      case "resume":
        return { ...base, allowed: true, message: "resume: tasks start again" }
    }
  })
