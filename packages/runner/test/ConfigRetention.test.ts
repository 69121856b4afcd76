import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Duration, Effect } from "effect"
import { afterAll } from "vitest"
import * as Config from "../src/Config.ts"

const dir = mkdtempSync(join(tmpdir(), "migrator-retention-config-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
let files = 0

/** The retention of a configuration file holding `retention` as written. */
const resolve = (retention: string | undefined) =>
  Effect.gen(function* () {
    const path = join(dir, `${++files}.yaml`)
    writeFileSync(path, retention === undefined ? "concurrency: { perRunner: 2 }\n" : `retention:\n${retention}\n`)
    return yield* Config.resolve({ config: path }, { tty: false }).pipe(
      Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env: {} }))
    )
  })

const days = (d: Duration.Duration | undefined) => (d === undefined ? undefined : Duration.toMillis(d) / 86_400_000)

describe("retention configuration", () => {
  it.effect("finished jobs are kept 30 days by default; durations in days, hours or minutes; 0 or off disable it", () =>
    Effect.gen(function* () {
      assert.strictEqual(days((yield* resolve(undefined)).retention.finishedJobs), 30)
      assert.strictEqual(days((yield* resolve("  finishedJobs: 7 days")).retention.finishedJobs), 7)
      assert.strictEqual(days((yield* resolve("  finishedJobs: 90d")).retention.finishedJobs), 90)
      assert.strictEqual(days((yield* resolve("  finishedJobs: 36h")).retention.finishedJobs), 1.5)
      assert.strictEqual(
        Duration.toMillis((yield* resolve("  finishedJobs: 45 minutes")).retention.finishedJobs!),
        45 * 60_000
      )
      assert.isUndefined((yield* resolve("  finishedJobs: off")).retention.finishedJobs)
      assert.isUndefined((yield* resolve("  finishedJobs: 0")).retention.finishedJobs)
    })
  )

  it.effect("a retention that is not a duration is refused, naming the field", () =>
    Effect.gen(function* () {
      for (const bad of ["  finishedJobs: soon", "  finishedJobs: 30", "  finishedJobs: -1 days", "  unknown: 1"]) {
        const e = yield* Effect.flip(resolve(bad))
        assert.include(e.message, "retention", bad)
      }
    })
  )
})
