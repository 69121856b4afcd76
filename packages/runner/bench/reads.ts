/**
 * What reading a large job costs once it has run: `migrator job show` (text, JSON, a page after a
 * cursor), `job watch` on it, and the job API's requests the dashboard makes, against a fresh
 * `migrator run` process serving the API. Each CLI command's wall time and peak RSS come from
 * GNU time; each request's time from the bench's clock.
 */
import { spawn } from "node:child_process"
import type { Keys } from "@migrator/core"
import { freePort } from "@migrator/etcd-store/testing"
import type { Bench } from "./cases.ts"
import { now, round } from "./common.ts"
import { spawnRunner } from "./runners.ts"

const bin = new URL("../bin/migrator.js", import.meta.url).pathname

/** Runs `migrator <args>` under GNU time: seconds, peak RSS (MiB), exit code, stdout bytes. */
const timed = (args: ReadonlyArray<string>) =>
  new Promise<{ seconds: number; rssMb: number; code: number | null; bytes: number }>((resolve) => {
    const env = { ...process.env }
    delete env.NODE_OPTIONS
    const child = spawn("/usr/bin/time", ["-f", "%e %M", process.execPath, bin, ...args], { env })
    let bytes = 0
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => {
      bytes += d.length
    })
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString()
    })
    child.on("exit", (code) => {
      const [seconds, kb] = (stderr.trim().split("\n").pop() ?? "").split(" ").map(Number)
      resolve({ seconds: seconds ?? Number.NaN, rssMb: (kb ?? Number.NaN) / 1024, code, bytes })
    })
  })

/** One request's time (ms) and size; the SSE stream until its snapshot has arrived. */
const request = async (url: string, untilSnapshot = false) => {
  const start = now()
  const controller = new AbortController()
  const response = await fetch(url, { signal: controller.signal })
  if (!untilSnapshot) {
    const bytes = (await response.arrayBuffer()).byteLength
    return { ms: now() - start, status: response.status, bytes }
  }
  const reader = response.body!.getReader()
  let text = ""
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    text += new TextDecoder().decode(value)
    // the snapshot is the first event; it ends with a blank line
    if (text.includes("event: snapshot") && text.includes("\n\n")) break
  }
  const ms = now() - start
  controller.abort()
  return { ms, status: response.status, bytes: text.length }
}

/** Reads job `id` every way a user does; figures named with `tag` (e.g. `bigJob`). */
export const measureReads = async (bench: Bench, keys: Keys.Layout, id: string, tag: string) => {
  const port = await freePort()
  const server = spawnRunner({
    endpoint: bench.endpoint,
    keys,
    id: `${tag}-reader`,
    http: `127.0.0.1:${port}`,
    nodeFlags: bench.runnerNodeFlags
  })
  try {
    const base = `http://127.0.0.1:${port}`
    for (let i = 0; i < 200; i++) {
      const up = await fetch(`${base}/healthz`).then(
        (r) => r.ok,
        () => false
      )
      if (up) break
      await new Promise((r) => setTimeout(r, 100))
    }
    const connection = ["--etcd", bench.endpoint, "--prefix", keys.prefix]
    const show = await timed(["job", "show", id, ...connection])
    const showJson = await timed(["job", "show", id, "--json", ...connection])
    const showPage = await timed(["job", "show", id, "--after", "run/b5000", "--limit", "100", ...connection])
    const watch = await timed(["job", "watch", id, ...connection])
    const api = `${base}/api/jobs/${encodeURIComponent(id)}`
    const document = await request(api)
    const page = await request(`${api}/tasks?limit=100`)
    const pageAfter = await request(`${api}/tasks?limit=100&after=run/b5000`)
    const progress = await request(`${api}/progress`)
    const stream = await request(`${api}/stream`, true)
    const failures = [show, showJson, showPage]
      .filter((r) => r.code !== 0)
      .map((r) => `a job show command exited ${r.code}`)
    for (const [name, r] of Object.entries({ document, page, pageAfter, progress, stream })) {
      if (r.status !== 200) failures.push(`${name}: HTTP ${r.status}`)
    }
    return {
      figures: {
        [`${tag}ShowSeconds`]: round(show.seconds),
        [`${tag}ShowPeakRssMb`]: round(show.rssMb, 0),
        [`${tag}ShowJsonSeconds`]: round(showJson.seconds),
        [`${tag}ShowJsonPeakRssMb`]: round(showJson.rssMb, 0),
        [`${tag}ShowPageSeconds`]: round(showPage.seconds),
        [`${tag}WatchSeconds`]: round(watch.seconds),
        [`${tag}WatchPeakRssMb`]: round(watch.rssMb, 0),
        [`${tag}ApiJobMs`]: round(document.ms, 0),
        [`${tag}ApiJobBytes`]: document.bytes,
        [`${tag}ApiTasksPageMs`]: round(page.ms, 0),
        [`${tag}ApiTasksPageAfterMs`]: round(pageAfter.ms, 0),
        [`${tag}ApiProgressMs`]: round(progress.ms, 0),
        [`${tag}StreamSnapshotMs`]: round(stream.ms, 0),
        [`${tag}ApiRunnerPeakRssMb`]: round(server.peakRssMb(), 0)
      },
      failures
    }
  } finally {
    await server.stop()
  }
}
