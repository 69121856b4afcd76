import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { EtcdStore } from "@migrator/etcd-store"
import { type EtcdServer, startEtcd } from "@migrator/etcd-store/testing"
import { Effect } from "effect"
import { chromium } from "playwright-core"
import { afterAll, beforeAll } from "vitest"
import { parsePrometheus, type Service, startService, until } from "./utils/service.ts"

const SECRET_INLINE = "inline-Pa55word-9f3e1c"
const SECRET_ENV = "env-AppCred-Secret-77ab20"
const SECRET_FILE = "file-Pa55word-c0ffee42"

let etcd: EtcdServer
let service: Service
const prefix = "svc/"
const dir = mkdtempSync(join(tmpdir(), "migrator-service-"))

beforeAll(async () => {
  etcd = await startEtcd("runner-service-tests")
  const secretFile = join(dir, "os-password")
  writeFileSync(secretFile, `${SECRET_FILE}\n`)
  const config = join(dir, "runner.yaml")
  writeFileSync(
    config,
    [
      "etcd:",
      `  endpoints: [${etcd.endpoint}]`,
      `  prefix: ${prefix}`,
      "leaseTtl: 2s",
      "concurrency: { perRunner: 8 }",
      "plugins: [test]",
      "log: { level: debug, format: json }",
      "clusters:",
      "  prod:",
      "    authUrl: http://127.0.0.1:1/v3",
      `    credentials: { type: password, username: admin, projectName: admin, password: ${SECRET_INLINE} }`,
      "  dr:",
      "    authUrl: http://127.0.0.1:1/v3",
      "    credentials: { type: application-credential, id: ac-1, secret: { env: DR_APP_SECRET } }",
      "  lab:",
      "    authUrl: http://127.0.0.1:1/v3",
      `    credentials: { type: password, username: lab, password: { file: ${secretFile} } }`
    ].join("\n")
  )
  service = await startService(["--config", config, "--runner-id", "svc-1"], { DR_APP_SECRET: SECRET_ENV })
})

afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  await service?.stop("SIGKILL")
  await etcd?.destroy()
})

const api = async (method: string, path: string, body?: unknown) => {
  const r = await fetch(`${service.base}${path}`, {
    method,
    ...(body === undefined ? {} : { body: typeof body === "string" ? body : JSON.stringify(body) })
  })
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are checked field by field
  return { status: r.status, body: (await r.json()) as any }
}

interface TaskJson {
  id: string
  status: string
  result: string | null
  output: unknown
  attempt: number
}

const waitForState = (id: string, states: ReadonlyArray<string>) =>
  until(`job ${id} in ${states.join("|")}`, async () => {
    const r = await api("GET", `/api/jobs/${id}`)
    return r.status === 200 && states.includes(r.body.state) ? r.body : undefined
  })

const scrape = async () => {
  const r = await fetch(`${service.base}/metrics`)
  assert.strictEqual(r.status, 200)
  assert.match(r.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/)
  return parsePrometheus(await r.text())
}

