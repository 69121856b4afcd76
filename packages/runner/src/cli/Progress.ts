/**
 * `migrator job watch`: follows a job through the store's watch until it is
 * terminal. On a terminal, a live display redrawn in place (counts per
 * result, a bar, the running tasks, the elapsed time); otherwise one plain
 * line per task status change. Both end with a summary line.
 *
 * @since 0.1.0
 */
import { Job, type Jobs, type Keys, Store, Task, type TaskPages, type TaskTally } from "@migrator/core"
import { Clock, Console, type Duration, Effect, Exit, Fiber, Option, Schedule, Schema, Stream } from "effect"
import type { JobJson } from "../http/JobDocument.ts"

export interface TaskProgress {
  readonly id: string
  readonly phase: Task.Phase
  readonly type: string
  readonly status: Task.Status
  readonly attempt: number
  readonly runner: string | undefined
  readonly startedAt: number | undefined
  readonly result: Task.Result | undefined
  readonly reason: string | undefined
}

export interface Model {
  readonly id: string
  readonly state: Job.JobState
  readonly tasks: ReadonlyMap<string, TaskProgress>
  /** A large job's counts, kept apart from `tasks` (which then holds none or a page of them). */
  readonly totals?: TaskPages.JobCounts | undefined
}

const key = (phase: string, task: string) => `${phase}/${task}`

export const fromView = (id: string, view: Jobs.JobView): Model => ({
  id,
  state: view.state,
  tasks: new Map(
    view.tasks.map((t) => [
      key(t.spec.phase, t.spec.id),
      {
        id: t.spec.id,
        phase: t.spec.phase,
        type: t.spec.type,
        status: t.status?.status ?? "waiting",
        attempt: t.status?.attempt ?? 0,
        runner: t.status?.runner,
        startedAt: t.status?.startedAt,
        result: t.result?.result,
        reason: t.result?.reason === undefined ? undefined : `${t.result.reason.code}: ${t.result.reason.message}`
      }
    ])
  )
})

/** The phase the job is in: the clear phase once a rollback or confirm started. */
export const phaseOf = (state: Job.JobState): Task.Phase =>
  state.state === "clearing" || state.state === "cleared" || state.state === "clear-failed" ? "clear" : "run"

const describeState = (s: Job.JobState) => `${s.state}${s.outcome === undefined ? "" : ` (${s.outcome})`}`

const decodeState = Schema.decodeUnknownOption(Schema.fromJsonString(Job.JobState))
const decodeStatus = Schema.decodeUnknownOption(Schema.fromJsonString(Task.TaskStatus))
const decodeResult = Schema.decodeUnknownOption(Schema.fromJsonString(Task.TaskResult))

/** Applies one watch event; returns the new model and the plain lines it is worth. */
export const apply = (
  keys: Keys.Layout,
  model: Model,
  event: Store.WatchEvent
): { readonly model: Model; readonly lines: ReadonlyArray<string> } => {
  const k = event._tag === "put" ? event.kv.key : event.key
  const parsed = keys.parse(k)
  if (parsed === undefined || parsed.job !== model.id) return { model, lines: [] }
  if (parsed._tag === "jobState" && event._tag === "put") {
    const next = decodeState(event.kv.value)
    if (Option.isNone(next)) return { model, lines: [] }
    const changed = next.value.state !== model.state.state || next.value.outcome !== model.state.outcome
    return {
      model: { ...model, state: next.value },
      lines: changed ? [`job ${model.id}: ${describeState(next.value)}`] : []
    }
  }
  if (parsed._tag !== "task") return { model, lines: [] }
  const current = model.tasks.get(key(parsed.phase, parsed.task))
  if (current === undefined) return { model, lines: [] }
  const set = (t: TaskProgress) => {
    const tasks = new Map(model.tasks)
    tasks.set(key(t.phase, t.id), t)
    return { ...model, tasks }
  }
  if (parsed.record === "status" && event._tag === "put") {
    const s = decodeStatus(event.kv.value)
    if (Option.isNone(s)) return { model, lines: [] }
    const next: TaskProgress = {
      ...current,
      status: s.value.status,
      attempt: s.value.attempt,
      runner: s.value.runner,
      startedAt: s.value.startedAt,
      ...(s.value.status === "done" ? {} : { result: undefined, reason: undefined })
    }
    const changed = next.status !== current.status || next.attempt !== current.attempt
    // a done status (written with the result by earlier versions) is reported with its result
    const line =
      changed && next.status !== "done"
        ? [
            `${next.phase} ${next.id} ${next.status}${next.status === "running" ? ` (attempt ${next.attempt}${next.runner === undefined ? "" : ` on ${next.runner}`})` : ""}`
          ]
        : []
    return { model: set(next), lines: line }
  }
  if (parsed.record === "result") {
    if (event._tag === "delete") return { model: set({ ...current, result: undefined, reason: undefined }), lines: [] }
    const r = decodeResult(event.kv.value)
    if (Option.isNone(r)) return { model, lines: [] }
    const reason = r.value.reason === undefined ? undefined : `${r.value.reason.code}: ${r.value.reason.message}`
    const changed = r.value.result !== current.result
    return {
      model: set({ ...current, status: "done", result: r.value.result, reason }),
      lines: changed
        ? [`${current.phase} ${current.id} ${r.value.result}${reason === undefined ? "" : ` (${reason})`}`]
        : []
    }
  }
  return { model, lines: [] }
}

