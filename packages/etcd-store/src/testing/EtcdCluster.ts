/**
 * A real 3-member (or n-member) etcd cluster for chaos tests: every member on
 * free 127.0.0.1 ports with its own data dir, each started, stopped, killed
 * and restarted by PID. The leader is found through the maintenance status
 * API (etcd's JSON gateway), so tests can kill it on purpose.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { freePort } from "./EtcdServer.ts"

export interface EtcdMember {
  readonly name: string
  /** Client URL, e.g. `http://127.0.0.1:23791`. */
  readonly endpoint: string
  readonly peerUrl: string
  /** PID of the running process, undefined while the member is down. */
  readonly pid: () => number | undefined
  readonly running: () => boolean
}

export interface MemberStatus {
  /** This member's id (decimal string). */
  readonly id: string
  /** The leader's member id as this member sees it ("0" while there is none). */
  readonly leader: string
  readonly raftTerm: number
}

export interface EtcdCluster {
  readonly members: ReadonlyArray<EtcdMember>
  /** Every member's client URL, for clients that fail over. */
  readonly endpoints: ReadonlyArray<string>
  /** Sends `signal` (default SIGKILL) to member `i` and waits for the process to exit. */
  readonly kill: (i: number, signal?: NodeJS.Signals) => Promise<void>
  /** Starts member `i` again on its data dir and waits until it is healthy. */
  readonly restart: (i: number) => Promise<void>
  /** The maintenance status of member `i` (undefined when it does not answer). */
  readonly status: (i: number) => Promise<MemberStatus | undefined>
  /** Index of the current leader, as reported by a running member (undefined while there is none). */
  readonly leader: () => Promise<number | undefined>
  /** Waits until every running member reports the same leader and is healthy. */
  readonly waitHealthy: (ms?: number) => Promise<void>
  /** Kills every member by PID and removes the data dirs. */
  readonly destroy: () => Promise<void>
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const postJson = async (url: string, body: unknown, ms = 1_000): Promise<unknown> => {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), ms)
  try {
    const r = await fetch(url, { method: "POST", body: JSON.stringify(body), signal: controller.signal })
    if (!r.ok) return undefined
    return await r.json()
  } catch {
    return undefined
  } finally {
    clearTimeout(timer)
  }
}

const healthy = async (endpoint: string, ms = 1_000) => {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), ms)
  try {
    const r = await fetch(`${endpoint}/health`, { signal: controller.signal })
    if (!r.ok) return false
    const body = (await r.json()) as { health?: string }
    return body.health === "true"
  } catch {
    return false
  } finally {
    clearTimeout(timer)
  }
}

