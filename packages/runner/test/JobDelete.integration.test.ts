/**
 * `migrator job delete` against a real etcd and a running runner: the exit
 * codes of the contract (0 deleted, 2 not finished or holding shared
 * resources, 1 unknown), the archived summary it leaves (`job show`,
 * `job list --archived`), and the same through a runner's API (admin role).
 */
import type { ChildProcess } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { type EtcdServer, freePort, startEtcd } from "@migrator/etcd-store/testing"
import { Effect } from "effect"
import { afterAll, beforeAll } from "vitest"
import { migrator, type Run, runner, stop } from "./utils/cli.ts"

const ADMIN = "admin-token-for-job-delete-0123456789"
const OPERATOR = "operator-token-for-job-delete-012345"
const LONG = 400_000

let etcd: EtcdServer
const children: Array<ChildProcess> = []
const dir = mkdtempSync(join(tmpdir(), "migrator-jobdelete-"))

beforeAll(async () => {
  etcd = await startEtcd("job-delete")
})
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  await Promise.all(children.map((c) => stop(c, "SIGKILL")))
  await etcd.destroy()
})

const file = (name: string, content: unknown) => {
  const path = join(dir, name)
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content))
  return path
}

const ok = (r: Run) => {
  assert.strictEqual(r.code, 0, r.stdout + r.stderr)
  return r.stdout
}

