import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Job, Keys, type Store } from "@migrator/core"
import { type EtcdServer, freePort, startEtcd } from "@migrator/etcd-store/testing"
import { Effect } from "effect"
import { afterAll, beforeAll } from "vitest"
import * as Graph from "../src/cli/Graph.ts"
import * as Progress from "../src/cli/Progress.ts"
import { migrator, type Run, runner, stop } from "./utils/cli.ts"

const bin = fileURLToPath(new URL("../bin/migrator.js", import.meta.url))
const ADMIN = "admin-token-for-the-cli-0123456789"
const VIEWER = "viewer-token-for-the-cli-0123456789"

/** Waits for `check`, trying every 50 ms. */
const until = async (check: () => Promise<boolean>) => {
  for (let i = 0; i < 1200; i++) {
    if (await check().catch(() => false)) return
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error("timed out")
}

let etcd: EtcdServer
const children: Array<ChildProcess> = []
let prefixes = 0
/** The files the tests write: removed when the file ends. */
const dir = mkdtempSync(join(tmpdir(), "migrator-jobcmd-"))
/** Every CLI call starts a process (TypeScript through tsx): slow on a loaded machine. */
const LONG = 400_000

beforeAll(async () => {
  etcd = await startEtcd("job-commands")
})
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  await Promise.all(children.map((c) => stop(c, "SIGKILL")))
  await etcd.destroy()
})

const context = () => {
  const prefix = `jobs-${++prefixes}/`
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

const ok = (r: Run) => {
  assert.strictEqual(r.code, 0, r.stdout + r.stderr)
  return r.stdout
}

/** A CLI process whose output is read while it runs. */
const live = (command: string, args: ReadonlyArray<string>) => {
  const child = spawn(command, args, { env: process.env })
  children.push(child)
  let stdout = ""
  let stderr = ""
  const waiters: Array<() => void> = []
  child.stdout.on("data", (d) => {
    stdout += d
    for (const w of waiters.splice(0)) w()
  })
  child.stderr.on("data", (d) => {
    stderr += d
  })
  const done = new Promise<Run>((resolve) => child.on("exit", (code) => resolve({ code, stdout, stderr })))
  const until = (text: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (stdout.includes(text)) return resolve()
        if (child.exitCode !== null) return reject(new Error(`exited before "${text}": ${stdout}${stderr}`))
        waiters.push(check)
      }
      check()
    })
  return { done, until }
}

const echoJob = (id: string, labels: Record<string, string>) => ({
  id,
  labels,
  tasks: [
    { id: "a", type: "test/echo", input: { v: 1 } },
    { id: "b", type: "test/echo", dependencies: ["a"], input: { v: { $ref: "a#/v" } } }
  ],
  clearTasks: [{ id: "a-del", type: "test/echo", undoes: "a", input: {} }]
})

interface ListRow {
  id: string
  state: string
  outcome: string | null
  labels: Record<string, string>
  createdAt: string
  phase: string
  tasks: { run: { done: number; total: number }; clear: { done: number; total: number } }
}

