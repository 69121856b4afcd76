/**
 * Submitting jobs (through `@migrator/core`, as `migrator job submit` does) and following them on
 * etcd's watch: the clock of every case starts when the bench's watcher sees the job's spec
 * committed and stops when it sees the job's state, so it measures the runners, not the submitter.
 */
import { JobBuilder, Jobs, type Keys } from "@migrator/core"
import { EtcdStore } from "@migrator/etcd-store"
import { Effect, ManagedRuntime } from "effect"
import type { Etcd3 } from "etcd3"
import { type Arrival, watchPuts } from "./etcd.ts"

export interface Submitter {
  readonly submit: (keys: Keys.Layout, document: unknown) => Promise<string>
  readonly dispose: () => Promise<void>
}

export const submitter = (endpoint: string): Submitter => {
  const runtime = ManagedRuntime.make(EtcdStore.layer({ endpoints: [endpoint] }))
  return {
    submit: (keys, document) =>
      runtime.runPromise(JobBuilder.build(document).pipe(Effect.flatMap((built) => Jobs.submit(keys, built)))),
    dispose: () => runtime.dispose()
  }
}

export interface JobWatch {
  /** The bench's watcher received the job's spec (the submission's last transaction). */
  readonly committed: Promise<Arrival>
  /** The bench's watcher received the job's state `completed` with outcome `succeeded`. */
  readonly completed: Promise<Arrival>
  readonly cancel: () => Promise<void>
}

const failedStates = new Set(["canceled", "cleared", "clear-failed"])

/**
 * Follows job `id` from `fromRevision`: only its `spec` and `state` keys (the watched prefix ends in
 * `s`, which task keys under `tasks/` do not start with), so a large job costs the bench nothing.
 * `onCommitted`/`onCompleted` run as the events arrive, to read CPU counters at those instants.
 */
export const watchJob = async (
  client: Etcd3,
  keys: Keys.Layout,
  id: string,
  fromRevision: number,
  hooks: { readonly onCommitted?: () => void; readonly onCompleted?: () => void } = {}
): Promise<JobWatch> => {
  let commit!: (a: Arrival) => void
  let complete!: (a: Arrival) => void
  let fail!: (e: Error) => void
  const committed = new Promise<Arrival>((resolve) => {
    commit = resolve
  })
  const completed = new Promise<Arrival>((resolve, reject) => {
    complete = resolve
    fail = reject
  })
  // a job that fails before anyone awaits `completed` must not be an unhandled rejection
  completed.catch(() => undefined)
  const watcher = await watchPuts(client, `${keys.job(id)}s`, fromRevision, (kv, at) => {
    const key = kv.key.toString()
    if (key === keys.jobSpec(id)) {
      hooks.onCommitted?.()
      commit(at)
    } else if (key === keys.jobState(id)) {
      const state = JSON.parse(kv.value.toString()) as { state: string; outcome?: string }
      if (state.state === "completed" && state.outcome === "succeeded") {
        hooks.onCompleted?.()
        complete(at)
      } else if (state.state === "completed" || failedStates.has(state.state)) {
        fail(new Error(`job ${id} ended ${state.state} ${state.outcome ?? ""}`))
      }
    }
  })
  return { committed, completed, cancel: () => watcher.cancel() }
}

/** `count` independent tasks: no-ops, or each as `task` makes it. */
export const independentTasks = (
  id: string,
  count: number,
  task: (i: number) => { readonly type: string; readonly input: unknown } = (i) => ({ type: "test/echo", input: { i } })
) => ({
  id,
  tasks: Array.from({ length: count }, (_, i) => ({ id: `t${i}`, ...task(i) }))
})

/**
 * `count` independent tasks that each wait `ms` (`test/sleep`): tasks that spend their time
 * waiting on a cloud, as recovery tasks do, so a runner's concurrency bounds it, not its CPU.
 */
export const waitingTasks = (id: string, count: number, ms: number) =>
  independentTasks(id, count, () => ({ type: "test/sleep", input: { ms } }))

/** A tree of `count` no-op tasks, each depending on its parent (four children each). */
export const treeTasks = (id: string, count: number) => ({
  id,
  tasks: Array.from({ length: count }, (_, i) => ({
    id: `b${i}`,
    type: "test/echo",
    dependencies: i === 0 ? [] : [`b${Math.floor((i - 1) / 4)}`],
    input: { i }
  }))
})

/** A chain: each task depends on the previous one and takes its output by reference. */
export const chainTasks = (id: string, count: number) => ({
  id,
  tasks: Array.from({ length: count }, (_, i) => ({
    id: `c${i}`,
    type: "test/echo",
    dependencies: i === 0 ? [] : [`c${i - 1}`],
    input: i === 0 ? { v: 0 } : { v: { $ref: `c${i - 1}#/v` } }
  }))
})
