/**
 * The `Store`: a thin, etcd-shaped key-value contract (get, paginated range,
 * compare-and-swap transactions, leases, watches from a revision). All job
 * logic is built on it and runs unchanged on every driver: the in-memory
 * store here (`layerMemory`, driven by the Effect `Clock`, so `TestClock`
 * expires leases) and `@migrator/etcd-store`.
 *
 * Keys and values are strings (UTF-8); values are JSON documents in practice.
 *
 * @since 0.1.0
 */
import { Context, Duration, Effect, type Layer, Option, type Scope, type Stream } from "effect"
import * as leaseKeeper from "./internal/leaseKeeper.ts"
import * as memory from "./internal/memoryStore.ts"
import type { StoreError } from "./StoreError.ts"

/** A store revision (etcd's int64 revision; fits a double for any realistic lifetime). */
export type Revision = number
/** An opaque lease identifier (etcd's int64 lease id, as a decimal string). */
export type LeaseId = string

export interface KeyValue {
  readonly key: string
  readonly value: string
  readonly createRevision: Revision
  readonly modRevision: Revision
  readonly version: number
  /** The lease the key is attached to, if any. */
  readonly lease: LeaseId | undefined
}

export type CompareOp = "==" | "!=" | "<" | ">"

/**
 * A condition of a transaction. On a missing key etcd compares against
 * zero values: version/createRevision/modRevision 0, value "", lease "0".
 */
export type Compare =
  | { readonly key: string; readonly target: "value"; readonly op: CompareOp; readonly value: string }
  | {
      readonly key: string
      readonly target: "version" | "createRevision" | "modRevision"
      readonly op: CompareOp
      readonly value: number
    }
  | { readonly key: string; readonly target: "lease"; readonly op: CompareOp; readonly value: LeaseId }

export type Op =
  | { readonly _tag: "put"; readonly key: string; readonly value: string; readonly lease?: LeaseId | undefined }
  | { readonly _tag: "delete"; readonly key: string }
  | { readonly _tag: "deletePrefix"; readonly prefix: string }
  | { readonly _tag: "get"; readonly key: string }

export type OpResult =
  | { readonly _tag: "put" }
  | { readonly _tag: "delete"; readonly deleted: number }
  | { readonly _tag: "get"; readonly kv: KeyValue | undefined }

export interface TxnRequest {
  readonly compare: ReadonlyArray<Compare>
  readonly success: ReadonlyArray<Op>
  readonly failure?: ReadonlyArray<Op>
}

export interface TxnResult {
  readonly succeeded: boolean
  /** The store revision after the transaction. */
  readonly revision: Revision
  /** One result per op of the branch that ran. */
  readonly results: ReadonlyArray<OpResult>
}

export interface RangeOptions {
  /** Read at this revision (fails with `Compacted` when it is gone). */
  readonly revision?: Revision
  /** Keys per request; the driver pages internally. */
  readonly pageSize?: number
  /** Stop after this many keys. */
  readonly limit?: number
  /** Start at this key (inclusive, under the prefix) instead of the prefix's first key: reads a large prefix a page at a time. */
  readonly from?: string
}

export interface RangeResult {
  readonly kvs: ReadonlyArray<KeyValue>
  /** The revision every page was read at. */
  readonly revision: Revision
}

export type WatchEvent =
  | { readonly _tag: "put"; readonly kv: KeyValue; readonly revision: Revision }
  | { readonly _tag: "delete"; readonly key: string; readonly revision: Revision }

export interface WatchOptions {
  /** First revision to deliver (inclusive). Default: changes after the current revision. */
  readonly fromRevision?: Revision
  /**
   * Watch the keys from `prefix` (as the first key) up to `end` (excluded) instead of the keys that
   * start with `prefix`: the engine follows everything under its prefix but the event log.
   */
  readonly end?: string
}

/** A lease kept alive for the life of a `Scope`. */
export interface Lease {
  readonly id: LeaseId
  readonly ttl: Duration.Duration
  /**
   * Waits until the lease is lost (expired, revoked elsewhere, or presumed
   * lost because no keep-alive was acknowledged within one TTL) and returns
   * the `LeaseExpired` error.
   */
  readonly lost: Effect.Effect<StoreError>
  readonly isLost: Effect.Effect<boolean>
}

export interface LeaseOptions {
  /** Keep the lease alive while the scope is open (default true). */
  readonly keepAlive?: boolean
}

/**
 * The store contract.
 *
 * @category services
 * @since 0.1.0
 * @stability unstable
 */
export class Store extends Context.Service<
  Store,
  {
    readonly get: (key: string) => Effect.Effect<Option.Option<KeyValue>, StoreError>
    readonly range: (prefix: string, options?: RangeOptions) => Effect.Effect<RangeResult, StoreError>
    readonly txn: (request: TxnRequest) => Effect.Effect<TxnResult, StoreError>
    /** Grants a lease without keep-alive; prefer `lease`. */
    readonly grantLease: (ttl: Duration.Duration) => Effect.Effect<LeaseId, StoreError>
    /** One keep-alive; `None` when the lease no longer exists. */
    readonly keepAliveOnce: (lease: LeaseId) => Effect.Effect<Option.Option<Duration.Duration>, StoreError>
    readonly revokeLease: (lease: LeaseId) => Effect.Effect<void, StoreError>
    /** A lease kept alive while the scope is open and revoked when it closes. */
    readonly lease: (ttl: Duration.Duration, options?: LeaseOptions) => Effect.Effect<Lease, StoreError, Scope.Scope>
    /**
     * Changes under a prefix, in revision order, from a revision. Survives
     * reconnects without losing or repeating events; fails with `Compacted`
     * when the revision is no longer available.
     */
    readonly watch: (prefix: string, options?: WatchOptions) => Stream.Stream<WatchEvent, StoreError>
    /** The store's current revision. */
    readonly revision: Effect.Effect<Revision, StoreError>
    /** Discards history before `revision`. */
    readonly compact: (revision: Revision) => Effect.Effect<void, StoreError>
  }
>()("@migrator/core/Store") {}

export type Service = Store["Service"]

/** Builds `Store.lease` from the lease primitives; shared by every driver. */
export const makeLease = leaseKeeper.make

/** The in-memory store, with full MVCC, lease and watch semantics. */
export const makeMemory: Effect.Effect<memory.MemoryStore, never, Scope.Scope> = memory.make
export type MemoryStore = memory.MemoryStore
export const layerMemory: Layer.Layer<Store> = memory.layer(Store)

/** The end of a prefix range (etcd's `prefix + 1` on the last byte). */
export const prefixEnd = (prefix: string): string => memory.prefixEnd(prefix)

// Convenience operations built on `txn`.

export const put = (key: string, value: string, options?: { readonly lease?: LeaseId }) =>
  Store.use((s) => s.txn({ compare: [], success: [{ _tag: "put", key, value, lease: options?.lease }] }))

export const del = (key: string) => Store.use((s) => s.txn({ compare: [], success: [{ _tag: "delete", key }] }))

/** Creates `key` only if it does not exist. */
export const create = (key: string, value: string, options?: { readonly lease?: LeaseId }) =>
  Store.use((s) =>
    s.txn({
      compare: [{ key, target: "createRevision", op: "==", value: 0 }],
      success: [{ _tag: "put", key, value, lease: options?.lease }]
    })
  )

export const getValue = (key: string) => Store.use((s) => s.get(key)).pipe(Effect.map(Option.map((kv) => kv.value)))

export const ttlSeconds = (ttl: Duration.Duration): number => Math.max(1, Math.ceil(Duration.toSeconds(ttl)))
