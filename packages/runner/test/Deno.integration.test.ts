/**
 * The runner under Deno 2: the service (`run --plugins test`) and the job
 * commands run with `deno run -A packages/runner/src/bin.ts`, against a real
 * etcd, and complete a small DAG job. The test itself runs under Node.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { type EtcdServer, startEtcd } from "@migrator/etcd-store/testing"
import { Effect } from "effect"
import { afterAll, beforeAll } from "vitest"
import type { Run } from "./utils/cli.ts"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const deno = join(root, "node_modules/@deno/linux-x64-glibc/deno")
const entry = "packages/runner/src/bin.ts"

let etcd: EtcdServer
const children: Array<ChildProcess> = []
/** The job document the test writes: removed when the file ends. */
const dir = mkdtempSync(join(tmpdir(), "migrator-deno-"))

beforeAll(async () => {
  // the Deno binary comes with the workspace's dev dependencies: its absence is a broken install, not a skip
  if (!existsSync(deno)) throw new Error(`no Deno binary at ${deno}: run scripts/setup.sh`)
  etcd = await startEtcd("deno-runner")
})
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL")
  await etcd?.destroy()
})

const spawnDeno = (args: ReadonlyArray<string>) => {
  const child = spawn(deno, ["run", "-A", entry, ...args], {
    cwd: root,
    env: { ...process.env, NO_COLOR: "1" }
  })
  children.push(child)
  return child
}

const denoCli = (args: ReadonlyArray<string>): Promise<Run> =>
  new Promise((resolve) => {
    const child = spawnDeno(args)
    let stdout = ""
    let stderr = ""
    child.stdout?.on("data", (d) => {
      stdout += d
    })
    child.stderr?.on("data", (d) => {
      stderr += d
    })
    child.on("exit", (code) => resolve({ code, stdout, stderr }))
  })

const exited = (child: ChildProcess) =>
  new Promise<number | null>((resolve) => {
    if (child.exitCode !== null) return resolve(child.exitCode)
    child.once("exit", (code) => resolve(code))
  })

describe("migrator under Deno 2 against a real etcd", () => {
  it.live(
    "deno run … run is the service; deno run … job submit / watch complete a DAG job",
    () =>
      Effect.promise(async () => {
        const flags = ["--etcd", etcd.endpoint, "--prefix", "deno-1/"]
        const service = spawnDeno(["run", "--plugins", "test", "--runner-id", "deno-runner", ...flags])
        let serviceLog = ""
        service.stderr?.on("data", (d) => {
          serviceLog += d
        })
        service.stdout?.on("data", (d) => {
          serviceLog += d
        })
        const document = join(dir, "job.json")
        writeFileSync(
          document,
          JSON.stringify({
            labels: { runtime: "deno" },
            tasks: [
              { id: "a", type: "test/echo", input: { v: 7 } },
              { id: "b", type: "test/sleep", dependencies: ["a"], input: { ms: 200 } },
              { id: "c", type: "test/echo", dependencies: ["a"], input: { w: { $ref: "a#/v" } } },
              { id: "d", type: "test/echo", dependencies: ["b", "c"], input: { all: [{ $ref: "c#/w" }] } }
            ],
            clearTasks: [{ id: "a-del", type: "test/echo", undoes: "a", input: {} }]
          })
        )
        const submitted = await denoCli(["job", "submit", document, ...flags])
        assert.strictEqual(submitted.code, 0, submitted.stdout + submitted.stderr)
        const id = submitted.stdout.trim()
        assert.match(id, /^job-[a-z0-9]+$/)

        const watched = await denoCli(["job", "watch", id, ...flags])
        assert.strictEqual(watched.code, 0, watched.stdout + watched.stderr + serviceLog)
        assert.match(
          watched.stdout,
          new RegExp(`job ${id} completed \\(succeeded\\): run phase 4/4 done \\(4 success\\)`)
        )

        const shown = await denoCli(["job", "show", id, "--json", ...flags])
        assert.strictEqual(shown.code, 0, shown.stderr)
        const view = JSON.parse(shown.stdout) as { state: string; tasks: Array<{ id: string; output: unknown }> }
        assert.strictEqual(view.state, "completed")
        assert.deepStrictEqual(view.tasks.find((t) => t.id === "d")?.output, { all: [7] })

        // the Deno service ran the tasks
        const events = await denoCli(["job", "events", id, "--json", ...flags])
        assert.strictEqual(events.code, 0, events.stderr)
        const log = JSON.parse(events.stdout) as Array<{ type: string; runner: string | null }>
        assert.isTrue(log.filter((e) => e.type === "task.succeeded").every((e) => e.runner === "deno-runner"))

        // exit codes are the same as on Node; recovery plans (YAML) too
        const [missing, unreachable, plan, badPlan] = await Promise.all([
          denoCli(["job", "watch", "nope", ...flags]),
          denoCli(["job", "list", "--etcd", "http://127.0.0.1:1"]),
          denoCli(["plan", "validate", "packages/tasks-openstack/examples/plans/two-projects.yaml"]),
          denoCli(["plan", "validate", document])
        ])
        assert.strictEqual(missing.code, 2)
        assert.strictEqual(unreachable.code, 3)
        assert.strictEqual(plan.code, 0, plan.stderr)
        assert.include(plan.stdout, "valid (25 run tasks, 24 clear tasks)")
        assert.strictEqual(badPlan.code, 2)

        // the demo (a recovery plan on the OpenStack simulator, then its rollback)
        const demo = await denoCli(["demo", "--exit"])
        assert.strictEqual(demo.code, 0, demo.stdout + demo.stderr)
        assert.include(demo.stdout, "demo finished: run succeeded, rollback cleared")

        // SIGTERM: a clean exit
        service.kill("SIGTERM")
        assert.strictEqual(await exited(service), 0, serviceLog)
      }),
    300_000
  )
})
