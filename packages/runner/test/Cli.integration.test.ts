import type { ChildProcess } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { EtcdStore } from "@migrator/etcd-store"
import { type EtcdServer, startEtcd } from "@migrator/etcd-store/testing"
import { Effect, Stream } from "effect"
import { afterAll, beforeAll } from "vitest"
import { migrator, runner, stop } from "./utils/cli.ts"

let etcd: EtcdServer
const children: Array<ChildProcess> = []
let prefixes = 0
/** The job documents the tests write: removed when the file ends. */
const dir = mkdtempSync(join(tmpdir(), "migrator-cli-"))

beforeAll(async () => {
  etcd = await startEtcd("runner-tests")
})
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  await Promise.all(children.map((c) => stop(c, "SIGKILL")))
  await etcd.destroy()
})

const context = () => {
  const prefix = `cli-${++prefixes}/`
  const flags = ["--etcd", etcd.endpoint, "--prefix", prefix]
  const start = (...args: Array<string>) => {
    const child = runner([...flags, ...args])
    children.push(child)
    return child
  }
  const cli = (...args: Array<string>) => migrator([...args, ...flags])
  return { prefix, flags, start, cli }
}

const file = (name: string, content: unknown) => {
  const path = join(dir, `${name}.json`)
  writeFileSync(path, JSON.stringify(content))
  return path
}

const showJson = async (cli: (...a: Array<string>) => Promise<{ stdout: string }>, id: string) =>
  JSON.parse((await cli("job", "show", id, "--json")).stdout) as {
    id: string
    state: string
    outcome: string | null
    tasks: Array<{
      id: string
      type: string
      status: string
      result: string | null
      output: unknown
      reason: unknown
      attempt: number
    }>
  }

/** Result puts per task key in the store's history of a prefix. */
/** Result writes per key in the prefix's whole history, of `job`'s tasks (not the runners' warm-ups'). */
const resultWrites = (prefix: string, job: string) =>
  Effect.gen(function* () {
    const store = yield* EtcdStore.make({ endpoints: [etcd.endpoint], namespace: prefix })
    // a marker written last bounds the history (the store's revision is shared with other prefixes)
    yield* store.txn({ compare: [], success: [{ _tag: "put", key: "~end", value: "" }] })
    const events = yield* store.watch("", { fromRevision: 1 }).pipe(
      Stream.takeUntil((e) => e._tag === "put" && e.kv.key === "~end"),
      Stream.runCollect
    )
    const counts = new Map<string, number>()
    for (const e of events) {
      const key = e._tag === "put" ? e.kv.key : ""
      if (key.startsWith(`jobs/${job}/`) && key.endsWith("/result")) counts.set(key, (counts.get(key) ?? 0) + 1)
    }
    return counts
  }).pipe(Effect.scoped)

