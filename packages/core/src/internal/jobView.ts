/**
 * The engine's cached picture of the store: jobs with their tasks, shared
 * records, live runners and the cluster-wide target slots. Fed one key at a
 * time by the Monitor; read by every other engine service. Decisions taken
 * on it are compare-and-swaps, so a stale picture costs a retry, never a
 * wrong write.
 */
import { Exit } from "effect"
import type * as Codec from "../Codec.ts"
import type { JobSpec, JobState } from "../Job.ts"
import type * as Keys from "../Keys.ts"
import type { SharedRecord } from "../SharedResource.ts"
import type { KeyValue } from "../Store.ts"
import type { Phase, TaskResult, TaskSpec, TaskStatus } from "../Task.ts"
import * as Decoders from "./recordDecoders.ts"
import { decodeRegistration } from "./registration.ts"

export interface Entry<A> {
  readonly value: A
  readonly mod: number
  readonly create: number
}

export interface ClaimEntry extends Entry<string> {
  readonly lease: string | undefined
}

export interface TaskSlot {
  spec?: TaskSpec
  /** The spec's mod revision: with the key, it names one write, so a reload can keep the decoded spec. */
  specMod?: number
  /** Decoded when first read (see `Slot`). */
  readonly status?: Entry<TaskStatus> | undefined
  result?: Entry<TaskResult> | undefined
  claim?: ClaimEntry | undefined
  /**
   * Its status or result record exists but cannot be decoded (reported by key): the task is
   * left alone until the record is rewritten, instead of failing a claim on every change.
   */
  readonly unreadable?: { readonly status?: true; readonly result?: true } | undefined
}

const STATUS = { status: true } as const
const RESULT = { result: true } as const
const BOTH = { status: true, result: true } as const

/** One status write, decoded at most once, by whichever view reads it first. */
class StatusWrite {
  readonly mod: number
  private kv: KeyValue | undefined
  private decoded: Entry<TaskStatus> | null = null // null: not decoded yet, or it cannot be
  constructor(kv: KeyValue) {
    this.kv = kv
    this.mod = kv.modRevision
  }
  read(decode: (kv: KeyValue) => TaskStatus | undefined): Entry<TaskStatus> | null {
    const kv = this.kv
    if (kv !== undefined) {
      this.kv = undefined // the record is held decoded or not at all, never twice
      const v = decode(kv)
      this.decoded = v === undefined ? null : entry(kv, v)
    }
    return this.decoded
  }
}

/**
 * A task's records. Its status is decoded when first read, not when its change arrives: a runner
 * follows every change of the jobs it runs, and the `running` statuses of the tasks other runners
 * claim (one of each task's changes) are almost never read. Everything that reads a task's
 * status or asks whether it is unreadable decodes it, so what is decided on is the same as if it had
 * been decoded on arrival; a record that cannot be decoded is reported when first read.
 */
class Slot implements TaskSlot {
  spec?: TaskSpec
  specMod?: number
  // emptied by assigning undefined, never `delete`: V8 turns an object that loses a property
  // into a slow dictionary, and every task loses its claim when it finishes
  result?: Entry<TaskResult> | undefined
  claim?: ClaimEntry | undefined
  private write: StatusWrite | undefined = undefined
  private resultUnreadable = false
  private readonly decode: (kv: KeyValue) => TaskStatus | undefined
  constructor(decode: (kv: KeyValue) => TaskStatus | undefined) {
    this.decode = decode
  }

  get status(): Entry<TaskStatus> | undefined {
    return this.read() ?? undefined
  }
  get unreadable(): TaskSlot["unreadable"] {
    const status = this.read() === null
    if (!status && !this.resultUnreadable) return undefined
    return status ? (this.resultUnreadable ? BOTH : STATUS) : RESULT
  }
  setStatus(kv: KeyValue | undefined, previous: Slot | undefined): void {
    // the same key at the same mod revision is the same write: a reload keeps its decoding
    this.write =
      kv === undefined ? undefined : previous?.write?.mod === kv.modRevision ? previous.write : new StatusWrite(kv)
  }
  setResultUnreadable(unreadable: boolean): void {
    this.resultUnreadable = unreadable
  }
  /** The status (undefined: none; null: it cannot be decoded). */
  private read(): Entry<TaskStatus> | null | undefined {
    return this.write?.read(this.decode)
  }
}

