/**
 * Scheduled pre-flight checks (`plans:` in the runner configuration): the
 * runner re-checks each registered plan against its recovery cloud every
 * `interval`, so an alert fires when the recovery site drifts — before the
 * disaster, not during it. Each run sets the gauge
 * `migrator_plan_check_failures{plan,check}` to the number of failed checks
 * of that kind (0 once they pass again) and logs every failure with its
 * field path. A plan file that cannot be read or parsed counts as
 * `check="plan"`, a cloud that cannot be read as `check="cloud"`.
 *
 * @since 0.1.0
 */
import { readFile } from "node:fs/promises"
import { basename } from "node:path"
import type { OpenStackClient } from "@migrator/tasks-openstack"
import type * as PlanCheck from "@migrator/tasks-openstack/check/PlanCheck"
import { type Duration, Effect, Metric, Schedule } from "effect"
import * as PlanCheckRun from "./PlanCheckRun.ts"

export const failures = Metric.gauge("migrator_plan_check_failures", {
  description: "Failed pre-flight checks of a registered recovery plan, by kind of check"
})

/** The outcome of one plan's check: its report, or why there is none. */
export type Outcome =
  | { readonly _tag: "Report"; readonly plan: string; readonly report: PlanCheck.Report }
  | { readonly _tag: "Failed"; readonly plan: string; readonly check: "plan" | "cloud"; readonly message: string }

const formatOf = (file: string) => (/\.json$/i.test(file) ? "json" : /\.ya?ml$/i.test(file) ? "yaml" : undefined)

/** Checks one plan file. */
export const checkFile = (
  file: string,
  clusters: Readonly<Record<string, OpenStackClient.ClientConfig>>
): Effect.Effect<Outcome> =>
  Effect.gen(function* () {
    const fallback = basename(file).replace(/\.(json|ya?ml)$/i, "")
    const text = yield* Effect.tryPromise(() => readFile(file, "utf8")).pipe(Effect.result)
    if (text._tag === "Failure") {
      return { _tag: "Failed", plan: fallback, check: "plan", message: `cannot read ${file}` } as const
    }
    const plan = yield* PlanCheckRun.parse(text.success, formatOf(file)).pipe(Effect.result)
    if (plan._tag === "Failure") {
      return { _tag: "Failed", plan: fallback, check: "plan", message: plan.failure.message } as const
    }
    const name = plan.success.name ?? fallback
    return yield* PlanCheckRun.check(plan.success, clusters).pipe(
      Effect.map((report) => ({ _tag: "Report", plan: name, report }) as const),
      Effect.catch((e) =>
        Effect.succeed({
          _tag: "Failed",
          plan: name,
          check: e._tag === "UnknownCluster" ? "plan" : "cloud",
          message: e.message
        } as const)
      )
    )
  })

/** Failed checks by kind, e.g. `{ "quota.compute.cores": 2 }`. */
export const failuresByCheck = (outcome: Outcome): ReadonlyMap<string, number> => {
  const counts = new Map<string, number>()
  if (outcome._tag === "Failed") counts.set(outcome.check, 1)
  else
    for (const r of outcome.report.checks) {
      if (r.status === "fail") counts.set(r.check, (counts.get(r.check) ?? 0) + 1)
    }
  return counts
}

/**
 * Checks every plan once: sets the gauge of each (plan, check) that failed,
 * and back to 0 for those that failed last time (`previous`) and pass now.
 * Returns this run's failing (plan, check) pairs.
 */
export const checkAll = (
  files: ReadonlyArray<string>,
  clusters: Readonly<Record<string, OpenStackClient.ClientConfig>>,
  previous: ReadonlySet<string> = new Set()
): Effect.Effect<ReadonlySet<string>> =>
  Effect.gen(function* () {
    const failing = new Set<string>()
    for (const file of files) {
      const outcome = yield* checkFile(file, clusters)
      const counts = failuresByCheck(outcome)
      for (const [check, n] of counts) {
        failing.add(JSON.stringify([outcome.plan, check]))
        yield* Metric.update(Metric.withAttributes(failures, { plan: outcome.plan, check }), n)
      }
      if (outcome._tag === "Failed") {
        yield* Effect.logError(`plan check of ${file}: ${outcome.message}`).pipe(
          Effect.annotateLogs({ plan: outcome.plan, check: outcome.check })
        )
      } else {
        for (const r of outcome.report.checks.filter((c) => c.status === "fail")) {
          yield* Effect.logWarning(
            `plan ${outcome.plan} does not fit ${outcome.report.cluster}: ${r.path}: ${r.found}; needs ${r.needed}`
          ).pipe(Effect.annotateLogs({ plan: outcome.plan, check: r.check }))
        }
        const { pass, warn, fail } = outcome.report.summary
        yield* Effect.logInfo(`plan check of ${outcome.plan}: ${pass} pass, ${warn} warn, ${fail} fail`)
      }
    }
    for (const key of previous) {
      if (failing.has(key)) continue
      const [plan, check] = JSON.parse(key) as [string, string]
      yield* Metric.update(Metric.withAttributes(failures, { plan, check }), 0)
    }
    return failing
  })

/** Re-checks the plans every `interval`, the first time at once; runs until interrupted. */
export const run = (
  files: ReadonlyArray<string>,
  interval: Duration.Duration,
  clusters: Readonly<Record<string, OpenStackClient.ClientConfig>>
): Effect.Effect<never> =>
  Effect.gen(function* () {
    let previous: ReadonlySet<string> = new Set()
    return yield* Effect.suspend(() => checkAll(files, clusters, previous)).pipe(
      Effect.tap((failing) =>
        Effect.sync(() => {
          previous = failing
        })
      ),
      Effect.repeat(Schedule.spaced(interval)),
      Effect.andThen(Effect.never)
    )
  })
