/**
 * The bad input matrix (SPEC §8) through real processes and a real etcd:
 *
 * - malformed job documents given to `migrator job submit`: exit 2, an error naming the task
 *   and the field, nothing written;
 * - corrupted or foreign values written straight into the key space of a running runner: a
 *   clear error naming the key, and the runner keeps serving (a good job submitted afterwards
 *   completes);
 * - handler outputs violating their Schema and references resolving to the wrong type: the
 *   task fails with a reason naming the field, shown with its job and task;
 * - plugin modules that fail to load, and misconfiguration: exit 2 with the reason.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Job, JobBuilder, Jobs, Keys, Store, Task } from "@migrator/core"
import { EtcdStore } from "@migrator/etcd-store"
import { type EtcdServer, startEtcd } from "@migrator/etcd-store/testing"
import { Effect } from "effect"
import { afterAll, beforeAll } from "vitest"
import { migrator } from "./utils/cli.ts"
import { type Service, startService, until } from "./utils/service.ts"

let etcd: EtcdServer
const services: Array<Service> = []
let prefixes = 0
/** The job documents the tests write: removed when the file ends. */
const dir = mkdtempSync(join(tmpdir(), "migrator-bad-"))

beforeAll(async () => {
  etcd = await startEtcd("bad-input")
})
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  await Promise.all(services.map((s) => s.stop("SIGKILL")))
  await etcd.destroy()
})

const fixture = (name: string) => fileURLToPath(new URL(`./badinput/${name}`, import.meta.url))

const file = (name: string, content: string) => {
  const path = join(dir, `${name.replace(/[^a-z0-9]+/gi, "-")}.json`)
  writeFileSync(path, content)
  return path
}

const context = () => {
  const prefix = `bad-${++prefixes}/`
  const flags = ["--etcd", etcd.endpoint, "--prefix", prefix]
  const cli = (...args: Array<string>) => migrator([...args, ...flags])
  const start = async (...args: Array<string>) => {
    const plugins = args.includes("--plugins") ? [] : ["--plugins", "test"]
    const s = await startService([...plugins, "--lease-ttl", "2s", "--log-format", "json", ...flags, ...args])
    services.push(s)
    return s
  }
  /** Every key under the prefix. */
  const keysUnder = () =>
    Effect.runPromise(
      Effect.scoped(
        Effect.flatMap(EtcdStore.make({ endpoints: [etcd.endpoint] }), (store) => store.range(prefix))
      ).pipe(Effect.map((r) => r.kvs))
    )
  const put = (key: string, value: string) =>
    Effect.runPromise(
      Effect.scoped(
        Effect.flatMap(EtcdStore.make({ endpoints: [etcd.endpoint] }), (store) =>
          store.txn({ compare: [], success: [{ _tag: "put", key: `${prefix}${key}`, value }] })
        )
      )
    )
  return { prefix, keys: Keys.make(prefix), flags, cli, start, keysUnder, put }
}

// ---- malformed job documents --------------------------------------------------------------

const echo = (id: string, extra: Record<string, unknown> = {}) => ({ id, type: "test/echo", input: {}, ...extra })

interface DocumentCase {
  readonly name: string
  /** The file's content: a raw string, or a value written as JSON. */
  readonly document: unknown
  readonly raw?: boolean
  /** Texts the error must contain (task and field). */
  readonly expect: ReadonlyArray<string>
}