describe("migrator run --http against a real etcd", () => {
  it.live("healthz, readyz and metrics that change after a job runs", () =>
    Effect.promise(async () => {
      const health = await api("GET", "/healthz")
      assert.strictEqual(health.status, 200)
      assert.strictEqual(health.body.status, "ok")
      const ready = await until("readiness", async () => {
        const r = await api("GET", "/readyz")
        return r.status === 200 ? r.body : undefined
      })
      assert.deepStrictEqual(ready, { ready: true, store: "reachable", lease: true })

      const before = await scrape()
      // it warmed up (the default 2,000 no-op tasks in memory, then 1,000 on etcd) before taking its
      // lease: none of those tasks is counted as the runner's, and the log says how long each took
      assert.match(service.output(), /warmed up: 2000 no-op tasks in \d+ ms/)
      assert.match(service.output(), /warmed up on etcd: 2000 no-op tasks in \d+ ms/)
      assert.strictEqual(before.value("migrator_claims_total"), 0)
      assert.strictEqual(before.types.get("migrator_jobs"), "gauge")
      assert.strictEqual(before.value("migrator_reporter"), 1)
      // every counter is there from the start (at 0 unless something happened), for each type and result
      for (const name of ["migrator_takeovers_total", "migrator_lease_losses_total", "migrator_claims_total"]) {
        assert.strictEqual(before.types.get(name), "counter", name)
        assert.isDefined(
          before.samples.find((s) => s.name === name),
          name
        )
      }
      for (const result of ["success", "failed", "ignored", "canceled", "skipped"]) {
        const sample = before.samples.find(
          (s) =>
            s.name === "migrator_tasks_finished_total" && s.labels.type === "test/sleep" && s.labels.result === result
        )
        assert.isDefined(sample, result)
      }

      const echoDone = (m: ReturnType<typeof parsePrometheus>) =>
        m.value("migrator_tasks_finished_total", { type: "test/echo", result: "success" })
      const submitted = await api("POST", "/api/jobs", {
        id: "metrics-1",
        tasks: [
          { id: "a", type: "test/echo", input: { v: 1 } },
          { id: "b", type: "test/echo", dependencies: ["a"], input: { v: { $ref: "a#/v" } } },
          { id: "f", type: "test/fail", input: { message: "no", retryable: false } }
        ]
      })
      assert.strictEqual(submitted.status, 201, JSON.stringify(submitted.body))
      const finished = await waitForState("metrics-1", ["completed"])
      // a result says done: the document shows it, though no done status record is written
      assert.deepStrictEqual(
        (finished.tasks as Array<TaskJson>).map((t) => [t.id, t.status, t.result]),
        [
          ["a", "done", "success"],
          ["b", "done", "success"],
          ["f", "done", "failed"]
        ]
      )
      const after = await scrape()
      // task durations in seconds, with buckets up to 6 hours
      assert.include(
        after.samples.filter((s) => s.name === "migrator_task_duration_seconds_bucket").map((s) => s.labels.le),
        "21600"
      )

      assert.strictEqual(after.types.get("migrator_tasks_finished_total"), "counter")
      assert.strictEqual(after.types.get("migrator_task_duration_seconds"), "histogram")
      assert.strictEqual(after.types.get("migrator_store_latency_seconds"), "histogram")
      assert.strictEqual(echoDone(after) - echoDone(before), 2)
      assert.strictEqual(
        after.value("migrator_tasks_finished_total", { type: "test/fail", result: "failed" }) -
          before.value("migrator_tasks_finished_total", { type: "test/fail", result: "failed" }),
        1
      )
      assert.isAtLeast(after.value("migrator_claims_total") - before.value("migrator_claims_total"), 3)
      assert.isAtLeast(
        after.value("migrator_task_duration_seconds_count", { type: "test/echo" }) -
          before.value("migrator_task_duration_seconds_count", { type: "test/echo" }),
        2
      )
      // histogram buckets are cumulative and end with +Inf = count
      const buckets = after.samples.filter(
        (s) => s.name === "migrator_task_duration_seconds_bucket" && s.labels.type === "test/echo"
      )
      for (let i = 1; i < buckets.length; i++) assert.isAtLeast(buckets[i]!.value, buckets[i - 1]!.value)
      assert.strictEqual(buckets.at(-1)?.labels.le, "+Inf")
      assert.strictEqual(
        buckets.at(-1)?.value,
        after.value("migrator_task_duration_seconds_count", { type: "test/echo" })
      )
      assert.isAbove(
        after.value("migrator_store_latency_seconds_count"),
        before.value("migrator_store_latency_seconds_count")
      )
      assert.strictEqual(
        after.value("migrator_jobs", { state: "completed" }) - before.value("migrator_jobs", { state: "completed" }),
        1
      )
      assert.strictEqual(after.value("migrator_store_up"), 1)
    })
  )

  it.live("job API: submit, list with filters, show, events, operations, and 400/404/409 on bad requests", () =>
    Effect.promise(async () => {
      const doc = {
        id: "api-1",
        labels: { team: "dr", env: "test" },
        target: "prod",
        tasks: [
          { id: "a", type: "test/echo", input: { v: 1 } },
          { id: "b", type: "test/echo", dependencies: ["a"], input: { got: { $ref: "a#/v" } } }
        ]
      }
      const created = await api("POST", "/api/jobs", doc)
      assert.strictEqual(created.status, 201)
      assert.deepStrictEqual(created.body, { id: "api-1" })
      const duplicate = await api("POST", "/api/jobs", doc)
      assert.strictEqual(duplicate.status, 409)

      const done = await waitForState("api-1", ["completed"])
      assert.strictEqual(done.outcome, "succeeded")
      assert.deepStrictEqual(done.labels, { team: "dr", env: "test" })
      assert.strictEqual(done.target, "prod")
      const b = (done.tasks as Array<TaskJson>).find((t) => t.id === "b")!
      assert.deepStrictEqual(b.output, { got: 1 })
      assert.strictEqual(b.result, "success")
      assert.strictEqual(b.attempt, 1)

      const generated = await api("POST", "/api/jobs", {
        labels: { team: "other" },
        tasks: [{ id: "x", type: "test/echo" }]
      })
      assert.strictEqual(generated.status, 201)
      assert.match(generated.body.id, /^job-/)

      const ids = async (query: string) =>
        ((await api("GET", `/api/jobs${query}`)).body as Array<{ id: string }>).map((j) => j.id)
      assert.include(await ids(""), "api-1")
      assert.include(await ids("?state=completed"), "api-1")
      assert.notInclude(await ids("?state=running"), "api-1")
      assert.deepStrictEqual(await ids("?label=team=dr"), ["api-1"])
      assert.deepStrictEqual(await ids("?label=team=dr&label=env=test"), ["api-1"])
      assert.deepStrictEqual(await ids("?label=team=dr&label=env=prod"), [])
      assert.include(await ids("?label=team"), generated.body.id)

      const events = await api("GET", "/api/jobs/api-1/events")
      assert.strictEqual(events.status, 200)
      const types = (events.body as Array<{ type: string }>).map((e) => e.type)
      assert.strictEqual(types[0], "job.submitted")
      assert.include(types, "task.succeeded")
      assert.include(types, "job.completed")

      // operations
      const pause = await api("POST", "/api/jobs/api-1/pause")
      assert.strictEqual(pause.status, 409)
      assert.include(pause.body.error, "cannot pause")
      const rollback = await api("POST", "/api/jobs/api-1/rollback")
      assert.strictEqual(rollback.status, 200)
      assert.strictEqual(rollback.body.state, "clearing")
      await waitForState("api-1", ["cleared"])
      assert.strictEqual((await api("POST", "/api/jobs/nope/cancel")).status, 404)
      assert.strictEqual((await api("POST", "/api/jobs/api-1/explode")).status, 404)
      assert.strictEqual((await api("GET", "/api/jobs/nope")).status, 404)
      assert.strictEqual((await api("GET", "/api/jobs/nope/events")).status, 404)

      const long = await api("POST", "/api/jobs", {
        id: "api-cancel",
        tasks: [{ id: "s", type: "test/sleep", input: { ms: 60_000 } }]
      })
      assert.strictEqual(long.status, 201)
      await until("the sleep task to run", async () => {
        const r = await api("GET", "/api/jobs/api-cancel")
        return (r.body.tasks as Array<TaskJson>)[0]?.status === "running"
      })
      const cancel = await api("POST", "/api/jobs/api-cancel/cancel")
      assert.strictEqual(cancel.status, 200)
      assert.strictEqual(cancel.body.state, "canceling")
      const canceled = await waitForState("api-cancel", ["canceled"])
      assert.strictEqual((canceled.tasks as Array<TaskJson>)[0]?.result, "canceled")

      // bad input
      const notJson = await api("POST", "/api/jobs", "{not json")
      assert.strictEqual(notJson.status, 400)
      const invalid = await api("POST", "/api/jobs", {
        id: "bad",
        tasks: [
          { id: "x", type: "test/nope", input: {} },
          { id: "y", type: "test/echo", dependencies: ["missing"] },
          { id: "z", type: "test/sleep", input: { ms: "long" } }
        ]
      })
      assert.strictEqual(invalid.status, 400)
      const problems = invalid.body.problems as Array<{ task: string | null; field: string; message: string }>
      assert.isTrue(
        problems.some((p) => p.task === "x" && p.field === "/tasks/0/type"),
        JSON.stringify(problems)
      )
      assert.isTrue(
        problems.some((p) => p.task === "y" && p.field === "/tasks/1/dependencies/0"),
        JSON.stringify(problems)
      )
      assert.isTrue(
        problems.some((p) => p.task === "z" && p.field.startsWith("/tasks/2/input")),
        JSON.stringify(problems)
      )
      const shape = await api("POST", "/api/jobs", { tasks: "none" })
      assert.strictEqual(shape.status, 400)
      assert.strictEqual(shape.body.problems[0].field, "/tasks")
      assert.strictEqual((await api("GET", "/api/jobs/bad")).status, 404)
    })
  )

  it.live("event streams: a job's snapshot then its changes, and the job list's changes (SSE)", () =>
    Effect.promise(async () => {
      const created = await api("POST", "/api/jobs", {
        id: "sse-1",
        tasks: [
          { id: "a", type: "test/sleep", input: { ms: 300 } },
          { id: "b", type: "test/echo", dependencies: ["a"], input: { n: 2 } }
        ]
      })
      assert.strictEqual(created.status, 201)
      // biome-ignore lint/suspicious/noExplicitAny: event payloads are checked field by field
      type Sse = { event: string; data: any }
      /** Opens an event stream; `until` reads events until the predicate holds on all read so far. */
      const open = async (path: string) => {
        const controller = new AbortController()
        const r = await fetch(`${service.base}${path}`, { signal: controller.signal })
        assert.strictEqual(r.headers.get("content-type"), "text/event-stream")
        const reader = r.body!.getReader()
        const decoder = new TextDecoder()
        const events: Array<Sse> = []
        let buffer = ""
        const until = async (done: (events: Array<Sse>) => boolean) => {
          while (!done(events)) {
            const chunk = await reader.read()
            if (chunk.done) throw new Error(`stream ${path} ended`)
            buffer += decoder.decode(chunk.value, { stream: true })
            for (let i = buffer.indexOf("\n\n"); i >= 0; i = buffer.indexOf("\n\n")) {
              const block = buffer.slice(0, i)
              buffer = buffer.slice(i + 2)
              const event = /^event: (.*)$/m.exec(block)?.[1]
              const data = /^data: (.*)$/m.exec(block)?.[1]
              if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) })
            }
          }
          return events
        }
        return { until, close: () => controller.abort() }
      }
      const read = async (path: string, done: (events: Array<Sse>) => boolean) => {
        const stream = await open(path)
        try {
          return await stream.until(done)
        } finally {
          stream.close()
        }
      }
      const events = await read(
        "/api/jobs/sse-1/stream",
        // (a log entry comes on its own watch: it may follow the state committed with it)
        (es) =>
          (es.some((e) => e.event === "state" && e.data.state === "completed") &&
            es.some((e) => e.event === "log" && e.data.type === "job.completed")) ||
          (es[0]?.event === "snapshot" && es[0].data.state === "completed")
      )
      assert.strictEqual(events[0]?.event, "snapshot")
      assert.strictEqual(events[0]?.data.id, "sse-1")
      assert.strictEqual(events[0]?.data.tasks.length, 2)
      if (events[0]?.data.state !== "completed") {
        assert.isTrue(
          events.some(
            (e) =>
              e.event === "task" && e.data.id === "b" && e.data.record === "result" && e.data.value.result === "success"
          )
        )
        assert.isTrue(events.some((e) => e.event === "log" && e.data.type === "job.completed"))
      }
      const list = await open("/api/stream")
      try {
        const hello = await list.until((es) => es.length > 0)
        assert.strictEqual(hello[0]?.event, "hello")
        // the stream watches from before "hello": this submission is surely seen
        assert.strictEqual(
          (await api("POST", "/api/jobs", { id: "sse-2", tasks: [{ id: "x", type: "test/echo" }] })).status,
          201
        )
        const listed = await list.until((es) => es.some((e) => e.event === "job" && e.data.id === "sse-2"))
        assert.strictEqual(listed.find((e) => e.data.id === "sse-2")?.data.state.state, "pending")
      } finally {
        list.close()
      }
    })
  )

  it.live("the dashboard draws a job's DAG and follows a task's state live (headless Chromium)", () =>
    Effect.promise(async () => {
      const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] })
      try {
        const page = await browser.newPage()
        const submitted = await api("POST", "/api/jobs", {
          id: "dash-1",
          labels: { plan: "dashboard" },
          tasks: [
            { id: "gate", type: "test/sleep", input: { ms: 4000 } },
            { id: "left", type: "test/sleep", dependencies: ["gate"], input: { ms: 400 } },
            { id: "right", type: "test/sleep", dependencies: ["gate"], input: { ms: 400 } },
            { id: "last", type: "test/sleep", dependencies: ["left", "right"], input: { ms: 1500 } }
          ],
          clearTasks: [{ id: "undo-gate", type: "test/echo", undoes: "gate", input: {} }]
        })
        assert.strictEqual(submitted.status, 201)

        await page.goto(`${service.base}/jobs/dash-1`)
        await page.waitForSelector("body[data-loaded=true]")
        assert.strictEqual(await page.locator('g.node[data-phase="run"]').count(), 4)
        // one phase at a time: the clear phase is one choice away
        assert.strictEqual(await page.locator('#graph-phase option[value="clear"]').textContent(), "clear phase (1)")
        assert.strictEqual(await page.locator("path.edge").count(), 4)
        // layered: gate left of left/right, which are left of last
        const x = async (id: string) => (await page.locator(`g.node[data-task="${id}"]`).boundingBox())!.x
        assert.isBelow(await x("gate"), await x("left"))
        assert.strictEqual(await x("left"), await x("right"))
        assert.isBelow(await x("right"), await x("last"))

        // the page was loaded before "last" finished (it waits 4 s for "gate"): it turns running, then
        // success, with no reload
        const last = page.locator('g.node[data-task="last"]')
        assert.include(["waiting", "running"], await last.getAttribute("data-state"))
        await page.evaluate(() => {
          ;(window as unknown as { marker: number }).marker = 42
        })
        await page.waitForSelector('g.node[data-task="last"][data-state="running"]', { timeout: 60_000 })
        await page.waitForSelector('g.node[data-task="last"][data-state="success"]', { timeout: 60_000 })
        assert.strictEqual(await page.evaluate(() => (window as unknown as { marker?: number }).marker), 42)
        await page.waitForSelector(".badge:has-text('completed')")
        const fill = await page.locator('g.node[data-task="last"] rect').getAttribute("fill")
        assert.strictEqual(fill, "#4ade80")

        // task details on click, and the event log
        await page.locator('g.node[data-task="gate"]').click()
        assert.include(await page.locator("#task-input").textContent(), '"ms": 4000')
        assert.include(await page.locator("#task-output").textContent(), '"slept": 4000')
        assert.strictEqual(await page.locator('#task-fields td[data-field="attempts"]').textContent(), "1")
        assert.isAtLeast(await page.locator('#events div[data-type="task.succeeded"]').count(), 4)
        await page.waitForSelector('#events div[data-type="job.completed"]')

        // the job list
        await page.goto(`${service.base}/`)
        await page.waitForSelector('tr.job[data-job="dash-1"]')
        assert.include(await page.locator('tr.job[data-job="dash-1"]').textContent(), "plan=dashboard")
      } finally {
        await browser.close()
      }
    })
  )

  it.live("no configured secret reaches the logs or etcd", () =>
    Effect.gen(function* () {
      const job = yield* Effect.promise(() =>
        api("POST", "/api/jobs", {
          id: "secrets-1",
          target: "prod",
          tasks: [{ id: "e", type: "test/echo", input: {} }]
        })
      )
      assert.strictEqual(job.status, 201)
      yield* Effect.promise(() => waitForState("secrets-1", ["completed"]))
      const store = yield* EtcdStore.make({ endpoints: [etcd.endpoint] })
      // everything the runner and the API wrote lives under its prefix
      const { kvs } = yield* store.range(prefix)
      assert.isAbove(kvs.length, 5)
      // (the warm-up on etcd deleted its job's keys when it was done)
      assert.deepStrictEqual(
        kvs.filter((kv) => kv.key.startsWith(`${prefix}~warm-up/`)),
        []
      )
      const everything = kvs.map((kv) => `${kv.key}\n${kv.value}`).join("\n") + service.output()
      assert.include(service.output(), "runner session started")
      // the effective configuration is logged (debug) with every secret redacted
      assert.include(service.output(), '"configuration"')
      assert.include(service.output(), '"password":"<redacted>"')
      assert.include(service.output(), '"secret":"<redacted>"')
      for (const secret of [SECRET_INLINE, SECRET_ENV, SECRET_FILE]) assert.notInclude(everything, secret)
    }).pipe(Effect.scoped)
  )

  it.live("readyz is 503 while the store is down, healthz stays up, and readiness comes back", () =>
    Effect.promise(async () => {
      await etcd.stop()
      try {
        const down = await until("readyz 503", async () => {
          const r = await api("GET", "/readyz")
          return r.status === 503 ? r.body : undefined
        })
        assert.strictEqual(down.ready, false)
        assert.strictEqual(down.store, "unreachable")
        assert.strictEqual((await api("GET", "/healthz")).status, 200)
        const metrics = await scrape()
        assert.strictEqual(metrics.value("migrator_store_up"), 0)
      } finally {
        await etcd.start()
      }
      await until("readyz 200 again", async () => (await api("GET", "/readyz")).status === 200)
    })
  )
})