describe("migrator CLI against a real etcd", () => {
  it.live("submit prints only the id; show --json has the documented shape; bad input exits 2 and writes nothing", () =>
    Effect.promise(async () => {
      const { cli, start } = context()
      start("--runner-id", "solo")
      const submitted = await cli(
        "job",
        "submit",
        file("simple", {
          tasks: [
            { id: "a", type: "test/echo", input: { v: 1 } },
            { id: "b", type: "test/echo", dependencies: ["a"], input: { v: { $ref: "a#/v" } } }
          ]
        })
      )
      assert.strictEqual(submitted.code, 0, submitted.stderr)
      const id = submitted.stdout.trim()
      assert.match(id, /^[A-Za-z0-9][A-Za-z0-9._-]*$/)
      const watched = await cli("job", "watch", id)
      assert.strictEqual(watched.code, 0, watched.stdout + watched.stderr)
      const view = await showJson(cli, id)
      // the API's job document (0.2.0): the fields of 0.1.0 and more (labels, target, times, operations, …)
      assert.includeMembers(Object.keys(view), ["id", "outcome", "state", "tasks"])
      assert.includeMembers(Object.keys(view), ["labels", "target", "createdAt", "operations", "problems"])
      assert.strictEqual(view.state, "completed")
      assert.strictEqual(view.outcome, "succeeded")
      const b = view.tasks.find((t) => t.id === "b")!
      for (const k of ["id", "type", "status", "result", "output", "reason", "attempt"]) assert.isTrue(k in b, k)
      assert.deepStrictEqual(b.output, { v: 1 })

      const bad = await cli(
        "job",
        "submit",
        file("bad", { id: "bad", tasks: [{ id: "x", type: "test/echo", dependencies: ["nope"] }] })
      )
      assert.strictEqual(bad.code, 2)
      assert.include(bad.stderr, 'task "x"')
      assert.include(bad.stderr, "/tasks/0/dependencies/0")
      const missing = await cli("job", "show", "bad")
      assert.strictEqual(missing.code, 2)

      const unreachable = await migrator(["job", "show", id, "--etcd", "http://127.0.0.1:1"])
      assert.strictEqual(unreachable.code, 3)

      const failing = await cli(
        "job",
        "submit",
        file("failing", { tasks: [{ id: "f", type: "test/fail", input: { message: "no" } }] })
      )
      const failedWatch = await cli("job", "watch", failing.stdout.trim())
      assert.strictEqual(failedWatch.code, 1)
    })
  )

  it.live("three runner processes run a wide and deep DAG with every reference resolved", () =>
    Effect.promise(async () => {
      const { cli, start } = context()
      for (const r of ["r1", "r2", "r3"]) start("--runner-id", r)
      const width = 40
      const depth = 15
      const tasks: Array<unknown> = [{ id: "root", type: "test/echo", input: { n: 0 } }]
      for (let d = 1; d <= depth; d++) {
        for (let w = 0; w < (d === depth ? 1 : width); w++) {
          const parent = d === 1 ? "root" : `d${d - 1}-${w % width}`
          const deps = d === depth ? Array.from({ length: width }, (_, i) => `d${d - 1}-${i}`) : [parent]
          tasks.push({
            id: d === depth ? "sink" : `d${d}-${w}`,
            type: "test/echo",
            dependencies: d === 1 ? ["root"] : deps,
            input:
              d === depth
                ? { all: deps.map((p) => ({ $ref: `${p}#/n` })) }
                : { n: { $ref: `${parent}#/n` }, at: [d, w] }
          })
        }
      }
      const submitted = await cli("job", "submit", file("dag", { id: "dag", tasks }))
      assert.strictEqual(submitted.code, 0, submitted.stderr)
      const watched = await cli("job", "watch", "dag")
      assert.strictEqual(watched.code, 0, watched.stderr)
      const view = await showJson(cli, "dag")
      assert.strictEqual(view.tasks.length, tasks.length)
      assert.deepStrictEqual(view.tasks.find((t) => t.id === "sink")?.output, {
        all: Array.from({ length: width }, () => 0)
      })
      assert.deepStrictEqual(view.tasks.find((t) => t.id === "d14-7")?.output, { n: 0, at: [14, 7] })
    })
  )

  it.live("kill -9 of a runner during test/sleep tasks: the others finish the job, no result written twice", () =>
    Effect.gen(function* () {
      const { cli, start, prefix } = context()
      const victim = start("--runner-id", "victim", "--lease-ttl", "2s", "--concurrency", "50")
      // long enough that the victim is surely mid-task when it dies, even on a loaded machine
      const tasks = Array.from({ length: 12 }, (_, i) => ({ id: `s${i}`, type: "test/sleep", input: { ms: 8000 } }))
      const submitted = yield* Effect.promise(() => cli("job", "submit", file("sleepy", { id: "sleepy", tasks })))
      assert.strictEqual(submitted.code, 0, submitted.stderr)
      // wait until the victim holds tasks, then kill it and start the survivors
      for (let i = 0; i < 200; i++) {
        const view = yield* Effect.promise(() => showJson(cli, "sleepy"))
        if (view.tasks.some((t) => t.status === "running")) break
        yield* Effect.sleep("100 millis")
      }
      yield* Effect.promise(() => stop(victim, "SIGKILL"))
      start("--runner-id", "heir-1", "--lease-ttl", "2s")
      start("--runner-id", "heir-2", "--lease-ttl", "2s")
      const watched = yield* Effect.promise(() => cli("job", "watch", "sleepy"))
      assert.strictEqual(watched.code, 0, watched.stderr)
      const view = yield* Effect.promise(() => showJson(cli, "sleepy"))
      assert.isTrue(view.tasks.every((t) => t.result === "success"))
      assert.isTrue(
        view.tasks.some((t) => t.attempt === 2),
        "some task was taken over"
      )
      const writes = yield* resultWrites(prefix, "sleepy")
      assert.strictEqual(writes.size, tasks.length)
      for (const [key, n] of writes) assert.strictEqual(n, 1, key)
    })
  )

  it.live("SIGTERM hands tasks over at once, long before the lease TTL", () =>
    Effect.gen(function* () {
      const { cli, start } = context()
      const leaving = start("--runner-id", "leaving", "--lease-ttl", "30s", "--shutdown-grace", "500ms")
      yield* Effect.promise(() =>
        cli(
          "job",
          "submit",
          file("handover", { id: "handover", tasks: [{ id: "s", type: "test/sleep", input: { ms: 10_000 } }] })
        )
      )
      for (let i = 0; i < 200; i++) {
        const view = yield* Effect.promise(() => showJson(cli, "handover"))
        if (view.tasks[0]?.status === "running") break
        yield* Effect.sleep("100 millis")
      }
      start("--runner-id", "staying", "--lease-ttl", "30s")
      const stoppedAt = Date.now()
      yield* Effect.promise(() => stop(leaving, "SIGTERM"))
      assert.strictEqual(leaving.exitCode, 0)
      const watched = yield* Effect.promise(() => cli("job", "watch", "handover"))
      assert.strictEqual(watched.code, 0, watched.stderr)
      const view = yield* Effect.promise(() => showJson(cli, "handover"))
      assert.strictEqual(view.tasks[0]?.attempt, 2)
      // taken over at once: finished (10 s of sleep) before the 30 s TTL would even have let a successor in
      assert.isBelow(Date.now() - stoppedAt, 25_000)
    })
  )
})
