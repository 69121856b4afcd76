/**
 * Client-side job operations shared by the CLI, the job API and tests:
 * submission in as few transactions as etcd's limits allow, reading a job,
 * and user operations recorded as compare-and-swap transitions.
 *
 * @since 0.1.0
 */
import { Clock, Effect, Option, Random, Schema } from "effect"
import * as Codec from "./Codec.ts"
import * as ActiveIndex from "./internal/activeIndex.ts"
import * as Decoders from "./internal/recordDecoders.ts"
import { decodeRegistration } from "./internal/registration.ts"
import * as Job from "./Job.ts"
import { JobSpec, JobState, type Operation, RequestedOperation } from "./Job.ts"
import type { BuiltJob } from "./JobBuilder.ts"
import { JobEvent } from "./JobEvent.ts"
import type * as Keys from "./Keys.ts"
import { type KeyValue, type Op, Store } from "./Store.ts"
import { TaskResult, TaskSpec, TaskStatus } from "./Task.ts"

export class JobError extends Schema.TaggedError<JobError>()("JobError", {
  job: Schema.String,
  reason: Schema.Literals(["NotFound", "AlreadyExists", "InvalidOperation", "Conflict"]),
  message: Schema.String
}) {}

export const encodeSpec = Codec.encode(JobSpec)
export const encodeState = Codec.encode(JobState, { remember: true })
export const encodeTask = Codec.encode(TaskSpec)
export const encodeStatus = Codec.encode(TaskStatus, { remember: true })
export const encodeResult = Codec.encode(TaskResult, { remember: true })
export const encodeEvent = Codec.encode(JobEvent)

const MAX_OPS = 120
const MAX_BYTES = 1024 * 1024

/** An event-log entry key: time-ordered, unique per writer; the log is ordered by create revision. */
export const eventKey = (keys: Keys.Layout, job: string, writer: string, at: number) =>
  Effect.map(Random.nextIntBetween(0, 2 ** 31 - 1), (n) =>
    keys.event(job, `${String(at).padStart(15, "0")}-${writer}-${n.toString(36)}`)
  )

export const eventOp = (keys: Keys.Layout, job: string, writer: string, event: JobEvent) =>
  Effect.map(eventKey(keys, job, writer, event.at), (key): Op => ({ _tag: "put", key, value: encodeEvent(event) }))

/** Who asks for an operation and why: recorded in the job's event log. */
export interface Requester {
  readonly actor?: string | undefined
  readonly reason?: string | undefined
}

const requesterFields = (by: Requester | undefined) => ({
  ...(by?.actor === undefined ? {} : { actor: by.actor }),
  ...(by?.reason === undefined || by.reason === "" ? {} : { reason: by.reason })
})

const byText = (by: Requester | undefined) =>
  `${by?.actor === undefined ? "" : ` by ${by.actor}`}${by?.reason === undefined || by.reason === "" ? "" : ` (reason: ${by.reason})`}`

