/**
 * The simulation's handlers and the "cloud" they change. Handlers behave as
 * real ones should: a create marks what it makes with the task's idempotency
 * key and adopts what it finds under that key, so a retry or a successor
 * never makes a second one. The cloud counts every side effect, so a second
 * resource for one logical key (a duplicate whose first copy is orphaned) is
 * seen whoever caused it. Executions are witnessed on the handler side: two
 * at once for one task, and how many run at once per target, counting only
 * executions whose claim is still in the store (an executor past its lease is
 * fenced out, however long its handler takes to notice).
 */
import { Keys, type Store, TaskContext, TaskError, TaskHandler } from "@migrator/core"
import { Duration, Effect, Layer, Schema } from "effect"

export const keys = Keys.make("sim/")
export const CREATE_MAX_ATTEMPTS = 4
export const DELETE_MAX_ATTEMPTS = 6

export const Create = TaskHandler.make("sim/create", {
  input: Schema.Struct({
    key: Schema.String,
    ms: Schema.Int,
    fail: Schema.Literals(["never", "always", "transient"]),
    failFirst: Schema.Int,
    sideEffectTimeout: Schema.Boolean
  }),
  output: Schema.Struct({ key: Schema.String, by: Schema.String, resource: Schema.String }),
  retry: { maxAttempts: CREATE_MAX_ATTEMPTS, baseDelay: Duration.millis(50), maxDelay: Duration.seconds(1) },
  timeout: "5 seconds"
})

export const Delete = TaskHandler.make("sim/delete", {
  input: Schema.Struct({ key: Schema.String, ms: Schema.Int }),
  output: Schema.Struct({ deleted: Schema.Int }),
  retry: { maxAttempts: DELETE_MAX_ATTEMPTS, baseDelay: Duration.millis(50), maxDelay: Duration.seconds(1) },
  timeout: "5 seconds"
})

type Context = TaskContext.TaskContext["Service"]

/** The key a handler marks its resources with: the engine's, derived from the shared key when there is one. */
export const idempotencyKey = (ctx: Context): string => ctx.idempotencyKey

interface Resource {
  readonly id: string
  /** What it stands for: the shared key, or job/task for a private resource. */
  readonly logical: string
  readonly idempotencyKey: string
  readonly by: string
  alive: boolean
}

interface Execution {
  readonly task: string
  readonly token: number
  readonly runner: string
  readonly claimKey: string
}

export interface CloudOptions {
  readonly peekKey: (key: string) => Effect.Effect<Store.KeyValue | undefined>
  readonly now: Effect.Effect<number>
  readonly violations: Array<string>
  /** The per-target limit the runners are started with. */
  readonly targetLimit: number
  /** Whether the limit holds cluster-wide (issue 11) or only per runner (today's engine). */
  readonly clusterLimits: boolean
}

