/**
 * The `Store` on etcd v3, through the `etcd3` client, and for transactions,
 * reads and leases HTTP/2 streams of our own (`internal/unaryCalls.ts`). The
 * only module that knows etcd3: keys and values are UTF-8 strings, revisions
 * numbers, lease ids decimal strings.
 *
 * Works around etcd3's defects (see the package README): no per-host
 * circuit breaker and no client-side retry of transactions (a retried
 * transaction could apply twice); keep-alives and elections are our own
 * (`Store.makeLease`), watches are de-duplicated across reconnects.
 *
 * @since 0.1.0
 */
import { Store, StoreError } from "@migrator/core"
import { ExponentialBackoff, type IBackoff, noop } from "cockatiel"
import { Cause, Clock, Context, Duration, Effect, Layer, Option, Queue, Schedule, Stream } from "effect"
import * as Etcd from "etcd3"
import { toStoreError } from "./internal/errors.ts"
import * as UnaryCalls from "./internal/unaryCalls.ts"
import * as Wire from "./internal/wire.ts"

export interface Options {
  /** e.g. `["http://127.0.0.1:2379"]` or `https://` endpoints with TLS. */
  readonly endpoints: ReadonlyArray<string>
  /** Prepended to every key; results come back without it. */
  readonly namespace?: string | undefined
  readonly tls?:
    | {
        /** PEM contents. */
        readonly ca: string
        readonly cert?: string | undefined
        readonly key?: string | undefined
      }
    | undefined
  readonly auth?: { readonly username: string; readonly password: string } | undefined
  /** Deadline of one request (default 5 s). */
  readonly requestTimeout?: Duration.Input | undefined
  /**
   * Keys per range request (default 10,000). etcd 3.4 walks its index from a request's start key
   * to the end of the range whatever the limit (to count the keys), so a large prefix read in small
   * pages costs it the square of the prefix's size: few large pages are much cheaper.
   */
  readonly pageSize?: number | undefined
}

/** The etcd client behind the store, for callers that need etcd itself (benchmarks, tests). */
export class EtcdClient extends Context.Service<EtcdClient, Etcd.Etcd3>()("@migrator/etcd-store/EtcdClient") {}

const prefixEnd = (prefix: Buffer): Buffer => Buffer.from(Wire.prefixEnd(prefix))

/** The part of a gRPC client (@grpc/grpc-js `Client`) the watch calls with its own codec. */
interface GrpcClient {
  makeBidiStreamRequest<Q, R>(
    method: string,
    serialize: (request: Q) => Buffer,
    deserialize: (reply: Buffer) => R,
    metadata: unknown
  ): GrpcStream<Q, R>
}
interface GrpcStream<Q, R> {
  write(request: Q): boolean
  cancel(): void
  on(event: "data", listener: (reply: R) => void): void
  on(event: "error", listener: (error: Error) => void): void
  on(event: "end" | "close", listener: () => void): void
  removeAllListeners(): void
}
/**
 * etcd3's connection pool (protected in its types): the channel, credentials and auth token of
 * its calls; watches use its channel with our codec (see `wire.ts`), transactions, reads and
 * leases its auth token.
 */
interface ConnectionPool {
  withConnection<A>(
    service: string,
    f: (connection: {
      readonly client: GrpcClient
      readonly metadata: unknown
      readonly resource: unknown
    }) => Promise<A>
  ): Promise<A>
  markFailed(resource: unknown, error: Error): void
  readonly authenticator: { getMetadata(): Promise<GrpcMetadata>; invalidateMetadata(): void }
}
/** grpc-js `Metadata`: the auth token, when etcd has authentication on. */
interface GrpcMetadata {
  getMap(): Record<string, string | Buffer>
}
const headersOf = (metadata: GrpcMetadata) => {
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(metadata.getMap())) if (typeof v === "string") headers[k] = v
  return headers
}
const poolOf = (client: Etcd.Etcd3) => (client as unknown as { readonly pool: ConnectionPool }).pool

/**
 * The store on an etcd client and our own transport for transactions, reads and leases (closing
 * both is the caller's business).
 */