/** Writes a validated job. Tasks first, in chunks; the spec last, so a half-written job is never picked up. */
export const submit = Effect.fn("Jobs.submit")(function* (keys: Keys.Layout, job: BuiltJob, by?: Requester) {
  const store = yield* Store
  const id = job.spec.id
  const now = yield* Clock.currentTimeMillis
  const notYet = { key: keys.jobSpec(id), target: "createRevision", op: "==", value: 0 } as const
  let ops: Array<Op> = []
  let bytes = 0
  const flush = Effect.suspend(() => {
    if (ops.length === 0) return Effect.void
    const success = ops
    ops = []
    bytes = 0
    return store
      .txn({ compare: [notYet], success })
      .pipe(
        Effect.flatMap((r) =>
          r.succeeded
            ? Effect.void
            : Effect.fail(new JobError({ job: id, reason: "AlreadyExists", message: `job "${id}" already exists` }))
        )
      )
  })
  // a task has no status until it is first claimed (absent reads as `waiting`, attempt 0): one
  // write and one change every runner follows less per task
  for (const task of job.tasks) {
    const spec = encodeTask(task)
    if (ops.length + 1 > MAX_OPS || bytes + spec.length > MAX_BYTES) yield* flush
    ops.push({ _tag: "put", key: keys.task(id, task.phase, task.id, "spec"), value: spec })
    bytes += spec.length
  }
  yield* flush
  const pending = new JobState({ state: "pending", updatedAt: now })
  const state = encodeState(pending)
  const event = yield* eventOp(
    keys,
    id,
    "client",
    new JobEvent({
      at: now,
      type: "job.submitted",
      message: `submitted with ${job.tasks.length} tasks${byText(by)}`,
      ...requesterFields(by)
    })
  )
  const last = yield* store.txn({
    compare: [notYet],
    success: [
      { _tag: "put", key: keys.jobState(id), value: state },
      { _tag: "put", key: keys.indexEntry(id), value: state },
      event,
      { _tag: "put", key: keys.jobSpec(id), value: encodeSpec(job.spec) },
      ActiveIndex.op(keys, id, pending, job.spec)
    ]
  })
  if (!last.succeeded) {
    return yield* new JobError({ job: id, reason: "AlreadyExists", message: `job "${id}" already exists` })
  }
  return id
})

export interface TaskView {
  readonly spec: TaskSpec
  readonly status: TaskStatus | undefined
  readonly result: TaskResult | undefined
  readonly claim: string | undefined
  /** Why a task whose dependencies are done is not running, e.g. no live runner serves its type. */
  readonly waitingFor?: string
}

export interface JobView {
  readonly spec: JobSpec
  readonly state: JobState
  readonly stateRevision: number
  readonly tasks: ReadonlyArray<TaskView>
  /** Records that could not be decoded: key and message. */
  readonly problems: ReadonlyArray<Codec.DecodeError>
}

/** Decodes a stored record, naming `key` and the field on failure. */
type Decode<A> = (key: string, raw: string) => Effect.Effect<A, Codec.DecodeError>

export const decodeSpec: Decode<JobSpec> = Decoders.jobSpec
export const decodeState: Decode<JobState> = Decoders.jobState
export const decodeTask: Decode<TaskSpec> = Decoders.taskSpec
export const decodeStatus: Decode<TaskStatus> = Decoders.taskStatus
export const decodeResult: Decode<TaskResult> = Decoders.taskResult
export const decodeEvent = Codec.decode(JobEvent)

/** Reads a job: spec, state and every task with its status and result (not the event log). */
export const read = Effect.fn("Jobs.read")(function* (keys: Keys.Layout, id: string) {
  const store = yield* Store
  const specKv = yield* store.get(keys.jobSpec(id))
  if (Option.isNone(specKv)) return yield* new JobError({ job: id, reason: "NotFound", message: `no job "${id}"` })
  // the state before the tasks: a job that ended before its state was read shows every result
  // (read the other way round, a job ending between the two showed its end without them)
  const state = yield* store.get(keys.jobState(id))
  const tasks = yield* store.range(keys.tasks(id))
  const view = yield* viewOf(keys, id, [specKv.value, ...Option.toArray(state), ...tasks.kvs])
  return withWaitingReasons(view, (yield* store.range(keys.runners)).kvs)
})

/** A job's state alone (none of its tasks are read). */
export const readState = Effect.fn("Jobs.readState")(function* (keys: Keys.Layout, id: string) {
  const store = yield* Store
  const kv = yield* store.get(keys.jobState(id))
  if (Option.isNone(kv)) return yield* new JobError({ job: id, reason: "NotFound", message: `no job "${id}"` })
  return yield* decodeState(kv.value.key, kv.value.value).pipe(
    Effect.mapError((e) => new JobError({ job: id, reason: "NotFound", message: e.message }))
  )
})

