/**
 * The one retry policy (SPEC §4.4): a handler type's policy, overridden per
 * task, decides every retry the engine makes: plain and shared tasks alike.
 * Attempts are counted in the task's status, so the policy holds across
 * runners and takeovers; the delay is exponential with jitter, capped.
 *
 * @since 0.2.0
 */
import { Duration, Effect, Option, Random } from "effect"
import type { TaskSpec } from "./Task.ts"
import { defaultRetry, type RetryPolicy } from "./TaskHandler.ts"

export type { RetryPolicy }

/** The handler's policy with the task's overrides. */
export const forTask = (handler: RetryPolicy | undefined, spec: TaskSpec | undefined): RetryPolicy => {
  const base = handler ?? defaultRetry
  return {
    maxAttempts: spec?.retry?.maxAttempts ?? base.maxAttempts,
    baseDelay: spec?.retry?.baseDelayMs === undefined ? base.baseDelay : Duration.millis(spec.retry.baseDelayMs),
    maxDelay: base.maxDelay
  }
}

/** Whether attempt number `attempt` may start at all. */
export const allows = (policy: RetryPolicy, attempt: number): boolean => attempt <= policy.maxAttempts

/** The wait before the attempt after `attempt` (which failed retryably); none when attempts are used up. */
export const delayAfter = (policy: RetryPolicy, attempt: number): Effect.Effect<Option.Option<Duration.Duration>> =>
  attempt >= policy.maxAttempts
    ? Effect.succeed(Option.none())
    : Effect.map(Random.nextBetween(0.5, 1), (jitter) => {
        const exponential = Duration.toMillis(policy.baseDelay) * 2 ** (attempt - 1)
        return Option.some(
          Duration.millis(Math.round(Math.min(Duration.toMillis(policy.maxDelay), exponential) * jitter))
        )
      })