const build = (client: Etcd.Etcd3, calls: UnaryCalls.UnaryCalls, options: Options): Store.Service => {
  const ns = Buffer.from(options.namespace ?? "", "utf8")
  const timeout = Duration.toMillis(Duration.fromInputUnsafe(options.requestTimeout ?? "5 seconds"))
  const pageSize = options.pageSize ?? 10_000
  const namespace = options.namespace ?? ""
  const key = (k: string) => Buffer.from(namespace + k, "utf8")
  const pool = poolOf(client)
  const encode = Wire.encoder(namespace)
  const decode = Wire.decoder(ns.length)

  /**
   * The auth token etcd3 holds, as headers: none without authentication; with it, etcd3's cached
   * promise of the token, read once per token.
   */
  let token: { readonly from: Promise<GrpcMetadata>; readonly headers: Record<string, string> } | undefined
  const NO_HEADERS: Record<string, string> = {}
  const authHeaders = (): Effect.Effect<Record<string, string>, unknown> => {
    if (options.auth === undefined) return Effect.succeed(NO_HEADERS)
    const from = pool.authenticator.getMetadata()
    if (token?.from === from) return Effect.succeed(token.headers)
    return Effect.tryPromise({ try: () => from, catch: (e) => e }).pipe(
      Effect.map((metadata) => {
        token = { from, headers: headersOf(metadata) }
        return token.headers
      })
    )
  }

  /** One call on our own HTTP/2 stream (`unaryCalls.ts`); interrupting it cancels the stream. */
  const unary = <R>(path: string, body: Buffer, headers: Record<string, string>, deserialize: (reply: Buffer) => R) =>
    Effect.callback<R, Error>((resume) => {
      const cancel = calls.call(path, body, headers, timeout, (error, reply) => {
        if (error !== undefined) return resume(Effect.fail(Etcd.castGrpcError(error)))
        try {
          resume(Effect.succeed(deserialize(reply!)))
        } catch (e) {
          resume(Effect.fail(UnaryCalls.grpcError(UnaryCalls.INTERNAL, `a reply that cannot be decoded: ${String(e)}`)))
        }
      })
      return Effect.sync(cancel)
    })

  /** A stale token is renewed once, as etcd3 does. */
  const withAuth = <R>(
    path: string,
    body: Buffer,
    deserialize: (reply: Buffer) => R,
    renewed = false
  ): Effect.Effect<R, unknown> =>
    Effect.flatMap(authHeaders(), (headers) => unary(path, body, headers, deserialize)).pipe(
      Effect.catchIf(
        (e) => !renewed && e instanceof Etcd.EtcdInvalidAuthTokenError,
        () => {
          pool.authenticator.invalidateMetadata()
          return withAuth(path, body, deserialize, true)
        }
      )
    )

  /** One call on our own transport, its errors as the store's. */
  const unaryCall = <R>(operation: string, path: string, body: Buffer, deserialize: (reply: Buffer) => R) =>
    withAuth(path, body, deserialize).pipe(Effect.mapError(toStoreError(operation)))

  type CallOptions = { readonly deadline: Date }

  const call = <A>(operation: string, f: (options: CallOptions) => Promise<A>) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.tryPromise({ try: () => f({ deadline: new Date(now + timeout) }), catch: toStoreError(operation) })
    )

  // reads are idempotent: retried through brief unavailability; writes never are
  const retryReads = <A>(self: Effect.Effect<A, StoreError.StoreError>) =>
    Effect.retry(self, {
      while: (e) => e.reason._tag === "Unavailable",
      schedule: Schedule.exponential("50 millis").pipe(Schedule.upTo({ times: 3 }))
    })
  const read = <A>(operation: string, f: (options: CallOptions) => Promise<A>) => call(operation, f).pipe(retryReads)

  /**
   * A range read on our own transport, like transactions: it stays on a member that answers, so
   * a member that is down fails one call, not one in N as etcd3's random pick of a member would.
   */
  const rangeOf = (operation: string, start: Buffer, end: Buffer | undefined, limit: number, at?: number) =>
    unaryCall(operation, "/etcdserverpb.KV/Range", encode.range(start, end, limit, at), decode.range).pipe(retryReads)

  const get = (k: string) =>
    rangeOf("get", key(k), undefined, 0).pipe(Effect.map((r) => Option.fromUndefinedOr(r.kvs[0])))

  const range = (prefix: string, opts?: Store.RangeOptions) =>
    Effect.gen(function* () {
      const start = key(prefix)
      const end = prefixEnd(start)
      const size = opts?.pageSize ?? pageSize
      const out: Array<Store.KeyValue> = []
      let revision = opts?.revision
      let from = opts?.from === undefined || opts.from < prefix ? start : key(opts.from)
      for (;;) {
        const want = opts?.limit === undefined ? size : Math.min(size, opts.limit - out.length)
        const page = yield* rangeOf("range", from, end, want, revision)
        // pin every later page to the first page's revision
        revision ??= page.revision
        out.push(...page.kvs)
        const last = page.kvs[page.kvs.length - 1]
        if (!page.more || last === undefined || (opts?.limit !== undefined && out.length >= opts.limit)) break
        from = key(`${last.key}\0`)
      }
      return { kvs: out, revision: revision ?? 0 } satisfies Store.RangeResult
    })

  const txn = (request: Store.TxnRequest) =>
    unaryCall("txn", "/etcdserverpb.KV/Txn", encode.txn(request), decode.txn).pipe(
      Effect.map((r): Store.TxnResult => {
        const ops = r.succeeded ? request.success : (request.failure ?? [])
        return {
          succeeded: r.succeeded,
          revision: r.revision,
          results: ops.map((op, i): Store.OpResult => {
            const reply = r.responses[i]
            switch (op._tag) {
              case "put":
                return { _tag: "put" }
              case "delete":
              case "deletePrefix":
                return { _tag: "delete", deleted: reply?.deleted ?? 0 }
              case "get":
                return { _tag: "get", kv: reply?.kvs[0] }
            }
            return op satisfies never
          })
        }
      })
    )

  // leases on our own transport too: with a member down, etcd3's random pick failed one keep-alive
  // in N, and two in a row lose the lease
  // retried like a read: a grant whose answer was lost leaves a lease that no one holds, with
  // nothing on it, and it expires after its TTL
  const grantLease = (ttl: Duration.Duration) =>
    unaryCall(
      "grantLease",
      "/etcdserverpb.Lease/LeaseGrant",
      encode.leaseGrant(Store.ttlSeconds(ttl)),
      decode.lease
    ).pipe(
      retryReads,
      Effect.flatMap((r) =>
        r.error === "" && r.id !== "0"
          ? Effect.succeed(r.id)
          : Effect.fail(StoreError.unknown("grantLease", r.error || "an answer without a lease"))
      )
    )

  // one request on the keep-alive stream, which the server answers once before it sees the end
  // of the stream; renewing twice is harmless, so it is retried like a read
  const keepAliveOnce = (lease: Store.LeaseId) =>
    unaryCall("keepAlive", "/etcdserverpb.Lease/LeaseKeepAlive", encode.lease(lease), decode.lease).pipe(
      retryReads,
      Effect.map((r) => (r.ttl > 0 ? Option.some(Duration.seconds(r.ttl)) : Option.none())),
      Effect.catch((e) => (e.reason._tag === "LeaseExpired" ? Effect.succeed(Option.none()) : Effect.fail(e)))
    )

  const revokeLease = (lease: Store.LeaseId) =>
    unaryCall("revokeLease", "/etcdserverpb.Lease/LeaseRevoke", encode.lease(lease), (reply) => reply).pipe(
      Effect.catch((e) =>
        e.reason._tag === "LeaseExpired" ? Effect.fail(StoreError.notFound("revokeLease", e.message)) : Effect.fail(e)
      ),
      Effect.asVoid
    )

  /**
   * A one-key read that only serves for its header (the revision). It reads inside the keys the
   * caller works on, so a user whose role only grants a prefix is allowed to make it.
   */
  const probe = (operation: string, within: string) =>
    rangeOf(operation, key(within === "" ? "\0" : within), undefined, 1)

  const denied = (e: StoreError.StoreError) =>
    e.reason._tag === "InvalidRequest" && /permission denied/i.test(e.message)

  // a role limited to a prefix may not read "\0": the member's status carries the revision too
  const revision = probe("revision", "").pipe(
    Effect.map((r) => r.revision),
    Effect.catch((e) =>
      denied(e)
        ? read("revision", (o) => client.maintenance.status(o)).pipe(Effect.map((r) => Number(r.header.revision)))
        : Effect.fail(e)
    )
  )

  /**
   * One watch stream per call, with our own codec (`wire.ts`). A broken stream is opened again by
   * us from the last *delivered* event: a transaction split across replies is resumed at its
   * revision and the keys already delivered at it are skipped. etcd cancels a watch whose start
   * revision is compacted: that ends the stream with `Compacted`.
   */
  const watch = (prefix: string, opts?: Store.WatchOptions): Stream.Stream<Store.WatchEvent, StoreError.StoreError> =>
    Stream.unwrap(
      Effect.gen(function* () {
        const from = opts?.fromRevision ?? (yield* probe("watch", prefix)).revision + 1
        const start = key(prefix)
        const end = opts?.end === undefined ? prefixEnd(start) : key(opts.end)
        return Stream.callback<Store.WatchEvent, StoreError.StoreError>((queue) =>
          Effect.gen(function* () {
            // delivered up to (revision, keys at that revision): a resumed watch may repeat some
            let lastRevision = from - 1
            let keysAtLast = new Set<string>()
            let current: GrpcStream<Buffer, Wire.WatchReply> | undefined
            let closed = false

            const close = () => {
              closed = true
              const s = current
              current = undefined
              s?.cancel()
            }
            /** Ends the stream with `error` (an etcd or gRPC error, or a `StoreError` already). */
            const fail = (error: unknown) => {
              close()
              const e = error instanceof StoreError.StoreError ? error : toStoreError("watch")(error)
              Queue.failCauseUnsafe(queue, Cause.fail(e))
            }
            const onReply = (reply: Wire.WatchReply) => {
              if (reply.canceled) {
                fail(
                  reply.compactRevision > 0
                    ? StoreError.compacted("watch", lastRevision + 1, reply.compactRevision)
                    : Etcd.castGrpcErrorMessage(reply.cancelReason || "watch canceled")
                )
                return
              }
              for (const e of reply.events) {
                const revision = e.kv.modRevision
                const k = e.kv.key
                if (revision < lastRevision || (revision === lastRevision && keysAtLast.has(k))) continue
                if (revision > lastRevision) {
                  lastRevision = revision
                  keysAtLast = new Set()
                }
                keysAtLast.add(k)
                Queue.offerUnsafe(
                  queue,
                  e.type === "put" ? { _tag: "put", kv: e.kv, revision } : { _tag: "delete", key: k, revision }
                )
              }
            }
            const later = () =>
              Effect.runFork(
                Effect.sleep("200 millis").pipe(
                  Effect.andThen(
                    Effect.sync(() => {
                      if (!closed) open()
                    })
                  )
                )
              )
            const open = () => {
              pool
                .withConnection("Watch", async ({ client, metadata, resource }) => {
                  if (closed) return
                  const stream = client.makeBidiStreamRequest<Buffer, Wire.WatchReply>(
                    "/etcdserverpb.Watch/Watch",
                    (request) => request,
                    decode.watch,
                    metadata
                  )
                  current = stream
                  let broken = false
                  const broke = (error?: Error) => {
                    if (broken) return
                    broken = true
                    stream.removeAllListeners()
                    stream.on("error", () => undefined) // the cancel's own error, or a late one
                    stream.cancel()
                    if (current !== stream || closed) return
                    current = undefined
                    if (error !== undefined) {
                      const cast = Etcd.castGrpcError(error)
                      if (cast instanceof Etcd.EtcdInvalidAuthTokenError) pool.authenticator.invalidateMetadata()
                      else if (!toStoreError("watch")(cast).retryable) return fail(cast)
                      // a broken connection resets the host's channel, as etcd3's own watches do
                      pool.markFailed(resource, error)
                    }
                    later()
                  }
                  stream.on("data", onReply)
                  stream.on("error", broke)
                  stream.on("end", () => broke())
                  stream.write(encode.watchCreate(start, end, Math.max(from, lastRevision)))
                })
                .catch((error: unknown) => {
                  if (closed) return
                  // no connection yet is worth another try; refused credentials are not
                  if (toStoreError("watch")(error).retryable) later()
                  else fail(error)
                })
            }
            yield* Effect.acquireRelease(Effect.sync(open), () => Effect.sync(close))
          })
        )
      })
    )

  const compact = (rev: Store.Revision) =>
    call("compact", (o) => client.kv.compact({ revision: rev, physical: false }, o)).pipe(Effect.asVoid)

  const primitives = { grantLease, keepAliveOnce, revokeLease }
  return {
    get,
    range,
    txn,
    ...primitives,
    lease: Store.makeLease(primitives),
    watch,
    revision,
    compact
  }
}