describe("migrator job commands against a real etcd", () => {
  it.live(
    "list filters by state and labels and prints a table or JSON; events prints the log",
    () =>
      Effect.promise(async () => {
        const { cli, start } = context()
        const submitted = await Promise.all([
          cli("job", "submit", file("la", echoJob("la", { team: "a", env: "dr" }))),
          cli(
            "job",
            "submit",
            file("lb", {
              id: "lb",
              labels: { team: "b" },
              tasks: [{ id: "f", type: "test/fail", input: { message: "no", retryable: false } }]
            })
          ),
          cli("job", "submit", file("lc", echoJob("lc", { team: "a" })))
        ])
        assert.deepStrictEqual(submitted.map(ok), ["la\n", "lb\n", "lc\n"])
        assert.strictEqual(ok(await cli("job", "cancel", "lc")).trim(), "lc: canceling")

        // nothing runs yet: two pending jobs, one being canceled
        const pending = JSON.parse(ok(await cli("job", "list", "--state", "pending", "--json"))) as Array<ListRow>
        assert.deepStrictEqual(pending.map((j) => j.id).sort(), ["la", "lb"])
        const la = pending.find((j) => j.id === "la")!
        assert.deepStrictEqual(Object.keys(la).sort(), [
          "createdAt",
          "id",
          "labels",
          "outcome",
          "phase",
          "state",
          "tasks"
        ])
        assert.deepStrictEqual(la.labels, { team: "a", env: "dr" })
        assert.deepStrictEqual(la.tasks, { run: { done: 0, total: 2 }, clear: { done: 0, total: 1 } })
        assert.strictEqual(la.phase, "run")
        assert.strictEqual(la.outcome, null)
        assert.isFalse(Number.isNaN(Date.parse(la.createdAt)))

        start("--runner-id", "lister")
        const watched = await Promise.all([
          cli("job", "watch", "la"),
          cli("job", "watch", "lb"),
          cli("job", "watch", "lc")
        ])
        assert.deepStrictEqual(
          watched.map((w) => w.code),
          [0, 1, 1]
        )

        const [all, completed, both, teamA, teamAdr, table, badState, badLabel] = await Promise.all([
          cli("job", "list", "--json"),
          cli("job", "list", "--state", "completed", "--json"),
          cli("job", "list", "--state", "completed", "--state", "canceled", "--json"),
          cli("job", "list", "--label", "team=a", "--json"),
          cli("job", "list", "--label", "team=a", "--label", "env=dr", "--json"),
          cli("job", "list"),
          cli("job", "list", "--state", "bogus"),
          cli("job", "list", "--label", "team")
        ])
        const ids = (r: Run) => (JSON.parse(ok(r)) as Array<ListRow>).map((j) => j.id).sort()
        assert.deepStrictEqual(ids(all), ["la", "lb", "lc"])
        assert.deepStrictEqual(ids(completed), ["la", "lb"])
        assert.deepStrictEqual(ids(both), ["la", "lb", "lc"])
        assert.deepStrictEqual(ids(teamA), ["la", "lc"])
        assert.deepStrictEqual(ids(teamAdr), ["la"])
        const rows = (JSON.parse(all.stdout) as Array<ListRow>).sort((a, b) => (a.id < b.id ? -1 : 1))
        assert.deepStrictEqual(
          rows.map((r) => [r.id, r.state, r.outcome, r.tasks.run.done, r.tasks.run.total]),
          [
            ["la", "completed", "succeeded", 2, 2],
            ["lb", "completed", "failed", 1, 1],
            ["lc", "canceled", null, 2, 2]
          ]
        )
        const lines = ok(table).trimEnd().split("\n")
        assert.match(lines[0]!, /^ID\s+STATE\s+OUTCOME\s+TASKS\s+LABELS\s+CREATED$/)
        assert.match(
          lines.find((l) => l.startsWith("la "))!,
          /^la\s+completed\s+succeeded\s+2\/2\s+env=dr,team=a\s+\d{4}-/
        )
        assert.strictEqual(badState.code, 2)
        assert.strictEqual(badLabel.code, 2)
        assert.include(badLabel.stderr, "key=value")

        // events: the log in commit order, as text or JSON
        const [eventsJson, eventsText, noJob] = await Promise.all([
          cli("job", "events", "la", "--json"),
          cli("job", "events", "la"),
          cli("job", "events", "nope")
        ])
        const events = JSON.parse(ok(eventsJson)) as Array<Record<string, unknown>>
        // actor and reason were added in 0.2.0 (who submitted or operated the job, and why)
        assert.deepStrictEqual(Object.keys(events[0]!).sort(), [
          "actor",
          "at",
          "data",
          "message",
          "phase",
          "reason",
          "runner",
          "taskId",
          "type"
        ])
        assert.strictEqual(events[0]!.type, "job.submitted")
        assert.strictEqual(events.at(-1)!.type, "job.completed")
        assert.isTrue(events.some((e) => e.type === "task.succeeded" && e.taskId === "b" && e.runner === "lister"))
        assert.isTrue(ok(eventsText).split("\n")[0]!.includes("job.submitted"))
        assert.strictEqual(noJob.code, 2)
      }),
    LONG
  )

  it.live(
    "operations: rollback runs the clear phase, retry reruns failed tasks, invalid ones exit 2",
    () =>
      Effect.promise(async () => {
        const { cli, start } = context()
        const submitted = await Promise.all([
          cli("job", "submit", file("la-ops", echoJob("la", { team: "a" }))),
          cli(
            "job",
            "submit",
            file("lb-ops", {
              id: "lb",
              tasks: [{ id: "f", type: "test/fail", input: { message: "no", retryable: false } }]
            })
          ),
          cli("job", "submit", file("lc-ops", echoJob("lc", {})))
        ])
        submitted.forEach(ok)
        const port = await freePort()
        const base = `http://127.0.0.1:${port}`
        const config = join(dir, "tokens.yaml")
        writeFileSync(
          config,
          [
            "http:",
            `  listen: 127.0.0.1:${port}`,
            "  tokens:",
            `    - { name: dr-lead, role: admin, token: ${ADMIN} }`,
            `    - { name: grafana, role: viewer, token: ${VIEWER} }`
          ].join("\n")
        )
        start("--runner-id", "operator", "--config", config)
        const watched = await Promise.all([
          cli("job", "watch", "la"),
          cli("job", "watch", "lb"),
          cli("job", "watch", "lc")
        ])
        assert.deepStrictEqual(
          watched.map((w) => w.code),
          [0, 1, 0]
        )
        // operations: rollback runs the clear phase, retry a failed job, invalid ones are bad input
        assert.strictEqual(ok(await cli("job", "rollback", "la")).trim(), "la: clearing")
        const [rolledBack, retried, invalid, missing] = await Promise.all([
          cli("job", "watch", "la"),
          cli("job", "retry", "lb"),
          cli("job", "resume", "lc"),
          cli("job", "pause", "nope")
        ])
        assert.strictEqual(rolledBack.code, 0, rolledBack.stdout + rolledBack.stderr)
        assert.include(rolledBack.stdout, "job la cleared: clear phase 1/1 done (1 success)")
        assert.strictEqual(ok(retried).trim(), "lb: running")
        assert.strictEqual(invalid.code, 2)
        // an invalid operation says what is possible
        assert.include(
          invalid.stderr,
          'cannot resume job "lc" in state completed (succeeded); possible now: rollback, confirm'
        )
        assert.strictEqual(missing.code, 2)
        const clearing = JSON.parse(ok(await cli("job", "list", "--state", "cleared", "--json"))) as Array<ListRow>
        assert.deepStrictEqual(
          clearing.map((r) => [r.id, r.phase, r.tasks.clear]),
          [["la", "clear", { done: 1, total: 1 }]]
        )
        const retriedWatch = await cli("job", "watch", "lb")
        assert.strictEqual(retriedWatch.code, 1)
        // the failed task ran again (a retry starts its attempts afresh)
        const log = JSON.parse(ok(await cli("job", "events", "lb", "--json"))) as Array<{ type: string }>
        assert.strictEqual(log.filter((e) => e.type === "task.started").length, 2)
        assert.strictEqual(log.filter((e) => e.type === "job.retry").length, 1)

        // show: a header, failed tasks first with their reasons; --failed
        const shown = ok(await cli("job", "show", "lb")).split("\n")
        assert.strictEqual(shown[0], "job lb: completed (failed)")
        assert.match(shown[1]!, /^ {2}elapsed \d\d:\d\d {3}- {3}target - {3}created /)
        assert.strictEqual(shown[2], "  run phase 1/1 done (1 failed)")
        // the runner that ran it is shown for a finished task too (the only runner here)
        assert.match(shown[4]!, /^ {2}run\s+f\s+test\/fail\s+done\s+failed\s+attempt 1 on operator {2}test\.fail: no$/)
        const onlyFailed = JSON.parse(ok(await cli("job", "show", "lc", "--failed", "--json"))) as { tasks: unknown[] }
        assert.deepStrictEqual(onlyFailed.tasks, [])
        // list --outcome
        const outcomes = JSON.parse(ok(await cli("job", "list", "--outcome", "failed", "--json"))) as Array<ListRow>
        assert.deepStrictEqual(
          outcomes.map((r) => r.id),
          ["lb"]
        )

        // through the runner's API (--server, --token): the same documents, the token's role enforced
        await until(async () => (await fetch(`${base}/healthz`)).ok)
        const api = ["--server", base, "--token", ADMIN]
        const viaEtcd = ok(await cli("job", "show", "lb", "--json"))
        assert.strictEqual(ok(await cli("job", "show", "lb", "--json", ...api)), viaEtcd)
        const direct = await fetch(`${base}/api/jobs/lb`, { headers: { authorization: `Bearer ${ADMIN}` } })
        assert.deepStrictEqual(JSON.parse(viaEtcd), await direct.json())
        const anonymous = await cli("job", "show", "lb", "--server", base)
        assert.strictEqual(anonymous.code, 2)
        assert.include(anonymous.stderr, "--token")
        const viewer = await cli("job", "rollback", "lc", "--server", base, "--token", VIEWER)
        assert.strictEqual(viewer.code, 2)
        assert.include(viewer.stderr, "this needs admin")
        assert.strictEqual(
          ok(await cli("job", "rollback", "lc", "--reason", "drill over", ...api)).trim(),
          "lc: clearing"
        )
        const events = JSON.parse(ok(await cli("job", "events", "lc", "--json", ...api))) as Array<
          Record<string, unknown>
        >
        assert.deepInclude(
          events.find((e) => e.type === "job.rollback"),
          { actor: "dr-lead", reason: "drill over" }
        )
        const listed = JSON.parse(
          ok(await cli("job", "list", "--outcome", "failed", "--json", ...api))
        ) as Array<ListRow>
        assert.deepStrictEqual(
          listed.map((r) => r.id),
          ["lb"]
        )
        // through etcd the actor is the local user
        ok(await cli("job", "rollback", "lb", "--reason", "cleanup"))
        const local = JSON.parse(ok(await cli("job", "events", "lb", "--json"))) as Array<Record<string, unknown>>
        const rollback = local.find((e) => e.type === "job.rollback")
        assert.strictEqual(rollback?.reason, "cleanup")
        assert.match(String(rollback?.actor), /@/)
        const watchedApi = await cli("job", "watch", "lc", ...api)
        assert.strictEqual(watchedApi.code, 0, watchedApi.stdout + watchedApi.stderr)
        assert.include(watchedApi.stdout, "job lc cleared: clear phase 1/1 done (1 success)")
        assert.strictEqual((await cli("job", "show", "nope", ...api)).code, 2)
        assert.strictEqual((await cli("job", "show", "lb", "--server", "http://127.0.0.1:1")).code, 3)
      }),
    LONG
  )

  it.live(
    "graph prints both phases as a Mermaid flowchart or valid DOT",
    () =>
      Effect.promise(async () => {
        const { cli, start } = context()
        ok(
          await cli(
            "job",
            "submit",
            file("graph", {
              id: "graph",
              tasks: [
                { id: "tenant", type: "test/echo", input: {} },
                { id: "net.web", type: "test/echo", dependencies: ["tenant"], input: {} },
                { id: "vm@1", type: "test/fail", dependencies: ["tenant", "net.web"], input: { message: "x" } }
              ],
              clearTasks: [
                { id: "vm-del", type: "test/echo", undoes: "vm@1", input: {} },
                { id: "tenant-del", type: "test/echo", undoes: "tenant", dependencies: ["vm-del"], input: {} }
              ]
            })
          )
        )
        const before = ok(await cli("job", "graph", "graph"))
        assert.include(before, '["tenant<br/>test/echo<br/>waiting"]')
        start("--runner-id", "grapher")
        assert.strictEqual((await cli("job", "watch", "graph")).code, 1)
        const [mermaid, dot, badFormat, missing] = await Promise.all([
          cli("job", "graph", "graph", "--format", "mermaid"),
          cli("job", "graph", "graph", "--format", "dot"),
          cli("job", "graph", "graph", "--format", "png"),
          cli("job", "graph", "nope")
        ])
        assert.strictEqual(badFormat.code, 2)
        assert.strictEqual(missing.code, 2)

        // Mermaid: every line is a statement of a flowchart; nodes, edges, subgraphs, classes
        const m = ok(mermaid).trimEnd().split("\n")
        assert.strictEqual(m[0], "flowchart TB")
        const statement =
          /^\s*(subgraph \w+\["[^"]*"\]|end|\w+\["[^"]*"\]|\w+ --> \w+|\w+ -\.->\|undoes\| \w+|classDef \w+ [^\s]+|class [\w,]+ \w+)$/
        for (const line of m.slice(1)) assert.match(line, statement)
        assert.strictEqual(m.filter((l) => l.trim().startsWith("subgraph")).length, 2)
        assert.strictEqual(m.filter((l) => l.trim() === "end").length, 2)
        const node = (label: string) => {
          const line = m.find((l) => l.includes(`["${label}<br/>`))
          assert.isDefined(line, label)
          return line!.trim().split("[")[0]!
        }
        assert.include(m, `    ${node("vm@1")}["vm@1<br/>test/fail<br/>failed"]`)
        assert.include(m, `    ${node("tenant")}["tenant<br/>test/echo<br/>success"]`)
        assert.include(m, `  ${node("net.web")} --> ${node("vm@1")}`)
        assert.include(m, `  ${node("tenant")} --> ${node("net.web")}`)
        assert.include(m, `  ${node("vm-del")} --> ${node("tenant-del")}`)
        assert.include(m, `  ${node("vm-del")} -.->|undoes| ${node("vm@1")}`)
        const clearStart = m.findIndex((l) => l.includes('subgraph clear_phase["clear phase"]'))
        assert.isAbove(m.indexOf(`    ${node("vm-del")}["vm-del<br/>test/echo<br/>waiting"]`), clearStart)

        // DOT: Graphviz accepts it; clusters per phase
        const d = ok(dot)
        assert.match(d, /^digraph "graph" \{/)
        assert.include(d, "subgraph cluster_run {")
        assert.include(d, "subgraph cluster_clear {")
        assert.include(d, 'label="vm@1\\ntest/fail\\nfailed"')
        const dotNode = (task: string) => new RegExp(`^    (\\w+) \\[label="${task}\\\\n`, "m").exec(d)?.[1]
        assert.include(d, `  ${dotNode("vm@1")} -> ${dotNode("vm-del")} [style=dashed, dir=back, label="undoes"];`)
        assert.include(d, `  ${dotNode("net.web")} -> ${dotNode("vm@1")};`)
        const graphviz = spawnSync("dot", ["-Tsvg"], { input: d, encoding: "utf8" })
        assert.isUndefined(graphviz.error, "Graphviz's dot is required (scripts/setup.sh installs it)")
        assert.strictEqual(graphviz.status, 0, graphviz.stderr)
        assert.strictEqual(graphviz.stderr, "", "no Graphviz warnings")
        assert.include(graphviz.stdout, "<svg")
        assert.include(graphviz.stdout, "tenant")
      }),
    LONG
  )

  it.live(
    "watch: one line per task change then a summary; exit 1 when the job fails; 3 when etcd is unreachable",
    () =>
      Effect.promise(async () => {
        const { cli, start, flags } = context()
        ok(
          await cli(
            "job",
            "submit",
            file("watched", {
              id: "watched",
              tasks: [
                { id: "first", type: "test/echo", input: {} },
                { id: "slow", type: "test/sleep", dependencies: ["first"], input: { ms: 300 } },
                { id: "last", type: "test/echo", dependencies: ["slow"], input: {} }
              ]
            })
          )
        )
        const watch = live(process.execPath, [bin, "job", "watch", "watched", ...flags])
        await watch.until("job watched: pending")
        start("--runner-id", "watched-runner")
        const r = await watch.done
        assert.strictEqual(r.code, 0, r.stdout + r.stderr)
        // line mode: every line but the summary starts with the time it was seen
        const stamp = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /
        const raw = r.stdout.trimEnd().split("\n")
        for (const l of raw.slice(0, -1)) assert.match(l, stamp)
        const lines = raw.map((l) => l.replace(stamp, ""))
        const expected = [
          "job watched: running",
          "run first running (attempt 1 on watched-runner)",
          "run first success",
          "run slow running (attempt 1 on watched-runner)",
          "run slow success",
          "run last running (attempt 1 on watched-runner)",
          "run last success",
          "job watched: completed (succeeded)"
        ]
        assert.strictEqual(lines[0], "job watched: pending")
        assert.sameMembers(lines.slice(1, -1), expected)
        // causal order (the job's start and its first claim share a transaction)
        for (let i = 2; i < expected.length; i++) {
          assert.isBelow(lines.indexOf(expected[i - 1]!), lines.indexOf(expected[i]!), expected[i])
        }
        assert.match(
          lines.at(-1)!,
          /^job watched completed \(succeeded\): run phase 3\/3 done \(3 success\), elapsed \d\d:\d\d$/
        )

        ok(
          await cli(
            "job",
            "submit",
            file("failing", {
              id: "failing",
              tasks: [
                { id: "f", type: "test/fail", input: { message: "boom", retryable: false } },
                { id: "after", type: "test/echo", dependencies: ["f"], input: {} }
              ]
            })
          )
        )
        const failed = await cli("job", "watch", "failing")
        assert.strictEqual(failed.code, 1)
        assert.include(failed.stdout, "1 failed, 1 ignored")
        // it ends with the failed tasks and why
        assert.match(
          failed.stdout,
          /\nfailed tasks \(1\):\n {2}run f \(test\/fail, attempt 1 on watched-runner\): test\.fail: boom\n$/
        )
        assert.include(failed.stderr, "job failing ended completed (failed)")

        const [unreachable, missing] = await Promise.all([
          migrator(["job", "watch", "watched", "--etcd", "http://127.0.0.1:1"]),
          cli("job", "watch", "nope")
        ])
        assert.strictEqual(unreachable.code, 3)
        assert.strictEqual(missing.code, 2)
      }),
    LONG
  )

  it.live(
    "watch on a terminal redraws a live display in place",
    () =>
      Effect.promise(async () => {
        const { cli, start, flags } = context()
        // `script` gives the watch a terminal
        assert.isUndefined(
          spawnSync("script", ["--version"]).error,
          "script is required (scripts/setup.sh installs it)"
        )
        ok(
          await cli(
            "job",
            "submit",
            file("tty", {
              id: "tty",
              tasks: [
                { id: "one", type: "test/sleep", input: { ms: 1500 } },
                { id: "two", type: "test/sleep", input: { ms: 1500 } },
                { id: "three", type: "test/echo", dependencies: ["one", "two"], input: {} }
              ]
            })
          )
        )
        // `script` runs the watch on a pseudo-terminal
        const command = [process.execPath, bin, "job", "watch", "tty", ...flags].join(" ")
        const watch = live("script", ["-qfec", command, "/dev/null"])
        await watch.until("running: -")
        start("--runner-id", "tty-runner")
        const r = await watch.done
        assert.strictEqual(r.code, 0, r.stdout + r.stderr)
        // redrawn in place: cursor up over the previous frame, then clear
        assert.include(r.stdout, "\x1b[4A\x1b[0J")
        // the cursor is hidden while live and shown again with the summary
        assert.isBelow(r.stdout.indexOf("\x1b[?25l"), r.stdout.indexOf("\x1b[?25hjob tty completed"))
        assert.isAtLeast(r.stdout.indexOf("\x1b[?25l"), 0)
        assert.match(r.stdout, /\[█{30}\] 3\/3/)
        assert.match(r.stdout, /\[░{30}\] 0\/3/)
        assert.match(r.stdout, /running: (one|two) \(test\/sleep/)
        assert.include(r.stdout, "success 3  failed 0  ignored 0  canceled 0  skipped 0  running 0  waiting 0")
        assert.match(r.stdout, /job tty completed \(succeeded\): run phase 3\/3 done \(3 success\)/)
        // no plain per-task lines on a terminal
        assert.notInclude(r.stdout, "run one success")
      }),
    LONG
  )
})

describe("job watch and graph rendering", () => {
  const keys = Keys.make("t/")
  const put = (key: string, value: unknown): Store.WatchEvent => ({
    _tag: "put",
    kv: { key, value: JSON.stringify(value), createRevision: 1, modRevision: 1, version: 1, lease: undefined },
    revision: 1
  })
  const task = (id: string, phase: "run" | "clear" = "run") => ({
    id,
    phase,
    type: "test/echo",
    status: "waiting" as const,
    attempt: 0,
    runner: undefined,
    startedAt: undefined,
    result: undefined,
    reason: undefined
  })
  const model: Progress.Model = {
    id: "j",
    state: new Job.JobState({ state: "running", updatedAt: 0, startedAt: 1_000 }),
    tasks: new Map([
      ["run/a", task("a")],
      ["run/b", task("b")],
      ["clear/a-del", task("a-del", "clear")]
    ])
  }

  it("a task's changes become lines; a done status waits for its result; repeats are quiet", () => {
    const running = put(keys.task("j", "run", "a", "status"), {
      status: "running",
      attempt: 1,
      runner: "r1",
      updatedAt: 2_000,
      startedAt: 2_000
    })
    const s1 = Progress.apply(keys, model, running)
    assert.deepStrictEqual(s1.lines, ["run a running (attempt 1 on r1)"])
    assert.deepStrictEqual(Progress.apply(keys, s1.model, running).lines, [])
    const done = Progress.apply(
      keys,
      s1.model,
      put(keys.task("j", "run", "a", "status"), { status: "done", attempt: 1, updatedAt: 3_000 })
    )
    assert.deepStrictEqual(done.lines, [])
    const failed = Progress.apply(
      keys,
      done.model,
      put(keys.task("j", "run", "a", "result"), {
        result: "failed",
        reason: { code: "x.y", message: "broke" },
        attempt: 1,
        finishedAt: 3_000
      })
    )
    assert.deepStrictEqual(failed.lines, ["run a failed (x.y: broke)"])
    assert.deepStrictEqual(Progress.counts(failed.model), {
      total: 2,
      done: 1,
      running: 0,
      waiting: 1,
      results: { success: 0, failed: 1, ignored: 0, canceled: 0, skipped: 0 }
    })
    // other jobs' keys, unknown tasks and undecodable values change nothing
    for (const e of [
      put(keys.task("other", "run", "a", "status"), { status: "running", attempt: 1, updatedAt: 0 }),
      put(keys.task("j", "run", "zz", "status"), { status: "running", attempt: 1, updatedAt: 0 }),
      put(keys.task("j", "run", "b", "status"), { status: "bogus" })
    ]) {
      const r = Progress.apply(keys, failed.model, e)
      assert.strictEqual(r.model, failed.model)
      assert.deepStrictEqual(r.lines, [])
    }
    const completed = Progress.apply(
      keys,
      failed.model,
      put(keys.jobState("j"), {
        state: "completed",
        outcome: "failed",
        updatedAt: 9_000,
        startedAt: 1_000,
        completedAt: 9_000,
        elapsedMs: 8_000
      })
    )
    assert.deepStrictEqual(completed.lines, ["job j: completed (failed)"])
    assert.strictEqual(
      Progress.summary(completed.model, 99_999),
      "job j completed (failed): run phase 1/2 done (1 failed), elapsed 00:08"
    )
  })

  it("the live display: header, bar, counts, running tasks; lines cut to the terminal width", () => {
    const withRunning: Progress.Model = {
      ...model,
      tasks: new Map([
        ["run/a", { ...task("a"), status: "done" as const, result: "success" as const }],
        ["run/b", { ...task("b"), status: "running" as const, attempt: 2, startedAt: 60_000 }]
      ])
    }
    const lines = Progress.frame(withRunning, 125_000)
    assert.deepStrictEqual(lines, [
      "job j  running  run phase  elapsed 02:04",
      `[${"█".repeat(15)}${"░".repeat(15)}] 1/2`,
      "success 1  failed 0  ignored 0  canceled 0  skipped 0  running 1  waiting 0",
      "running: b (test/echo, attempt 2, 01:05)"
    ])
    const fit = Progress.fitTo(20)
    assert.strictEqual(fit(lines[2]!), "success 1  failed …")
    assert.strictEqual(fit("short"), "short")
    assert.strictEqual(Progress.fitTo(0)(lines[2]!), lines[2])
    assert.strictEqual(Progress.formatDuration(3_725_000), "1:02:05")
  })

  it("Mermaid and DOT escape labels and name nodes safely", () => {
    const nodes: ReadonlyArray<Graph.Node> = [
      { id: "a:1@x", type: "t/x", phase: "run", dependencies: [], undoes: undefined, status: "success" },
      { id: "b", type: "t/x", phase: "run", dependencies: ["a:1@x", "gone"], undoes: undefined, status: "running" },
      { id: "b-del", type: "t/y", phase: "clear", dependencies: [], undoes: "b", status: "waiting" }
    ]
    const m = Graph.mermaid(nodes)
    assert.include(m, '    r0["a:1@x<br/>t/x<br/>success"]')
    assert.include(m, "  r0 --> r1")
    assert.notInclude(m, "gone")
    assert.include(m, "  c0 -.->|undoes| r1")
    assert.include(m, "  class r1 running")
    const d = Graph.dot('we"ird', nodes)
    assert.match(d, /^digraph "we\\"ird" \{/)
    assert.include(d, '  r1 -> c0 [style=dashed, dir=back, label="undoes"];')
    assert.notInclude(Graph.mermaid(nodes.slice(0, 2)), "clear_phase")
  })
})
