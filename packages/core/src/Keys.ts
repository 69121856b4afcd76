/**
 * The key layout (SPEC §4.1): the one place that knows where each record
 * lives. Small records, one key each; nothing grows with the job.
 *
 *   <prefix>jobs/<job>/spec                         JobSpec (immutable)
 *   <prefix>jobs/<job>/state                        JobState (CAS on mod revision)
 *   <prefix>jobs/<job>/tasks/<phase>/<task>/spec    TaskSpec (immutable)
 *   <prefix>jobs/<job>/tasks/<phase>/<task>/status  TaskStatus (waiting or running; a result says done; none: waiting, never claimed)
 *   <prefix>jobs/<job>/tasks/<phase>/<task>/result  TaskResult
 *   <prefix>jobs/<job>/tasks/<phase>/<task>/claim   runner id, on the runner's lease (fencing token = create revision)
 *   <prefix>~events/<job>/<time>-<writer>-<n>       JobEvent; the log's order is the keys' create revision
 *   <prefix>jobs/<job>/events/<time>-<writer>-<n>   the same, as stores written before the log moved hold it
 *   <prefix>index/<job>                             JobState summary for listing without reading tasks
 *   <prefix>active/<job>                            present while some runner has work for the job (discovery reads only these)
 *   <prefix>layout                                  layout version (`LayoutVersion.ts`); absent in a store written before `active/` existed
 *   <prefix>runners/<runner>                        registration and task types served, on the runner's lease
 *   <prefix>slots/<target>/<n>                      one of a target's cluster-wide slots, held with a claim on the runner's lease
 *   <prefix>shared/<shared key>                     shared resource record (SPEC §4.5)
 *   <prefix>expiry/<finish time ms, 15 digits>/<job> written when a job finishes; retention ranges the oldest first
 *   <prefix>expiry-backfilled                       present once jobs finished before expiry entries existed have theirs
 *   <prefix>archive/<job>                           compact summary of a deleted or expired job (JobArchive.ts)
 *   <prefix>~warm-up/<runner>/…                     a starting runner's warm-up job, laid out as under a prefix of
 *                                                   its own, past the followed range; deleted when it is done
 *
 * The job spec is written last when a job is submitted in several
 * transactions, so a job without a spec is half-written and never picked up.
 *
 * The event log sorts after every other key ("~"), so runners follow the rest of the prefix with
 * one watch that ends where the log begins (`followedEnd`): two of a task's six changes once it
 * is submitted are log entries nobody running tasks needs, and they are the largest values. (The
 * other four: the claim, its `running` status, the result, the claim's deletion. A result is
 * written with no status of its own: `Task.statusOf`.)
 *
 * `active/<job>` is written in the same transaction as every state that
 * needs a runner (submission, a user's operation) and deleted in the one
 * that makes the job dormant (finished, nothing pending, no auto-rollback
 * due), so a runner's idle cost does not grow with finished jobs.
 *
 * @since 0.1.0
 */
import type { Phase } from "./Task.ts"

export const DEFAULT_PREFIX = "migrator/"

const RECORDS = ["spec", "status", "result", "claim"] as const
export type Record = (typeof RECORDS)[number]

export interface Layout {
  readonly prefix: string
  readonly jobs: string
  readonly job: (job: string) => string
  readonly jobSpec: (job: string) => string
  readonly jobState: (job: string) => string
  readonly tasks: (job: string, phase?: Phase) => string
  readonly task: (job: string, phase: Phase, task: string, record: Record) => string
  /** A job's event log. */
  readonly events: (job: string) => string
  readonly event: (job: string, id: string) => string
  /** Where a store written before the log moved keeps a job's older entries (read, never written). */
  readonly legacyEvents: (job: string) => string
  /** Every key of the prefix below this one but the event log: the end of the engine's watch. */
  readonly followedEnd: string
  readonly index: string
  readonly indexEntry: (job: string) => string
  readonly active: string
  readonly activeEntry: (job: string) => string
  /** The layout version marker (see `LayoutVersion.ts`). */
  readonly layout: string
  readonly runners: string
  readonly runner: (runner: string) => string
  readonly slots: string
  readonly slot: (target: string, n: number) => string
  readonly shared: (key: string) => string
  readonly sharedPrefix: string
  /** Finished jobs by finish time: the key sorts by time, so the oldest come first. */
  readonly expiry: string
  readonly expiryEntry: (job: string, finishedAt: number) => string
  /** Parses an expiry entry; undefined for any other key. */
  readonly parseExpiry: (key: string) => { readonly job: string; readonly finishedAt: number } | undefined
  /** Marker: the expiry entries of jobs finished before they existed have been written. */
  readonly expiryBackfilled: string
  readonly archive: string
  readonly archiveEntry: (job: string) => string
  /** Where starting runners run their warm-up jobs in the store, each under a prefix of its own. */
  readonly warmUps: string
  readonly warmUp: (runner: string) => string
  /** Parses a key under `jobs/` or of the event log; undefined for keys of other kinds. */
  readonly parse: (key: string) => ParsedKey | undefined
}