describe("migrator job delete against a real etcd", () => {
  it.live(
    "exits 0 when deleted, 2 when not finished or holding shared resources, 1 when unknown",
    () =>
      Effect.promise(async () => {
        const flags = ["--etcd", etcd.endpoint, "--prefix", "delete-1/"]
        const cli = (...args: Array<string>) => migrator([...args, ...flags])
        const port = await freePort()
        const base = `http://127.0.0.1:${port}`
        const config = file(
          "runner.yaml",
          [
            "http:",
            `  listen: 127.0.0.1:${port}`,
            "  tokens:",
            `    - { name: dr-lead, role: admin, token: ${ADMIN} }`,
            `    - { name: ops, role: operator, token: ${OPERATOR} }`
          ].join("\n")
        )
        children.push(runner([...flags, "--runner-id", "r1", "--config", config]))
        const submitted = await Promise.all([
          cli("job", "submit", file("done.json", { id: "done", tasks: [{ id: "a", type: "test/echo", input: 1 }] })),
          cli(
            "job",
            "submit",
            file("held.json", {
              id: "held",
              tasks: [{ id: "net", type: "test/echo", shared: "c1/net/shared-1", input: 1 }]
            })
          ),
          cli(
            "job",
            "submit",
            file("slow.json", { id: "slow", tasks: [{ id: "s", type: "test/sleep", input: { ms: 600_000 } }] })
          )
        ])
        submitted.forEach(ok)
        ok(await cli("job", "watch", "done"))
        ok(await cli("job", "watch", "held"))

        const [unknown, running, holding] = await Promise.all([
          cli("job", "delete", "nope"),
          cli("job", "delete", "slow"),
          cli("job", "delete", "held")
        ])
        assert.strictEqual(unknown.code, 1, unknown.stderr)
        assert.include(unknown.stderr, 'no job "nope"')
        assert.strictEqual(running.code, 2, running.stderr)
        assert.include(running.stderr, 'job "slow" is not finished')
        assert.strictEqual(holding.code, 2, holding.stderr)
        assert.include(holding.stderr, "c1/net/shared-1")
        assert.include(holding.stderr, "--release-shared")

        const deleted = JSON.parse(ok(await cli("job", "delete", "done", "--reason", "drill over", "--json")))
        assert.strictEqual(deleted.id, "done")
        assert.strictEqual(deleted.removedBy, "delete")
        assert.strictEqual(deleted.reason, "drill over")
        assert.match(deleted.actor, /@/)
        assert.deepStrictEqual(deleted.results.run, { success: 1 })
        // it is gone from the jobs, and shown from the archive; through the API an operator may not
        // delete, an admin may
        const api = ["--server", base]
        const [list, show, showJson, again, forbidden, refused, notFinished, missing] = await Promise.all([
          cli("job", "list", "--json"),
          cli("job", "show", "done"),
          cli("job", "show", "done", "--json"),
          cli("job", "delete", "done"),
          cli("job", "delete", "held", "--release-shared", ...api, "--token", OPERATOR),
          cli("job", "delete", "held", ...api, "--token", ADMIN),
          cli("job", "delete", "slow", ...api, "--token", ADMIN),
          cli("job", "delete", "nope", ...api, "--token", ADMIN)
        ])
        const listed = JSON.parse(ok(list)) as Array<{ id: string }>
        assert.deepStrictEqual(listed.map((j) => j.id).sort(), ["held", "slow"])
        const shown = ok(show)
        assert.include(shown, "job done: archived (deleted")
        assert.include(shown, "reason: drill over")
        const shownJson = JSON.parse(ok(showJson))
        assert.strictEqual(shownJson.archived.id, "done")
        assert.strictEqual(shownJson.archived.reason, "drill over")
        assert.strictEqual(again.code, 1)
        assert.include(again.stderr, "already deleted")
        assert.strictEqual(forbidden.code, 2, forbidden.stderr)
        assert.include(forbidden.stderr, "needs admin")
        assert.strictEqual(refused.code, 2, refused.stderr)
        assert.include(refused.stderr, "c1/net/shared-1")
        assert.strictEqual(notFinished.code, 2, notFinished.stderr)
        assert.strictEqual(missing.code, 1, missing.stderr)
        const released = ok(
          await cli("job", "delete", "held", "--release-shared", "--reason", "net kept", ...api, "--token", ADMIN)
        )
        assert.include(released, "held: deleted")
        assert.include(released, "c1/net/shared-1")

        const [archivedList, archivedTable] = await Promise.all([
          cli("job", "list", "--archived", "--json"),
          cli("job", "list", "--archived", ...api, "--token", OPERATOR)
        ])
        const archived = JSON.parse(ok(archivedList)) as Array<{
          id: string
          actor?: string
          releasedShared?: Array<string>
        }>
        assert.deepStrictEqual(archived.map((j) => j.id).sort(), ["done", "held"])
        const held = archived.find((j) => j.id === "held")
        assert.strictEqual(held?.actor, "dr-lead")
        assert.deepStrictEqual(held?.releasedShared, ["c1/net/shared-1"])
        assert.match(ok(archivedTable), /done\s+completed\s+succeeded\s+1 success/)
      }),
    LONG
  )

  it.live(
    "a runner archives finished jobs older than retention.finishedJobs",
    () =>
      Effect.promise(async () => {
        const flags = ["--etcd", etcd.endpoint, "--prefix", "delete-2/"]
        const cli = (...args: Array<string>) => migrator([...args, ...flags])
        const config = file("retention.yaml", "retention:\n  finishedJobs: 2s\n")
        children.push(runner([...flags, "--runner-id", "r2", "--config", config]))
        ok(
          await cli(
            "job",
            "submit",
            file("short.json", { id: "short", tasks: [{ id: "a", type: "test/echo", input: 1 }] })
          )
        )
        // the job runs, then is archived once 2 s have passed since it finished (the runner sweeps every
        // second here: a tenth of the retention, at least one second); "not before" is the unit tests' part
        let shown = ""
        for (let i = 0; i < 60 && !shown.includes("archived"); i++) {
          shown = (await cli("job", "show", "short")).stdout
        }
        assert.include(shown, "job short: archived (expired by the retention of finished jobs")
        const archived = JSON.parse(ok(await cli("job", "list", "--archived", "--json"))) as Array<{
          id: string
          removedBy: string
          outcome: string
          results: { run: Record<string, number> }
          finishedAt: number
          removedAt: number
        }>
        assert.deepStrictEqual(
          archived.map((j) => [j.id, j.removedBy, j.outcome, j.results.run]),
          [["short", "retention", "succeeded", { success: 1 }]]
        )
        assert.isAtLeast(archived[0]!.removedAt - archived[0]!.finishedAt, 2000)
      }),
    LONG
  )
})
