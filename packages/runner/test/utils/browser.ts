/**
 * Headless Chromium for the dashboard tests (playwright-core driving the
 * system's `/usr/bin/chromium`, installed by `scripts/setup.sh`), and the
 * runner's HTTP routes served in-process on the memory store, whose
 * availability the test controls.
 */

import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Keys, Store, TaskRegistry } from "@migrator/core"
import { freePort } from "@migrator/etcd-store/testing"
import type { OpenStackClient } from "@migrator/tasks-openstack"
import { Effect, Layer } from "effect"
import { type BrowserContext, chromium } from "playwright-core"
import type * as Auth from "../../src/http/Auth.ts"
import * as HttpApi from "../../src/http/HttpApi.ts"

export const CHROMIUM = "/usr/bin/chromium"

const flags = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync"
]

/** A browser with a fresh profile directory, removed when the scope closes. */
export const browser = (viewport = { width: 1440, height: 900 }) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const dir = mkdtempSync(join(tmpdir(), "migrator-chromium-"))
      try {
        const context = await chromium.launchPersistentContext(dir, {
          executablePath: CHROMIUM,
          headless: true,
          args: flags,
          viewport
        })
        return { context, dir }
      } catch (e) {
        rmSync(dir, { recursive: true, force: true })
        throw e
      }
    }),
    ({ context, dir }) =>
      Effect.promise(async () => {
        await context.close()
        rmSync(dir, { recursive: true, force: true })
      })
  ).pipe(Effect.map(({ context }): BrowserContext => context))

/** Serves the runner's routes on 127.0.0.1 over a memory store; returns the base URL and the store's controls. */
export const serve = (
  options: {
    readonly tokens?: ReadonlyArray<Auth.ApiToken>
    readonly clusters?: Readonly<Record<string, OpenStackClient.ClientConfig>>
  } = {},
  prefix = "dash/"
) =>
  Effect.gen(function* () {
    const memory = yield* Store.makeMemory
    const keys = Keys.make(prefix)
    const port = yield* Effect.promise(() => freePort())
    const context = Layer.merge(Layer.succeed(Store.Store, memory.store), TaskRegistry.layer)
    yield* Layer.build(
      HttpApi.layer({
        keys,
        runnerId: "dash-runner",
        host: "127.0.0.1",
        port,
        tokens: options.tokens,
        clusters: options.clusters
      }).pipe(Layer.provide(context))
    )
    return {
      base: `http://127.0.0.1:${port}`,
      keys,
      control: memory.control,
      provide: <A, E>(effect: Effect.Effect<A, E, Store.Store>) =>
        Effect.provideService(effect, Store.Store, memory.store)
    }
  })
