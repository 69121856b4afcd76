/**
 * Upgrading a store written before the active-jobs index (no `active/`, no
 * `<prefix>layout`): two `migrator run` processes start on it at once; the
 * index is built once, the marker created once, and every job that needed a
 * runner is carried out while finished ones are left alone. And the other way: a prefix a newer
 * version has moved to a layout this one does not know is refused, at the start or under it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Job, JobBuilder, Jobs, Keys, Store } from "@migrator/core"
import { EtcdStore } from "@migrator/etcd-store"
import { startEtcd } from "@migrator/etcd-store/testing"
import { Clock, Effect, Option } from "effect"
import { migrator } from "./utils/cli.ts"
import { eventually, exitCode, runnerProcess } from "./utils/runnerProcess.ts"

const keys = Keys.make("upgrade/")

const etcd = Effect.acquireRelease(
  Effect.promise(() => startEtcd("layout-upgrade")),
  (server) => Effect.promise(() => server.destroy())
)

const submit = (document: unknown, on: Keys.Layout = keys) =>
  JobBuilder.build(document).pipe(Effect.flatMap((b) => Jobs.submit(on, b)))

const echo = (id: string, extra: Record<string, unknown> = {}) => ({ id, type: "test/echo", input: id, ...extra })

/** A job state as an older runner wrote it: state and index entry, nothing in `active/`. */
const oldState = (id: string, state: Job.JobState) =>
  Effect.gen(function* () {
    const store = yield* Store.Store
    const value = Jobs.encodeState(state)
    yield* store.txn({
      compare: [],
      success: [
        { _tag: "put", key: keys.jobState(id), value },
        { _tag: "put", key: keys.indexEntry(id), value }
      ]
    })
  })

const stateIs = (id: string, state: string) =>
  eventually(
    `${id} ${state}`,
    Jobs.read(keys, id).pipe(
      Effect.map((v) => (v.state.state === state ? v.state : undefined)),
      Effect.orElseSucceed(() => undefined)
    )
  )

describe("a store written before the active index", () => {
  it.live(
    "two runners starting together build it once; pending work runs, a due drill rolls back, finished jobs stay out",
    () =>
      Effect.gen(function* () {
        const server = yield* etcd
        const store = yield* EtcdStore.make({ endpoints: [server.endpoint], requestTimeout: "5 seconds" })
        yield* Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          yield* submit({ id: "waiting", tasks: [echo("a")] })
          yield* submit({ id: "finished", tasks: [echo("a")] })
          yield* oldState("finished", new Job.JobState({ state: "canceled", updatedAt: now }))
          yield* submit({
            id: "drill",
            autoRollbackAfterMs: 1_000,
            tasks: [echo("a")],
            clearTasks: [echo("a-del", { undoes: "a" })]
          })
          yield* oldState(
            "drill",
            new Job.JobState({
              state: "completed",
              outcome: "succeeded",
              startedAt: now - 10_000,
              completedAt: now - 5_000,
              updatedAt: now - 5_000
            })
          )
          // what the older layout looks like
          yield* store.txn({ compare: [], success: [{ _tag: "deletePrefix", prefix: keys.active }] })
          assert.isTrue(Option.isNone(yield* store.get(keys.layout)))

          const runners = yield* Effect.all(
            [runnerProcess(server.endpoint, keys.prefix, "r-a"), runnerProcess(server.endpoint, keys.prefix, "r-b")],
            { concurrency: 2 }
          )
          yield* stateIs("waiting", "completed")
          yield* stateIs("drill", "cleared")
          assert.strictEqual((yield* Jobs.read(keys, "finished")).state.state, "canceled")

          const marker = Option.getOrThrow(yield* store.get(keys.layout))
          assert.strictEqual(marker.version, 1, "the marker is created once")
          const built = runners.filter((r) => r.log.text.includes("built the index of active jobs"))
          assert.strictEqual(built.length, 1, runners.map((r) => r.log.text).join("\n"))
          // once everything has finished, nothing is active
          yield* eventually(
            "active/ empty",
            store.range(keys.active).pipe(Effect.map((r) => (r.kvs.length === 0 ? true : undefined)))
          )
        }).pipe(Effect.provideService(Store.Store, store))
      }).pipe(Effect.scoped),
    120_000
  )
})

describe("a prefix in a key layout this version does not know", () => {
  it.live(
    "`migrator run` and the job commands refuse one (exit 2, naming it); a runner stops when its prefix is moved to one",
    () =>
      Effect.gen(function* () {
        const server = yield* etcd
        const store = yield* EtcdStore.make({ endpoints: [server.endpoint], requestTimeout: "5 seconds" })
        yield* Effect.gen(function* () {
          const newer = Keys.make("newer/")
          yield* Store.put(newer.layout, "3")
          yield* submit({ id: "j1", tasks: [echo("a")] }, newer)
          const refused = yield* runnerProcess(server.endpoint, newer.prefix, "r-old")
          assert.strictEqual(yield* exitCode(refused), 2, refused.log.text)
          assert.include(refused.log.text, 'the store at prefix "newer/" is in key layout "3"')
          assert.isTrue(Option.isNone(yield* store.get(newer.task("j1", "run", "a", "status"))), "nothing claimed")
          assert.strictEqual((yield* Jobs.read(newer, "j1")).state.state, "pending")
          // nor do the job commands read or write it: what they would show or submit may be wrong there
          const flags = ["--etcd", server.endpoint, "--prefix", newer.prefix]
          for (const args of [
            ["job", "list"],
            ["job", "show", "j1"],
            ["job", "cancel", "j1"]
          ]) {
            const run = yield* Effect.promise(() => migrator([...args, ...flags]))
            assert.strictEqual(run.code, 2, `${args.join(" ")}: ${run.stderr}`)
            assert.include(run.stderr, 'the store at prefix "newer/" is in key layout "3"')
          }
          assert.strictEqual((yield* Jobs.read(newer, "j1")).state.pending, undefined, "nothing requested")
          // while a prefix in this layout is served as before
          const current = yield* Effect.promise(() =>
            migrator(["job", "list", "--etcd", server.endpoint, "--prefix", keys.prefix])
          )
          assert.strictEqual(current.code, 0, current.stderr)

          const moving = Keys.make("moving/")
          const running = yield* runnerProcess(server.endpoint, moving.prefix, "r-live", ["--shutdown-grace", "1s"])
          yield* submit({ id: "j2", tasks: [{ id: "slow", type: "test/sleep", input: { ms: 600_000 } }] }, moving)
          yield* eventually(
            "slow claimed",
            store.get(moving.task("j2", "run", "slow", "claim")).pipe(Effect.map(Option.getOrUndefined))
          )
          // what a newer version does once no runner of this one is registered, done here under it
          yield* store.txn({
            compare: [{ key: moving.layout, target: "value", op: "==", value: "2" }],
            success: [{ _tag: "put", key: moving.layout, value: "3" }]
          })
          assert.strictEqual(yield* exitCode(running), 2, running.log.text)
          assert.include(running.log.text, 'the store at prefix "moving/" is in key layout "3"')
          // it gave its task up on the way out: claim and registration gone with its lease
          assert.isTrue(Option.isNone(yield* store.get(moving.task("j2", "run", "slow", "claim"))))
          assert.isTrue(Option.isNone(yield* store.get(moving.runner("r-live"))))
        }).pipe(Effect.provideService(Store.Store, store))
      }).pipe(Effect.scoped),
    120_000
  )
})
