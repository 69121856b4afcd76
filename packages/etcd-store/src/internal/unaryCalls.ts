/**
 * gRPC unary calls straight over `node:http2`: the transactions of the hot path, reads and lease
 * calls. Through @grpc/grpc-js (its channel, load balancer, call credentials and retry layers run
 * for every call) one `Store.txn` after another cost 390-470 µs of client CPU and took 760-820 µs
 * against etcd on loopback; over a stream of our own, 255-265 µs and 545-560 µs. A pickup's claim
 * and each level of a chain wait on that. A unary call needs none of those layers: one request
 * frame, one reply frame, the status in the trailers (a lease keep-alive is a stream of one request
 * and one reply).
 *
 * One HTTP/2 session per endpoint, opened when first needed and dropped when it fails; calls stay
 * on one endpoint and move to the next when it fails at the transport or answers "unavailable" (a
 * member down fails one call, not one in N for good). Errors are the `Error`s grpc-js would give
 * ("14 UNAVAILABLE: …", with `code`), so etcd3's typing of them and the store's mapping apply
 * unchanged. Nothing is retried here: a transaction whose answer is lost may have committed.
 */
import * as http2 from "node:http2"

export interface Endpoint {
  /** `http://host:port` or `https://host:port`. */
  readonly authority: string
  readonly tls?: { readonly ca: string; readonly cert?: string | undefined; readonly key?: string | undefined }
}

/** grpc-js's names of the status codes, for its message format. */
const STATUS_NAMES = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED"
] as const
const UNAVAILABLE = 14
const DEADLINE_EXCEEDED = 4
/** A reply that is not what the call expects. */
export const INTERNAL = 13

/** An error as grpc-js makes it: etcd3's `castGrpcError` types it by its message and code. */
export const grpcError = (code: number, details: string): Error & { readonly code: number } =>
  Object.assign(new Error(`${code} ${STATUS_NAMES[code] ?? "UNKNOWN"}: ${details}`), { code, details })

/** gRPC allows 8 digits: milliseconds up to a day and more, seconds beyond. */
const grpcTimeout = (ms: number) =>
  ms < 1e8 ? `${Math.max(1, Math.ceil(ms))}m` : `${Math.min(99_999_999, Math.ceil(ms / 1000))}S`

/** Decodes the `grpc-message` trailer (percent-encoded). */
const message = (raw: unknown) => {
  if (typeof raw !== "string") return ""
  try {
    return decodeURIComponent(raw)
  } catch {
    return raw
  }
}

interface Session {
  readonly h2: http2.ClientHttp2Session
  /** Replies received on it: a call that timed out while others were answered met a slow etcd, not a dead link. */
  replies: number
  /** Calls waiting on it: it holds the process open only while there are some. */
  open: number
}

export interface UnaryCalls {
  /**
   * Sends `body` (one serialized request) to `path`; `done` gets the reply's message or an error,
   * once. `headers` carry the auth token; `timeoutMs` is the call's deadline (also sent to etcd).
   * Returns what cancels the call (`done` is then not called).
   */
  readonly call: (
    path: string,
    body: Buffer,
    headers: Readonly<Record<string, string>>,
    timeoutMs: number,
    done: (error: Error | undefined, reply?: Buffer) => void
  ) => () => void
  readonly close: () => void
}