const documents: ReadonlyArray<DocumentCase> = [
  { name: "not JSON", document: '{"tasks": [', raw: true, expect: ["JSON"] },
  { name: "not an object", document: [echo("a")], expect: ["Expected"] },
  { name: "tasks of the wrong type", document: { id: "j", tasks: "a,b" }, expect: ["/tasks"] },
  {
    name: "a task id of the wrong type",
    document: { id: "j", tasks: [{ id: 7, type: "test/echo" }] },
    expect: ["/tasks/0/id"]
  },
  { name: "a task without a type", document: { id: "j", tasks: [{ id: "a" }] }, expect: ['task "a"', "/tasks/0/type"] },
  { name: "no tasks at all", document: { id: "j" }, expect: ["/tasks"] },
  { name: "an empty task list", document: { id: "j", tasks: [] }, expect: ["/tasks", "at least one task"] },
  {
    name: "dependencies that are not a list",
    document: { id: "j", tasks: [echo("a"), echo("b", { dependencies: "a" })] },
    expect: ['task "b"', "/tasks/1/dependencies"]
  },
  {
    name: "labels of the wrong type",
    document: { id: "j", labels: { team: 7 }, tasks: [echo("a")] },
    expect: ["/labels/team"]
  },
  {
    name: "a timeout of the wrong type",
    document: { id: "j", tasks: [echo("a", { timeoutMs: "soon" })] },
    expect: ['task "a"', "/tasks/0/timeoutMs"]
  },
  {
    name: "a misspelled field",
    document: { id: "j", tasks: [echo("a"), echo("b", { dependecies: ["a"] })] },
    expect: ['task "b"', "/tasks/1/dependecies", "unknown field"]
  },
  {
    name: "duplicate task ids",
    document: { id: "j", tasks: [echo("a"), echo("a")] },
    expect: ['task "a"', "/tasks/1/id", "duplicate"]
  },
  {
    name: "a dependency cycle",
    document: {
      id: "j",
      tasks: [
        echo("a", { dependencies: ["c"] }),
        echo("b", { dependencies: ["a"] }),
        echo("c", { dependencies: ["b"] })
      ]
    },
    expect: ["dependency cycle", "a -> ", 'task "']
  },
  {
    name: "a task depending on itself",
    document: { id: "j", tasks: [echo("a", { dependencies: ["a"] })] },
    expect: ['task "a"', "/tasks/0/dependencies/0", "itself"]
  },
  {
    name: "a dangling dependency",
    document: { id: "j", tasks: [echo("a"), echo("b", { dependencies: ["ghost"] })] },
    expect: ['task "b"', "/tasks/1/dependencies/0", "ghost"]
  },
  {
    name: "a reference to an unknown task",
    document: { id: "j", tasks: [echo("a", { input: { x: { $ref: "ghost#/id" } } })] },
    expect: ['task "a"', "/tasks/0/input/x", "unknown task"]
  },
  {
    name: "a reference to a task that is not a dependency",
    document: { id: "j", tasks: [echo("a"), echo("b", { input: { x: { $ref: "a#/id" } } })] },
    expect: ['task "b"', "/tasks/1/input/x", "not a dependency"]
  },
  {
    name: "a malformed reference",
    document: {
      id: "j",
      tasks: [echo("a"), echo("b", { dependencies: ["a"], input: { x: { $ref: "a-without-hash" } } })]
    },
    expect: ['task "b"', "/tasks/1/input/x"]
  },
  {
    name: "an unknown task type",
    document: { id: "j", tasks: [{ id: "a", type: "nope/unknown", input: {} }] },
    expect: ['task "a"', "/tasks/0/type", "unknown task type", "nope/unknown"]
  },
  {
    name: "an input that does not match the handler's Schema",
    document: { id: "j", tasks: [{ id: "nap", type: "test/sleep", input: { ms: "soon" } }] },
    expect: ['task "nap"', "/tasks/0/input/ms"]
  },
  {
    name: "an enormous input",
    document: { id: "j", tasks: [echo("big", { input: { blob: "x".repeat(700 * 1024) } })] },
    expect: ['task "big"', "/tasks/0/input", "limit"]
  },
  {
    name: "a clear task undoing an unknown task",
    document: { id: "j", tasks: [echo("a")], clearTasks: [echo("undo", { undoes: "ghost" })] },
    expect: ['task "undo"', "/clearTasks/0/undoes", "ghost"]
  },
  {
    name: "a clear task depending on a run task",
    document: { id: "j", tasks: [echo("a")], clearTasks: [echo("undo", { undoes: "a", dependencies: ["a"] })] },
    expect: ['task "undo"', "/clearTasks/0/dependencies/0", "run phase"]
  },
  {
    name: "a task id that would break the key layout",
    document: { id: "j", tasks: [echo("a/b")] },
    expect: ['task "a/b"', "/tasks/0/id"]
  },
  { name: "an invalid job id", document: { id: "../escape", tasks: [echo("a")] }, expect: ["/id", "../escape"] }
]

