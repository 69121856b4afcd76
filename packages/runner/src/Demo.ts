/**
 * `migrator demo`: runs a sample recovery-shaped job end to end with no
 * set-up — an in-memory store, two in-process runners and the test plugin —
 * shows its progress, then rolls it back.
 *
 * @since 0.1.0
 */
import { Engine, Job, JobBuilder, Jobs, Keys, Store, TaskRegistry } from "@migrator/core"
import { TestPlugin } from "@migrator/core/testing"
import { Console, Effect, Layer, Option, Stream } from "effect"
import { jobFailed } from "./CliExit.ts"

const keys = Keys.make("demo/")

const step = (id: string, dependencies: ReadonlyArray<string>, ms = 150) => ({
  id,
  type: "test/sleep",
  dependencies,
  input: { ms }
})

/** A small recovery plan: tenant → networks → router, keypair, volumes → instances. */
export const sampleJob = {
  id: "demo-recovery",
  labels: { plan: "demo", cluster: "recovery-1" },
  target: "recovery-1",
  tasks: [
    { id: "tenant", type: "test/echo", input: { project: "acme-dr", id: "p-1" } },
    {
      id: "net-web",
      type: "test/echo",
      dependencies: ["tenant"],
      input: { project: { $ref: "tenant#/id" }, name: "web" }
    },
    {
      id: "net-db",
      type: "test/echo",
      dependencies: ["tenant"],
      input: { project: { $ref: "tenant#/id" }, name: "db" }
    },
    {
      id: "router",
      type: "test/echo",
      dependencies: ["net-web", "net-db"],
      input: { networks: [{ $ref: "net-web#/name" }, { $ref: "net-db#/name" }] }
    },
    step("keypair", ["tenant"]),
    step("volume-1", ["tenant"], 400),
    step("volume-2", ["tenant"], 300),
    step("vm-db", ["net-db", "volume-2", "keypair"], 500),
    step("vm-web", ["net-web", "volume-1", "keypair", "vm-db", "router"], 500)
  ],
  clearTasks: [
    { id: "vm-web-del", type: "test/echo", undoes: "vm-web", input: {} },
    { id: "vm-db-del", type: "test/echo", undoes: "vm-db", dependencies: ["vm-web-del"], input: {} },
    { id: "volumes-del", type: "test/echo", undoes: "volume-1", dependencies: ["vm-web-del", "vm-db-del"], input: {} },
    { id: "router-del", type: "test/echo", undoes: "router", dependencies: ["vm-web-del"], input: {} },
    { id: "nets-del", type: "test/echo", undoes: "net-web", dependencies: ["router-del", "vm-db-del"], input: {} },
    { id: "tenant-del", type: "test/echo", undoes: "tenant", dependencies: ["nets-del", "volumes-del"], input: {} }
  ]
}

const follow = (id: string, from: number, until: (s: Job.JobState) => boolean) =>
  Effect.gen(function* () {
    const store = yield* Store.Store
    return yield* store.watch(keys.job(id), { fromRevision: from }).pipe(
      Stream.map((e) => {
        if (e._tag !== "put") return undefined
        const parsed = keys.parse(e.kv.key)
        if (parsed?._tag === "event") {
          const ev = JSON.parse(e.kv.value) as { type: string; taskId?: string; message: string; runner?: string }
          return { line: `  ${ev.type.padEnd(20)} ${(ev.taskId ?? "").padEnd(12)} ${ev.message}`, state: undefined }
        }
        if (parsed?._tag === "jobState") {
          const state = JSON.parse(e.kv.value) as Job.JobState
          return { line: `${id}: ${state.state}${state.outcome === undefined ? "" : ` (${state.outcome})`}`, state }
        }
        return undefined
      }),
      Stream.filter((x) => x !== undefined),
      Stream.tap((x) => Console.log(x.line)),
      Stream.filter((x) => x.state !== undefined && until(x.state)),
      Stream.runHead,
      Effect.map((x) => Option.getOrThrow(x).state!)
    )
  })

export const run = Effect.gen(function* () {
  yield* Console.log("migrator demo: in-memory store, two runners (demo-a, demo-b), the test plugin\n")
  yield* Engine.run({ runnerId: "demo-a", prefix: keys.prefix, leaseTtl: "5 seconds" }).pipe(Effect.forkScoped)
  yield* Engine.run({ runnerId: "demo-b", prefix: keys.prefix, leaseTtl: "5 seconds" }).pipe(Effect.forkScoped)
  const built = yield* JobBuilder.build(sampleJob)
  const store = yield* Store.Store
  const start = yield* store.revision
  yield* Jobs.submit(keys, built)
  const done = yield* follow(built.spec.id, start + 1, (s) => Job.isTerminal(s.state))
  if (done.outcome !== "succeeded") return yield* jobFailed(`demo job ended ${done.state} (${done.outcome})`)
  yield* Console.log("\nrolling back")
  const before = yield* store.revision
  yield* Jobs.request(keys, built.spec.id, "rollback")
  const cleared = yield* follow(built.spec.id, before + 1, (s) => s.state === "cleared" || s.state === "clear-failed")
  yield* Console.log(`\ndemo finished: run ${done.outcome}, rollback ${cleared.state}`)
}).pipe(
  Effect.scoped,
  Effect.provide(TestPlugin.layer.pipe(Layer.provideMerge(TaskRegistry.layer), Layer.provideMerge(Store.layerMemory)))
)
