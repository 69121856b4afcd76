/**
 * A real etcd for tests: free 127.0.0.1 ports, a temporary data dir, stopped
 * by PID. Supports stop/restart on the same data dir and SIGSTOP freezes,
 * and optionally TLS on the client port (with client certificates required).
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { request } from "node:https"
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

/** TLS on the client port: PEM file paths. */
export interface TlsOptions {
  /** The CA that signed the server's and the clients' certificates. */
  readonly ca: string
  readonly cert: string
  readonly key: string
  /** Require client certificates signed by `ca` (etcd's --client-cert-auth). */
  readonly clientCertAuth?: boolean | undefined
  /** A client certificate and key for the health probe (needed with `clientCertAuth`). */
  readonly probe?: { readonly cert: string; readonly key: string } | undefined
}

export interface EtcdOptions {
  readonly tls?: TlsOptions | undefined
}

const httpsOk = (url: string, tls: TlsOptions) =>
  new Promise<boolean>((resolve) => {
    const req = request(
      url,
      {
        ca: readFileSync(tls.ca),
        ...(tls.probe === undefined ? {} : { cert: readFileSync(tls.probe.cert), key: readFileSync(tls.probe.key) }),
        timeout: 1_000
      },
      (res) => {
        res.resume()
        resolve(res.statusCode === 200)
      }
    )
    req.on("error", () => resolve(false))
    req.on("timeout", () => req.destroy())
    req.end()
  })

const waitHealthy = async (url: string, ms = 20_000, tls?: TlsOptions) => {
  const until = Date.now() + ms
  for (;;) {
    try {
      if (tls === undefined) {
        const r = await fetch(`${url}/health`)
        if (r.ok) return
      } else if (await httpsOk(`${url}/health`, tls)) return
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

export const startEtcd = async (name = "test", options: EtcdOptions = {}): Promise<EtcdServer> => {
  const client = await freePort()
  const peer = await freePort()
  const dir = mkdtempSync(join(tmpdir(), "migrator-etcd-"))
  const tls = options.tls
  const endpoint = `${tls === undefined ? "http" : "https"}://127.0.0.1:${client}`
  const tlsFlags =
    tls === undefined
      ? []
      : [
          "--cert-file",
          tls.cert,
          "--key-file",
          tls.key,
          "--trusted-ca-file",
          tls.ca,
          ...(tls.clientCertAuth === true ? ["--client-cert-auth"] : [])
        ]
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
        first ? "new" : "existing",
        ...tlsFlags
      ],
      { stdio: "ignore" }
    )
    first = false
    // an etcd that exits (a port taken, a bad flag or file) fails the start at once, not after 20 s
    const c = child
    let exitedEarly: (code: number | null) => void = () => undefined
    const exited = new Promise<never>((_, reject) => {
      exitedEarly = (code) => reject(new Error(`etcd exited (code ${code}) before it became healthy at ${endpoint}`))
    })
    exited.catch(() => undefined)
    c.once("exit", exitedEarly)
    try {
      await Promise.race([waitHealthy(endpoint, 20_000, tls), exited])
    } finally {
      c.off("exit", exitedEarly)
    }
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
  try {
    await start()
  } catch (e) {
    // an etcd that never became healthy leaves neither a process nor its directory behind
    await stop()
    rmSync(dir, { recursive: true, force: true })
    throw e
  }
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

export interface TestCertificates {
  /** PEM file paths: the CA, a server certificate for 127.0.0.1 and a client certificate it signed. */
  readonly ca: string
  readonly serverCert: string
  readonly serverKey: string
  readonly clientCert: string
  readonly clientKey: string
}

/** Generates a throw-away CA, server and client certificates in `dir` with the openssl CLI. */
export const createTestCertificates = (dir: string, name = "ca"): TestCertificates => {
  const openssl = (...args: Array<string>) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" })
  const newKey = ["-newkey", "rsa:2048", "-nodes", "-days", "2"]
  openssl("req", "-x509", ...newKey, "-keyout", `${name}.key`, "-out", `${name}.pem`, "-subj", `/CN=${name}`)
  const sign = (cert: string, cn: string, ext: string) => {
    writeFileSync(join(dir, `${cert}.ext`), `${ext}\n`)
    openssl(
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${cert}.key`,
      "-out",
      `${cert}.csr`,
      "-subj",
      `/CN=${cn}`
    )
    openssl(
      "x509",
      "-req",
      "-in",
      `${cert}.csr`,
      "-CA",
      `${name}.pem`,
      "-CAkey",
      `${name}.key`,
      "-CAcreateserial",
      "-out",
      `${cert}.pem`,
      "-days",
      "2",
      "-extfile",
      `${cert}.ext`
    )
  }
  sign(`${name}-server`, "127.0.0.1", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth")
  sign(`${name}-client`, `${name}-client`, "extendedKeyUsage=clientAuth")
  return {
    ca: join(dir, `${name}.pem`),
    serverCert: join(dir, `${name}-server.pem`),
    serverKey: join(dir, `${name}-server.key`),
    clientCert: join(dir, `${name}-client.pem`),
    clientKey: join(dir, `${name}-client.key`)
  }
}