describe("malformed job documents: exit 2 naming task and field, nothing written", () => {
  for (const c of documents) {
    it.live(c.name, () =>
      Effect.promise(async () => {
        const { cli, keysUnder } = context()
        const path = file(c.name, c.raw === true ? (c.document as string) : JSON.stringify(c.document))
        const r = await cli("job", "submit", path, "--plugins", "test")
        assert.strictEqual(r.code, 2, r.stdout + r.stderr)
        assert.strictEqual(r.stdout.trim(), "", "no job id printed")
        for (const text of c.expect) assert.include(r.stderr, text)
        assert.deepStrictEqual(await keysUnder(), [], "nothing written to etcd")
      })
    )
  }

  it.live("a missing file", () =>
    Effect.promise(async () => {
      const { cli, keysUnder } = context()
      const r = await cli(
        "job",
        "submit",
        join(tmpdir(), `migrator-no-such-file-${process.pid}.json`),
        "--plugins",
        "test"
      )
      assert.strictEqual(r.code, 2)
      assert.include(r.stderr, "no-such-file")
      assert.deepStrictEqual(await keysUnder(), [])
    })
  )

  it.live("a job id that already exists: exit 2, the existing job untouched", () =>
    Effect.promise(async () => {
      const { cli, keysUnder, keys } = context()
      const path = file("existing", JSON.stringify({ id: "twice", tasks: [echo("a")] }))
      assert.strictEqual((await cli("job", "submit", path)).code, 0)
      const before = (await keysUnder()).filter((kv) => !kv.key.startsWith(keys.followedEnd))
      const again = await cli("job", "submit", file("existing-2", JSON.stringify({ id: "twice", tasks: [echo("b")] })))
      assert.strictEqual(again.code, 2)
      assert.include(again.stderr, 'job "twice" already exists')
      const after = (await keysUnder()).filter((kv) => !kv.key.startsWith(keys.followedEnd))
      assert.deepStrictEqual(
        after.map((kv) => [kv.key, kv.modRevision]),
        before.map((kv) => [kv.key, kv.modRevision])
      )
    })
  )
})

// ---- corrupted and foreign values under a running runner's prefix ---------------------------

const waitingStatus = Jobs.encodeStatus(new Task.TaskStatus({ status: "waiting", attempt: 0, updatedAt: 0 }))

/** The records of a valid pending job, written by hand so one of them can be replaced. */
const records = async (id: string, keys: Keys.Layout, tasks: ReadonlyArray<unknown>) => {
  const built = await Effect.runPromise(JobBuilder.build({ id, tasks }))
  const state = Jobs.encodeState(new Job.JobState({ state: "pending", updatedAt: 0 }))
  const out = new Map<string, string>()
  for (const t of built.tasks) {
    out.set(keys.task(id, t.phase, t.id, "spec"), Jobs.encodeTask(t))
    out.set(keys.task(id, t.phase, t.id, "status"), waitingStatus)
  }
  out.set(keys.jobState(id), state)
  out.set(keys.indexEntry(id), state)
  out.set(keys.jobSpec(id), Jobs.encodeSpec(built.spec))
  out.set(keys.activeEntry(id), "{}")
  return out
}

