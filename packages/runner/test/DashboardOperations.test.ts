import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Auth from "../src/http/Auth.ts"
import * as Fixtures from "./utils/dashboardFixtures.ts"
import { completed, setState, setup } from "./utils/dashboardPage.ts"

// The dashboard in headless Chromium against the runner's real routes on the memory store:
// operations and their dialogs, the store-unreachable banner, not-found pages, sign-in.

describe("dashboard operations, outages and sign-in (headless Chromium)", () => {
  it.live(
    "operations: enabled only when valid, each behind a dialog with the server's preview; rollback shows what is kept",
    () =>
      Effect.gen(function* () {
        const { server, page, open, run } = yield* setup()
        yield* server.provide(
          Effect.gen(function* () {
            yield* Fixtures.write(server.keys, { id: "small", projects: 2, vms: 1, clear: true })
            yield* Fixtures.holdShared(server.keys, "dr/network/network:alpha-production-network-0", "small", "x", [
              "small",
              "other-job"
            ])
            yield* Fixtures.write(server.keys, { id: "busy", projects: 1, vms: 1, runningAt: 5_000 })
          })
        )
        const enabled = () =>
          run((p) =>
            p
              .locator("#ops button")
              .evaluateAll((bs) =>
                bs.filter((b) => !(b as HTMLButtonElement).disabled).map((b) => b.getAttribute("data-op"))
              )
          )
        yield* open("/jobs/busy")
        assert.deepStrictEqual(yield* enabled(), ["cancel", "pause"])
        assert.include(yield* run((p) => p.locator('#ops [data-op="rollback"]').getAttribute("title")), "not possible")
        yield* open("/jobs/small")
        assert.deepStrictEqual(yield* enabled(), ["retry", "rollback", "confirm"])

        const state = () =>
          Effect.promise(
            async () => ((await (await fetch(`${server.base}/api/jobs/small`)).json()) as { state: string }).state
          )
        // rollback: what is deleted, what is kept because another job holds it, what was never created
        yield* run((p) => p.click('#ops [data-op="rollback"]'))
        yield* run((p) => p.waitForSelector("#confirm-dialog #preview"))
        const list = (kind: string) => run((p) => p.locator(`#preview [data-list="${kind}"] li`).allTextContents())
        const kept = yield* list("keep")
        assert.deepStrictEqual(kept, ["undo:network:alpha-production-network-0 — shared: still held by job other-job"])
        assert.deepStrictEqual(yield* list("skip"), [
          "undo:fip:bravo-application-server-000 — run task fip:bravo-application-server-000 never started"
        ])
        assert.strictEqual((yield* list("delete")).length, 28)
        assert.include(
          yield* run((p) => p.locator("#preview-message").textContent()),
          "28 to delete, 1 kept, 1 skipped"
        )
        // destructive: the button waits for the job's id
        assert.isTrue(yield* run((p) => p.locator("#confirm-go").isDisabled()))
        yield* run((p) => p.fill("#confirm-typed", "smal"))
        assert.isTrue(yield* run((p) => p.locator("#confirm-go").isDisabled()))
        // cancelling the dialog does nothing
        yield* run((p) => p.click("#confirm-cancel"))
        assert.strictEqual(yield* run((p) => p.locator("#confirm-dialog").count()), 0)
        assert.strictEqual(yield* state(), "completed")

        const posts: Array<{ url: string; type: string | undefined; body: string | null }> = []
        page.on("request", (r) => {
          if (r.method() === "POST") posts.push({ url: r.url(), type: r.headers()["content-type"], body: r.postData() })
        })
        yield* run((p) => p.click('#ops [data-op="rollback"]'))
        yield* run((p) => p.waitForSelector("#confirm-dialog #preview"))
        yield* run((p) => p.fill("#confirm-typed", "small"))
        yield* run((p) => p.fill("#confirm-reason", "drill is over"))
        yield* run((p) => p.click("#confirm-go"))
        yield* run((p) => p.waitForSelector("#confirm-dialog", { state: "detached" }))
        assert.strictEqual(yield* state(), "clearing")
        assert.deepStrictEqual(posts, [
          {
            url: `${server.base}/api/jobs/small/rollback`,
            type: "application/json",
            body: '{"reason":"drill is over"}'
          }
        ])
        // the operation, its actor and reason arrive in the event log, and the buttons follow the new state
        yield* run((p) => p.waitForSelector('#events div[data-type="job.rollback"]'))
        assert.include(yield* run((p) => p.locator('#events div[data-type="job.rollback"]').textContent()), "by local")
        yield* run((p) =>
          p.waitForFunction(() => document.querySelector('#ops [data-op="rollback"]')?.hasAttribute("disabled"))
        )
        assert.deepStrictEqual(yield* enabled(), [])

        // a refused operation says why inside the dialog (the job moved on under an open dialog)
        yield* open("/jobs/busy")
        yield* run((p) => p.click('#ops [data-op="pause"]'))
        yield* run((p) => p.waitForSelector("#confirm-dialog #preview"))
        assert.include(yield* run((p) => p.locator("#preview-message").textContent()), "pause: no new task starts")
        yield* server.provide(setState(server.keys, "busy", completed("failed")))
        yield* run((p) => p.click("#confirm-go"))
        yield* run((p) => p.waitForSelector("#confirm-error:not(:empty)"))
        assert.include(yield* run((p) => p.locator("#confirm-error").textContent()), "cannot pause")
      }).pipe(Effect.scoped)
  )

  it.live("a banner while the store is unreachable; the last data stays and operations are disabled", () =>
    Effect.gen(function* () {
      const { server, open, run } = yield* setup()
      yield* server.provide(Fixtures.write(server.keys, { id: "small", projects: 2, vms: 1 }))
      yield* open("/")
      assert.strictEqual(yield* run((p) => p.locator("#banner").isVisible()), false)
      yield* server.control.setAvailable(false)
      yield* run((p) => p.waitForSelector('#banner[data-kind="store-unreachable"]'))
      assert.include(yield* run((p) => p.locator("#banner").textContent()), "The job store (etcd) is unreachable")
      // the list is still there
      assert.strictEqual(yield* run((p) => p.locator('tr.job[data-job="small"]').count()), 1)
      assert.include(yield* run((p) => p.locator("#list-summary").textContent()), "as of")

      // a page opened during the outage says so instead of "connecting…" over nothing
      yield* open("/", "#banner.shown")
      assert.strictEqual(
        yield* run((p) => p.locator("#list-empty").textContent()),
        "No data: the job store is unreachable."
      )
      yield* open("/jobs/small", "#job-unavailable")
      assert.include(yield* run((p) => p.locator("#job-unavailable").textContent()), "The job store is unreachable")

      // back: the page loads by itself, the banner goes
      yield* server.control.setAvailable(true)
      yield* run((p) => p.waitForSelector("body[data-loaded=true]"))
      yield* run((p) => p.waitForSelector("#banner:not(.shown)", { state: "attached" }))
      assert.isFalse(yield* run((p) => p.locator('#ops [data-op="retry"]').isDisabled()))
      // and down again: operations are disabled while the banner shows
      yield* server.control.setAvailable(false)
      yield* run((p) => p.waitForSelector("#banner.shown"))
      yield* run((p) =>
        p.waitForFunction(() => document.querySelector('#ops [data-op="retry"]')?.hasAttribute("disabled"))
      )
      assert.include(yield* run((p) => p.locator('#ops [data-op="retry"]').getAttribute("title")), "unreachable")
      yield* server.control.setAvailable(true)
    }).pipe(Effect.scoped)
  )

  it.live("not-found pages: an unknown job, an unknown page, an unknown API path", () =>
    Effect.gen(function* () {
      const { server, open, run } = yield* setup()
      yield* open("/jobs/no-such-job", "#not-found")
      assert.include(
        yield* run((p) => p.locator("#not-found").textContent()),
        "There is no job \u201cno-such-job\u201d"
      )
      assert.strictEqual(yield* run((p) => p.locator("#not-found a").getAttribute("href")), "/")
      assert.notInclude(yield* run((p) => p.locator("#conn").textContent()), "reconnecting")
      const response = yield* run((p) => p.goto(`${server.base}/no/such/page`))
      assert.strictEqual(response!.status(), 404)
      yield* run((p) => p.waitForSelector("#not-found"))
      assert.include(yield* run((p) => p.locator("#not-found").textContent()), "There is no page at /no/such/page")
      const api = yield* Effect.promise(() => fetch(`${server.base}/api/no-such-thing`))
      assert.strictEqual(api.status, 404)
      assert.strictEqual(((yield* Effect.promise(() => api.json())) as { reason: string }).reason, "NotFound")
    }).pipe(Effect.scoped)
  )

  it.live(
    "sign-in: the token is checked, kept for the tab's session only and sent as a bearer header; roles limit the buttons",
    () =>
      Effect.gen(function* () {
        const viewer = "viewer-token-0123456789abcdef"
        const { server, context, page, open, run } = yield* setup([
          { name: "grafana", role: "viewer", hash: Auth.hashToken(viewer) },
          { name: "lead", role: "admin", hash: Auth.hashToken("admin-token-0123456789abcdef") }
        ])
        yield* server.provide(Fixtures.write(server.keys, { id: "small", projects: 2, vms: 1 }))
        yield* open("/", "#sign-in")
        assert.strictEqual(yield* run((p) => p.locator("body").getAttribute("data-page")), "sign-in")
        yield* run((p) => p.fill("#token-input", "wrong-token-0123456789abcdef"))
        yield* run((p) => p.click('#sign-in button[type="submit"]'))
        yield* run((p) => p.waitForSelector("#sign-in-error:not(:empty)"))
        assert.include(yield* run((p) => p.locator("#sign-in-error").textContent()), "Token refused")

        const headers: Array<[string, string | undefined]> = []
        page.on("request", (r) => {
          if (new URL(r.url()).pathname.startsWith("/api/"))
            headers.push([new URL(r.url()).pathname, r.headers().authorization])
        })
        yield* run((p) => p.fill("#token-input", viewer))
        yield* run((p) => p.click('#sign-in button[type="submit"]'))
        yield* run((p) => p.waitForSelector('tr.job[data-job="small"] [data-progress] span'))
        assert.strictEqual(yield* run((p) => p.locator("#who").textContent()), "grafana (viewer)")
        const paths = new Set(headers.map(([path]) => path))
        for (const path of ["/api/jobs", "/api/stream", "/api/whoami", "/api/jobs/small/progress"])
          assert.isTrue(paths.has(path), path)
        for (const [path, auth] of headers) assert.strictEqual(auth, `Bearer ${viewer}`, path)
        // kept in sessionStorage only: nothing in localStorage or cookies
        const stored = yield* run((p) =>
          p.evaluate(() => ({
            session: sessionStorage.getItem("migrator.token"),
            local: localStorage.length,
            cookie: document.cookie
          }))
        )
        assert.deepStrictEqual(stored, { session: viewer, local: 0, cookie: "" })
        assert.deepStrictEqual(yield* Effect.promise(() => context.cookies()), [])

        // a viewer sees the job but may not operate
        yield* open("/jobs/small")
        yield* run((p) =>
          p.waitForFunction(() =>
            document.querySelector('#ops [data-op="retry"]')?.getAttribute("title")?.includes("role")
          )
        )
        assert.include(
          yield* run((p) => p.locator('#ops [data-op="retry"]').getAttribute("title")),
          "needs the operator role (you are viewer)"
        )
        assert.include(
          yield* run((p) => p.locator('#ops [data-op="rollback"]').getAttribute("title")),
          "needs the admin role"
        )

        // another tab has its own session: signed out
        const other = yield* Effect.promise(() => context.newPage())
        yield* Effect.promise(() => other.goto(`${server.base}/`))
        yield* Effect.promise(() => other.waitForSelector("#sign-in"))
        // signing out forgets the token
        yield* run((p) => p.click("#sign-out"))
        yield* run((p) => p.waitForSelector("#sign-in"))
        assert.isNull(yield* run((p) => p.evaluate(() => sessionStorage.getItem("migrator.token"))))
      }).pipe(Effect.scoped)
  )
})