/** Starts an n-member cluster (default 3) and waits until it has a leader. */
export const startEtcdCluster = async (options: { readonly size?: number; readonly name?: string } = {}) => {
  const size = options.size ?? 3
  const base = options.name ?? "chaos"
  const dir = mkdtempSync(join(tmpdir(), "migrator-etcd-cluster-"))
  const ports = await Promise.all(Array.from({ length: size * 2 }, () => freePort()))
  const specs = Array.from({ length: size }, (_, i) => ({
    name: `${base}-${i}`,
    endpoint: `http://127.0.0.1:${ports[2 * i]}`,
    peerUrl: `http://127.0.0.1:${ports[2 * i + 1]}`
  }))
  const initialCluster = specs.map((s) => `${s.name}=${s.peerUrl}`).join(",")
  const children: Array<ChildProcess | undefined> = specs.map(() => undefined)
  const started = specs.map(() => false)

  const spawnMember = (i: number) => {
    const s = specs[i]!
    const child = spawn(
      "etcd",
      [
        "--name",
        s.name,
        "--logger=zap",
        "--log-level=error",
        "--data-dir",
        join(dir, s.name),
        "--listen-client-urls",
        s.endpoint,
        "--advertise-client-urls",
        s.endpoint,
        "--listen-peer-urls",
        s.peerUrl,
        "--initial-advertise-peer-urls",
        s.peerUrl,
        "--initial-cluster",
        initialCluster,
        "--initial-cluster-token",
        `${base}-${dir.slice(-6)}`,
        "--initial-cluster-state",
        started[i] ? "existing" : "new",
        // short timeouts: a lost leader is replaced within about a second
        "--heartbeat-interval",
        "100",
        "--election-timeout",
        "1000"
      ],
      { stdio: "ignore" }
    )
    started[i] = true
    children[i] = child
  }

  const waitMember = async (i: number, ms: number) => {
    const until = Date.now() + ms
    while (!(await healthy(specs[i]!.endpoint))) {
      const c = children[i]
      if (c === undefined || c.exitCode !== null || c.signalCode !== null) {
        throw new Error(`etcd member ${specs[i]!.name} exited while starting`)
      }
      if (Date.now() > until) throw new Error(`etcd member ${specs[i]!.name} did not become healthy`)
      await sleep(50)
    }
  }

  const running = (i: number) => {
    const c = children[i]
    return c?.pid !== undefined && c.exitCode === null && c.signalCode === null
  }

  const kill = async (i: number, signal: NodeJS.Signals = "SIGKILL") => {
    const c = children[i]
    children[i] = undefined
    if (c?.pid === undefined || c.exitCode !== null || c.signalCode !== null) return
    await new Promise<void>((resolve) => {
      c.once("exit", () => resolve())
      process.kill(c.pid!, "SIGCONT")
      process.kill(c.pid!, signal)
    })
  }

  const status = async (i: number): Promise<MemberStatus | undefined> => {
    if (!running(i)) return undefined
    const body = (await postJson(`${specs[i]!.endpoint}/v3/maintenance/status`, {})) as
      | { header?: { member_id?: string }; leader?: string; raftTerm?: string }
      | undefined
    if (body?.header?.member_id === undefined) return undefined
    return { id: body.header.member_id, leader: body.leader ?? "0", raftTerm: Number(body.raftTerm ?? 0) }
  }

  const statuses = async () => Promise.all(specs.map((_, i) => status(i)))

  const leader = async () => {
    const all = await statuses()
    const ids = all.map((s) => s?.id)
    for (const s of all) {
      if (s === undefined || s.leader === "0") continue
      const at = ids.indexOf(s.leader)
      if (at >= 0 && running(at)) return at
    }
    return undefined
  }

  const waitHealthy = async (ms = 30_000) => {
    const until = Date.now() + ms
    for (;;) {
      const all = await statuses()
      const up = all.filter((s, i) => running(i) && s !== undefined)
      const leaders = new Set(up.map((s) => s!.leader))
      const liveCount = specs.filter((_, i) => running(i)).length
      if (up.length === liveCount && leaders.size === 1 && !leaders.has("0")) {
        const ok = await Promise.all(specs.map((s, i) => (running(i) ? healthy(s.endpoint) : Promise.resolve(true))))
        if (ok.every(Boolean)) return
      }
      if (Date.now() > until) throw new Error("etcd cluster did not become healthy")
      await sleep(50)
    }
  }

  const restart = async (i: number) => {
    if (running(i)) return
    spawnMember(i)
    await waitMember(i, 30_000)
  }

  const destroy = async () => {
    await Promise.all(specs.map((_, i) => kill(i)))
    rmSync(dir, { recursive: true, force: true })
  }

  try {
    // all members at once: none is healthy before a quorum is up
    for (let i = 0; i < size; i++) spawnMember(i)
    await Promise.all(specs.map((_, i) => waitMember(i, 30_000)))
    await waitHealthy()
  } catch (e) {
    await destroy()
    throw e
  }

  const members: ReadonlyArray<EtcdMember> = specs.map((s, i) => ({
    ...s,
    pid: () => (running(i) ? children[i]?.pid : undefined),
    running: () => running(i)
  }))
  return {
    members,
    endpoints: specs.map((s) => s.endpoint),
    kill,
    restart,
    status,
    leader,
    waitHealthy,
    destroy
  } satisfies EtcdCluster
}