export interface Counts {
  readonly total: number
  readonly done: number
  readonly running: number
  readonly waiting: number
  readonly results: Readonly<Record<Task.Result, number>>
}

export const counts = (model: Model, phase: Task.Phase = phaseOf(model.state)): Counts => {
  const totals = model.totals?.[phase]
  if (totals !== undefined) {
    const { total, waiting, running, ...results } = totals
    return { total, done: total - waiting - running, running, waiting, results }
  }
  const results: Record<Task.Result, number> = { success: 0, failed: 0, ignored: 0, canceled: 0, skipped: 0 }
  let total = 0
  let done = 0
  let running = 0
  let waiting = 0
  for (const t of model.tasks.values()) {
    if (t.phase !== phase) continue
    total++
    if (t.result !== undefined) {
      done++
      results[t.result]++
    } else if (t.status === "running") running++
    else waiting++
  }
  return { total, done, running, waiting, results }
}

export const formatDuration = (ms: number): string => {
  const s = Math.max(0, Math.floor(ms / 1000))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const sec = s % 60
  const two = (n: number) => String(n).padStart(2, "0")
  return h > 0 ? `${h}:${two(m)}:${two(sec)}` : `${two(m)}:${two(sec)}`
}

const elapsedOf = (state: Job.JobState, now: number) => {
  if (state.startedAt === undefined) return 0
  if (Job.isTerminal(state.state) && state.elapsedMs !== undefined && state.state !== "cleared") return state.elapsedMs
  return Math.max(0, (Job.isTerminal(state.state) ? (state.completedAt ?? state.updatedAt) : now) - state.startedAt)
}

const BAR = 30

const countsLine = (c: Counts) =>
  `success ${c.results.success}  failed ${c.results.failed}  ignored ${c.results.ignored}  canceled ${c.results.canceled}  skipped ${c.results.skipped}  running ${c.running}  waiting ${c.waiting}`

/** The live display: a few lines, redrawn in place. */
export const frame = (model: Model, now: number): ReadonlyArray<string> => {
  const phase = phaseOf(model.state)
  const c = counts(model, phase)
  const filled = c.total === 0 ? BAR : Math.round((c.done / c.total) * BAR)
  const bar = `${"█".repeat(filled)}${"░".repeat(BAR - filled)}`
  const running = [...model.tasks.values()]
    .filter((t) => t.phase === phase && t.status === "running" && t.result === undefined)
    .sort((a, b) => (a.startedAt ?? 0) - (b.startedAt ?? 0))
  const shown = running
    .slice(0, 6)
    .map(
      (t) =>
        `${t.id} (${t.type}${t.attempt > 1 ? `, attempt ${t.attempt}` : ""}${t.startedAt === undefined ? "" : `, ${formatDuration(now - t.startedAt)}`})`
    )
  return [
    `job ${model.id}  ${describeState(model.state)}  ${phase} phase  elapsed ${formatDuration(elapsedOf(model.state, now))}`,
    `[${bar}] ${c.done}/${c.total}`,
    countsLine(c),
    // a large job's running tasks are counted, not listed
    model.totals !== undefined
      ? `running: ${c.running} tasks`
      : `running: ${shown.length === 0 ? "-" : shown.join(", ")}${running.length > shown.length ? ` and ${running.length - shown.length} more` : ""}`
  ]
}

