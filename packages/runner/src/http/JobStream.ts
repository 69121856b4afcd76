/**
 * The body of `GET /api/jobs/:id/stream` (Server-Sent Events): a snapshot
 * (the job document and its log), then every change of the job as the
 * store's watch delivers it. A large job's snapshot holds its counts and
 * first pages and the first entries of its log; its task changes are not
 * sent one by one but as `counts`, kept by a TaskTally from the same watch
 * and sent at most once a second while they change.
 *
 * @since 0.3.0
 */
import { Jobs, type Keys, Store, TaskTally } from "@migrator/core"
import { Effect, Stream } from "effect"
import { document, eventJson } from "./JobDocument.ts"

const encoder = new TextEncoder()
/** One Server-Sent Event. */
export const sse = (event: string, data: unknown) =>
  encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)

export const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return undefined
  }
}

/** Log entries a large job's snapshot carries (the log has two per task). */
const LARGE_JOB_EVENTS = 200
/** How often a large job's stream sends its counts while they change. */
const COUNTS_EVERY = "1 second"

/** The snapshot of job `id` read now, then its changes from store revision `from` on. */
export const jobStream = (keys: Keys.Layout, id: string, from: number) =>
  Effect.gen(function* () {
    const store = yield* Store.Store
    const built = TaskTally.builder(keys, id)
    const doc = yield* document(keys, id, { onTask: built.add })
    const large = !doc.tasksPage.complete
    const log = yield* Jobs.events(keys, id, large ? LARGE_JOB_EVENTS : undefined)
    const snapshot = sse("snapshot", {
      ...doc,
      events: log.map((e) => eventJson(e)),
      eventsComplete: !large || log.length < LARGE_JOB_EVENTS
    })
    const tally = large ? built.tally() : undefined
    let countsChanged = false
    const counts =
      tally === undefined
        ? Stream.empty
        : Stream.tick(COUNTS_EVERY).pipe(
            Stream.filter(() => countsChanged),
            Stream.map(() => {
              countsChanged = false
              return sse("counts", tally.counts)
            })
          )
    // the job's keys and its event log, which lives apart (see Keys)
    const watched = Stream.merge(
      store.watch(keys.job(id), { fromRevision: from }),
      store.watch(keys.events(id), { fromRevision: from })
    )
    const changes = watched.pipe(
      Stream.map((e): Uint8Array | undefined => {
        const key = e._tag === "put" ? e.kv.key : e.key
        const parsed = keys.parse(key)
        if (parsed === undefined) return undefined
        if (tally !== undefined && parsed._tag === "task") {
          if (tally.apply(e)) countsChanged = true
          return undefined
        }
        switch (parsed._tag) {
          case "jobState":
            return e._tag === "put" ? sse("state", parseJson(e.kv.value)) : undefined
          case "event": {
            if (e._tag !== "put") return undefined
            const entry = parseJson(e.kv.value)
            const perTask = typeof entry === "object" && entry !== null && "taskId" in entry
            return large && perTask ? undefined : sse("log", entry)
          }
          case "task":
            if (parsed.record === "spec") return undefined
            return sse("task", {
              phase: parsed.phase,
              id: parsed.task,
              record: parsed.record,
              value:
                e._tag === "delete" ? null : parsed.record === "claim" ? e.kv.value : (parseJson(e.kv.value) ?? null)
            })
          default:
            return undefined
        }
      }),
      Stream.filter((b): b is Uint8Array => b !== undefined)
    )
    return Stream.concat(Stream.make(snapshot), Stream.merge(changes, counts, { haltStrategy: "left" }))
  })
