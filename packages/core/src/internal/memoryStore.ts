import { Cause, Clock, type Context, Duration, Effect, Layer, Option, Queue, type Scope, Stream } from "effect"
import type {
  Compare,
  KeyValue,
  LeaseId,
  OpResult,
  RangeOptions,
  RangeResult,
  Revision,
  Service,
  TxnRequest,
  TxnResult,
  WatchEvent,
  WatchOptions
} from "../Store.ts"
import * as StoreError from "../StoreError.ts"
import { make as makeLease } from "./leaseKeeper.ts"

/** etcd's default limits, enforced here too so that what passes in memory passes on etcd. */
export const MAX_TXN_OPS = 128
export const MAX_REQUEST_BYTES = 1.5 * 1024 * 1024

export const prefixEnd = (prefix: string): string => {
  if (prefix === "") return "\0"
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)
}

interface Version {
  readonly revision: Revision
  readonly kv: KeyValue | undefined // undefined = tombstone
}

interface LeaseState {
  readonly ttlMillis: number
  deadline: number
  readonly keys: Set<string>
}

interface Watcher {
  readonly prefix: string
  readonly end: string | undefined
  nextRevision: Revision
  readonly queue: Queue.Queue<WatchEvent, StoreError.StoreError | Cause.Done>
}

/**
 * Handles to inject faults into the memory store, for simulations and tests.
 */
export interface MemoryStoreControl {
  /** While unavailable every operation fails with `Unavailable`, watches stall and resume without loss. */
  readonly setAvailable: (available: boolean) => Effect.Effect<void>
  /** Fails the next `n` operations with `Unavailable`. */
  readonly failNext: (n: number) => Effect.Effect<void>
  /** The number of successful transactions that wrote something. */
  readonly writeCount: Effect.Effect<number>
  /** Expires a lease now, as if its keep-alives stopped reaching the server. */
  readonly expireLease: (lease: LeaseId) => Effect.Effect<void>
  /**
   * The next `n` operations (of the kinds named in `operations`, every kind by default) take
   * effect and then fail with `Unavailable`, as when a connection resets or a deadline passes
   * after the request was sent: a txn commits, a lease is granted, kept alive or revoked, a
   * watch delivers what it has and then breaks. The caller cannot tell it from a request that
   * never arrived. Operation names: get, range, txn, grantLease, keepAlive, revokeLease, watch,
   * revision, compact.
   */
  readonly loseRepliesNext: (n: number, operations?: ReadonlyArray<string>) => Effect.Effect<void>
  /**
   * The replies of the next `n` transactions arrive `delay` after they committed (on the
   * `Clock`), as a slow network hands them over: watchers see what they wrote first.
   */
  readonly delayRepliesNext: (n: number, delay: Duration.Input) => Effect.Effect<void>
  /** Replies lost so far, by operation name. */
  readonly lostReplies: Effect.Effect<Readonly<Record<string, number>>>
  /** The live keys under a prefix at the current revision, bypassing every injected fault (for checks). */
  readonly peek: (prefix: string) => Effect.Effect<ReadonlyArray<KeyValue>>
  /** One key at the current revision, bypassing every injected fault. */
  readonly peekKey: (key: string) => Effect.Effect<KeyValue | undefined>
  /** Whether a lease exists (not expired, not revoked), bypassing every injected fault. */
  readonly leaseExists: (lease: LeaseId) => Effect.Effect<boolean>
}

export interface MemoryStore {
  readonly store: Service
  readonly control: MemoryStoreControl
}

