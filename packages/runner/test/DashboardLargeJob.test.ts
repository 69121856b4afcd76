import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fixtures from "./utils/dashboardFixtures.ts"
import { completed, setState, setup } from "./utils/dashboardPage.ts"

// A job of more than 5,000 tasks in headless Chromium: its tasks as a paged table, not a graph.

describe("dashboard, a large job (headless Chromium)", () => {
  it.live("shows the counts and a paged task table; the pages walk every task once; a filter pages the failed", () =>
    Effect.gen(function* () {
      const { server, open, run } = yield* setup()
      // 85 projects of 16 VMs: 5,100 run tasks (more than the job document lists), some failed and ignored
      const written = yield* server.provide(
        Effect.gen(function* () {
          const ids = yield* Fixtures.write(server.keys, { id: "huge", projects: 85, vms: 16 })
          yield* setState(server.keys, "huge", completed("partial"))
          return ids
        })
      )
      yield* open("/jobs/huge")
      const rows = () =>
        run((p) =>
          p
            .locator("#task-table tbody tr[data-task]")
            .evaluateAll((trs) =>
              trs.map((r) => [r.getAttribute("data-task")!, r.querySelector('[data-field="state"]')!.textContent!])
            )
        )
      const waitPage = (n: number) =>
        run((p) => p.waitForSelector(`#task-page[data-page="${n}"]`).then(() => undefined))
      yield* waitPage(1)
      assert.include(yield* run((p) => p.locator("#tab-graph").textContent()), "Tasks (5100)")
      assert.isNull(yield* run((p) => p.$("g.node")))
      assert.include(yield* run((p) => p.locator("#job-summary").textContent()), `${written.failed.length} failed`)

      // every page, following "next" to the last: each task once
      const seen: Array<string> = []
      for (let n = 1; ; n++) {
        yield* waitPage(n)
        const page = yield* rows()
        assert.isAtMost(page.length, 100)
        seen.push(...page.map(([id]) => id!))
        if (yield* run((p) => p.locator("#task-next").isDisabled())) break
        yield* run((p) => p.click("#task-next"))
      }
      assert.strictEqual(seen.length, 5100)
      assert.strictEqual(new Set(seen).size, 5100)

      // the failed tasks only, from the first page again
      yield* run((p) => p.selectOption("#task-filter", "failed"))
      yield* run((p) =>
        p.waitForFunction(
          (n) =>
            document.querySelectorAll("#task-table tbody tr[data-task]").length === n &&
            document.querySelector("#task-page")?.getAttribute("data-page") === "1",
          Math.min(100, written.failed.length)
        )
      )
      const failed = yield* rows()
      assert.isTrue(failed.every(([, state]) => state === "failed"))
      assert.sameMembers(
        failed.map(([id]) => id),
        [...written.failed].sort().slice(0, 100)
      )
      // a row's details
      yield* run((p) => p.click(`#task-table tr[data-task="${failed[0]![0]}"]`))
      assert.strictEqual(yield* run((p) => p.locator('#task-fields [data-field="state"]').textContent()), "failed")
    }).pipe(Effect.scoped)
  )
})