interface CorruptionCase {
  readonly name: string
  /** Keys (relative to the prefix; "JOB" stands for the victim job's id) and the values that replace or add to a valid job. */
  readonly corrupt: Record<string, string>
  /** Whether the runner reports the key in its log (foreign keys outside the job layout are ignored). */
  readonly logged: boolean
}

const corruptions: ReadonlyArray<CorruptionCase> = [
  { name: "invalid JSON in a job spec", corrupt: { "jobs/JOB/spec": '{"id": "JOB", ' }, logged: true },
  {
    name: "a job spec of the wrong schema",
    corrupt: { "jobs/JOB/spec": '{"id": 12, "runTasks": "many"}' },
    logged: true
  },
  { name: "invalid JSON in a job state", corrupt: { "jobs/JOB/state": "{state: pending}" }, logged: true },
  { name: "an unknown job state", corrupt: { "jobs/JOB/state": '{"state":"exploded","updatedAt":0}' }, logged: true },
  {
    name: "invalid JSON in a task status",
    corrupt: { "jobs/JOB/tasks/run/a/status": "\u0000\u0001binary" },
    logged: true
  },
  {
    name: "a task spec of the wrong schema",
    corrupt: { "jobs/JOB/tasks/run/a/spec": '{"id":"a","type":["test/echo"],"dependencies":"none"}' },
    logged: true
  },
  {
    name: "a task result of the wrong schema",
    corrupt: { "jobs/JOB/tasks/run/a/result": '{"result":"maybe","attempt":-1}' },
    logged: true
  },
  { name: "a corrupted shared-resource record", corrupt: { "shared/c1%2Fnet%2FJOB": "[not a record]" }, logged: true },
  {
    name: "foreign keys in the key space",
    corrupt: {
      "jobs/JOB/weird/deep/key": "hello",
      "jobs/JOB/tasks/sideways/a/spec": "{}",
      "jobs//spec": "{}",
      "unrelated-tool/config": "<xml/>",
      "runners/ghost": "not json",
      "index/ghost": '{"state":"running"'
    },
    logged: false
  }
]

describe("corrupted or foreign values under a running runner's prefix: a clear error, the runner keeps serving", () => {
  // one runner lives through every corruption: each case also proves it survived the ones before
  let ctx: ReturnType<typeof context>
  let runner: Service
  let n = 0
  beforeAll(async () => {
    ctx = context()
    runner = await ctx.start("--runner-id", "survivor")
  })

  const inStore = <A, E>(f: (store: Store.Store["Service"]) => Effect.Effect<A, E, Store.Store>) =>
    Effect.runPromise(
      Effect.scoped(
        Effect.flatMap(EtcdStore.make({ endpoints: [etcd.endpoint] }), (store) =>
          Effect.provideService(f(store), Store.Store, store)
        )
      )
    )

  /** A good job, submitted and awaited in-process (the CLI's own paths are tested above). */
  const goodJobCompletes = async (id: string) => {
    await inStore(() =>
      Effect.flatMap(JobBuilder.build({ id, tasks: [{ id: "a", type: "test/echo", input: { ok: true } }] }), (built) =>
        Jobs.submit(ctx.keys, built)
      )
    )
    const state = await until(
      `job ${id} to complete`,
      () =>
        inStore(() => Jobs.list(ctx.keys)).then((jobs) => {
          const s = jobs.find((j) => j.id === id)?.state
          return s?.state === "completed" ? s : undefined
        }),
      60_000
    )
    assert.strictEqual(state.outcome, "succeeded")
  }

  for (const c of corruptions) {
    it.live(c.name, () =>
      Effect.promise(async () => {
        const id = `victim-${++n}`
        const corrupt = Object.entries(c.corrupt).map(([k, v]) => [k.replaceAll("JOB", id), v.replaceAll("JOB", id)])
        const victim = await records(id, ctx.keys, [
          { id: "a", type: "test/echo", input: { x: 1 } },
          { id: "b", type: "test/echo", input: { y: 2 } }
        ])
        for (const [k, v] of corrupt) victim.set(`${ctx.prefix}${k}`, v)
        // the spec last, as a submission writes it
        const spec = ctx.keys.jobSpec(id)
        for (const [k, v] of victim) if (k !== spec) await ctx.put(k.slice(ctx.prefix.length), v)
        await ctx.put(spec.slice(ctx.prefix.length), victim.get(spec)!)
        await goodJobCompletes(`after-${n}`)
        if (c.logged) {
          for (const [k] of corrupt) {
            await until(`the runner to report ${k}`, async () => runner.output().includes(`${ctx.prefix}${k}`), 20_000)
          }
        }
        assert.isNull(runner.child.exitCode, "the runner is still running")
        // the operator's view names the problem
        const shown = await ctx.cli("job", "show", id)
        if (shown.code !== 0) {
          assert.strictEqual(shown.code, 2, shown.stderr)
          assert.include(shown.stderr, id)
        }
        const taskKey = corrupt.find(([k]) => k.startsWith(`jobs/${id}/tasks/run/`))?.[0]
        if (taskKey !== undefined) assert.include(shown.stdout + shown.stderr, `${ctx.prefix}${taskKey}`)
        // no unhandled failure in the log
        assert.notMatch(runner.output(), /"level":"(ERROR|FATAL)"/)
      })
    )
  }
})