export const make: Effect.Effect<MemoryStore, never, Scope.Scope> = Effect.gen(function* () {
  const history = new Map<string, Array<Version>>()
  const events: Array<WatchEvent> = [] // events after compactRevision, in order
  let revision: Revision = 1
  let compactRevision: Revision = 0
  const leases = new Map<LeaseId, LeaseState>()
  let nextLeaseId = 0x1000
  const watchers = new Set<Watcher>()
  let available = true
  let failBudget = 0
  let lostBudget = 0
  let lostKinds: ReadonlySet<string> | undefined
  let lateBudget = 0
  let lateBy = Duration.zero
  const lost: Record<string, number> = {}
  let writes = 0
  const wake = yield* Queue.unbounded<void>()

  const current = (key: string): KeyValue | undefined => {
    const versions = history.get(key)
    return versions === undefined ? undefined : versions[versions.length - 1]!.kv
  }

  const at = (key: string, rev: Revision): KeyValue | undefined => {
    const versions = history.get(key)
    if (versions === undefined) return undefined
    for (let i = versions.length - 1; i >= 0; i--) {
      if (versions[i]!.revision <= rev) return versions[i]!.kv
    }
    return undefined
  }

  const gate = (operation: string): Effect.Effect<void, StoreError.StoreError> =>
    Effect.suspend(() => {
      if (!available) return Effect.fail(StoreError.unavailable(operation, "memory store is unavailable"))
      if (failBudget > 0) {
        failBudget--
        return Effect.fail(StoreError.unavailable(operation, "injected failure"))
      }
      return Effect.void
    })

  /** Whether this operation's reply is to be lost (consumes the budget). */
  const loseReply = (operation: string): boolean => {
    if (lostBudget <= 0 || (lostKinds !== undefined && !lostKinds.has(operation))) return false
    lostBudget--
    lost[operation] = (lost[operation] ?? 0) + 1
    return true
  }

  const lostReply = (operation: string) =>
    StoreError.unavailable(operation, "connection reset after the request was sent (reply lost)")

  /** Runs an operation to its end (its effect applied), then maybe replaces its answer by a lost reply. */
  const replied =
    (operation: string) =>
    <A>(effect: Effect.Effect<A, StoreError.StoreError>): Effect.Effect<A, StoreError.StoreError> =>
      Effect.flatMap(Effect.exit(effect), (exit) => {
        if (loseReply(operation)) return Effect.fail(lostReply(operation))
        if (operation !== "txn" || lateBudget <= 0) return exit
        lateBudget--
        return Effect.andThen(Effect.sleep(lateBy), exit)
      })

  const deliver = (watcher: Watcher) => {
    if (!available) return
    if (watcher.nextRevision < compactRevision) {
      // a stalled watcher whose history is gone must resync, exactly like on etcd
      Queue.failCauseUnsafe(
        watcher.queue,
        Cause.fail(StoreError.compacted("watch", watcher.nextRevision, compactRevision))
      )
      watchers.delete(watcher)
      return
    }
    for (const event of events) {
      if (event.revision < watcher.nextRevision) continue
      const key = event._tag === "put" ? event.kv.key : event.key
      const within =
        watcher.end === undefined ? key.startsWith(watcher.prefix) : key >= watcher.prefix && key < watcher.end
      if (within) Queue.offerUnsafe(watcher.queue, event)
    }
    watcher.nextRevision = revision + 1
  }

  const publish = () => {
    for (const watcher of watchers) deliver(watcher)
  }

  // Applies a put or delete at `rev` (caller bumps the revision once per txn).
  const write = (key: string, kv: KeyValue | undefined, rev: Revision) => {
    const previous = current(key)
    if (previous?.lease !== undefined) leases.get(previous.lease)?.keys.delete(key)
    if (kv?.lease !== undefined) leases.get(kv.lease)?.keys.add(key)
    let versions = history.get(key)
    if (versions === undefined) {
      versions = []
      history.set(key, versions)
    }
    versions.push({ revision: rev, kv })
    events.push(kv === undefined ? { _tag: "delete", key, revision: rev } : { _tag: "put", kv, revision: rev })
  }

  const liveKeys = (prefix: string, end: string | undefined): Array<string> => {
    const keys: Array<string> = []
    for (const [key] of history) {
      if (key >= prefix && (end === undefined || key < end) && current(key) !== undefined) keys.push(key)
    }
    return keys
  }

  const compare = (c: Compare): boolean => {
    const kv = current(c.key)
    const test = <T extends string | number>(actual: T, expected: T) => {
      switch (c.op) {
        case "==":
          return actual === expected
        case "!=":
          return actual !== expected
        case "<":
          return actual < expected
        case ">":
          return actual > expected
      }
    }
    switch (c.target) {
      case "value":
        return kv !== undefined && test(kv.value, c.value) // etcd: value compares on a missing key fail
      case "version":
        return test(kv?.version ?? 0, c.value)
      case "createRevision":
        return test(kv?.createRevision ?? 0, c.value)
      case "modRevision":
        return test(kv?.modRevision ?? 0, c.value)
      case "lease":
        return test(BigInt(kv?.lease ?? "0").toString(), BigInt(c.value).toString())
    }
  }

  const requestSize = (request: TxnRequest) => {
    let bytes = 0
    for (const c of request.compare) bytes += c.key.length + (c.target === "value" ? c.value.length : 8)
    for (const op of [...request.success, ...(request.failure ?? [])]) {
      bytes += op._tag === "deletePrefix" ? op.prefix.length : op.key.length
      if (op._tag === "put") bytes += op.value.length
    }
    return bytes
  }

  const expireDue = Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    let changed = false
    for (const [id, lease] of leases) {
      if (lease.deadline <= now) {
        dropLease(id)
        changed = true
      }
    }
    if (changed) publish()
  })

  const dropLease = (id: LeaseId) => {
    const lease = leases.get(id)
    if (lease === undefined) return
    leases.delete(id)
    if (lease.keys.size === 0) return
    const rev = ++revision
    for (const key of [...lease.keys].sort()) write(key, undefined, rev)
  }

  // Expires leases on the Clock: sleeps until the next deadline or until a lease changes.
  yield* Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    let next = Number.POSITIVE_INFINITY
    for (const lease of leases.values()) next = Math.min(next, lease.deadline)
    const sleep = Number.isFinite(next) ? Effect.sleep(Duration.millis(Math.max(0, next - now))) : Effect.never
    yield* Effect.raceFirst(sleep, Queue.take(wake))
    yield* expireDue
  }).pipe(Effect.forever, Effect.forkScoped)

  const signal = () => Queue.offerUnsafe(wake, undefined)

  const get = (key: string) =>
    gate("get").pipe(
      Effect.andThen(expireDue),
      Effect.map(() => Option.fromUndefinedOr(current(key))),
      replied("get")
    )

  const range = (prefix: string, options?: RangeOptions): Effect.Effect<RangeResult, StoreError.StoreError> =>
    gate("range").pipe(
      Effect.andThen(expireDue),
      Effect.flatMap(() => {
        const rev = options?.revision ?? revision
        if (rev < compactRevision && options?.revision !== undefined) {
          return Effect.fail(StoreError.compacted("range", rev, compactRevision))
        }
        if (rev > revision) return Effect.fail(StoreError.invalid("range", `revision ${rev} is in the future`))
        const kvs: Array<KeyValue> = []
        const from = options?.from
        const keys = [...history.keys()].filter((k) => k.startsWith(prefix) && (from === undefined || k >= from)).sort()
        for (const key of keys) {
          const kv = at(key, rev)
          if (kv !== undefined) kvs.push(kv)
          if (options?.limit !== undefined && kvs.length >= options.limit) break
        }
        return Effect.succeed({ kvs, revision: rev })
      }),
      replied("range")
    )

  const txn = (request: TxnRequest): Effect.Effect<TxnResult, StoreError.StoreError> =>
    gate("txn").pipe(
      Effect.andThen(expireDue),
      Effect.flatMap(() => {
        const opCount = Math.max(request.success.length, request.failure?.length ?? 0)
        if (opCount > MAX_TXN_OPS || request.compare.length > MAX_TXN_OPS) {
          return Effect.fail(StoreError.invalid("txn", `too many operations in txn request (max ${MAX_TXN_OPS})`))
        }
        if (requestSize(request) > MAX_REQUEST_BYTES) {
          return Effect.fail(StoreError.invalid("txn", "request is too large"))
        }
        // like etcd: one key written twice in a branch makes the whole request invalid
        for (const branch of [request.success, request.failure ?? []]) {
          const written = new Set<string>()
          for (const op of branch) {
            if (op._tag !== "put" && op._tag !== "delete") continue
            if (written.has(op.key)) {
              return Effect.fail(StoreError.invalid("txn", "duplicate key given in txn request"))
            }
            written.add(op.key)
          }
        }
        const succeeded = request.compare.every(compare)
        const ops = succeeded ? request.success : (request.failure ?? [])
        for (const op of ops) {
          if (op._tag === "put" && op.lease !== undefined && !leases.has(op.lease)) {
            return Effect.fail(StoreError.leaseExpired("txn", op.lease))
          }
        }
        const writesSomething = ops.some((op) => op._tag !== "get")
        const rev = writesSomething ? revision + 1 : revision
        const results: Array<OpResult> = []
        let wrote = false
        for (const op of ops) {
          switch (op._tag) {
            case "get":
              results.push({ _tag: "get", kv: current(op.key) })
              break
            case "put": {
              const previous = current(op.key)
              write(
                op.key,
                {
                  key: op.key,
                  value: op.value,
                  createRevision: previous?.createRevision ?? rev,
                  modRevision: rev,
                  version: (previous?.version ?? 0) + 1,
                  lease: op.lease
                },
                rev
              )
              wrote = true
              results.push({ _tag: "put" })
              break
            }
            case "delete": {
              const exists = current(op.key) !== undefined
              if (exists) {
                write(op.key, undefined, rev)
                wrote = true
              }
              results.push({ _tag: "delete", deleted: exists ? 1 : 0 })
              break
            }
            case "deletePrefix": {
              const keys = liveKeys(op.prefix, undefined).filter((k) => k.startsWith(op.prefix))
              for (const key of keys) write(key, undefined, rev)
              wrote = wrote || keys.length > 0
              results.push({ _tag: "delete", deleted: keys.length })
              break
            }
          }
        }
        // etcd bumps the revision only when something changed
        if (wrote) {
          revision = rev
          writes++
          publish()
        }
        return Effect.succeed({ succeeded, revision, results })
      }),
      replied("txn")
    )

  const grantLease = (ttl: Duration.Duration) =>
    gate("grantLease").pipe(
      Effect.andThen(Clock.currentTimeMillis),
      Effect.map((now) => {
        const ttlMillis = Math.max(1000, Duration.toMillis(ttl))
        const id = (nextLeaseId++).toString()
        leases.set(id, { ttlMillis, deadline: now + ttlMillis, keys: new Set() })
        signal()
        return id
      }),
      replied("grantLease")
    )

  const keepAliveOnce = (id: LeaseId) =>
    gate("keepAlive").pipe(
      Effect.andThen(expireDue),
      Effect.andThen(Clock.currentTimeMillis),
      Effect.map((now) => {
        const lease = leases.get(id)
        if (lease === undefined) return Option.none<Duration.Duration>()
        lease.deadline = now + lease.ttlMillis
        signal()
        return Option.some(Duration.millis(lease.ttlMillis))
      }),
      replied("keepAlive")
    )

  const revokeLease = (id: LeaseId) =>
    gate("revokeLease").pipe(
      Effect.andThen(expireDue),
      Effect.flatMap(() => {
        if (!leases.has(id)) return Effect.fail(StoreError.notFound("revokeLease", `lease ${id} not found`))
        dropLease(id)
        publish()
        signal()
        return Effect.void
      }),
      replied("revokeLease")
    )

  const watch = (prefix: string, options?: WatchOptions): Stream.Stream<WatchEvent, StoreError.StoreError> =>
    Stream.callback<WatchEvent, StoreError.StoreError>((queue) =>
      Effect.acquireRelease(
        gate("watch").pipe(
          Effect.flatMap(() => {
            const from = options?.fromRevision ?? revision + 1
            if (from < compactRevision) return Effect.fail(StoreError.compacted("watch", from, compactRevision))
            const watcher: Watcher = { prefix, end: options?.end, nextRevision: from, queue }
            watchers.add(watcher)
            deliver(watcher)
            if (loseReply("watch")) {
              // the stream hands over what it had, then breaks
              watchers.delete(watcher)
              Queue.failCauseUnsafe(queue, Cause.fail(lostReply("watch")))
            }
            return Effect.succeed(watcher)
          })
        ),
        (watcher) => Effect.sync(() => watchers.delete(watcher))
      )
    )

  const compact = (rev: Revision) =>
    gate("compact").pipe(
      Effect.flatMap(() => {
        if (rev <= compactRevision) return Effect.fail(StoreError.compacted("compact", rev, compactRevision))
        if (rev > revision) return Effect.fail(StoreError.invalid("compact", `revision ${rev} is in the future`))
        compactRevision = rev
        while (events.length > 0 && events[0]!.revision < rev) events.shift()
        for (const [key, versions] of history) {
          // keep the newest version at or before the compact revision, drop the older ones
          let keepFrom = 0
          for (let i = 0; i < versions.length; i++) if (versions[i]!.revision <= rev) keepFrom = i
          const kept = versions.slice(keepFrom)
          if (kept.length === 1 && kept[0]!.kv === undefined) history.delete(key)
          else history.set(key, kept)
        }
        return Effect.void
      }),
      replied("compact")
    )

  const primitives = { grantLease, keepAliveOnce, revokeLease }
  const store: Service = {
    get,
    range,
    txn,
    ...primitives,
    lease: makeLease(primitives),
    watch,
    revision: gate("revision").pipe(
      Effect.map(() => revision),
      replied("revision")
    ),
    compact
  }

  const control: MemoryStoreControl = {
    setAvailable: (value) =>
      Effect.sync(() => {
        available = value
        if (value) publish()
      }),
    failNext: (n) =>
      Effect.sync(() => {
        failBudget = n
      }),
    writeCount: Effect.sync(() => writes),
    expireLease: (id) =>
      Effect.sync(() => {
        dropLease(id)
        publish()
      }),
    loseRepliesNext: (n, operations) =>
      Effect.sync(() => {
        lostBudget = n
        lostKinds = operations === undefined ? undefined : new Set(operations)
      }),
    delayRepliesNext: (n, delay) =>
      Effect.sync(() => {
        lateBudget = n
        lateBy = Duration.fromInputUnsafe(delay)
      }),
    lostReplies: Effect.sync(() => ({ ...lost })),
    peek: (prefix) =>
      Effect.sync(() =>
        liveKeys(prefix, undefined)
          .filter((key) => key.startsWith(prefix))
          .sort()
          .map((key) => current(key)!)
      ),
    peekKey: (key) => Effect.sync(() => current(key)),
    leaseExists: (id) => Effect.sync(() => leases.has(id))
  }
  return { store, control }
})

export const layer = <I>(tag: Context.Key<I, Service>): Layer.Layer<I> =>
  Layer.effect(
    tag,
    Effect.map(make, (m) => m.store)
  )
