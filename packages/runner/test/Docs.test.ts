import { readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { JobBuilder } from "@migrator/core"
import { TestPlugin } from "@migrator/core/testing"
import { Effect, type Schema } from "effect"
import * as PlanReference from "../src/docs/PlanReference.ts"

// the documentation that is generated or shown as an example stays true

const read = (path: string) => readFileSync(new URL(path, import.meta.url), "utf8")

describe("docs", () => {
  it("the recovery-plan format reference is the one generated from the plan's Schema", () => {
    // regenerate with: pnpm --filter @migrator/runner exec tsx src/docs/PlanReference.ts
    assert.strictEqual(read("../../../docs/recovery-plan-format.md"), PlanReference.render())
  })

  it.effect("the sample job.json of the README is a valid job for the test plugin", () =>
    Effect.gen(function* () {
      const types = new Map<string, Schema.Codec<unknown, unknown>>(
        TestPlugin.definitions.map((d) => [d.type, d.input as Schema.Codec<unknown, unknown>])
      )
      const built = yield* JobBuilder.build(JSON.parse(read("../examples/job.json")), {
        types,
        generateId: Effect.succeed("unused")
      })
      assert.strictEqual(built.spec.id, "drill-2026-12")
      assert.strictEqual(built.spec.runTasks, 5)
      assert.strictEqual(built.spec.clearTasks, 4)
      // the README shows the same document
      assert.include(read("../README.md"), read("../examples/job.json").trim())
    })
  )
})