// ---- bad handler outputs and references resolving to the wrong type -------------------------

describe("bad values at run time: the task fails with a reason naming the field, other tasks go on", () => {
  it.live("a handler output that violates its Schema; a reference that resolves to the wrong type", () =>
    Effect.promise(async () => {
      const ctx = context()
      const runner = await ctx.start("--plugins", `test,${fixture("bad-output-plugin.ts")}`)
      const submitted = await ctx.cli(
        "job",
        "submit",
        file(
          "runtime",
          JSON.stringify({
            id: "runtime",
            tasks: [
              { id: "out", type: "bad/output", input: {} },
              { id: "src", type: "test/echo", input: { name: "not-a-number", nested: { list: [1] } } },
              { id: "nap", type: "test/sleep", dependencies: ["src"], input: { ms: { $ref: "src#/name" } } },
              { id: "missing", type: "test/echo", dependencies: ["src"], input: { v: { $ref: "src#/nested/none" } } },
              { id: "fine", type: "test/echo", dependencies: ["src"], input: { v: { $ref: "src#/nested/list/0" } } }
            ]
          })
        ),
        "--plugins",
        `test,${fixture("bad-output-plugin.ts")}`
      )
      assert.strictEqual(submitted.code, 0, submitted.stderr)
      const watched = await ctx.cli("job", "watch", "runtime")
      assert.strictEqual(watched.code, 1, "the job did not succeed")
      const view = JSON.parse((await ctx.cli("job", "show", "runtime", "--json")).stdout) as {
        outcome: string
        tasks: Array<{ id: string; result: string; output: unknown; reason: { code: string; message: string } | null }>
      }
      assert.strictEqual(view.outcome, "partial")
      const task = (id: string) => view.tasks.find((t) => t.id === id)!
      assert.strictEqual(task("out").reason?.code, "output.invalid")
      assert.include(task("out").reason?.message, "/id")
      assert.include(task("out").reason?.message, "bad/output")
      assert.strictEqual(task("nap").reason?.code, "input.invalid")
      assert.include(task("nap").reason?.message, "/ms")
      assert.strictEqual(task("missing").reason?.code, "input.unresolved")
      assert.include(task("missing").reason?.message, "src")
      assert.strictEqual(task("fine").result, "success")
      assert.deepStrictEqual(task("fine").output, { v: 1 })
      // the human view puts job, task and field on one line
      const shown = await ctx.cli("job", "show", "runtime")
      assert.match(shown.stdout, /job runtime:/)
      assert.match(shown.stdout, /nap\s+test\/sleep\s+done\s+failed.*input\.invalid: .*\/ms/)
      // and so does the runner's log, with job and task as annotations too (written after the
      // result commits, so it can reach this process's pipe after the job was seen to end)
      const failedLine = () =>
        runner
          .output()
          .split("\n")
          .find((l) => l.includes("of task nap of job runtime failed"))
      const line = await until("the runner to log the failed attempt of nap", async () => failedLine(), 10_000)
      assert.include(line, "input.invalid")
      assert.include(line, "/ms")
      assert.include(line, '"task":"nap"')
      assert.include(line, '"job":"runtime"')
    })
  )
})

