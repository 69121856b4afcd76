/**
 * The README's "testing handlers with the in-memory layers" example, run as a
 * test: the example plugin on the in-memory store, one engine, the TestClock.
 */
import { assert, describe, it } from "@effect/vitest"
import { Engine, JobBuilder, Jobs, Keys, Store, TaskRegistry } from "@migrator/core"
import { Effect, Layer, Stream } from "effect"
import { DnsRecord, dnsRecord, Zone, zoneInMemory } from "../examples/dns-plugin.ts"

const keys = Keys.make("example/")

describe("example: testing a handler with the in-memory layers", () => {
  it.effect("a job of the example plugin runs on the memory store; a second job cannot take the name", () =>
    Effect.gen(function* () {
      yield* Engine.run({ runnerId: "example", prefix: keys.prefix }).pipe(Effect.forkScoped)
      const submit = (id: string) =>
        JobBuilder.build({
          id,
          tasks: [{ id: "www", type: DnsRecord.type, input: { name: "www", address: "192.0.2.10" } }]
        }).pipe(Effect.flatMap((job) => Jobs.submit(keys, job)))
      // follow the job state by watching the store (the TestClock never moves on its own)
      const finished = (id: string) =>
        Effect.gen(function* () {
          const store = yield* Store.Store
          const from = yield* store.revision
          const view = yield* Jobs.read(keys, id)
          if (view.state.state !== "completed") {
            yield* store.watch(keys.jobState(id), { fromRevision: from + 1 }).pipe(
              Stream.filter((e) => e._tag === "put" && JSON.parse(e.kv.value).state === "completed"),
              Stream.runHead
            )
          }
          return yield* Jobs.read(keys, id)
        })

      yield* submit("first")
      const first = yield* finished("first")
      assert.strictEqual(first.state.outcome, "succeeded")
      assert.deepStrictEqual(first.tasks[0]?.result?.output, { fqdn: "www.dr.example.", adopted: false })
      assert.deepStrictEqual(yield* (yield* Zone).find("www.dr.example."), {
        address: "192.0.2.10",
        owner: "first/www"
      })

      yield* submit("second")
      const second = yield* finished("second")
      assert.strictEqual(second.state.outcome, "failed")
      assert.strictEqual(second.tasks[0]?.result?.reason?.code, "dns.taken")
    }).pipe(
      Effect.scoped,
      Effect.provide(
        dnsRecord.pipe(
          Layer.provideMerge(TaskRegistry.layer),
          Layer.provideMerge(zoneInMemory),
          Layer.provideMerge(Store.layerMemory)
        )
      )
    )
  )
})
