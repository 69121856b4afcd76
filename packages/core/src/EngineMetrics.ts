/**
 * The engine's metrics (SPEC §4.8), as Effect metrics: the runner exports
 * them (Prometheus text) and tests read them with `Metric.value`.
 *
 * @since 0.1.0
 */
import { Metric } from "effect"

const millis = Metric.exponentialBoundaries({ start: 1, factor: 2, count: 20 })

export const tasksStarted = Metric.counter("migrator_tasks_started_total", {
  description: "Task attempts started, by type",
  incremental: true
})
export const tasksFinished = Metric.counter("migrator_tasks_finished_total", {
  description: "Task attempts finished, by type and result",
  incremental: true
})
export const taskDuration = Metric.histogram("migrator_task_duration_ms", {
  description: "Duration of task attempts in milliseconds, by type",
  boundaries: millis
})
export const claims = Metric.counter("migrator_claims_total", { description: "Tasks claimed", incremental: true })
export const takeovers = Metric.counter("migrator_takeovers_total", {
  description: "Tasks claimed after their previous runner died",
  incremental: true
})
export const leaseLosses = Metric.counter("migrator_lease_losses_total", {
  description: "Runner leases lost",
  incremental: true
})
export const storeLatency = Metric.histogram("migrator_store_latency_ms", {
  description: "Latency of store transactions in milliseconds",
  boundaries: Metric.exponentialBoundaries({ start: 0.125, factor: 2, count: 18 })
})