export type ParsedKey =
  | { readonly _tag: "jobSpec"; readonly job: string }
  | { readonly _tag: "jobState"; readonly job: string }
  | {
      readonly _tag: "task"
      readonly job: string
      readonly phase: Phase
      readonly task: string
      readonly record: Record
    }
  | { readonly _tag: "event"; readonly job: string; readonly id: string }

export const make = (prefix: string = DEFAULT_PREFIX): Layout => {
  const jobs = `${prefix}jobs/`
  const log = `${prefix}~events/`
  const job = (id: string) => `${jobs}${id}/`
  return {
    prefix,
    jobs,
    job,
    jobSpec: (id) => `${job(id)}spec`,
    jobState: (id) => `${job(id)}state`,
    tasks: (id, phase) => `${job(id)}tasks/${phase === undefined ? "" : `${phase}/`}`,
    task: (id, phase, task, record) => `${job(id)}tasks/${phase}/${task}/${record}`,
    events: (id) => `${log}${id}/`,
    event: (id, event) => `${log}${id}/${event}`,
    legacyEvents: (id) => `${job(id)}events/`,
    followedEnd: log,
    index: `${prefix}index/`,
    indexEntry: (id) => `${prefix}index/${id}`,
    active: `${prefix}active/`,
    activeEntry: (id) => `${prefix}active/${id}`,
    layout: `${prefix}layout`,
    runners: `${prefix}runners/`,
    runner: (id) => `${prefix}runners/${id}`,
    slots: `${prefix}slots/`,
    slot: (target, n) => `${prefix}slots/${encodeURIComponent(target)}/${n}`,
    sharedPrefix: `${prefix}shared/`,
    shared: (key) => `${prefix}shared/${encodeURIComponent(key)}`,
    expiry: `${prefix}expiry/`,
    expiryEntry: (id, finishedAt) =>
      `${prefix}expiry/${String(Math.max(0, Math.floor(finishedAt))).padStart(15, "0")}/${id}`,
    parseExpiry: (key) => {
      const rest = key.startsWith(`${prefix}expiry/`) ? key.slice(`${prefix}expiry/`.length) : undefined
      const at = rest?.indexOf("/") ?? -1
      if (rest === undefined || at <= 0) return undefined
      const finishedAt = Number(rest.slice(0, at))
      const id = rest.slice(at + 1)
      return Number.isFinite(finishedAt) && id !== "" ? { job: id, finishedAt } : undefined
    },
    expiryBackfilled: `${prefix}expiry-backfilled`,
    archive: `${prefix}archive/`,
    archiveEntry: (id) => `${prefix}archive/${id}`,
    warmUps: `${prefix}~warm-up/`,
    warmUp: (runner) => `${prefix}~warm-up/${encodeURIComponent(runner)}/`,
    parse: (key) => {
      if (key.startsWith(log)) {
        const rest = key.slice(log.length)
        const at = rest.indexOf("/")
        return at > 0 && at < rest.length - 1
          ? { _tag: "event", job: rest.slice(0, at), id: rest.slice(at + 1) }
          : undefined
      }
      return key.startsWith(jobs) ? parseJobKey(key, jobs.length) : undefined
    }
  }
}

/**
 * Parses the part of a key under `jobs/` that starts at `from`: "<job>/spec", "<job>/state",
 * "<job>/events/<id>" or "<job>/tasks/<phase>/<task>/<record>". The view parses every watch
 * event's key, so this reads the key where it lies instead of splitting it.
 */
const parseJobKey = (key: string, from: number): ParsedKey | undefined => {
  const a = key.indexOf("/", from)
  if (a <= from) return undefined
  const id = key.slice(from, a)
  const b = key.indexOf("/", a + 1)
  if (b === -1) {
    const kind = key.slice(a + 1)
    return kind === "spec" ? { _tag: "jobSpec", job: id } : kind === "state" ? { _tag: "jobState", job: id } : undefined
  }
  if (b === a + 7 && key.startsWith("events", a + 1)) {
    return key.indexOf("/", b + 1) === -1 ? { _tag: "event", job: id, id: key.slice(b + 1) } : undefined
  }
  if (b !== a + 6 || !key.startsWith("tasks", a + 1)) return undefined
  const c = key.indexOf("/", b + 1)
  const d = c === -1 ? -1 : key.indexOf("/", c + 1)
  if (d === -1 || key.indexOf("/", d + 1) !== -1) return undefined
  const phase = phaseAt(key, b + 1, c)
  const record = recordAt(key, d + 1)
  return phase !== undefined && record !== undefined
    ? { _tag: "task", job: id, phase, task: key.slice(c + 1, d), record }
    : undefined
}

// The phase and record are returned as the literals, not sliced from the key: the view indexes
// objects by them for every event, and a sliced string would be looked up by its content each time.
const phaseAt = (key: string, from: number, end: number): Phase | undefined =>
  end - from === 3 && key.startsWith("run", from)
    ? "run"
    : end - from === 5 && key.startsWith("clear", from)
      ? "clear"
      : undefined

const recordAt = (key: string, from: number): Record | undefined => {
  for (const record of RECORDS) if (key.length - from === record.length && key.startsWith(record, from)) return record
  return undefined
}
