/**
 * Jobs for the dashboard's browser tests and screenshots, written to a store
 * the way the engine writes them (task status and result records, the event
 * log with every attempt, the job state and its index entry), with a fixed,
 * deterministic history: a recovery plan of projects, networks, volumes and
 * instances in which some instances fail after retries, some succeed on a
 * second attempt and what depends on a failure is ignored.
 */
import { Codec, Job, JobBuilder, JobEvent, Jobs, type Keys, SharedResource, Store, Task } from "@migrator/core"
import { Effect, type Schema } from "effect"

export const T0 = Date.UTC(2026, 11, 2, 9, 0, 0)
const DEFAULT_T0 = T0

interface Entry {
  id: string
  type: string
  dependencies: Array<string>
  input: Schema.Json
  shared?: string
}

/**
 * A plan of `projects` projects with `vms` instances each: 12 + 3 × vms tasks
 * per project (2 projects × 1 vm = 30 tasks, 10 × 6 = 300, 50 × 16 = 3,000).
 */
export const plan = (projects: number, vms: number): Array<Entry> => {
  const out: Array<Entry> = []
  const add = (id: string, kind: string, dependencies: Array<string>, shared?: string): void => {
    out.push({
      id,
      type: `openstack/${kind}`,
      dependencies,
      input: { name: id },
      ...(shared === undefined ? {} : { shared })
    })
  }
  const names = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett"]
  for (let p = 0; p < projects; p++) {
    const name = `${names[p % names.length]}${p >= names.length ? `-${Math.floor(p / names.length)}` : ""}`
    const project = `project:${name}`
    add(project, "tenant.create", [], `dr/project/${name}`)
    const nets = [0, 1].map((n) => `network:${name}-production-network-${n}`)
    for (const net of nets) add(net, "network.create", [project], `dr/network/${net}`)
    const subnets = nets.map((_net, n) => `subnet:${name}-production-subnet-${n}`)
    for (const [n, s] of subnets.entries()) add(s, "subnet.create", [project, nets[n]!])
    const router = `router:${name}-edge-router`
    add(router, "router.create", [project, ...subnets])
    const groups = [0, 1].map((g) => `sg:${name}-security-group-${g === 0 ? "web" : "db"}`)
    for (const g of groups) add(g, "security-group.create", [project])
    const rules = [0, 1, 2].map((r) => `rule:${name}-security-group-${r === 2 ? "db" : "web"}:${r}`)
    for (const [i, r] of rules.entries()) add(r, "security-group-rule.create", [groups[i === 2 ? 1 : 0]!])
    const keypair = `keypair:${name}-operators`
    add(keypair, "keypair.create", [project])
    for (let v = 0; v < vms; v++) {
      const vm = `${name}-application-server-${String(v).padStart(3, "0")}`
      const volume = `volume:${vm}-boot-volume`
      add(volume, "volume.copy", [project])
      add(`instance:${vm}`, "instance.create", [nets[v % 2]!, subnets[v % 2]!, groups[v % 2]!, volume, keypair])
      add(`fip:${vm}`, "floating-ip.create", [`instance:${vm}`, router])
    }
  }
  return out
}

const durations: Record<string, number> = {
  "tenant.create": 2_000,
  "network.create": 3_000,
  "subnet.create": 2_500,
  "router.create": 6_000,
  "security-group.create": 1_500,
  "security-group-rule.create": 800,
  "keypair.create": 700,
  "volume.copy": 9 * 60_000,
  "instance.create": 95_000,
  "floating-ip.create": 4_000
}

/** How an instance fares by its index: fails for good after 3 attempts, succeeds on the 2nd, or succeeds. */
const fate = (id: string, index: number): { attempts: number; fails: boolean } => {
  if (!id.startsWith("instance:")) return { attempts: 1, fails: false }
  if (index % 7 === 1) return { attempts: 3, fails: true }
  if (index % 5 === 3) return { attempts: 2, fails: false }
  return { attempts: 1, fails: false }
}

