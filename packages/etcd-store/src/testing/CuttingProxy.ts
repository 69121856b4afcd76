/**
 * A TCP proxy for tests that loses replies for real: it forwards what a
 * client sends to the server and, now and then, right after forwarding a
 * request, cuts the client's connection. The server got the request and
 * acts on it (its side of the connection stays open a little longer, so a
 * transaction commits); the client sees its connection reset and cannot
 * tell whether the request took effect.
 *
 * On plaintext HTTP/2 (gRPC to etcd) a "request" is a DATA frame from the
 * client: one gRPC message, unary or on a stream (watch, lease keep-alive).
 * On anything else (TLS) every chunk the client sends counts as one.
 * Which requests are cut is drawn from a seeded generator.
 */
import { createConnection, createServer, type Server, type Socket } from "node:net"

export interface CuttingProxyOptions {
  /** Where connections are forwarded. */
  readonly target: { readonly host: string; readonly port: number }
  /** Chance that a request's connection is cut right after the request is forwarded (0..1). */
  readonly probability: number
  /** Seed of the generator that draws the cuts. */
  readonly seed: number
  /** How long the server's side stays open after a cut, its answers discarded (default 500 ms). */
  readonly lingerMs?: number
}

export interface CuttingProxy {
  /** `http://127.0.0.1:<port>`: give this to clients instead of the server's endpoint. */
  readonly endpoint: string
  readonly port: number
  /** Changes the chance of a cut (0 stops cutting). */
  readonly setProbability: (p: number) => void
  /** Cuts every open connection and refuses new ones until `heal` (a network partition). */
  readonly partition: () => void
  /**
   * Every open connection goes silent for good, both ways, without a reset: a peer that vanished
   * (a NAT entry dropped, a host gone). New connections work.
   */
  readonly blackhole: () => void
  readonly heal: () => void
  /** Requests forwarded so far, and connections cut after one. */
  readonly stats: () => { readonly requests: number; readonly cuts: number; readonly connections: number }
  /** Stops listening and closes every connection. */
  readonly close: () => Promise<void>
}

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
const FRAME_HEADER = 9
const DATA = 0

/** Counts the client's requests in its byte stream: HTTP/2 DATA frames, or chunks if not HTTP/2. */
const requestCounter = () => {
  let buffered = Buffer.alloc(0)
  let mode: "unknown" | "h2" | "opaque" = "unknown"
  return (chunk: Buffer): number => {
    if (mode === "opaque") return 1
    buffered = Buffer.concat([buffered, chunk])
    if (mode === "unknown") {
      if (buffered.length < PREFACE.length) {
        if (!PREFACE.subarray(0, buffered.length).equals(buffered)) mode = "opaque"
        return mode === "opaque" ? 1 : 0
      }
      if (!buffered.subarray(0, PREFACE.length).equals(PREFACE)) {
        mode = "opaque"
        return 1
      }
      mode = "h2"
      buffered = buffered.subarray(PREFACE.length)
    }
    let requests = 0
    while (buffered.length >= FRAME_HEADER) {
      const length = buffered.readUIntBE(0, 3)
      if (buffered.length < FRAME_HEADER + length) break
      if (buffered[3] === DATA && length > 0) requests++
      buffered = buffered.subarray(FRAME_HEADER + length)
    }
    return requests
  }
}

/** mulberry32: small, seedable, good enough to draw faults. */
const generator = (seed: number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export const startCuttingProxy = (options: CuttingProxyOptions): Promise<CuttingProxy> => {
  const next = generator(options.seed)
  const linger = options.lingerMs ?? 500
  let probability = options.probability
  let requests = 0
  let cuts = 0
  let connections = 0
  let partitioned = false
  const sockets = new Set<Socket>()
  const silencers = new Set<() => void>()
  const timers = new Set<ReturnType<typeof setTimeout>>()

  const track = (socket: Socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
    // resets are the point of this proxy: never let one surface as an unhandled error
    socket.on("error", () => socket.destroy())
  }

  const server: Server = createServer((client) => {
    if (partitioned) {
      client.on("error", () => client.destroy())
      client.resetAndDestroy()
      return
    }
    connections++
    track(client)
    const upstream = createConnection({ host: options.target.host, port: options.target.port })
    track(upstream)
    const count = requestCounter()
    let cut = false
    let silent = false
    const silence = () => {
      silent = true
    }
    silencers.add(silence)
    client.on("close", () => silencers.delete(silence))
    client.on("data", (chunk: Buffer) => {
      if (cut || silent) return
      const n = count(chunk)
      requests += n
      let cutHere = false
      for (let i = 0; i < n && !cutHere; i++) cutHere = next() < probability
      if (!cutHere) {
        upstream.write(chunk)
        return
      }
      cut = true
      cuts++
      // the request reaches the server; the answer never reaches the client
      upstream.write(chunk, () => {
        client.resetAndDestroy()
        upstream.removeAllListeners("data")
        upstream.resume()
        const timer = setTimeout(() => {
          timers.delete(timer)
          upstream.destroy()
        }, linger)
        timers.add(timer)
      })
    })
    upstream.on("data", (chunk: Buffer) => {
      if (!cut && !silent) client.write(chunk)
    })
    client.on("close", () => {
      if (!cut) upstream.destroy()
    })
    upstream.on("close", () => client.destroy())
  })

  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      resolve({
        endpoint: `http://127.0.0.1:${port}`,
        port,
        setProbability: (p) => {
          probability = p
        },
        partition: () => {
          partitioned = true
          for (const socket of sockets) socket.destroy()
        },
        heal: () => {
          partitioned = false
        },
        blackhole: () => {
          for (const silence of silencers) silence()
          silencers.clear()
        },
        stats: () => ({ requests, cuts, connections }),
        close: () =>
          new Promise<void>((done) => {
            for (const timer of timers) clearTimeout(timer)
            timers.clear()
            for (const socket of sockets) socket.destroy()
            server.close(() => done())
          })
      })
    })
  })
}