export interface ByPhase<A> {
  readonly run: A
  readonly clear: A
}

/** One of each, for the run and the clear phase. */
export const byPhase = <A>(make: () => A): ByPhase<A> => ({ run: make(), clear: make() })

export interface JobSlot {
  readonly id: string
  spec: JobSpec | undefined
  state: Entry<JobState> | undefined
  readonly tasks: ByPhase<Map<string, TaskSlot>>
  /**
   * Tasks to look at on the next evaluation, by phase and id; everything when `scan` is set. Kept
   * by id, not by a "phase/id" string: marking one is the most frequent thing a watch event does.
   */
  readonly candidates: ByPhase<Set<string>>
  /**
   * Candidates that looked ready but are in other runners' shares, set aside so an evaluation
   * does not sort them again; `version` is the share split they were sorted by.
   */
  readonly othersShare: { version: number; readonly tasks: ByPhase<Set<string>> }
  scan: boolean
  readonly dependents: ByPhase<Map<string, Array<string>>>
  readonly finished: { run: number; clear: number }
  /** Revision the job was read at in full; older watch events for it are stale. */
  loadedAt: number
}

/**
 * Records found undecodable, each naming its key and field. A task's status is decoded when first
 * read, possibly after its view was merged into another: views that share this report together.
 */
export interface Problems {
  readonly found: Array<Codec.DecodeError>
}

/** What one applied key changed, for the Monitor's listeners. */
export interface Applied {
  readonly job?: string
  /** The job whose spec was written (a submission's last write). */
  readonly jobSpec?: string
  /** A target slot was taken or freed. */
  readonly slot?: string
  readonly claim?: { readonly job: string; readonly phase: Phase; readonly task: string; readonly entry?: ClaimEntry }
}

export interface JobView {
  readonly keys: Keys.Layout
  readonly jobs: Map<string, JobSlot>
  readonly shared: Map<string, Entry<SharedRecord>>
  /** Live runners and the task types each serves (from their registrations on their leases). */
  readonly runners: Map<string, ReadonlySet<string>>
  /** Taken target slots: slot key → the task key holding it. */
  readonly slots: Map<string, Entry<string>>
  revision: number
  readonly slot: (job: string) => JobSlot
  /** Applies one put (or delete, without `kv`); synchronous: it runs for every watch event. */
  readonly apply: (kv: KeyValue | undefined, key: string, revision?: number) => Applied
  /** Where its records that could not be decoded are collected (shared with the view it reloads). */
  readonly problems: Problems
  /** Records that could not be decoded since the last call (each names its key and field). */
  readonly takeProblems: () => ReadonlyArray<Codec.DecodeError>
  readonly hasProblems: () => boolean
  /** Whether some live runner serves `type`. */
  readonly served: (type: string) => boolean
  /** Takes over everything `fresh` holds, in one step: readers never see a half-loaded picture. */
  readonly replace: (fresh: JobView) => void
}

/** Whether the view holds every task the job's spec announces (each phase's count of specs). */
export const complete = (job: JobSlot): boolean => {
  if (job.spec === undefined) return false
  const specs = (phase: Phase) => {
    let n = 0
    for (const t of job.tasks[phase].values()) if (t.spec !== undefined) n++
    return n
  }
  return specs("run") === job.spec.runTasks && specs("clear") === job.spec.clearTasks
}

const entry = <A>(kv: KeyValue, value: A): Entry<A> => ({ value, mod: kv.modRevision, create: kv.createRevision })

