/**
 * A runner whose watch falls behind a compaction (issue 12, item 3): a
 * `migrator run` process is cut off from etcd (a partitioning proxy), jobs
 * move meanwhile and the store is compacted past the revision its watch will
 * resume from. Once the network heals, its watch fails with `Compacted`, it
 * reloads its picture from the active index and carries on: what moved while
 * it was away is finished correctly, and a job submitted afterwards runs.
 */
import { assert, describe, it } from "@effect/vitest"
import { JobBuilder, Jobs, Keys, Store } from "@migrator/core"
import { EtcdStore } from "@migrator/etcd-store"
import { startCuttingProxy, startEtcd } from "@migrator/etcd-store/testing"
import { Effect, Option } from "effect"
import { eventually, runnerProcess } from "./utils/runnerProcess.ts"

const keys = Keys.make("compaction/")

/** A private etcd: compacting the shared one would break other files' watches. */
const privateEtcd = Effect.acquireRelease(
  Effect.promise(() => startEtcd("runner-compaction")),
  (server) => Effect.promise(() => server.destroy())
)

const proxyTo = (endpoint: string) => {
  const url = new URL(endpoint)
  return Effect.acquireRelease(
    Effect.promise(() =>
      startCuttingProxy({ target: { host: url.hostname, port: Number(url.port) }, probability: 0, seed: 1 })
    ),
    (p) => Effect.promise(() => p.close())
  )
}

const stateOf = (id: string) =>
  Jobs.read(keys, id).pipe(
    Effect.map((v) => v.state),
    Effect.orElseSucceed(() => undefined)
  )

const reaches = (id: string, state: string) =>
  eventually(`${id} ${state}`, stateOf(id).pipe(Effect.map((s) => (s?.state === state ? s : undefined))))

const submit = (document: unknown) => JobBuilder.build(document).pipe(Effect.flatMap((b) => Jobs.submit(keys, b)))

const echo = (id: string, extra: Record<string, unknown> = {}) => ({ id, type: "test/echo", input: id, ...extra })

describe("a runner behind a compaction", () => {
  it.live(
    "reloads when its watch resumes from a compacted revision, finishes what moved meanwhile and picks up new jobs",
    () =>
      Effect.gen(function* () {
        const server = yield* privateEtcd
        const proxy = yield* proxyTo(server.endpoint)
        const store = yield* EtcdStore.make({ endpoints: [server.endpoint], requestTimeout: "5 seconds" })
        yield* Effect.gen(function* () {
          const runner = yield* runnerProcess(proxy.endpoint, keys.prefix, "r-compaction")
          yield* submit({ id: "before", tasks: [echo("a")], clearTasks: [echo("a-del", { undoes: "a" })] })
          yield* reaches("before", "completed")

          // cut off: a rollback and a new job while the runner cannot see them, then compaction
          proxy.partition()
          yield* Jobs.request(keys, "before", "rollback")
          yield* submit({ id: "during", tasks: [echo("b"), echo("c", { dependencies: ["b"] })] })
          yield* store.compact(yield* store.revision)
          proxy.heal()

          const cleared = yield* reaches("before", "cleared")
          assert.strictEqual(cleared.clearMode, "rollback")
          yield* reaches("during", "completed")
          yield* submit({ id: "after", tasks: [echo("d")] })
          yield* reaches("after", "completed")

          // the old state is right: results kept, every task ran exactly once
          const before = yield* Jobs.read(keys, "before")
          for (const t of before.tasks) assert.strictEqual(t.result?.result, "success", t.spec.id)
          for (const id of ["during", "after"]) {
            const view = yield* Jobs.read(keys, id)
            assert.strictEqual(view.state.outcome, "succeeded", id)
            for (const t of view.tasks) assert.strictEqual(t.status?.attempt, 1, `${id}/${t.spec.id}`)
          }
          // it got there through the compacted watch (a reload), not a periodic resync 30 s later
          assert.match(runner.log.text, /compacted/)
          // and it keeps no finished job active
          assert.deepStrictEqual((yield* store.range(keys.active)).kvs.length, 0)
          assert.isTrue(Option.isSome(yield* store.get(keys.layout)))
        }).pipe(Effect.provideService(Store.Store, store))
      }).pipe(Effect.scoped),
    120_000
  )
})
