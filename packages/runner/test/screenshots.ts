/**
 * Takes the dashboard screenshots of the README (docs/screenshots/*.png):
 * the job list, a 30-task and a 300-task job with failures, the 300-task job
 * grouped by kind, its timeline and its failure panel, and the rollback
 * dialog's preview, from the browser tests' fixtures.
 *
 *   pnpm exec tsx packages/runner/test/screenshots.ts [out-dir]
 */
import { mkdirSync } from "node:fs"
import { resolve } from "node:path"
import { Effect } from "effect"
import { browser, serve } from "./utils/browser.ts"
import * as Fixtures from "./utils/dashboardFixtures.ts"

const out = resolve(process.argv[2] ?? new URL("../../../docs/screenshots", import.meta.url).pathname)
mkdirSync(out, { recursive: true })

const program = Effect.gen(function* () {
  const server = yield* serve()
  yield* server.provide(
    Effect.all([
      Fixtures.write(server.keys, {
        id: "recovery-30",
        projects: 2,
        vms: 1,
        labels: { site: "dr", plan: "small" },
        rtoMs: 3_600_000,
        clear: true
      }),
      Fixtures.holdShared(server.keys, "dr/network/network:alpha-production-network-0", "recovery-30", "x", [
        "recovery-30",
        "drill-live"
      ]),
      Fixtures.write(server.keys, {
        id: "recovery-300",
        projects: 10,
        vms: 6,
        labels: { site: "dr", plan: "fleet" },
        rtoMs: 600_000
      }),
      Fixtures.write(server.keys, {
        id: "drill-live",
        projects: 3,
        vms: 4,
        labels: { site: "dr", plan: "drill" },
        rtoMs: 1_800_000,
        startedAt: Date.now() - 400_000,
        runningAt: 400_000
      })
    ])
  )
  const context = yield* browser()
  const page = yield* Effect.promise(() => context.newPage())
  const shot = (name: string) => Effect.promise(() => page.screenshot({ path: `${out}/${name}.png` }))
  const open = (path: string) =>
    Effect.promise(async () => {
      await page.goto(`${server.base}${path}`)
      await page.waitForSelector("body[data-loaded=true]")
    })
  yield* open("/")
  yield* Effect.promise(() => page.waitForSelector("tr.job [data-progress] span"))
  yield* shot("job-list")
  yield* open("/jobs/recovery-30")
  yield* Effect.promise(() => page.locator("#next-failed").click())
  yield* shot("job-30-tasks")
  yield* open("/jobs/recovery-300")
  yield* shot("job-300-tasks")
  yield* Effect.promise(() => page.selectOption("#graph-group", "kind"))
  yield* shot("job-300-tasks-grouped")
  yield* Effect.promise(() => page.locator("#tab-timeline").click())
  yield* shot("job-300-timeline")
  yield* Effect.promise(() => page.locator("#timeline-trouble").check())
  yield* shot("job-300-timeline-failed-or-retried")
  yield* Effect.promise(() => page.locator("#tab-failures").click())
  yield* shot("job-300-failures")
  yield* open("/jobs/recovery-30")
  yield* Effect.promise(() => page.locator('#ops [data-op="rollback"]').click())
  yield* Effect.promise(() => page.waitForSelector("#confirm-dialog #preview"))
  yield* shot("job-30-rollback-dialog")
}).pipe(Effect.scoped)

Effect.runPromise(program).then(
  () => console.log(`screenshots written to ${out}`),
  (e) => {
    console.error(e)
    process.exitCode = 1
  }
)
