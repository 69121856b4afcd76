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
    const child = spawn(process.execPath, [bin, "demo", "--http", "127.0.0.1:0"])
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
})