export const makeCloud = (options: CloudOptions) => {
  const { violations } = options
  const resources: Array<Resource> = []
  const createdByKey = new Map<string, number>()
  const active = new Map<string, string>() // job/phase/task -> who runs it
  const busy = new Map<string, number>() // task@token -> executions running
  const lastBusy = new Map<string, number>() // task@token -> when an execution last ended
  const perTarget = new Map<string, Set<Execution>>()
  let nextId = 0
  let maxPerTarget = 0
  const overLimit = new Map<string, number>() // target -> starts found over its limit

  const runningOn = new Map<string, Set<string>>() // runner -> tasks it executes now
  const claimLive = (e: Execution) => Effect.map(options.peekKey(e.claimKey), (kv) => kv?.createRevision === e.token)

  /** Wraps a handler body: overlaps, activity per claim, executions per target. */
  const witnessed = <A, E, R>(body: Effect.Effect<A, E, R>) =>
    Effect.gen(function* () {
      const ctx = yield* TaskContext.TaskContext
      const task = `${ctx.jobId}/${ctx.phase}/${ctx.taskId}`
      const claim = `${task}@${ctx.fencingToken}`
      const at = yield* options.now
      const me = `attempt ${ctx.attempt} on ${ctx.runnerId} since ${at} ms`
      const other = active.get(task)
      if (other !== undefined) violations.push(`two executions of ${task} at once (${me}, while ${other} runs)`)
      active.set(task, me)
      busy.set(claim, (busy.get(claim) ?? 0) + 1)
      const mine = runningOn.get(ctx.runnerId) ?? new Set<string>()
      runningOn.set(ctx.runnerId, mine)
      mine.add(claim)
      const execution: Execution = {
        task,
        token: ctx.fencingToken,
        runner: ctx.runnerId,
        claimKey: keys.task(ctx.jobId, ctx.phase, ctx.taskId, "claim")
      }
      if (ctx.target !== undefined) {
        const running = perTarget.get(ctx.target) ?? new Set<Execution>()
        perTarget.set(ctx.target, running)
        running.add(execution)
        // executors past their lease are fenced out: only those still holding their claim count
        const live: Array<Execution> = []
        for (const e of running) if (yield* claimLive(e)) live.push(e)
        const counted = options.clusterLimits ? live : live.filter((e) => e.runner === ctx.runnerId)
        maxPerTarget = Math.max(maxPerTarget, counted.length)
        const over = overLimit.get(ctx.target) ?? 0
        if (counted.length > options.targetLimit) overLimit.set(ctx.target, over + 1)
        // the first few are enough to see what happened
        if (counted.length > options.targetLimit && over < 3) {
          violations.push(
            `${counted.length} tasks of target ${ctx.target} run at once${options.clusterLimits ? "" : ` on ${ctx.runnerId}`} at ${at} ms (limit ${options.targetLimit}): ${counted.map((e) => `${e.task} on ${e.runner}`).join(", ")}`
          )
        }
      }
      return yield* body.pipe(
        Effect.ensuring(
          Effect.gen(function* () {
            if (active.get(task) === me) active.delete(task)
            busy.set(claim, (busy.get(claim) ?? 1) - 1)
            mine.delete(claim)
            lastBusy.set(claim, yield* options.now)
            if (ctx.target !== undefined) perTarget.get(ctx.target)?.delete(execution)
          })
        )
      )
    })

  const sharedRecord = (shared: string) =>
    Effect.map(options.peekKey(keys.shared(shared)), (kv) =>
      kv === undefined ? undefined : (JSON.parse(kv.value) as { state: string; holders: Array<string> })
    )

  const create = Create.toLayer((input) =>
    witnessed(
      Effect.gen(function* () {
        const ctx = yield* TaskContext.TaskContext
        const me = `${ctx.jobId}/${ctx.taskId} (attempt ${ctx.attempt}, token ${ctx.fencingToken})`
        yield* Effect.sleep(Duration.millis(input.ms))
        if (input.fail === "always") return yield* Effect.fail(TaskError.permanent("sim.always", "always fails"))
        if (input.fail === "transient" && ctx.attempt <= input.failFirst) {
          return yield* Effect.fail(TaskError.retryable("sim.transient", `fails on attempt ${ctx.attempt}`))
        }
        // a shared resource whose record is ready must have been adopted by the engine instead
        if (ctx.shared !== undefined) {
          const record = yield* sharedRecord(ctx.shared)
          if (record?.state === "ready")
            violations.push(`${input.key} created by ${me} although its record is ready: ${JSON.stringify(record)}`)
        }
        const key = idempotencyKey(ctx)
        let resource = resources.find((r) => r.alive && r.idempotencyKey === key)
        if (resource === undefined) {
          const twin = resources.find((r) => r.alive && r.logical === input.key)
          if (twin !== undefined) {
            violations.push(
              `${input.key} created twice: by ${me} under key ${key} while ${twin.id} (key ${twin.idempotencyKey}, by ${twin.by}) exists`
            )
          }
          const n = (createdByKey.get(key) ?? 0) + 1
          createdByKey.set(key, n)
          if (n > 1 && ctx.shared === undefined) violations.push(`resource of key ${key} created ${n} times (by ${me})`)
          resource = { id: `res-${++nextId}`, logical: input.key, idempotencyKey: key, by: me, alive: true }
          resources.push(resource)
        }
        // a create whose answer is lost: the side effect happened, the attempt times out
        if (input.sideEffectTimeout && ctx.attempt === 1) yield* Effect.sleep("10 seconds")
        return { key: input.key, by: me, resource: resource.id }
      })
    )
  )

  const remove = Delete.toLayer((input) =>
    witnessed(
      Effect.gen(function* () {
        const ctx = yield* TaskContext.TaskContext
        yield* Effect.sleep(Duration.millis(input.ms))
        if (ctx.shared !== undefined) {
          const record = yield* sharedRecord(ctx.shared)
          if (record !== undefined && record.holders.length > 0)
            violations.push(`${ctx.shared} deleted while held by ${record.holders.join(",")}`)
        }
        let deleted = 0
        for (const r of resources) {
          if (r.alive && r.logical === input.key) {
            r.alive = false
            deleted++
          }
        }
        return { deleted }
      })
    )
  )

  return {
    layer: Layer.mergeAll(create, remove),
    /** What a runner executes now (for reports). */
    runningOn: (runner: string) => [...(runningOn.get(runner) ?? [])],
    /** Whether an execution holding this claim (task@token) runs now, and when one last ended. */
    activity: (claim: string) => ({ busy: (busy.get(claim) ?? 0) > 0, lastBusy: lastBusy.get(claim) }),
    leftovers: () => resources.filter((r) => r.alive),
    stats: () => ({ created: resources.length, maxPerTarget })
  }
}
