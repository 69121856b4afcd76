/**
 * What ends an attempt, as the result transaction's writes: the result, or
 * (a retryable failure with attempts left, by the retry policy) a `waiting`
 * status with the backoff; the event; the shared record's update; the
 * release of the target slot. A result writes no status: it says the task
 * is done (`Task.statusOf`), and every runner follows one change less.
 */
import { Clock, Duration, Effect, Option } from "effect"
import * as Jobs from "../Jobs.ts"
import type * as Keys from "../Keys.ts"
import type { Claim } from "../LeaderElection.ts"
import { make as reason } from "../Reason.ts"
import type { ResultWrite } from "../ResultTxn.ts"
import * as RetryPolicy from "../RetryPolicy.ts"
import type { Op } from "../Store.ts"
import { type Result, TaskResult, TaskStatus } from "../Task.ts"
import type { TaskRegistry } from "../TaskRegistry.ts"
import type { Outcome } from "./attempt.ts"
import type { Writer } from "./jobWrites.ts"
import * as Records from "./records.ts"

export interface Dependencies {
  readonly keys: Keys.Layout
  readonly writer: Writer
  readonly registry: TaskRegistry["Service"]
}

export const of = (deps: Dependencies, claim: Claim, outcome: Outcome): Effect.Effect<ResultWrite> =>
  Effect.gen(function* () {
    const { keys, writer, registry } = deps
    const at = yield* Clock.currentTimeMillis
    const { job, phase, task, attempt, spec } = claim
    const put = (record: "result" | "status", value: string): Op => ({
      _tag: "put",
      key: keys.task(job, phase, task, record),
      value
    })
    const result = (r: Result, extra: Partial<ConstructorParameters<typeof TaskResult>[0]>) =>
      put("result", Jobs.encodeResult(Records.make(TaskResult, { result: r, attempt, finishedAt: at, ...extra })))
    const ops: Array<Op> = []
    let sharedUpdate = outcome._tag === "success" || outcome._tag === "skipped" ? outcome.shared : undefined
    switch (outcome._tag) {
      case "success":
        ops.push(
          result("success", { output: outcome.output }),
          yield* writer.event(job, phase, task, "task.succeeded", `succeeded on attempt ${attempt}`)
        )
        break
      case "skipped":
        ops.push(
          result("skipped", { reason: outcome.reason }),
          yield* writer.event(job, phase, task, "task.skipped", outcome.reason.message)
        )
        break
      case "canceled":
        ops.push(
          result("canceled", { reason: reason("job.canceled", "interrupted by cancel") }),
          yield* writer.event(job, phase, task, "task.canceled", "interrupted by cancel")
        )
        break
      case "failure": {
        const e = outcome.error
        const handler = Option.getOrUndefined(registry.get(spec.type))
        const policy = RetryPolicy.forTask(handler?.definition.retry, spec)
        const delay = e.retryable ? yield* RetryPolicy.delayAfter(policy, attempt) : Option.none()
        sharedUpdate = outcome.shared?.(Option.isSome(delay))
        if (Option.isSome(delay)) {
          const ms = Duration.toMillis(delay.value)
          ops.push(
            put(
              "status",
              Jobs.encodeStatus(new TaskStatus({ status: "waiting", attempt, updatedAt: at, notBefore: at + ms }))
            ),
            yield* writer.event(
              job,
              phase,
              task,
              "task.attempt-failed",
              `attempt ${attempt} failed, retrying in ${ms} ms: ${e.message}`,
              { code: e.code }
            )
          )
        } else {
          ops.push(
            result("failed", { reason: reason(e.code, e.message, e.details), retryable: e.retryable }),
            yield* writer.event(job, phase, task, "task.failed", e.message, { code: e.code })
          )
        }
        break
      }
    }
    if (sharedUpdate !== undefined) ops.push(sharedUpdate.op)
    if (claim.slot !== undefined) ops.push({ _tag: "delete", key: claim.slot })
    return {
      claimKey: keys.task(job, phase, task, "claim"),
      token: claim.token,
      compare: sharedUpdate === undefined ? [] : [sharedUpdate.compare],
      ops,
      // a shared-record update decides alone: its conflicts are answered by deciding again
      alone: sharedUpdate !== undefined
    }
  })
