/**
 * The read the dashboard's job list needs beyond the job API:
 * `GET /api/jobs/:id/progress` → `{ id, rtoMs, run: Counts, clear: Counts }`
 * (tasks per phase by state), served by HttpApi behind the viewer role.
 *
 * @since 0.1.0
 */
import { Jobs, type Keys, Store } from "@migrator/core"
import { Effect, Option } from "effect"
import * as JobProgress from "./JobProgress.ts"

/** The progress of job `id`; fails with `JobError` NotFound when there is no such job. */
export const progress = (keys: Keys.Layout, id: string) =>
  Effect.gen(function* () {
    const store = yield* Store.Store
    const kv = yield* store.get(keys.jobSpec(id))
    if (Option.isNone(kv)) return yield* new Jobs.JobError({ job: id, reason: "NotFound", message: `no job "${id}"` })
    const spec = yield* Effect.option(Jobs.decodeSpec(kv.value.key, kv.value.value))
    const counts = yield* JobProgress.progress(keys, id)
    return { ...counts, rtoMs: Option.isSome(spec) ? (spec.value.rtoMs ?? null) : null }
  })