/** The closing line of both displays. */
export const summary = (model: Model, now: number): string => {
  const c = counts(model)
  const parts = (Object.keys(c.results) as Array<Task.Result>)
    .filter((r) => c.results[r] > 0)
    .map((r) => `${c.results[r]} ${r}`)
  return `job ${model.id} ${describeState(model.state)}: ${phaseOf(model.state)} phase ${c.done}/${c.total} done${parts.length === 0 ? "" : ` (${parts.join(", ")})`}, elapsed ${formatDuration(elapsedOf(model.state, now))}`
}

/** Whether `watch` exits 0: the run phase succeeded, or the clear phase finished cleanly. */
export const succeeded = (s: { readonly state: string; readonly outcome?: string | null | undefined }) =>
  (s.state === "completed" && s.outcome === "succeeded") || s.state === "cleared"

const HIDE_CURSOR = "\x1b[?25l"
const SHOW_CURSOR = "\x1b[?25h"

/**
 * Cuts a line to fit a terminal of `columns` (0: unknown): lines must not wrap, or moving the
 * cursor up by the line count would not reach the top of the previous frame.
 */
export const fitTo = (columns: number) => (line: string) =>
  columns > 1 && line.length >= columns ? `${line.slice(0, columns - 2)}…` : line

/** How the progress is shown: a live display on a terminal of `columns` (0: unknown), or plain lines. */
export interface Display {
  readonly tty: boolean
  readonly columns: number
}

/** How often plain output prints a large job's counts (it prints no line per task). */
const COUNTS_EVERY = "5 seconds"

/**
 * Follows a job until it is terminal and returns its final state. With a `tally` (a large job),
 * the display shows its counts, kept by the tally from the same watch, and plain output prints
 * them every few seconds instead of a line per task.
 */
export const follow = (
  keys: Keys.Layout,
  start: Model,
  fromRevision: number,
  display: Display,
  tally?: TaskTally.Tally
) =>
  Effect.gen(function* () {
    const store = yield* Store.Store
    const tty = display.tty
    const id = start.id
    let model = start
    let drawn = 0
    const fit = fitTo(display.columns)
    const draw = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const lines = frame(model, now).map(fit)
      // the cursor is hidden while the display is live, and moved back up over the previous frame
      const up = drawn === 0 ? HIDE_CURSOR : `\x1b[${drawn}A\x1b[0J`
      drawn = lines.length
      yield* Console.log(`${up}${lines.join("\n")}`)
    })
    // plain lines carry the time they were seen: a log of the job's progress
    const stamped = (line: string) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => Console.log(`${new Date(now).toISOString()} ${line}`))
    if (tty) yield* draw
    else yield* stamped(`job ${id}: ${describeState(model.state)}`)
    if (!Job.isTerminal(model.state.state)) {
      let lastCounts = ""
      const countsNow = Effect.suspend(() => {
        const line = countsLine(counts(model))
        if (line === lastCounts) return Effect.void
        lastCounts = line
        return stamped(line)
      })
      const ticker = tty
        ? yield* draw.pipe(Effect.repeat(Schedule.spaced("250 millis")), Effect.forkChild)
        : tally !== undefined
          ? yield* countsNow.pipe(Effect.repeat(Schedule.spaced(COUNTS_EVERY)), Effect.forkChild)
          : undefined
      yield* store.watch(keys.job(id), { fromRevision }).pipe(
        Stream.mapEffect((event) =>
          Effect.suspend(() => {
            tally?.apply(event)
            const next = apply(keys, model, event)
            model = next.model
            return tty ? Effect.void : Effect.forEach(next.lines, stamped, { discard: true })
          })
        ),
        Stream.takeUntil(() => Job.isTerminal(model.state.state)),
        Stream.runDrain
      )
      if (ticker !== undefined) yield* Fiber.interrupt(ticker)
    }
    const now = yield* Clock.currentTimeMillis
    if (tty) yield* draw
    yield* Console.log(`${tty ? SHOW_CURSOR : ""}${summary(model, now)}`)
    return model.state
  }).pipe(Effect.onExit((exit) => (display.tty && Exit.isFailure(exit) ? Console.log(SHOW_CURSOR) : Effect.void)))