export interface Options {
  readonly id: string
  readonly projects: number
  readonly vms: number
  readonly labels?: Record<string, string>
  /** With clear tasks (one `undo:` per run task, with the same shared key). */
  readonly clear?: boolean
  readonly rtoMs?: number
  /** When the job started (default T0). */
  readonly startedAt?: number
  /** Leave the job running: tasks starting after this many ms from the start stay waiting, those in flight running. */
  readonly runningAt?: number
}

/** Submits a job and writes its history; returns the ids of the failed, ignored and retried-then-succeeded tasks. */
export const write = (keys: Keys.Layout, options: Options) =>
  Effect.gen(function* () {
    const T0 = options.startedAt ?? DEFAULT_T0
    const store = yield* Store.Store
    const entries = plan(options.projects, options.vms)
    const document = {
      id: options.id,
      labels: options.labels ?? {},
      target: "dr-site",
      ...(options.rtoMs === undefined ? {} : { rtoMs: options.rtoMs }),
      tasks: entries,
      ...(options.clear === true
        ? {
            clearTasks: [...entries].reverse().map((e) => ({
              id: `undo:${e.id}`,
              type: e.type.replace(/\.(create|copy)$/, ".delete"),
              undoes: e.id,
              dependencies: entries.filter((d) => d.dependencies.includes(e.id)).map((d) => `undo:${d.id}`),
              input: {},
              ...(e.shared === undefined ? {} : { shared: e.shared })
            }))
          }
        : {})
    }
    const built = yield* JobBuilder.build(document)
    yield* Jobs.submit(keys, { ...built, spec: new Job.JobSpec({ ...built.spec, createdAt: T0 - 60_000 }) })

    const cutoff = T0 + (options.runningAt ?? Number.POSITIVE_INFINITY)
    const end = new Map<string, { at: number; result: Task.Result }>()
    const failed: Array<string> = []
    const ignored: Array<string> = []
    const retried: Array<string> = []
    let ops: Array<Store.Op> = []
    let seq = 0
    const flush = Effect.suspend(() => {
      const success = ops
      ops = []
      return success.length === 0 ? Effect.void : store.txn({ compare: [], success }).pipe(Effect.asVoid)
    })
    const put = (key: string, value: string) =>
      Effect.gen(function* () {
        ops.push({ _tag: "put", key, value })
        if (ops.length >= 120) yield* flush
      })
    const event = (e: ConstructorParameters<typeof JobEvent.JobEvent>[0]) =>
      Effect.gen(function* () {
        const op = yield* Jobs.eventOp(keys, options.id, `w${seq++}`, new JobEvent.JobEvent(e))
        ops.push(op)
        if (ops.length >= 120) yield* flush
      })
    const status = (task: string, value: Task.TaskStatus) =>
      put(keys.task(options.id, "run", task, "status"), Jobs.encodeStatus(value))
    const result = (task: string, value: Task.TaskResult) =>
      put(keys.task(options.id, "run", task, "result"), Jobs.encodeResult(value))

    yield* event({ at: T0, type: "job.started", message: "job started", runner: "runner-a" })
    let instanceIndex = 0
    // the plan lists every task after its dependencies
    for (const [i, e] of entries.entries()) {
      const deps = e.dependencies.map((d) => end.get(d))
      if (deps.some((d) => d === undefined)) continue // a dependency is still running or waiting
      const bad = e.dependencies.filter((d) => end.get(d)!.result !== "success")
      const ready = Math.max(T0, ...deps.map((d) => d!.at)) + 150
      const kind = e.type.slice("openstack/".length)
      if (bad.length > 0) {
        if (ready > cutoff) continue
        const reason = { code: "dependency.failed", message: `dependencies did not succeed: ${bad.join(", ")}` }
        yield* status(e.id, new Task.TaskStatus({ status: "done", attempt: 0, updatedAt: ready }))
        yield* result(e.id, new Task.TaskResult({ result: "ignored", reason, attempt: 0, finishedAt: ready }))
        yield* event({ at: ready, type: "task.ignored", taskId: e.id, phase: "run", message: reason.message })
        end.set(e.id, { at: ready, result: "ignored" })
        ignored.push(e.id)
        continue
      }
      const { attempts, fails } = fate(e.id, e.id.startsWith("instance:") ? instanceIndex++ : i)
      const runner = `runner-${"abc"[i % 3]}`
      let at = ready
      let finished = true
      for (let n = 1; n <= attempts; n++) {
        if (at > cutoff) {
          finished = false
          break
        }
        const length = (durations[kind] ?? 1_000) * (n === attempts && !fails ? 1 : 0.4) + (i % 11) * 40
        yield* event({
          at,
          type: n > 1 ? "task.retried" : "task.started",
          taskId: e.id,
          phase: "run",
          runner,
          message: `attempt ${n} on ${runner}`
        })
        if (at + length > cutoff) {
          yield* status(
            e.id,
            new Task.TaskStatus({ status: "running", attempt: n, runner, startedAt: at, updatedAt: at })
          )
          finished = false
          break
        }
        at += length
        const last = n === attempts
        const message = `compute: instance ${e.id.slice(9)} went to ERROR: No valid host was found. There are not enough hosts available for the requested flavor m1.xlarge in availability zone dr-az-1 (attempt ${n})`
        if (!last || fails) {
          yield* event({
            at,
            type: last ? "task.failed" : "task.attempt-failed",
            taskId: e.id,
            phase: "run",
            runner,
            message: last ? message : `attempt ${n} failed, retrying in 2000 ms: ${message}`
          })
          at += last ? 0 : 2_000
        }
        if (last) {
          yield* status(e.id, new Task.TaskStatus({ status: "done", attempt: n, updatedAt: at }))
          if (fails) {
            yield* result(
              e.id,
              new Task.TaskResult({
                result: "failed",
                reason: { code: "nova.no-valid-host", message, details: { flavor: "m1.xlarge", zone: "dr-az-1" } },
                retryable: true,
                attempt: n,
                finishedAt: at
              })
            )
            failed.push(e.id)
          } else {
            yield* result(
              e.id,
              new Task.TaskResult({ result: "success", output: { id: `os-${i}` }, attempt: n, finishedAt: at })
            )
            yield* event({
              at,
              type: "task.succeeded",
              taskId: e.id,
              phase: "run",
              runner,
              message: `succeeded on attempt ${n}`
            })
          }
          end.set(e.id, { at, result: fails ? "failed" : "success" })
          if (!fails && n > 1) retried.push(e.id)
        }
      }
      if (!finished) continue
    }
    const done = end.size === entries.length
    const last = Math.max(T0, ...[...end.values()].map((v) => v.at))
    const outcome: Job.Outcome = failed.length + ignored.length === 0 ? "succeeded" : "partial"
    const elapsedMs = last - T0
    const state = done
      ? new Job.JobState({
          state: "completed",
          outcome,
          updatedAt: last,
          startedAt: T0,
          completedAt: last,
          elapsedMs,
          ...(options.rtoMs === undefined ? {} : { rtoMet: elapsedMs <= options.rtoMs })
        })
      : new Job.JobState({ state: "running", updatedAt: T0, startedAt: T0 })
    if (done) yield* event({ at: last, type: "job.completed", message: `completed: ${outcome}`, runner: "runner-a" })
    yield* put(keys.jobState(options.id), Jobs.encodeState(state))
    yield* put(keys.indexEntry(options.id), Jobs.encodeState(state))
    yield* flush
    return { failed, ignored, retried, tasks: entries.length }
  })

/** A shared-resource record held by `holders` (for the rollback preview). */
export const holdShared = (keys: Keys.Layout, key: string, job: string, task: string, holders: Array<string>) =>
  Store.put(
    keys.shared(key),
    Codec.encode(SharedResource.SharedRecord)(
      new SharedResource.SharedRecord({ state: "ready", job, task, phase: "run", token: 1, holders, updatedAt: T0 })
    )
  )