/** Marks ready tasks that no live runner serves, from the runners' registrations. */
const withWaitingReasons = (view: JobView, runners: ReadonlyArray<KeyValue>): JobView => {
  const served = new Set<string>()
  for (const kv of runners) for (const type of decodeRegistration(kv.value)?.types ?? []) served.add(type)
  const done = new Map<string, boolean>()
  for (const t of view.tasks) {
    done.set(`${t.spec.phase}/${t.spec.id}`, t.result?.result === "success" || t.result?.result === "skipped")
  }
  const tasks = view.tasks.map((t) => {
    const ready =
      t.result === undefined &&
      t.status?.status !== "running" &&
      t.spec.dependencies.every((d) => done.get(`${t.spec.phase}/${d}`) === true)
    return ready && !served.has(t.spec.type) ? { ...t, waitingFor: `no live runner serves "${t.spec.type}"` } : t
  })
  return { ...view, tasks }
}

export const viewOf = (keys: Keys.Layout, id: string, kvs: ReadonlyArray<KeyValue>) =>
  Effect.gen(function* () {
    const problems: Array<Codec.DecodeError> = []
    const attempt = <A>(e: Effect.Effect<A, Codec.DecodeError>) =>
      e.pipe(
        Effect.map(Option.some),
        Effect.catch((error) => Effect.sync(() => problems.push(error)).pipe(Effect.as(Option.none<A>())))
      )
    let spec: JobSpec | undefined
    let state: JobState | undefined
    let stateRevision = 0
    const tasks = new Map<string, { spec?: TaskSpec; status?: TaskStatus; result?: TaskResult; claim?: string }>()
    for (const kv of kvs) {
      const parsed = keys.parse(kv.key)
      if (parsed === undefined || parsed._tag === "event") continue
      if (parsed._tag === "jobSpec") spec = Option.getOrUndefined(yield* attempt(decodeSpec(kv.key, kv.value)))
      else if (parsed._tag === "jobState") {
        state = Option.getOrUndefined(yield* attempt(decodeState(kv.key, kv.value)))
        stateRevision = kv.modRevision
      } else {
        const slot = tasks.get(`${parsed.phase}/${parsed.task}`) ?? {}
        tasks.set(`${parsed.phase}/${parsed.task}`, slot)
        if (parsed.record === "spec") {
          const v = yield* attempt(decodeTask(kv.key, kv.value))
          if (Option.isSome(v)) slot.spec = v.value
        } else if (parsed.record === "status") {
          const v = yield* attempt(decodeStatus(kv.key, kv.value))
          if (Option.isSome(v)) slot.status = v.value
        } else if (parsed.record === "result") {
          const v = yield* attempt(decodeResult(kv.key, kv.value))
          if (Option.isSome(v)) slot.result = v.value
        } else slot.claim = kv.value
      }
    }
    if (spec === undefined || state === undefined) {
      return yield* new JobError({
        job: id,
        reason: "NotFound",
        message: `job "${id}" is incomplete or unreadable${problems.length > 0 ? `: ${problems[0]!.message}` : ""}`
      })
    }
    const views: Array<TaskView> = []
    for (const t of tasks.values()) {
      if (t.spec !== undefined) views.push({ spec: t.spec, status: t.status, result: t.result, claim: t.claim })
    }
    return { spec, state, stateRevision, tasks: views, problems } satisfies JobView
  })

/**
 * The job's event log in commit order; with `limit`, its first `limit` entries (a large job logs two
 * per task). Entries a store kept under the job's keys before the log moved come first: they are older.
 */
