/** Opens the dashboard's test setup: the runner's routes on a memory store, a browser page, and helpers. */
import { Job, Jobs, type Keys, Store } from "@migrator/core"
import { Effect } from "effect"
import type { Page } from "playwright-core"
import type * as Auth from "../../src/http/Auth.ts"
import { browser, serve } from "./browser.ts"
import * as Fixtures from "./dashboardFixtures.ts"

export const setup = (tokens?: ReadonlyArray<Auth.ApiToken>) =>
  Effect.gen(function* () {
    const server = yield* serve(tokens === undefined ? {} : { tokens })
    const context = yield* browser()
    const page = yield* Effect.promise(() => context.newPage())
    const open = (path: string, ready = "body[data-loaded=true]") =>
      Effect.promise(async () => {
        await page.goto(`${server.base}${path}`)
        if (ready) await page.waitForSelector(ready)
      })
    const run = <A>(f: (page: Page) => Promise<A>) => Effect.promise(() => f(page))
    return { server, context, page, open, run }
  })

export const setState = (keys: Keys.Layout, id: string, state: Job.JobState) =>
  Effect.gen(function* () {
    yield* Store.put(keys.jobState(id), Jobs.encodeState(state))
    yield* Store.put(keys.indexEntry(id), Jobs.encodeState(state))
  })

export const completed = (outcome: Job.Outcome) =>
  new Job.JobState({
    state: "completed",
    outcome,
    updatedAt: Fixtures.T0,
    startedAt: Fixtures.T0,
    completedAt: Fixtures.T0 + 1
  })
