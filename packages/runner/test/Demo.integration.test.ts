/**
 * `migrator demo` as a newcomer runs it: no services, no arguments beyond a
 * port. The recovery plan runs on the simulator, the dashboard answers while
 * it runs, and the rollback leaves the simulated cloud as it found it.
 */
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const bin = fileURLToPath(new URL("../bin/migrator.js", import.meta.url))

describe("migrator demo", () => {
  it("runs the sample plan, serves the dashboard meanwhile, rolls back to the initial inventory", async () => {
    const child = spawn(process.execPath, [bin, "demo", "--exit", "--http", "127.0.0.1:0"])
    let stdout = ""
    let stderr = ""
    let dashboard: Promise<{ page: number; job: unknown }> | undefined
    child.stderr.on("data", (d) => {
      stderr += d
    })
    child.stdout.on("data", (d) => {
      stdout += d
      const url = /dashboard: (http:\/\/\S+)\/jobs\/(\S+)/.exec(stdout)
      if (url !== null && dashboard === undefined) {
        const [, base, id] = url
        dashboard = (async () => {
          const page = await fetch(`${base}/jobs/${id}`)
          await page.text()
          const job = await (await fetch(`${base}/api/jobs/${id}`)).json()
          return { page: page.status, job }
        })()
      }
    })
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve))
    expect(stderr).toBe("")
    expect(code).toBe(0)
    expect(stdout).toContain("demo finished: run succeeded, rollback cleared")
    expect(stdout).toContain("back to its initial inventory")
    expect(dashboard).toBeDefined()
    const seen = await dashboard!
    expect(seen.page).toBe(200)
    expect(seen.job).toMatchObject({ id: "demo-recovery" })
  }, 120_000)

  it("without --exit, the dashboard stays up after the demo until Ctrl-C", async () => {
    const child = spawn(process.execPath, [bin, "demo", "--http", "127.0.0.1:0"])
    let stdout = ""
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve))
    try {
      const base = await new Promise<string>((resolve, reject) => {
        child.stdout.on("data", (d) => {
          stdout += d
          const up = /the dashboard stays up at (http:\/\/[^/\s]+)\//.exec(stdout)
          if (up !== null) resolve(up[1]!)
        })
        child.on("exit", () => reject(new Error(`the demo ended: ${stdout}`)))
      })
      expect(stdout).toContain("demo finished: run succeeded, rollback cleared")
      const job = (await (await fetch(`${base}/api/jobs/demo-recovery`)).json()) as { state: string }
      expect(job.state).toBe("cleared")
      const log = (await (await fetch(`${base}/api/jobs/demo-recovery/events`)).json()) as Array<{
        type: string
        actor?: string
      }>
      expect(log.find((e) => e.type === "job.rollback")?.actor).toBe("demo")
    } finally {
      child.kill("SIGINT")
    }
    expect(await exited).toBe(0)
  }, 120_000)
})