/**
 * A view; `previous`, when given, lends its decoded records: a record whose key and mod revision
 * are unchanged is the same write, so a reload (every resync reads each active job whole) keeps
 * the decoded value instead of decoding and holding a second copy of it.
 */
export const make = (
  keys: Keys.Layout,
  previous?: JobView,
  problems: Problems = previous?.problems ?? { found: [] }
): JobView => {
  const jobs = new Map<string, JobSlot>()
  const shared = new Map<string, Entry<SharedRecord>>()
  const runners = new Map<string, ReadonlySet<string>>()
  const slots = new Map<string, Entry<string>>()

  const decoded = <A>(exit: Exit.Exit<A, Codec.DecodeError>): A | undefined => {
    if (Exit.isSuccess(exit)) return exit.value
    const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
    if (failure?._tag === "Fail") problems.found.push(failure.error)
    return undefined
  }

  const slot = (job: string): JobSlot => {
    let s = jobs.get(job)
    if (s === undefined) {
      // every field from the start: one shape for every job's slot, whichever record comes first
      s = {
        id: job,
        spec: undefined,
        state: undefined,
        tasks: byPhase(() => new Map()),
        candidates: byPhase(() => new Set()),
        othersShare: { version: -1, tasks: byPhase(() => new Set()) },
        scan: true,
        dependents: byPhase(() => new Map()),
        finished: { run: 0, clear: 0 },
        loadedAt: 0
      }
      jobs.set(job, s)
    }
    return s
  }
  const decodeStatusOf = (kv: KeyValue) => decoded(Decoders.taskStatus(kv.key, kv.value))
  // a transaction writes each task's records one after the other (a claim and its status, a
  // result and the claim's deletion): the next event is most often for the last one's slot,
  // found without a lookup in a map of thousands (a slot, once made, stays its job's)
  let lastJob: JobSlot | undefined
  let lastPhase: Phase = "run"
  let lastTask = ""
  let lastSlot: Slot | undefined
  const taskSlot = (job: JobSlot, phase: Phase, task: string): Slot => {
    if (lastSlot !== undefined && job === lastJob && phase === lastPhase && task === lastTask) return lastSlot
    let t = job.tasks[phase].get(task) as Slot | undefined
    if (t === undefined) {
      t = new Slot(decodeStatusOf)
      job.tasks[phase].set(task, t)
    }
    lastJob = job
    lastPhase = phase
    lastTask = task
    lastSlot = t
    return t
  }

  const applyTask = (
    job: JobSlot,
    parsed: Extract<Keys.ParsedKey, { _tag: "task" }>,
    kv: KeyValue | undefined,
    key: string
  ): Applied => {
    const t = taskSlot(job, parsed.phase, parsed.task)
    const before =
      kv === undefined
        ? undefined
        : (previous?.jobs.get(job.id)?.tasks[parsed.phase].get(parsed.task) as Slot | undefined)
    const candidates = job.candidates[parsed.phase]
    switch (parsed.record) {
      case "spec": {
        candidates.add(parsed.task)
        if (kv === undefined) break
        const v =
          before?.spec !== undefined && before.specMod === kv.modRevision
            ? before.spec
            : decoded(Decoders.taskSpec(key, kv.value))
        if (v !== undefined && t.spec === undefined) {
          t.spec = v
          t.specMod = kv.modRevision
          for (const dep of v.dependencies) {
            const list = job.dependents[parsed.phase].get(dep) ?? []
            list.push(parsed.task)
            job.dependents[parsed.phase].set(dep, list)
          }
        }
        break
      }
      case "status":
        t.setStatus(kv, before)
        // a task held or finished does not become ready by a new status (the `running` status
        // written with every claim): releasing or reopening it marks it
        if (kv === undefined || (t.claim === undefined && t.result === undefined)) candidates.add(parsed.task)
        break
      case "result": {
        const had = t.result !== undefined
        if (kv === undefined) t.result = undefined
        else if (before?.result?.mod === kv.modRevision) t.result = before.result
        else {
          const v = decoded(Decoders.taskResult(key, kv.value))
          if (v !== undefined) t.result = entry(kv, v)
          else t.setResultUnreadable(true)
        }
        if (kv === undefined || t.result?.mod === kv.modRevision) t.setResultUnreadable(false)
        job.finished[parsed.phase] += (t.result !== undefined ? 1 : 0) - (had ? 1 : 0)
        // a task finished does not become ready again by this change, its dependants may
        if (kv === undefined) candidates.add(parsed.task)
        for (const d of job.dependents[parsed.phase].get(parsed.task) ?? []) candidates.add(d)
        break
      }
      case "claim": {
        if (kv !== undefined) {
          t.claim = { value: kv.value, mod: kv.modRevision, create: kv.createRevision, lease: kv.lease }
        } else {
          t.claim = undefined
          // released: ready again unless it finished (the claim goes with the result)
          if (t.result === undefined) candidates.add(parsed.task)
        }
        const { phase, task } = parsed
        const held = t.claim
        return {
          job: job.id,
          claim: held === undefined ? { job: job.id, phase, task } : { job: job.id, phase, task, entry: held }
        }
      }
    }
    return { job: job.id }
  }

  const apply = (kv: KeyValue | undefined, key: string, revision?: number): Applied => {
    if (key.startsWith(keys.sharedPrefix)) {
      if (kv === undefined) shared.delete(key)
      else {
        const v = decoded(Decoders.shared(key, kv.value))
        if (v !== undefined) shared.set(key, entry(kv, v))
      }
      return {}
    }
    if (key.startsWith(keys.runners)) {
      const id = key.slice(keys.runners.length)
      const registration = kv === undefined ? undefined : decodeRegistration(kv.value)
      if (registration === undefined) runners.delete(id)
      else runners.set(id, new Set(registration.types))
      return {}
    }
    if (key.startsWith(keys.slots)) {
      if (kv === undefined) slots.delete(key)
      else slots.set(key, entry(kv, kv.value))
      return { slot: key }
    }
    const parsed = keys.parse(key)
    if (parsed === undefined || parsed._tag === "event") return {}
    // a deleted key of a job outside the view (finished, or being deleted) changes nothing here
    if (kv === undefined && !jobs.has(parsed.job)) return {}
    const job = slot(parsed.job)
    if (revision !== undefined && revision <= job.loadedAt) return { job: parsed.job }
    switch (parsed._tag) {
      case "jobSpec": {
        if (kv === undefined) {
          jobs.delete(parsed.job)
          return { job: parsed.job }
        }
        const v = decoded(Decoders.jobSpec(key, kv.value))
        if (v !== undefined) job.spec = v
        return { job: parsed.job, jobSpec: parsed.job }
      }
      case "jobState": {
        if (kv !== undefined) {
          const v = decoded(Decoders.jobState(key, kv.value))
          if (v !== undefined) job.state = entry(kv, v)
          job.scan = true
        }
        return { job: parsed.job }
      }
      case "task":
        return applyTask(job, parsed, kv, key)
    }
  }

  return {
    keys,
    jobs,
    shared,
    runners,
    slots,
    revision: 0,
    slot,
    apply,
    problems,
    hasProblems: () => problems.found.length > 0,
    takeProblems: () => problems.found.splice(0),
    served: (type) => {
      for (const types of runners.values()) if (types.has(type)) return true
      return false
    },
    replace(fresh) {
      for (const [mine, theirs] of [
        [jobs, fresh.jobs],
        [shared, fresh.shared],
        [runners, fresh.runners],
        [slots, fresh.slots]
      ] as const) {
        mine.clear()
        for (const [k, v] of theirs as Map<string, never>) (mine as Map<string, never>).set(k, v)
      }
      this.revision = fresh.revision
      // (a job no longer in the view is not held by the last slot past a reload)
      lastJob = undefined
      lastSlot = undefined
    }
  }
}