/** Our transport's endpoints: TLS when the endpoint says `https` or TLS options are given. */
const endpointsOf = (options: Options): ReadonlyArray<UnaryCalls.Endpoint> =>
  options.endpoints.map((e) => {
    const secure = options.tls !== undefined || e.startsWith("https://")
    const authority = /^https?:\/\//.test(e)
      ? e.replace(/^http:/, secure ? "https:" : "http:")
      : `${secure ? "https" : "http"}://${e}`
    return options.tls === undefined ? { authority } : { authority, tls: options.tls }
  })

const clientOf = (options: Options) =>
  Effect.acquireRelease(
    Effect.sync(
      () =>
        new Etcd.Etcd3({
          hosts: [...options.endpoints],
          ...(options.tls === undefined
            ? {}
            : {
                credentials: {
                  rootCertificate: Buffer.from(options.tls.ca),
                  ...(options.tls.cert === undefined ? {} : { certChain: Buffer.from(options.tls.cert) }),
                  ...(options.tls.key === undefined ? {} : { privateKey: Buffer.from(options.tls.key) })
                }
              }),
          ...(options.auth === undefined
            ? {}
            : { auth: { username: options.auth.username, password: options.auth.password } }),
          dialTimeout: 5_000,
          // gRPC's default 4 MB receive limit is below a watch's catch-up reply (etcd batches up
          // to 1,000 revisions in one message): a runner resuming behind a large job never caught up
          grpcOptions: {
            "grpc.max_receive_message_length": -1,
            // a connection that went silent (its peer gone without a reset) is found by a ping
            // unanswered, not after the OS gives up on it: a watch would wait on it for good.
            // Only while calls are open, and not below etcd's 5 s minimum (it would refuse us)
            "grpc.keepalive_time_ms": 10_000,
            "grpc.keepalive_timeout_ms": 5_000,
            "grpc.keepalive_permit_without_calls": 0
          },
          // one slow call must not open a circuit, and no call is retried blindly
          faultHandling: {
            host: () => noop,
            global: noop,
            // a broken watch stream comes back within a second, not after up to 30 s
            watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1_000 }) as unknown as IBackoff<unknown>
          }
        })
    ),
    (client) => Effect.sync(() => client.close())
  )

const callsOf = (options: Options) =>
  Effect.acquireRelease(
    Effect.sync(() => UnaryCalls.make(endpointsOf(options))),
    (calls) => Effect.sync(() => calls.close())
  )

/** A store connected to etcd for the life of the scope. */
export const make = (options: Options) =>
  Effect.gen(function* () {
    const client = yield* clientOf(options)
    return build(client, yield* callsOf(options), options)
  })

/** Provides `Store` (and `EtcdClient`) on etcd. */
export const layer = (options: Options): Layer.Layer<Store.Store | EtcdClient> =>
  Layer.effectContext(
    Effect.gen(function* () {
      const client = yield* clientOf(options)
      return Context.make(EtcdClient, client).pipe(
        Context.add(Store.Store, build(client, yield* callsOf(options), options))
      )
    })
  )
