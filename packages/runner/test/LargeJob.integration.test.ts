import type { ChildProcess } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { type EtcdServer, freePort, startEtcd } from "@migrator/etcd-store/testing"
import { afterAll, beforeAll } from "vitest"
import type { JobJson, PageJson } from "../src/http/JobDocument.ts"
import { migrator, type Run, runner, stop } from "./utils/cli.ts"

/** More tasks than the job document lists (5,000): a large job, read a page at a time. */
const TASKS = 5200
const FAILED = [17, 1234, 5199]
/** Pages are in key order: t1234 before t17. */
const failedIds = FAILED.map((i) => `t${i}`).sort()
const id = (i: number) => `t${i}`
const LONG = 600_000

let etcd: EtcdServer
let child: ChildProcess | undefined
let base = ""
const dir = mkdtempSync(join(tmpdir(), "migrator-largejob-"))
const flags = () => ["--etcd", etcd.endpoint, "--prefix", "large/"]
const cli = (...args: Array<string>) => migrator([...args, ...flags()])
const ok = (r: Run) => {
  assert.strictEqual(r.code, 0, r.stdout + r.stderr)
  return r.stdout
}
const get = async <A>(path: string): Promise<A> => {
  const r = await fetch(`${base}${path}`)
  assert.strictEqual(r.status, 200, `${path}: ${await r.clone().text()}`)
  return (await r.json()) as A
}

beforeAll(async () => {
  etcd = await startEtcd("large-job")
  const port = await freePort()
  base = `http://127.0.0.1:${port}`
  child = runner([...flags(), "--runner-id", "large", "--concurrency", "64", "--http", `127.0.0.1:${port}`])
  const file = join(dir, "large.json")
  writeFileSync(
    file,
    JSON.stringify({
      id: "large",
      tasks: Array.from({ length: TASKS }, (_, i) =>
        FAILED.includes(i)
          ? { id: id(i), type: "test/fail", input: { message: `boom ${i}`, retryable: false } }
          : { id: id(i), type: "test/echo", input: { i } }
      )
    })
  )
  ok(await cli("job", "submit", file))
}, LONG)

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  if (child !== undefined) await stop(child, "SIGKILL")
  await etcd.destroy()
})

describe("a large job", () => {
  it(
    "watch follows it by its counts; show prints the counts and a page, failed first; the API pages walk every task once",
    async () => {
      // watch: counts, not a line per task; exit 1 (some tasks failed) with the failed tasks listed
      const watched = await cli("job", "watch", "large")
      assert.strictEqual(watched.code, 1, watched.stdout + watched.stderr)
      assert.include(watched.stdout, `run phase ${TASKS}/${TASKS} done (${TASKS - 3} success, 3 failed)`)
      assert.include(watched.stdout, "failed tasks (3):")
      assert.notInclude(watched.stdout, `run ${id(5)} success`)

      // show: header with counts, the failed tasks first, one page, then how to go on
      const shown = ok(await cli("job", "show", "large")).split("\n")
      assert.include(shown[2], `run phase ${TASKS}/${TASKS} done (${TASKS - 3} success, 3 failed)`)
      const taskLines = shown.filter((l) => l.startsWith("  run   "))
      assert.strictEqual(taskLines.length, 100)
      assert.deepStrictEqual(
        taskLines.slice(0, 3).map((l) => l.split(/\s+/)[2]),
        failedIds
      )
      assert.include(taskLines[1]!, "boom 17")
      const more = shown.find((l) => l.includes("showing 100 of"))
      assert.isDefined(more, shown.join("\n"))
      const after = /--after (\S+);/.exec(more!)?.[1]
      assert.isDefined(after, more)
      const next = ok(await cli("job", "show", "large", "--after", after!, "--limit", "40")).split("\n")
      assert.strictEqual(next.filter((l) => l.startsWith("  run   ")).length, 40)
      const failedOnly = ok(await cli("job", "show", "large", "--failed", "--limit", "2")).split("\n")
      assert.deepStrictEqual(
        failedOnly.filter((l) => l.startsWith("  run   ")).map((l) => l.split(/\s+/)[2]),
        failedIds.slice(0, 2)
      )
      assert.include(failedOnly.join("\n"), `--failed --after run/${failedIds[1]}`)

      // the job document: counts and the first pages; every task with ?all=true
      const doc = await get<JobJson>("/api/jobs/large")
      assert.strictEqual(doc.counts.run.total, TASKS)
      assert.strictEqual(doc.counts.run.failed, 3)
      assert.isFalse(doc.tasksPage.complete)
      assert.isAtMost(doc.tasks.length, 103)
      assert.deepStrictEqual(
        doc.tasks.slice(0, 3).map((t) => t.id),
        failedIds
      )
      const json = JSON.parse(ok(await cli("job", "show", "large", "--json"))) as JobJson
      assert.deepStrictEqual(json.counts, doc.counts)
      assert.strictEqual((await get<JobJson>("/api/jobs/large?all=true")).tasks.length, TASKS)

      // paging the API walks every task exactly once
      const seen: Array<string> = []
      let cursor: string | null = null
      do {
        const page: PageJson = await get<PageJson>(
          `/api/jobs/large/tasks?limit=700${cursor === null ? "" : `&after=${encodeURIComponent(cursor)}`}`
        )
        assert.isAtMost(page.tasks.length, 700)
        seen.push(...page.tasks.map((t) => t.id))
        cursor = page.next
      } while (cursor !== null)
      assert.strictEqual(seen.length, TASKS)
      assert.deepStrictEqual([...seen].sort(), Array.from({ length: TASKS }, (_, i) => id(i)).sort())
      const failedPage = await get<PageJson>("/api/jobs/large/tasks?filter=failed")
      assert.deepStrictEqual(
        failedPage.tasks.map((t) => [t.id, t.reason?.message]),
        failedIds.map((t) => [t, `boom ${t.slice(1)}`])
      )
      assert.isNull(failedPage.next)
      const bad = await fetch(`${base}/api/jobs/large/tasks?limit=0`)
      assert.strictEqual(bad.status, 400)
    },
    LONG
  )
})
