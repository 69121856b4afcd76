/**
 * A real etcd for tests: free 127.0.0.1 ports, a temporary data dir, stopped
 * by PID. Supports stop/restart on the same data dir and SIGSTOP freezes.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

const waitHealthy = async (url: string, ms = 20_000) => {
  const until = Date.now() + ms
  for (;;) {
    try {
      const r = await fetch(`${url}/health`)
      if (r.ok) return
    } catch {
      // not up yet
    }
    if (Date.now() > until) throw new Error(`etcd at ${url} did not become healthy`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

export interface EtcdServer {
  readonly endpoint: string
  readonly pid: () => number | undefined
  readonly stop: () => Promise<void>
  readonly start: () => Promise<void>
  readonly freeze: () => void
  readonly thaw: () => void
  readonly destroy: () => Promise<void>
}

export const startEtcd = async (name = "test"): Promise<EtcdServer> => {
  const dir = mkdtempSync(join(tmpdir(), "migrator-etcd-"))
  const client = await freePort()
  const peer = await freePort()
  const endpoint = `http://127.0.0.1:${client}`
  let child: ChildProcess | undefined
  let first = true
  const start = async () => {
    child = spawn(
      "etcd",
      [
        "--name",
        name,
        "--logger=zap",
        "--log-level=error",
        "--data-dir",
        join(dir, "data"),
        "--listen-client-urls",
        endpoint,
        "--advertise-client-urls",
        endpoint,
        "--listen-peer-urls",
        `http://127.0.0.1:${peer}`,
        "--initial-advertise-peer-urls",
        `http://127.0.0.1:${peer}`,
        "--initial-cluster",
        `${name}=http://127.0.0.1:${peer}`,
        "--initial-cluster-state",
        first ? "new" : "existing"
      ],
      { stdio: "ignore" }
    )
    first = false
    await waitHealthy(endpoint)
  }
  const stop = async () => {
    const c = child
    child = undefined
    if (c?.pid === undefined || c.exitCode !== null) return
    await new Promise<void>((resolve) => {
      c.once("exit", () => resolve())
      process.kill(c.pid!, "SIGKILL")
    })
  }
  await start()
  return {
    endpoint,
    pid: () => child?.pid,
    stop,
    start,
    freeze: () => child?.pid !== undefined && process.kill(child.pid, "SIGSTOP") && undefined,
    thaw: () => child?.pid !== undefined && process.kill(child.pid, "SIGCONT") && undefined,
    destroy: async () => {
      if (child?.pid !== undefined) process.kill(child.pid, "SIGCONT")
      await stop()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}
