/**
 * The `Store` on etcd v3, through the `etcd3` client. The only module that
 * knows etcd3: keys and values are UTF-8 strings, revisions numbers, lease
 * ids decimal strings.
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

const buf = (s: string) => Buffer.from(s, "utf8")

const prefixEnd = (prefix: Buffer): Buffer => {
  const end = Buffer.from(prefix)
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++
      return end.subarray(0, i + 1)
    }
  }
  return Buffer.from([0]) // the whole key space
}

const targets = {
  value: "Value",
  version: "Version",
  createRevision: "Create",
  modRevision: "Mod",
  lease: "Lease"
} as const
const results = { "==": "Equal", "!=": "NotEqual", "<": "Less", ">": "Greater" } as const

/** Builds the store on an etcd client (closing the client is the caller's business). */
export const makeWith = (client: Etcd.Etcd3, options: Options): Store.Service => {
  const ns = buf(options.namespace ?? "")
  const timeout = Duration.toMillis(Duration.fromInputUnsafe(options.requestTimeout ?? "5 seconds"))
  const pageSize = options.pageSize ?? 10_000
  const namespace = options.namespace ?? ""
  const key = (k: string) => Buffer.from(namespace + k, "utf8")
  const unkey = (b: Buffer) => b.subarray(ns.length).toString("utf8")
  type CallOptions = { readonly deadline: Date }

  const call = <A>(operation: string, f: (options: CallOptions) => Promise<A>) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.tryPromise({ try: () => f({ deadline: new Date(now + timeout) }), catch: toStoreError(operation) })
    )

  // reads are idempotent: retried through brief unavailability; writes never are
  const read = <A>(operation: string, f: (options: CallOptions) => Promise<A>) =>
    call(operation, f).pipe(
      Effect.retry({
        while: (e) => e.reason._tag === "Unavailable",
        schedule: Schedule.exponential("50 millis").pipe(Schedule.upTo({ times: 3 }))
      })
    )

  const kvOf = (kv: Etcd.IKeyValue): Store.KeyValue => ({
    key: unkey(kv.key),
    value: kv.value.toString("utf8"),
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
    version: Number(kv.version),
    lease: kv.lease === "0" || kv.lease === undefined ? undefined : String(kv.lease)
  })

  const get = (k: string) =>
    read("get", (o) => client.kv.range({ key: key(k) }, o)).pipe(
      Effect.map((r) => Option.fromUndefinedOr(r.kvs[0]).pipe(Option.map(kvOf)))
    )

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
        const page = yield* read("range", (o) =>
          client.kv.range(
            { key: from, range_end: end, limit: want, ...(revision === undefined ? {} : { revision }) },
            o
          )
        )
        // pin every later page to the first page's revision
        revision ??= Number(page.header.revision)
        out.push(...page.kvs.map(kvOf))
        const last = page.kvs[page.kvs.length - 1]
        if (!page.more || last === undefined || (opts?.limit !== undefined && out.length >= opts.limit)) break
        from = Buffer.concat([last.key, Buffer.from([0])])
      }
      return { kvs: out, revision: revision ?? 0 } satisfies Store.RangeResult
    })

  const compareOf = (c: Store.Compare): Etcd.ICompare => {
    const base = { key: key(c.key), target: targets[c.target], result: results[c.op] }
    switch (c.target) {
      case "value":
        return { ...base, value: buf(c.value) }
      case "version":
        return { ...base, version: c.value }
      case "createRevision":
        return { ...base, create_revision: c.value }
      case "modRevision":
        return { ...base, mod_revision: c.value }
      case "lease":
        return { ...base, lease: c.value }
    }
  }

  const opOf = (op: Store.Op): Etcd.IRequestOp => {
    switch (op._tag) {
      case "put":
        return {
          request_put: {
            key: key(op.key),
            value: buf(op.value),
            ...(op.lease === undefined ? {} : { lease: op.lease })
          }
        }
      case "delete":
        return { request_delete_range: { key: key(op.key) } }
      case "deletePrefix": {
        const start = key(op.prefix)
        return { request_delete_range: { key: start, range_end: prefixEnd(start) } }
      }
      case "get":
        return { request_range: { key: key(op.key) } }
    }
  }

  const resultOf = (op: Store.Op, r: Etcd.IResponseOp): Store.OpResult => {
    switch (op._tag) {
      case "put":
        return { _tag: "put" }
      case "delete":
      case "deletePrefix":
        return { _tag: "delete", deleted: Number(r.response_delete_range?.deleted ?? 0) }
      case "get": {
        const kv = r.response_range?.kvs[0]
        return { _tag: "get", kv: kv === undefined ? undefined : kvOf(kv) }
      }
    }
  }

  const txn = (request: Store.TxnRequest) =>
    call("txn", (o) =>
      client.kv.txn(
        {
          compare: request.compare.map(compareOf),
          success: request.success.map(opOf),
          failure: (request.failure ?? []).map(opOf)
        },
        o
      )
    ).pipe(
      Effect.map((r): Store.TxnResult => {
        const ops = r.succeeded ? request.success : (request.failure ?? [])
        return {
          succeeded: r.succeeded,
          revision: Number(r.header.revision),
          results: ops.map((op, i) => resultOf(op, r.responses[i]!))
        }
      })
    )

  const grantLease = (ttl: Duration.Duration) =>
    call("grantLease", (o) => client.leaseClient.leaseGrant({ TTL: Store.ttlSeconds(ttl) }, o)).pipe(
      Effect.map((r) => String(r.ID))
    )

  const keepAliveOnce = (lease: Store.LeaseId) =>
    call("keepAlive", async (o) => {
      const stream = await client.leaseClient.leaseKeepAlive(o)
      try {
        const answer = new Promise<Etcd.ILeaseKeepAliveResponse>((resolve, reject) => {
          stream.on("data", resolve)
          stream.on("error", reject)
        })
        stream.write({ ID: lease })
        return await answer
      } finally {
        stream.end()
      }
    }).pipe(
      Effect.map((r) => (Number(r.TTL) > 0 ? Option.some(Duration.seconds(Number(r.TTL))) : Option.none())),
      Effect.catch((e) => (e.reason._tag === "LeaseExpired" ? Effect.succeed(Option.none()) : Effect.fail(e)))
    )

  const revokeLease = (lease: Store.LeaseId) =>
    call("revokeLease", (o) => client.leaseClient.leaseRevoke({ ID: lease }, o)).pipe(
      Effect.catch((e) =>
        e.reason._tag === "LeaseExpired" ? Effect.fail(StoreError.notFound("revokeLease", e.message)) : Effect.fail(e)
      ),
      Effect.asVoid
    )

  /**
   * A one-key read that only serves for its header (the revision) or to learn whether `at` was
   * compacted. It reads inside the keys the caller works on, so a user whose role only grants
   * a prefix is allowed to make it.
   */
  const probe = (operation: string, within: string, at?: number) =>
    read(operation, (o) =>
      client.kv.range(
        { key: key(within === "" ? "\0" : within), limit: 1, ...(at === undefined ? {} : { revision: at }) },
        o
      )
    )

  const denied = (e: StoreError.StoreError) =>
    e.reason._tag === "InvalidRequest" && /permission denied/i.test(e.message)

  // a role limited to a prefix may not read "\0": the member's status carries the revision too
  const revision = probe("revision", "").pipe(
    Effect.map((r) => Number(r.header.revision)),
    Effect.catch((e) =>
      denied(e)
        ? read("revision", (o) => client.maintenance.status(o)).pipe(Effect.map((r) => Number(r.header.revision)))
        : Effect.fail(e)
    )
  )

  /** Why a watch of `prefix` from `from` failed: compaction, or something else. */
  const diagnose = (prefix: string, from: number, error: unknown) =>
    probe("watch", prefix, from).pipe(
      Effect.match({
        onFailure: (e) => (e.reason._tag === "Compacted" ? StoreError.compacted("watch", from, 0) : e),
        onSuccess: () => toStoreError("watch")(error)
      }),
      Effect.flatMap(Effect.fail)
    )

  const watch = (prefix: string, opts?: Store.WatchOptions): Stream.Stream<Store.WatchEvent, StoreError.StoreError> =>
    Stream.unwrap(
      Effect.gen(function* () {
        const current = Number((yield* probe("watch", prefix)).header.revision)
        const from = opts?.fromRevision ?? current + 1
        // etcd3 mishandles a watch created on a compacted revision (it throws inside its
        // stream handler), so find out first with a one-key read at that revision
        if (from <= current) {
          yield* probe("watch", prefix, from).pipe(
            Effect.mapError((e) => (e.reason._tag === "Compacted" ? StoreError.compacted("watch", from, 0) : e))
          )
        }
        return Stream.callback<Store.WatchEvent, StoreError.StoreError>((queue) =>
          Effect.gen(function* () {
            // delivered up to (revision, keys at that revision): a resumed watcher may repeat some
            let lastRevision = from - 1
            let keysAtLast = new Set<string>()
            const onData = (res: Etcd.IWatchResponse) => {
              for (const e of res.events) {
                const revision = Number(e.kv.mod_revision)
                const k = unkey(e.kv.key)
                if (revision < lastRevision || (revision === lastRevision && keysAtLast.has(k))) continue
                if (revision > lastRevision) {
                  lastRevision = revision
                  keysAtLast = new Set()
                }
                keysAtLast.add(k)
                Queue.offerUnsafe(
                  queue,
                  e.type === "Put" ? { _tag: "put", kv: kvOf(e.kv), revision } : { _tag: "delete", key: k, revision }
                )
              }
            }
            const onError = (error: unknown) => {
              Effect.runFork(
                diagnose(prefix, lastRevision + 1, error).pipe(
                  Effect.catch((e) => Effect.sync(() => Queue.failCauseUnsafe(queue, Cause.fail(e))))
                )
              )
            }
            // etcd3 resumes a broken watch from the revision of the last *response header*, which
            // can skip events it had not delivered yet; so we resume ourselves from the last event
            // we delivered (the key set de-duplicates a transaction split across responses)
            let current: Etcd.Watcher | undefined
            let closed = false
            const open = () => {
              const builder = client.watch()
              const watcher = (
                opts?.end === undefined
                  ? builder.prefix(key(prefix))
                  : builder.inRange({ start: key(prefix), end: key(opts.end) })
              )
                .startRevision(String(Math.max(from, lastRevision)))
                .watcher()
              // listeners go on before it connects: events of a past revision come at once
              watcher.on("data", onData)
              watcher.on("error", onError)
              watcher.on("disconnected", () => {
                if (watcher !== current || closed) return
                current = undefined
                watcher.removeAllListeners()
                void watcher.cancel().catch(() => undefined)
                Effect.runFork(
                  Effect.sleep("200 millis").pipe(
                    Effect.andThen(
                      Effect.sync(() => {
                        if (!closed) current = open()
                      })
                    )
                  )
                )
              })
              return watcher
            }
            yield* Effect.acquireRelease(
              Effect.sync(() => {
                current = open()
              }),
              () =>
                Effect.sync(() => {
                  closed = true
                  const w = current
                  current = undefined
                  return w
                }).pipe(
                  Effect.flatMap((w) => (w === undefined ? Effect.void : Effect.promise(() => w.cancel()))),
                  Effect.ignore
                )
            )
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
          grpcOptions: { "grpc.max_receive_message_length": -1 },
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

/** A store connected to etcd for the life of the scope. */
export const make = (options: Options) => Effect.map(clientOf(options), (client) => makeWith(client, options))

/** Provides `Store` (and `EtcdClient`) on etcd. */
export const layer = (options: Options): Layer.Layer<Store.Store | EtcdClient> =>
  Layer.effectContext(
    Effect.map(clientOf(options), (client) =>
      Context.make(EtcdClient, client).pipe(Context.add(Store.Store, makeWith(client, options)))
    )
  )