/** A job document as a progress model (for following a job through a runner's API). */
export const fromDocument = (job: JobJson): Model => ({
  id: job.id,
  state: Schema.decodeUnknownSync(Job.JobState)({ ...job, outcome: job.outcome ?? undefined }),
  totals: job.tasksPage?.complete === false ? job.counts : undefined,
  tasks: new Map(
    job.tasks.map((t) => [
      key(t.phase, t.id),
      {
        id: t.id,
        phase: t.phase,
        type: t.type,
        status: t.status as Task.Status,
        attempt: t.attempt,
        runner: t.runner ?? undefined,
        startedAt: t.startedAt ?? undefined,
        result: (t.result ?? undefined) as Task.Result | undefined,
        reason: t.reason === null ? undefined : `${t.reason.code}: ${t.reason.message}`
      }
    ])
  )
})

/** The plain lines `apply` would print for the changes from `before` to `after` (polling sees only snapshots). */
export const changes = (before: Model, after: Model): ReadonlyArray<string> => {
  const lines: Array<string> = []
  for (const [k, t] of after.tasks) {
    const was = before.tasks.get(k)
    if (was === undefined) continue
    if (t.status !== "done" && (t.status !== was.status || t.attempt !== was.attempt)) {
      lines.push(
        `${t.phase} ${t.id} ${t.status}${t.status === "running" ? ` (attempt ${t.attempt}${t.runner === undefined ? "" : ` on ${t.runner}`})` : ""}`
      )
    }
    if (t.result !== undefined && (t.result !== was.result || t.attempt !== was.attempt)) {
      lines.push(`${t.phase} ${t.id} ${t.result}${t.reason === undefined ? "" : ` (${t.reason})`}`)
    }
  }
  if (after.state.state !== before.state.state || after.state.outcome !== before.state.outcome) {
    lines.push(`job ${after.id}: ${describeState(after.state)}`)
  }
  return lines
}

/** Follows a job by reading it every `interval` (through a runner's API) until it is terminal. */
export const poll = <E>(load: Effect.Effect<JobJson, E>, display: Display, interval: Duration.Input = "1 second") =>
  Effect.gen(function* () {
    let model = fromDocument(yield* load)
    const fit = fitTo(display.columns)
    let drawn = 0
    const stamped = (line: string) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => Console.log(`${new Date(now).toISOString()} ${line}`))
    const draw = Effect.gen(function* () {
      const lines = frame(model, yield* Clock.currentTimeMillis).map(fit)
      const up = drawn === 0 ? HIDE_CURSOR : `\x1b[${drawn}A\x1b[0J`
      drawn = lines.length
      yield* Console.log(`${up}${lines.join("\n")}`)
    })
    if (display.tty) yield* draw
    else yield* stamped(`job ${model.id}: ${describeState(model.state)}`)
    while (!Job.isTerminal(model.state.state)) {
      yield* Effect.sleep(interval)
      const next = fromDocument(yield* load)
      if (display.tty) {
        model = next
        yield* draw
      } else {
        const lines = changes(model, next)
        model = next
        yield* Effect.forEach(lines, stamped, { discard: true })
      }
    }
    yield* Console.log(`${display.tty ? SHOW_CURSOR : ""}${summary(model, yield* Clock.currentTimeMillis)}`)
    return model.state
  }).pipe(Effect.onExit((exit) => (display.tty && Exit.isFailure(exit) ? Console.log(SHOW_CURSOR) : Effect.void)))