export const make = (endpoints: ReadonlyArray<Endpoint>): UnaryCalls => {
  const sessions = new Map<number, Session>()
  let current = 0
  let closed = false

  const sessionOf = (at: number): Session => {
    const open = sessions.get(at)
    if (open !== undefined && !open.h2.closed && !open.h2.destroyed) return open
    const endpoint = endpoints[at]!
    const h2 = http2.connect(endpoint.authority, {
      ...(endpoint.tls === undefined
        ? {}
        : {
            ca: endpoint.tls.ca,
            ...(endpoint.tls.cert === undefined ? {} : { cert: endpoint.tls.cert }),
            ...(endpoint.tls.key === undefined ? {} : { key: endpoint.tls.key })
          })
    })
    const session: Session = { h2, replies: 0, open: 0 }
    const drop = () => {
      if (sessions.get(at) === session) sessions.delete(at)
    }
    h2.on("error", drop) // each open call fails on its own stream's error
    h2.on("close", drop)
    h2.on("goaway", drop) // calls already sent finish; new ones go on a new session
    // an idle session does not hold the process open (a call waiting on it does)
    h2.unref()
    sessions.set(at, session)
    return session
  }

  /** The next call goes to the next endpoint (a member that answers "unavailable" may have no leader). */
  const moveOn = (at: number) => {
    if (current === at) current = (at + 1) % endpoints.length
  }
  /** The session is dead or silent: the next call tries the next endpoint on a new session. */
  const failed = (at: number, session: Session) => {
    if (sessions.get(at) === session) sessions.delete(at)
    session.h2.destroy()
    moveOn(at)
  }
  /**
   * The call's stream broke: with its connection (cut, reset), or alone (reset by etcd); a session
   * still open goes on serving the other calls on it.
   */
  const broke = (at: number, session: Session) => {
    if (session.h2.destroyed || session.h2.closed) failed(at, session)
    else moveOn(at)
  }

  const NOTHING_TO_CANCEL = () => undefined

  const call: UnaryCalls["call"] = (path, body, headers, timeoutMs, done) => {
    if (closed) {
      done(grpcError(UNAVAILABLE, "the client is closed"))
      return NOTHING_TO_CANCEL
    }
    const at = current
    let session: Session
    let stream: http2.ClientHttp2Stream
    try {
      session = sessionOf(at)
      stream = session.h2.request(
        {
          ":method": "POST",
          ":path": path,
          "content-type": "application/grpc",
          te: "trailers",
          "grpc-timeout": grpcTimeout(timeoutMs),
          ...headers
        },
        { endStream: false }
      )
    } catch (e) {
      done(grpcError(UNAVAILABLE, e instanceof Error ? e.message : String(e)))
      return NOTHING_TO_CANCEL
    }
    const repliesBefore = session.replies
    if (session.open++ === 0) session.h2.ref()
    const chunks: Array<Buffer> = []
    let size = 0
    let status: number | undefined
    let details = ""
    let settled = false
    /** Ends the call for its caller, once (an answer, an error or a cancel); false if it already was. */
    const leave = () => {
      if (settled) return false
      settled = true
      if (--session.open === 0 && !session.h2.destroyed) session.h2.unref()
      return true
    }
    const settle = (error: Error | undefined, reply?: Buffer) => {
      if (leave()) done(error, reply)
    }
    stream.setTimeout(timeoutMs, () => {
      stream.close(http2.constants.NGHTTP2_CANCEL)
      // nothing came back on the session meanwhile: the link went silent (a peer gone without a reset)
      if (session.replies === repliesBefore) failed(at, session)
      settle(grpcError(DEADLINE_EXCEEDED, "Deadline exceeded"))
    })
    stream.on("response", (head) => {
      // a trailers-only reply carries the status in its headers
      if (head["grpc-status"] !== undefined) {
        status = Number(head["grpc-status"])
        details = message(head["grpc-message"])
      }
    })
    stream.on("data", (chunk: Buffer) => {
      chunks.push(chunk)
      size += chunk.length
    })
    stream.on("trailers", (trailers) => {
      status = Number(trailers["grpc-status"])
      details = message(trailers["grpc-message"])
    })
    stream.on("error", (e: Error) => {
      broke(at, session)
      settle(grpcError(UNAVAILABLE, e.message))
    })
    stream.on("close", () => {
      if (status === undefined) {
        // reset or cut before a status: the request may or may not have been applied
        broke(at, session)
        return settle(grpcError(UNAVAILABLE, `stream closed without a status (code ${stream.rstCode})`))
      }
      session.replies++
      if (status !== 0) {
        if (status === UNAVAILABLE) moveOn(at)
        return settle(grpcError(status, details))
      }
      const frame = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)
      if (frame.length < 5 || frame[0] !== 0 || frame.readUInt32BE(1) !== frame.length - 5) {
        return settle(grpcError(INTERNAL, "a reply that is not one uncompressed message"))
      }
      settle(undefined, frame.subarray(5))
    })
    const frame = Buffer.allocUnsafe(5 + body.length)
    frame[0] = 0
    frame.writeUInt32BE(body.length, 1)
    body.copy(frame, 5)
    stream.end(frame)
    return () => {
      if (leave()) stream.close(http2.constants.NGHTTP2_CANCEL)
    }
  }

  return {
    call,
    close: () => {
      closed = true
      for (const s of sessions.values()) s.h2.close()
      sessions.clear()
    }
  }
}
