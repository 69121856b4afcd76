/**
 * The configuration's durations: timeouts and intervals (`500ms`, `10s`, `2m`, `1h`, bare seconds)
 * and the retention of finished jobs (`30 days`, `72h`, `off`), as schemas and as values.
 */
import { Duration, Schema } from "effect"

/** `500ms`, `10s`, `2m`, `1h`, or a bare number of seconds. */
export const DurationText = Schema.Union([
  Schema.String.pipe(
    Schema.check(
      Schema.isPattern(/^\d+(\.\d+)?\s*(ms|s|m|h)?$/, { message: "expected a duration like 500ms, 10s or 2m" })
    )
  ),
  Schema.Number.pipe(Schema.check(Schema.isGreaterThan(0)))
])

/** How long finished jobs are kept: `30 days`, `12h`, `90d`…; `0` or `off` keeps them for ever. */
export const RetentionText = Schema.Union([
  Schema.String.pipe(
    Schema.check(
      Schema.isPattern(/^\s*(off|0|\d+(\.\d+)?\s*(ms|s|m|h|d|days?|hours?|minutes?))\s*$/, {
        message: "expected a duration like 30 days, 72h or 90d, or off"
      })
    )
  ),
  Schema.Literal(0)
])

export const durationOf = (value: string | number) => {
  if (typeof value === "number") return Duration.millis(value * 1000)
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(value.trim())!
  const n = Number(m[1])
  const unit = m[2] ?? "s"
  return Duration.millis(unit === "ms" ? n : unit === "s" ? n * 1000 : unit === "m" ? n * 60_000 : n * 3_600_000)
}

/** A retention: undefined when it is off. */
export const retentionOf = (value: string | number): Duration.Duration | undefined => {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/.exec(String(value).trim())
  if (m === null) return undefined // "off"
  const n = Number(m[1])
  const unit = m[2]!
  const ms =
    unit === "ms"
      ? n
      : unit === "s"
        ? n * 1000
        : unit === "m" || unit.startsWith("minute")
          ? n * 60_000
          : unit === "h" || unit.startsWith("hour")
            ? n * 3_600_000
            : n * 86_400_000
  return ms === 0 ? undefined : Duration.millis(ms)
}
