import { assert, describe, it } from "@effect/vitest"
import { EngineMetrics, Keys, Store, TaskRegistry } from "@migrator/core"
import { freePort } from "@migrator/etcd-store/testing"
import { Duration, Effect, Layer, Metric } from "effect"
import * as HttpApi from "../src/http/HttpApi.ts"
import { parsePrometheus } from "./utils/service.ts"

// fleet-wide gauges come from one runner (the reporter key's holder); counters exist from the start

describe("metrics", () => {
  it.live("jobs by state are exported by one runner of the fleet; another takes over when it dies", () =>
    Effect.gen(function* () {
      const keys = Keys.make("metrics/")
      const store = yield* Store.Store
      const serve = Effect.fn(function* (runnerId: string) {
        const port = yield* Effect.promise(() => freePort())
        yield* Layer.build(HttpApi.layer({ keys, runnerId, host: "127.0.0.1", port }))
        return Effect.promise(async () =>
          parsePrometheus(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text())
        )
      })
      const register = Effect.fn(function* (runnerId: string) {
        const lease = yield* store.grantLease(Duration.seconds(60))
        yield* Store.put(keys.runner(runnerId), "{}", { lease })
        return lease
      })
      const leaseA = yield* register("a")
      yield* register("b")
      const [a, b] = [yield* serve("a"), yield* serve("b")]
      const first = yield* a
      const second = yield* b
      assert.strictEqual(first.value("migrator_reporter"), 1)
      assert.strictEqual(first.types.get("migrator_jobs"), "gauge")
      assert.strictEqual(second.value("migrator_reporter"), 0)
      assert.isUndefined(second.types.get("migrator_jobs"))
      // a scrape again does not move it
      assert.strictEqual((yield* b).value("migrator_reporter"), 0)

      // runner a dies: its lease (and the reporter key on it) goes, b reports from its next scrape
      yield* store.revokeLease(leaseA)
      const after = yield* b
      assert.strictEqual(after.value("migrator_reporter"), 1)
      assert.strictEqual(after.types.get("migrator_jobs"), "gauge")
    }).pipe(Effect.scoped, Effect.provide(Layer.merge(Store.layerMemory, TaskRegistry.layer)))
  )

  it.effect("every counter is present at 0 for the handled types; durations are recorded in seconds", () =>
    Effect.gen(function* () {
      yield* EngineMetrics.initialize(["t/x"])
      const snapshots = yield* Metric.snapshot
      const find = (id: string, attributes: Record<string, string> = {}) =>
        snapshots.find((s) => s.id === id && Object.entries(attributes).every(([k, v]) => s.attributes?.[k] === v))
      for (const id of ["migrator_claims_total", "migrator_takeovers_total", "migrator_lease_losses_total"]) {
        assert.isDefined(find(id), id)
      }
      assert.isDefined(find("migrator_tasks_started_total", { type: "t/x" }))
      for (const result of ["success", "failed", "ignored", "canceled", "skipped"]) {
        assert.isDefined(find("migrator_tasks_finished_total", { type: "t/x", result }), result)
      }
      // the engine measures milliseconds: 90 minutes land in the 2 h bucket, not in +Inf
      yield* Metric.update(Metric.withAttributes(EngineMetrics.taskDuration, { type: "t/x" }), 90 * 60_000)
      const value = yield* Metric.value(Metric.withAttributes(EngineMetrics.taskDurationSeconds, { type: "t/x" }))
      assert.strictEqual(value.sum, 5400)
      const buckets = new Map(value.buckets)
      assert.strictEqual(buckets.get(3600), 0)
      assert.strictEqual(buckets.get(7200), 1)
      assert.strictEqual(Math.max(...buckets.keys()), 21600)
    })
  )
})
