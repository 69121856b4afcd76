import { assert, describe, it } from "@effect/vitest"
import { OpenStackSimulator } from "@migrator/openstack-simulator"
import { Effect } from "effect"
import { browser, serve } from "./utils/browser.ts"

// The dashboard's "check plan" control in headless Chromium, on the runner's real routes and the OpenStack simulator.

const plan = (external: string) =>
  JSON.stringify({
    name: "web",
    target: "recovery-1",
    projects: [
      {
        id: "p",
        name: "web",
        networks: [{ id: "n", name: "n", subnets: [{ id: "s", cidr: "10.62.0.0/24" }] }],
        routers: [{ id: "r", name: "r", externalGateway: { network: external }, interfaces: [{ subnet: "s" }] }]
      }
    ]
  })

describe("dashboard: check plan", () => {
  it.live("a pasted plan is checked: failures first with their field paths; a bad plan shows its problems", () =>
    Effect.gen(function* () {
      const sim = yield* OpenStackSimulator.make({ stepDelay: "5 millis" })
      const server = yield* serve({ clusters: { "recovery-1": sim.clientConfig() } }, "dash-check/")
      const context = yield* browser()
      const page = yield* Effect.promise(() => context.newPage())
      const run = <A>(f: () => Promise<A>) => Effect.promise(f)
      yield* run(() => page.goto(`${server.base}/`))
      yield* run(() => page.waitForSelector("body[data-loaded=true]"))

      const check = (text: string) =>
        run(async () => {
          await page.fill("#plan-check-text", text)
          await page.click("#plan-check-go")
          await page.waitForSelector("#plan-check-result[data-outcome]")
          return page.getAttribute("#plan-check-result", "data-outcome")
        })

      yield* run(() => page.click("#check-plan"))
      assert.strictEqual(yield* check(plan("nowhere")), "fail")
      const first = page.locator("#plan-check-table tbody tr").first()
      assert.strictEqual(yield* run(() => first.getAttribute("data-status")), "fail")
      assert.strictEqual(
        yield* run(() => first.getAttribute("data-path")),
        "projects[0].routers[0].externalGateway.network"
      )
      assert.match(
        (yield* run(() => page.textContent("#plan-check-summary"))) ?? "",
        /^plan web on recovery-1: \d+ pass, 0 warn, 1 fail$/
      )

      assert.strictEqual(yield* check(plan("public")), "pass")
      assert.strictEqual(yield* run(() => page.locator('#plan-check-table tr[data-status="fail"]').count()), 0)

      assert.strictEqual(yield* check("target: recovery-1\nprojects: []\n"), "error")
      assert.strictEqual(yield* run(() => page.locator('[data-problem="projects"]').count()), 1)
    }).pipe(Effect.scoped)
  )
})