// ---- plugins that fail to load and misconfiguration -----------------------------------------

describe("plugins that fail to load and misconfiguration: exit 2 with the reason", () => {
  const runFails = async (args: ReadonlyArray<string>, expect: ReadonlyArray<string>) => {
    const r = await migrator(["run", "--etcd", etcd.endpoint, "--prefix", `bad-${++prefixes}/`, ...args])
    assert.strictEqual(r.code, 2, r.stdout + r.stderr)
    for (const text of expect) assert.include(r.stdout + r.stderr, text)
  }

  it.live("a plugin module that throws while loading", () =>
    Effect.promise(() =>
      runFails(["--plugins", fixture("throwing-plugin.ts")], ["throwing-plugin", "plugin initialisation exploded"])
    )
  )
  it.live("a plugin module without a handler layer", () =>
    Effect.promise(() => runFails(["--plugins", fixture("no-layer-plugin.ts")], ["no-layer-plugin", '"layer"']))
  )
  it.live("a plugin module that does not exist", () =>
    Effect.promise(() => runFails(["--plugins", "./no/such/plugin.js"], ["./no/such/plugin.js"]))
  )
  it.live("job submit with a plugin that fails to load writes nothing", () =>
    Effect.promise(async () => {
      const { cli, keysUnder } = context()
      const r = await cli(
        "job",
        "submit",
        file("plugin-fails", JSON.stringify({ id: "j", tasks: [echo("a")] })),
        "--plugins",
        fixture("throwing-plugin.ts")
      )
      assert.strictEqual(r.code, 2)
      assert.include(r.stderr, "plugin initialisation exploded")
      assert.deepStrictEqual(await keysUnder(), [])
    })
  )
  it.live("a flag that is not a number", () =>
    Effect.promise(() => runFails(["--plugins", "test", "--concurrency", "many"], ["--concurrency", "many"]))
  )
  it.live("a concurrency of zero", () =>
    Effect.promise(() => runFails(["--plugins", "test", "--concurrency", "0"], ["--concurrency"]))
  )
  it.live("a duration that is not one", () =>
    Effect.promise(() => runFails(["--plugins", "test", "--lease-ttl", "forever"], ["--lease-ttl"]))
  )
  it.live("an unknown flag", () => Effect.promise(() => runFails(["--plugins", "test", "--bogus"], ["--bogus"])))
  it.live("an unreachable endpoint exits 3 naming it, at once; a malformed one is bad input naming the flag", () =>
    Effect.promise(async () => {
      const began = Date.now()
      const r = await migrator(["job", "list", "--etcd", "http://127.0.0.1:1"])
      assert.strictEqual(r.code, 3, r.stdout + r.stderr)
      assert.isBelow(Date.now() - began, 30_000)
      assert.include(r.stderr, "127.0.0.1:1")
      // not a URL: exit 2, one message naming --etcd, for the job commands and the runner alike
      for (const args of [
        ["job", "list"],
        ["run", "--plugins", "test"]
      ]) {
        const bad = await migrator([...args, "--etcd", "not-a-url"])
        assert.strictEqual(bad.code, 2, bad.stdout + bad.stderr)
        assert.include(bad.stderr, "etcd.endpoints (--etcd)")
        assert.include(bad.stderr, "not-a-url")
        assert.strictEqual(bad.stdout, "")
      }
    })
  )
})
