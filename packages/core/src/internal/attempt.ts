/**
 * One attempt of a claimed task: the shared-record decision, input
 * resolution, decoding, the handler under its timeout, output encoding.
 * Everything that can go wrong becomes an outcome; only interruption
 * escapes.
 */
import { Resolver } from "@migrator/resolver"
import { Cause, Duration, Effect, Exit, Option, Schedule, Schema } from "effect"
import * as Codec from "../Codec.ts"
import type { Claim } from "../LeaderElection.ts"
import type { Reason } from "../Reason.ts"
import * as RetryPolicy from "../RetryPolicy.ts"
import type * as SharedRefs from "../SharedRefs.ts"
import type { StoreError } from "../StoreError.ts"
import type { Phase } from "../Task.ts"
import { TaskContext } from "../TaskContext.ts"
import { TaskError } from "../TaskError.ts"
import type { TaskRegistry } from "../TaskRegistry.ts"
import type { JobSlot } from "./jobView.ts"

export type Outcome =
  | { readonly _tag: "success"; readonly output: Schema.Json; readonly shared?: SharedRefs.Update }
  | {
      readonly _tag: "failure"
      readonly error: TaskError
      /** The shared record's update, by whether the failure will be retried. */
      readonly shared?: (retried: boolean) => SharedRefs.Update | undefined
    }
  | { readonly _tag: "skipped"; readonly reason: Reason; readonly shared: SharedRefs.Update }
  | { readonly _tag: "canceled" }

/** The key handlers mark what they make with: the shared key's for shared tasks, so any holder finds it. */
export const idempotencyKey = (job: string, task: string, shared: string | undefined): string =>
  shared === undefined ? `${job}:${task}` : `shared:${shared}`

const failure = (code: string, message: string, retryable = false): Outcome => ({
  _tag: "failure",
  error: new TaskError({ code, message, retryable })
})

export interface Dependencies {
  readonly runnerId: string
  readonly registry: TaskRegistry["Service"]
  readonly shared: SharedRefs.SharedRefs["Service"]
}

/** Store errors escape only from the shared-record decision, and only when not retryable. */
export const run = (deps: Dependencies, job: JobSlot, claim: Claim): Effect.Effect<Outcome, StoreError> =>
  Effect.gen(function* () {
    const { spec, phase, attempt } = claim
    const handler = deps.registry.get(spec.type)
    if (Option.isNone(handler)) {
      return failure("handler.unknown", `no handler for task type "${spec.type}" on runner ${deps.runnerId}`)
    }
    const definition = handler.value.definition
    const policy = RetryPolicy.forTask(definition.retry, spec)
    if (!RetryPolicy.allows(policy, attempt)) {
      return failure("attempts.exhausted", `${attempt - 1} attempts used (max ${policy.maxAttempts})`)
    }
    // shared resources: adopt, wait, take over, or release
    let after: ((end: SharedRefs.End) => SharedRefs.Update | undefined) | undefined
    if (spec.shared !== undefined) {
      const decision = yield* deps.shared
        .decide(claim)
        .pipe(Effect.retry({ while: (e) => e.retryable, schedule: Schedule.spaced("200 millis") }))
      if (decision._tag === "lost") return yield* Effect.interrupt
      if (decision._tag === "adopt") return { _tag: "success", output: decision.output, shared: decision.update }
      if (decision._tag === "skip") return { _tag: "skipped", reason: decision.reason, shared: decision.update }
      after = decision.after
    }
    const failed = (error: TaskError): Outcome => ({
      _tag: "failure",
      error,
      ...(after === undefined ? {} : { shared: (retried) => after(retried ? { _tag: "retry" } : { _tag: "failure" }) })
    })
    const input = yield* resolveInput(job, phase, spec.input, claim.upstream)
    if (input._tag === "Left") return failed(input.error)
    const ctx = TaskContext.of({
      jobId: claim.job,
      taskId: spec.id,
      phase,
      type: spec.type,
      attempt,
      fencingToken: claim.token,
      target: job.spec?.target,
      runnerId: deps.runnerId,
      shared: spec.shared,
      idempotencyKey: idempotencyKey(claim.job, spec.id, spec.shared)
    })
    const timeout = spec.timeoutMs === undefined ? definition.timeout : Duration.millis(spec.timeoutMs)
    const invalid = (what: "input" | "output", e: Schema.SchemaError) => {
      const issue = Codec.describeIssue(e.issue)
      return new TaskError({
        code: `${what}.invalid`,
        message: `${what} does not match ${spec.type}: ${issue.field} ${issue.detail}`,
        retryable: false
      })
    }
    const exit = yield* Schema.decodeUnknownEffect(definition.input)(input.value).pipe(
      Effect.mapError((e) => invalid("input", e)),
      Effect.flatMap((decoded) => handler.value.run(decoded).pipe(Effect.provideService(TaskContext, ctx))),
      Effect.timeoutOrElse({
        duration: timeout,
        orElse: () =>
          Effect.fail(
            new TaskError({
              code: "task.timeout",
              message: `attempt timed out after ${Duration.format(timeout)}`,
              retryable: true
            })
          )
      }),
      Effect.flatMap((output) =>
        Schema.encodeUnknownEffect(definition.output)(output).pipe(Effect.mapError((e) => invalid("output", e)))
      ),
      Effect.exit
    )
    if (Exit.isSuccess(exit)) {
      const output = exit.value as Schema.Json
      const update = after?.({ _tag: "success", output })
      return { _tag: "success", output, ...(update === undefined ? {} : { shared: update }) }
    }
    if (Cause.hasInterruptsOnly(exit.cause)) return yield* Effect.interrupt
    const reason = exit.cause.reasons.find((r) => r._tag === "Fail")
    return failed(
      reason?._tag === "Fail"
        ? reason.error
        : new TaskError({
            code: "handler.defect",
            message: Cause.pretty(exit.cause).split("\n")[0] ?? "handler defect",
            retryable: false
          })
    )
  })

/**
 * Outputs of the referenced tasks: dependencies, and for clear tasks any run task; `upstream`
 * is the one the view may not hold yet (see `Claim.upstream`).
 */
const resolveInput = (job: JobSlot, phase: Phase, input: Schema.Json, upstream: Claim["upstream"]) => {
  const outputs = new Map<string, unknown>()
  const ids = Resolver.referencedTaskIds(input)
  for (const id of ids._tag === "Success" ? ids.success : []) {
    if (upstream?.task === id) {
      outputs.set(id, upstream.output)
      continue
    }
    const r = (job.tasks[phase].get(id) ?? job.tasks.run.get(id))?.result?.value
    if (r?.output !== undefined) outputs.set(id, r.output)
  }
  return Resolver.resolve(input, outputs).pipe(
    Effect.map((value) => ({ _tag: "Right" as const, value })),
    Effect.catch((e) =>
      Effect.succeed({
        _tag: "Left" as const,
        error: new TaskError({ code: "input.unresolved", message: e.message, retryable: false })
      })
    )
  )
}
