/**
 * A longer soak of the deterministic simulation: `pnpm sim --seeds 10000 [--from 1]
 * [--pending lostReplies,sharedRetries,clusterLimits|all]` (see `Pending` in the harness).
 * Prints each failing seed with its violations; exits non-zero if any.
 */
import { Effect } from "effect"
import { TestClock } from "effect/testing"
import { type Pending, pendingNames, simulate } from "./utils/simulation.ts"

const proc = (globalThis as unknown as { process: { argv: Array<string>; exitCode: number } }).process
const arg = (name: string, fallback: number) => {
  const i = proc.argv.indexOf(`--${name}`)
  return i === -1 ? fallback : Number(proc.argv[i + 1])
}
const seeds = arg("seeds", 1000)
const from = arg("from", 1)
const named =
  proc.argv.indexOf("--pending") === -1 ? [] : (proc.argv[proc.argv.indexOf("--pending") + 1] ?? "").split(",")
const pending = Object.fromEntries(
  pendingNames.map((n) => [n, named.includes(n) || named.includes("all")])
) as unknown as Pending

const program = Effect.gen(function* () {
  let failing = 0
  const faults: Record<string, number> = {}
  for (let seed = from; seed < from + seeds; seed++) {
    const report = yield* simulate(seed, { pending }).pipe(Effect.provide(TestClock.layer()))
    for (const [k, n] of Object.entries(report.faults)) faults[k] = (faults[k] ?? 0) + n
    if (report.violations.length > 0) {
      failing++
      console.log(
        `seed ${seed} (re-run: pnpm sim --from ${seed} --seeds 1${named.length === 0 ? "" : ` --pending ${named.join(",")}`}):\n  ${report.violations.join("\n  ")}`
      )
    }
    if ((seed - from + 1) % 100 === 0)
      console.log(`${seed - from + 1} seeds, ${failing} failing, faults ${JSON.stringify(faults)}`)
  }
  return failing
})

Effect.runPromise(program.pipe(Effect.provide(TestClock.layer()))).then((failing) => {
  proc.exitCode = failing === 0 ? 0 : 1
})
