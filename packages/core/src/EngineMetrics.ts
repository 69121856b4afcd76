/**
 * The engine's metrics (SPEC §4.8), as Effect metrics: the runner exports
 * them (Prometheus text) and tests read them with `Metric.value`.
 *
 * Durations are recorded in seconds (Prometheus' base unit); the engine
 * measures them in milliseconds on its clock, so `taskDuration` and
 * `storeLatency` take milliseconds and record seconds. Task buckets reach
 * 6 hours (volume copies take hours).
 *
 * @since 0.1.0
 */
import { Effect, Metric } from "effect"
import { Result } from "./Task.ts"

/** 5 ms … 6 h. */
const taskSeconds = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 10800, 14400,
  21600
]
/** 0.1 ms … ~3.3 s, then 10 and 30 s (an etcd in trouble). */
const storeSeconds = [
  ...Metric.exponentialBoundaries({ start: 0.0001, factor: 2, count: 16 }).filter((b) => b < 5),
  10,
  30
]

export const tasksStarted = Metric.counter("migrator_tasks_started_total", {
  description: "Task attempts started, by type",
  incremental: true
})
export const tasksFinished = Metric.counter("migrator_tasks_finished_total", {
  description: "Task attempts finished, by type and result",
  incremental: true
})
export const taskDurationSeconds = Metric.histogram("migrator_task_duration_seconds", {
  description: "Duration of task attempts in seconds, by type",
  boundaries: taskSeconds
})
/** Updated in milliseconds, recorded in seconds. */
export const taskDuration = Metric.mapInput(taskDurationSeconds, (ms: number) => ms / 1000)
export const claims = Metric.counter("migrator_claims_total", { description: "Tasks claimed", incremental: true })
export const takeovers = Metric.counter("migrator_takeovers_total", {
  description: "Tasks claimed after their previous runner died",
  incremental: true
})
export const leaseLosses = Metric.counter("migrator_lease_losses_total", {
  description: "Runner leases lost",
  incremental: true
})
export const storeLatencySeconds = Metric.histogram("migrator_store_latency_seconds", {
  description: "Latency of store transactions in seconds",
  boundaries: storeSeconds
})
/** Updated in milliseconds, recorded in seconds. */
export const storeLatency = Metric.mapInput(storeLatencySeconds, (ms: number) => ms / 1000)

/** A metric with attributes, built once per distinct attributes: tasks update them on the hot path. */
const perAttributes = <M>(make: (attributes: Readonly<Record<string, string>>) => M) => {
  const built = new Map<string, M>()
  return (attributes: Readonly<Record<string, string>>): M => {
    const key = JSON.stringify(attributes)
    let metric = built.get(key)
    if (metric === undefined) {
      metric = make(attributes)
      built.set(key, metric)
    }
    return metric
  }
}

/** Tasks started, of one type. */
export const tasksStartedOf = perAttributes((a) => Metric.withAttributes(tasksStarted, a))
/** Tasks finished, of one type and result. */
export const tasksFinishedOf = perAttributes((a) => Metric.withAttributes(tasksFinished, a))
/** Task durations, of one type. */
export const taskDurationOf = perAttributes((a) => Metric.withAttributes(taskDuration, a))

/**
 * Makes every counter present at 0 from the start, for each task type this
 * runner handles (and each result): an alert on a counter's increase needs
 * the series before the first event.
 */
export const initialize = (types: Iterable<string>) =>
  Effect.gen(function* () {
    yield* Metric.update(claims, 0)
    yield* Metric.update(takeovers, 0)
    yield* Metric.update(leaseLosses, 0)
    for (const type of types) {
      yield* Metric.update(tasksStartedOf({ type }), 0)
      for (const result of Result.literals) {
        yield* Metric.update(tasksFinishedOf({ type, result }), 0)
      }
    }
  })
