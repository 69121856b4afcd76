/**
 * Prometheus text exposition (format 0.0.4) of the process's Effect metrics
 * (the engine's metrics in `@migrator/core/EngineMetrics`) plus gauges that
 * are read from the store when scraped (jobs by state, exported by one
 * runner of the fleet: the holder of the reporter key).
 *
 * @since 0.1.0
 */
import type { Keys } from "@migrator/core"
import { Metric } from "effect"

/** The key the reporter runner holds on its lease (outside the job layout: nothing else reads it). */
export const reporterKey = (keys: Keys.Layout) => `${keys.prefix}metrics/reporter`

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

/** A gauge computed at scrape time. */
export interface Sample {
  readonly name: string
  readonly help: string
  readonly type: "gauge" | "counter"
  readonly values: ReadonlyArray<{ readonly labels: Readonly<Record<string, string>>; readonly value: number }>
}

const metricName = (id: string) => {
  const n = id.replace(/[^a-zA-Z0-9_:]/g, "_")
  return /^[a-zA-Z_:]/.test(n) ? n : `_${n}`
}

const labelName = (name: string) => {
  const n = name.replace(/[^a-zA-Z0-9_]/g, "_")
  return /^[a-zA-Z_]/.test(n) ? n : `_${n}`
}

const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"')
const escapeHelp = (text: string) => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")

const labels = (attributes: Readonly<Record<string, string>> | undefined, extra?: Readonly<Record<string, string>>) => {
  const all = { ...attributes, ...extra }
  const keys = Object.keys(all).sort()
  return keys.length === 0 ? "" : `{${keys.map((k) => `${labelName(k)}="${escapeLabel(all[k]!)}"`).join(",")}}`
}

const number = (n: number | bigint) =>
  typeof n === "bigint"
    ? n.toString()
    : Number.isNaN(n)
      ? "NaN"
      : n === Number.POSITIVE_INFINITY
        ? "+Inf"
        : n === Number.NEGATIVE_INFINITY
          ? "-Inf"
          : String(n)

/** Renders metric snapshots and computed samples as Prometheus text. */
export const render = (snapshots: ReadonlyArray<Metric.Metric.Snapshot>, extra: ReadonlyArray<Sample> = []): string => {
  const groups = new Map<string, Array<Metric.Metric.Snapshot>>()
  for (const s of snapshots) {
    const name = metricName(s.id)
    const group = groups.get(name) ?? []
    group.push(s)
    groups.set(name, group)
  }
  const lines: Array<string> = []
  for (const [name, group] of [...groups].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const first = group[0]!
    const help = group.find((s) => s.description !== undefined)?.description
    const type =
      first.type === "Counter" || first.type === "Frequency"
        ? "counter"
        : first.type === "Gauge"
          ? "gauge"
          : first.type === "Histogram"
            ? "histogram"
            : "summary"
    if (help !== undefined) lines.push(`# HELP ${name} ${escapeHelp(help)}`)
    lines.push(`# TYPE ${name} ${type}`)
    for (const s of group) {
      switch (s.type) {
        case "Counter":
          lines.push(`${name}${labels(s.attributes)} ${number(s.state.count)}`)
          break
        case "Gauge":
          lines.push(`${name}${labels(s.attributes)} ${number(s.state.value)}`)
          break
        case "Frequency":
          for (const [key, count] of s.state.occurrences) lines.push(`${name}${labels(s.attributes, { key })} ${count}`)
          break
        case "Histogram": {
          let sawInf = false
          for (const [le, count] of s.state.buckets) {
            if (le === Number.POSITIVE_INFINITY) sawInf = true
            lines.push(`${name}_bucket${labels(s.attributes, { le: number(le) })} ${count}`)
          }
          if (!sawInf) lines.push(`${name}_bucket${labels(s.attributes, { le: "+Inf" })} ${s.state.count}`)
          lines.push(`${name}_sum${labels(s.attributes)} ${number(s.state.sum)}`)
          lines.push(`${name}_count${labels(s.attributes)} ${s.state.count}`)
          break
        }
        case "Summary":
          for (const [q, value] of s.state.quantiles) {
            if (value !== undefined)
              lines.push(`${name}${labels(s.attributes, { quantile: String(q) })} ${number(value)}`)
          }
          lines.push(`${name}_sum${labels(s.attributes)} ${number(s.state.sum)}`)
          lines.push(`${name}_count${labels(s.attributes)} ${s.state.count}`)
          break
      }
    }
  }
  for (const sample of extra) {
    const name = metricName(sample.name)
    lines.push(`# HELP ${name} ${escapeHelp(sample.help)}`)
    lines.push(`# TYPE ${name} ${sample.type}`)
    for (const v of sample.values) lines.push(`${name}${labels(v.labels)} ${number(v.value)}`)
  }
  return `${lines.join("\n")}\n`
}

/** The current metrics of this process as Prometheus text. */
export const snapshot = Metric.snapshot