export const events = Effect.fn("Jobs.events")(function* (keys: Keys.Layout, id: string, limit?: number) {
  const store = yield* Store
  const options = limit === undefined ? {} : { limit, pageSize: limit }
  const legacy = yield* store.range(keys.legacyEvents(id), options)
  const log = yield* store.range(keys.events(id), options)
  const sorted = [...legacy.kvs, ...log.kvs]
    .sort((a, b) => a.createRevision - b.createRevision || (a.key < b.key ? -1 : 1))
    .slice(0, limit)
  const out: Array<JobEvent> = []
  for (const kv of sorted) {
    const e = yield* Effect.option(decodeEvent(kv.key, kv.value))
    if (Option.isSome(e)) out.push(e.value)
  }
  return out
})

/** Lists jobs from the index (no task keys are read). */
export const list = Effect.fn("Jobs.list")(function* (keys: Keys.Layout) {
  const store = yield* Store
  const { kvs } = yield* store.range(keys.index)
  const out: Array<{ readonly id: string; readonly state: JobState }> = []
  for (const kv of kvs) {
    const s = yield* Effect.option(decodeState(kv.key, kv.value))
    if (Option.isSome(s)) out.push({ id: kv.key.slice(keys.index.length), state: s.value })
  }
  return out
})

/** What an operation records besides the new state: the kind of clear phase, or a pending retry. */
const clearModes: Partial<Record<Operation, "rollback" | "confirm">> = { rollback: "rollback", confirm: "confirm" }

/** Whether `operation` may be asked for a job in `state` (what `request` checks before its CAS). */
export const canRequest = (state: JobState, operation: Operation): boolean =>
  Job.next(state.state, operation) !== undefined && !(operation === "retry" && state.outcome === "succeeded")

/** Carries out a user operation as a CAS on the job state (retried on conflicts). */
export const request = Effect.fn("Jobs.request")(function* (
  keys: Keys.Layout,
  id: string,
  operation: Operation,
  by?: Requester
) {
  const store = yield* Store
  for (let round = 0; round < 20; round++) {
    const kv = yield* store.get(keys.jobState(id))
    if (Option.isNone(kv)) return yield* new JobError({ job: id, reason: "NotFound", message: `no job "${id}"` })
    const current = yield* decodeState(kv.value.key, kv.value.value).pipe(
      Effect.mapError((e) => new JobError({ job: id, reason: "InvalidOperation", message: e.message }))
    )
    const to = Job.next(current.state, operation)
    if (to === undefined || !canRequest(current, operation)) {
      return yield* new JobError({
        job: id,
        reason: "InvalidOperation",
        message: `cannot ${operation} job "${id}" in state ${current.state}${current.outcome === undefined ? "" : ` (${current.outcome})`}`
      })
    }
    const now = yield* Clock.currentTimeMillis
    const { pending: _p, outcome: _o, reason: _r, ...rest } = current
    const next = new JobState({
      ...rest,
      ...(to === "running" || to === "clearing" ? {} : { outcome: current.outcome }),
      state: to,
      ...(clearModes[operation] === undefined ? {} : { clearMode: clearModes[operation] }),
      ...(operation === "retry" ? { pending: new RequestedOperation({ operation, requestedAt: now }) } : {}),
      updatedAt: now
    } as ConstructorParameters<typeof JobState>[0])
    const value = encodeState(next)
    const event = yield* eventOp(
      keys,
      id,
      "client",
      new JobEvent({
        at: now,
        type: `job.${operation}`,
        message: `${operation} requested${byText(by)}: ${current.state} -> ${to}`,
        ...requesterFields(by)
      })
    )
    const r = yield* store.txn({
      compare: [{ key: keys.jobState(id), target: "modRevision", op: "==", value: kv.value.modRevision }],
      success: [
        { _tag: "put", key: keys.jobState(id), value },
        { _tag: "put", key: keys.indexEntry(id), value },
        event,
        // every operation leaves the job with work for a runner (a finished one comes back)
        ActiveIndex.op(keys, id, next, undefined)
      ]
    })
    if (r.succeeded) return next
  }
  return yield* new JobError({ job: id, reason: "Conflict", message: `job "${id}" kept changing; try again` })
})
