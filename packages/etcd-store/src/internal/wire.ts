/**
 * etcd's protobuf messages on the two hot paths, transactions and watches, encoded and decoded by
 * hand: keys and values go straight between our strings and the wire, revisions are numbers.
 * etcd3's generic codec (protobufjs from objects, 64-bit integers as strings through `long`) cost
 * more CPU per task than the engine's own logic around it. Field numbers: etcd's `rpc.proto` and
 * `kv.proto` (API v3, unchanged since 3.0). Anything else keeps going through etcd3.
 */
import type { Store } from "@migrator/core"

/** Protobuf wire types. */
const Wire = { Varint: 0, Fixed64: 1, Bytes: 2, Fixed32: 5 } as const

const tag = (field: number, wire: number) => (field << 3) | wire

// the tags the decoders look for, computed once (a switch evaluates its cases in turn)
const BYTES_1 = tag(1, Wire.Bytes)
const BYTES_2 = tag(2, Wire.Bytes)
const BYTES_3 = tag(3, Wire.Bytes)
const BYTES_4 = tag(4, Wire.Bytes)
const BYTES_5 = tag(5, Wire.Bytes)
const BYTES_6 = tag(6, Wire.Bytes)
const BYTES_11 = tag(11, Wire.Bytes)
const VARINT_1 = tag(1, Wire.Varint)
const VARINT_2 = tag(2, Wire.Varint)
const VARINT_3 = tag(3, Wire.Varint)
const VARINT_4 = tag(4, Wire.Varint)
const VARINT_5 = tag(5, Wire.Varint)
const VARINT_6 = tag(6, Wire.Varint)

/** Bytes of a varint for a non-negative integer up to 2^53. */
const varintSize = (n: number): number => {
  let size = 1
  while (n >= 128) {
    n = Math.floor(n / 128)
    size++
  }
  return size
}

const bigVarintSize = (n: bigint): number => {
  let size = 1
  while (n >= 128n) {
    n >>= 7n
    size++
  }
  return size
}

class Writer {
  readonly buf: Buffer
  pos = 0
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size)
  }
  varint(n: number) {
    while (n >= 128) {
      this.buf[this.pos++] = (n % 128) | 128
      n = Math.floor(n / 128)
    }
    this.buf[this.pos++] = n
  }
  bigVarint(n: bigint) {
    while (n >= 128n) {
      this.buf[this.pos++] = Number(n & 127n) | 128
      n >>= 7n
    }
    this.buf[this.pos++] = Number(n)
  }
  /** A length-delimited field whose two strings, concatenated, are the bytes (UTF-8). */
  strings(field: number, a: string, aBytes: number, b: string, bBytes: number) {
    this.varint(tag(field, Wire.Bytes))
    this.varint(aBytes + bBytes)
    if (aBytes > 0) this.pos += this.buf.write(a, this.pos, aBytes, "utf8")
    if (bBytes > 0) this.pos += this.buf.write(b, this.pos, bBytes, "utf8")
  }
  bytes(field: number, bytes: Uint8Array) {
    this.varint(tag(field, Wire.Bytes))
    this.varint(bytes.length)
    this.buf.set(bytes, this.pos)
    this.pos += bytes.length
  }
  /** The header of an embedded message of `size` bytes. */
  message(field: number, size: number) {
    this.varint(tag(field, Wire.Bytes))
    this.varint(size)
  }
}

const stringField = (bytes: number) => 1 + varintSize(bytes) + bytes
const messageField = (field: number, size: number) => varintSize(tag(field, Wire.Bytes)) + varintSize(size) + size

/** etcd's `Compare.CompareTarget` and `Compare.CompareResult`. */
const targets = { version: 0, createRevision: 1, modRevision: 2, value: 3, lease: 4 } as const
const results = { "==": 0, ">": 1, "<": 2, "!=": 3 } as const
/** The field of `Compare.target_union` each target compares. */
const unionField = { version: 4, createRevision: 5, modRevision: 6, value: 7, lease: 8 } as const

/** The exclusive end of the keys starting with `prefix` (etcd's range convention). */
export const prefixEnd = (prefix: Uint8Array): Uint8Array => {
  const end = Uint8Array.from(prefix)
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++
      return end.subarray(0, i + 1)
    }
  }
  return Uint8Array.of(0) // the whole key space
}

/**
 * Encodes requests with every key under `namespace`. Sizes are computed first, so a request is
 * written once into one buffer.
 */
export const encoder = (namespace: string) => {
  const ns = Buffer.from(namespace, "utf8")
  const nsBytes = ns.length
  const keyBytes = (key: string) => nsBytes + Buffer.byteLength(key, "utf8")
  const nsKey = (key: string) => Buffer.concat([ns, Buffer.from(key, "utf8")])

  interface Sized<A> {
    readonly of: A
    readonly size: number
    readonly key: number
    readonly value?: number
    readonly end?: Uint8Array
    readonly lease?: bigint
  }

  const sizeCompare = (c: Store.Compare): Sized<Store.Compare> => {
    const key = keyBytes(c.key)
    let size = stringField(key) + 2 + 2 // key, result, target (one byte each)
    let value: number | undefined
    if (c.target === "value") {
      value = Buffer.byteLength(c.value, "utf8")
      size += stringField(value)
    } else if (c.target === "lease") {
      const lease = BigInt(c.value)
      return { of: c, size: size + 1 + bigVarintSize(lease), key, lease }
    } else size += 1 + varintSize(c.value)
    return { of: c, size, key, ...(value === undefined ? {} : { value }) }
  }

  const writeCompare = (w: Writer, s: Sized<Store.Compare>) => {
    const c = s.of
    w.message(1, s.size)
    w.varint(tag(1, Wire.Varint))
    w.varint(results[c.op])
    w.varint(tag(2, Wire.Varint))
    w.varint(targets[c.target])
    w.strings(3, namespace, nsBytes, c.key, s.key - nsBytes)
    // a oneof member is written even when it is 0: an absent one is not a comparison with 0
    const field = unionField[c.target]
    if (c.target === "value") w.strings(field, c.value, s.value!, "", 0)
    else {
      w.varint(tag(field, Wire.Varint))
      if (c.target === "lease") w.bigVarint(s.lease!)
      else w.varint(c.value)
    }
  }

  /** A request op: its own size and the size of the request inside it. */
  const sizeOp = (op: Store.Op): Sized<Store.Op> & { readonly inner: number } => {
    switch (op._tag) {
      case "put": {
        const key = keyBytes(op.key)
        const value = Buffer.byteLength(op.value, "utf8")
        const lease = op.lease === undefined ? undefined : BigInt(op.lease)
        const inner = stringField(key) + stringField(value) + (lease === undefined ? 0 : 1 + bigVarintSize(lease))
        return { of: op, inner, size: messageField(2, inner), key, value, ...(lease === undefined ? {} : { lease }) }
      }
      case "delete":
      case "get": {
        const key = keyBytes(op.key)
        const inner = stringField(key)
        return { of: op, inner, size: messageField(op._tag === "get" ? 1 : 3, inner), key }
      }
      case "deletePrefix": {
        const start = nsKey(op.prefix)
        const end = prefixEnd(start)
        const inner = stringField(start.length) + stringField(end.length)
        return { of: op, inner, size: messageField(3, inner), key: start.length, end }
      }
    }
  }

  const writeOp = (w: Writer, field: number, s: ReturnType<typeof sizeOp>) => {
    const op = s.of
    w.message(field, s.size)
    switch (op._tag) {
      case "put":
        w.message(2, s.inner)
        w.strings(1, namespace, nsBytes, op.key, s.key - nsBytes)
        w.strings(2, op.value, s.value!, "", 0)
        if (s.lease !== undefined) {
          w.varint(tag(3, Wire.Varint))
          w.bigVarint(s.lease)
        }
        return
      case "delete":
      case "get":
        w.message(op._tag === "get" ? 1 : 3, s.inner)
        w.strings(1, namespace, nsBytes, op.key, s.key - nsBytes)
        return
      case "deletePrefix":
        w.message(3, s.inner)
        w.strings(1, namespace, nsBytes, op.prefix, s.key - nsBytes)
        w.bytes(2, s.end!)
        return
    }
  }

  /** `etcdserverpb.TxnRequest`. */
  const txn = (request: Store.TxnRequest): Buffer => {
    const compares = request.compare.map(sizeCompare)
    const success = request.success.map(sizeOp)
    const failure = (request.failure ?? []).map(sizeOp)
    let size = 0
    for (const c of compares) size += messageField(1, c.size)
    for (const o of success) size += messageField(2, o.size)
    for (const o of failure) size += messageField(3, o.size)
    const w = new Writer(size)
    for (const c of compares) writeCompare(w, c)
    for (const o of success) writeOp(w, 2, o)
    for (const o of failure) writeOp(w, 3, o)
    return w.buf
  }

  /** `etcdserverpb.RangeRequest` for keys in [start, end) (or `start` alone), at most `limit` (0: all). */
  const range = (
    start: Uint8Array,
    end: Uint8Array | undefined,
    limit: number,
    revision: number | undefined
  ): Buffer => {
    const size =
      stringField(start.length) +
      (end === undefined ? 0 : stringField(end.length)) +
      (limit === 0 ? 0 : 1 + varintSize(limit)) +
      (revision === undefined ? 0 : 1 + varintSize(revision))
    const w = new Writer(size)
    w.bytes(1, start)
    if (end !== undefined) w.bytes(2, end)
    if (limit !== 0) {
      w.varint(tag(3, Wire.Varint))
      w.varint(limit)
    }
    if (revision !== undefined) {
      w.varint(tag(4, Wire.Varint))
      w.varint(revision)
    }
    return w.buf
  }

  /** `etcdserverpb.LeaseGrantRequest`: the server picks the id. */
  const leaseGrant = (ttlSeconds: number): Buffer => {
    const w = new Writer(1 + varintSize(ttlSeconds))
    w.varint(tag(1, Wire.Varint))
    w.varint(ttlSeconds)
    return w.buf
  }

  /** `LeaseKeepAliveRequest` or `LeaseRevokeRequest`: the lease id alone. */
  const lease = (id: string): Buffer => {
    const n = BigInt.asUintN(64, BigInt(id))
    const w = new Writer(1 + bigVarintSize(n))
    w.varint(tag(1, Wire.Varint))
    w.bigVarint(n)
    return w.buf
  }

  /** `etcdserverpb.WatchRequest` with a `create_request` for keys in [start, end) from `startRevision`. */
  const watchCreate = (start: Uint8Array, end: Uint8Array, startRevision: number): Buffer => {
    const inner = stringField(start.length) + stringField(end.length) + 1 + varintSize(startRevision)
    const w = new Writer(messageField(1, inner))
    w.message(1, inner)
    w.bytes(1, start)
    w.bytes(2, end)
    w.varint(tag(3, Wire.Varint))
    w.varint(startRevision)
    return w.buf
  }

  return { txn, range, leaseGrant, lease, watchCreate }
}

class Reader {
  readonly buf: Buffer
  pos = 0
  constructor(buf: Buffer) {
    this.buf = buf
  }
  more() {
    return this.pos < this.buf.length
  }
  varint(): number {
    let result = 0
    let scale = 1
    for (;;) {
      const b = this.buf[this.pos++]!
      result += (b & 127) * scale
      if (b < 128) return result
      scale *= 128
    }
  }
  /** An int64 as a decimal string (lease ids use all 64 bits). */
  bigVarint(): string {
    let result = 0n
    let shift = 0n
    for (;;) {
      const b = this.buf[this.pos++]!
      result |= BigInt(b & 127) << shift
      if (b < 128) return BigInt.asIntN(64, result).toString()
      shift += 7n
    }
  }
  /** The bounds of a length-delimited field's bytes; the reader moves past them. */
  span(): readonly [number, number] {
    const length = this.varint()
    const start = this.pos
    this.pos += length
    return [start, this.pos]
  }
  skip(wire: number) {
    switch (wire) {
      case Wire.Varint:
        while (this.buf[this.pos++]! >= 128) {}
        return
      case Wire.Fixed64:
        this.pos += 8
        return
      case Wire.Bytes:
        this.span()
        return
      case Wire.Fixed32:
        this.pos += 4
        return
      default:
        throw new Error(`etcd reply: unsupported wire type ${wire}`)
    }
  }
}

/** `mvccpb.KeyValue` with the namespace taken off its key. */
const keyValue = (r: Reader, end: number, nsBytes: number): Store.KeyValue => {
  let key = ""
  let value = ""
  let createRevision = 0
  let modRevision = 0
  let version = 0
  let lease: string | undefined
  while (r.pos < end) {
    const t = r.varint()
    switch (t) {
      case BYTES_1: {
        const [s, e] = r.span()
        key = r.buf.toString("utf8", s + nsBytes, e)
        break
      }
      case VARINT_2:
        createRevision = r.varint()
        break
      case VARINT_3:
        modRevision = r.varint()
        break
      case VARINT_4:
        version = r.varint()
        break
      case BYTES_5: {
        const [s, e] = r.span()
        value = r.buf.toString("utf8", s, e)
        break
      }
      case VARINT_6: {
        const id = r.bigVarint()
        lease = id === "0" ? undefined : id
        break
      }
      default:
        r.skip(t & 7)
    }
  }
  return { key, value, createRevision, modRevision, version, lease }
}

/** `etcdserverpb.ResponseHeader`'s revision. */
const headerRevision = (r: Reader, end: number): number => {
  let revision = 0
  while (r.pos < end) {
    const t = r.varint()
    if (t === VARINT_3) revision = r.varint()
    else r.skip(t & 7)
  }
  return revision
}

/** What a transaction's reply says of one op: the keys a get read, the count a delete removed. */
export interface OpReply {
  readonly kvs: ReadonlyArray<Store.KeyValue>
  readonly deleted: number
}

export interface RangeReply {
  readonly revision: number
  readonly kvs: ReadonlyArray<Store.KeyValue>
  /** More keys are in the range than the limit let through. */
  readonly more: boolean
}

export interface LeaseReply {
  readonly id: string
  /** Seconds; 0 when a keep-alive found no such lease. */
  readonly ttl: number
  /** What a grant that failed says. */
  readonly error: string
}

export interface TxnReply {
  readonly revision: number
  readonly succeeded: boolean
  readonly responses: ReadonlyArray<OpReply>
}

/** `RangeResponse` or `DeleteRangeResponse`: the fields they share a number for are the ones we read. */
const opReply = (r: Reader, end: number, nsBytes: number, kind: number): OpReply => {
  const kvs: Array<Store.KeyValue> = []
  let deleted = 0
  while (r.pos < end) {
    const t = r.varint()
    if (kind === 1 && t === BYTES_2) {
      const [s, e] = r.span()
      r.pos = s
      kvs.push(keyValue(r, e, nsBytes))
    } else if (kind === 3 && t === VARINT_2) deleted = r.varint()
    else r.skip(t & 7)
  }
  return { kvs, deleted }
}

const NO_REPLY: OpReply = { kvs: [], deleted: 0 }

/** Decodes replies of keys under a namespace of `nsBytes` bytes. */
export const decoder = (nsBytes: number) => {
  /** `etcdserverpb.TxnResponse`. */
  const txn = (buf: Buffer): TxnReply => {
    const r = new Reader(buf)
    let revision = 0
    let succeeded = false
    const responses: Array<OpReply> = []
    while (r.more()) {
      const t = r.varint()
      if (t === BYTES_1) {
        const [s, e] = r.span()
        r.pos = s
        revision = headerRevision(r, e)
      } else if (t === VARINT_2) succeeded = r.varint() !== 0
      else if (t === BYTES_3) {
        const [s, e] = r.span()
        r.pos = s
        let reply = NO_REPLY
        while (r.pos < e) {
          const kind = r.varint()
          const [is, ie] = r.span()
          const field = kind >> 3
          if (field === 1 || field === 3) {
            r.pos = is
            reply = opReply(r, ie, nsBytes, field)
          }
          r.pos = ie
        }
        responses.push(reply)
      } else r.skip(t & 7)
    }
    return { revision, succeeded, responses }
  }

  /** `etcdserverpb.RangeResponse`. */
  const range = (buf: Buffer): RangeReply => {
    const r = new Reader(buf)
    let revision = 0
    let more = false
    const kvs: Array<Store.KeyValue> = []
    while (r.more()) {
      const t = r.varint()
      if (t === BYTES_1) {
        const [s, e] = r.span()
        r.pos = s
        revision = headerRevision(r, e)
      } else if (t === BYTES_2) {
        const [s, e] = r.span()
        r.pos = s
        kvs.push(keyValue(r, e, nsBytes))
      } else if (t === VARINT_3) more = r.varint() !== 0
      else r.skip(t & 7)
    }
    return { revision, kvs, more }
  }

  /** `LeaseGrantResponse` or `LeaseKeepAliveResponse`: the lease id and its TTL (0: the lease is gone). */
  const lease = (buf: Buffer): LeaseReply => {
    const r = new Reader(buf)
    let id = "0"
    let ttl = 0
    let error = ""
    while (r.more()) {
      const t = r.varint()
      if (t === VARINT_2) id = r.bigVarint()
      else if (t === VARINT_3) ttl = r.varint()
      else if (t === BYTES_4) {
        const [s, e] = r.span()
        error = buf.toString("utf8", s, e)
      } else r.skip(t & 7)
    }
    return { id, ttl, error }
  }

  /** `etcdserverpb.WatchResponse`. */
  const watch = (buf: Buffer): WatchReply => {
    const r = new Reader(buf)
    let revision = 0
    let created = false
    let canceled = false
    let compactRevision = 0
    let cancelReason = ""
    const events: Array<WatchReplyEvent> = []
    while (r.more()) {
      const t = r.varint()
      switch (t) {
        case BYTES_1: {
          const [s, e] = r.span()
          r.pos = s
          revision = headerRevision(r, e)
          break
        }
        case VARINT_3:
          created = r.varint() !== 0
          break
        case VARINT_4:
          canceled = r.varint() !== 0
          break
        case VARINT_5:
          compactRevision = r.varint()
          break
        case BYTES_6: {
          const [s, e] = r.span()
          cancelReason = buf.toString("utf8", s, e)
          break
        }
        case BYTES_11: {
          const [s, e] = r.span()
          r.pos = s
          let type = 0
          let kv: Store.KeyValue | undefined
          while (r.pos < e) {
            const et = r.varint()
            if (et === VARINT_1) type = r.varint()
            else if (et === BYTES_2) {
              const [ks, ke] = r.span()
              r.pos = ks
              kv = keyValue(r, ke, nsBytes)
            } else r.skip(et & 7)
          }
          if (kv !== undefined) events.push({ type: type === 1 ? "delete" : "put", kv })
          break
        }
        default:
          r.skip(t & 7)
      }
    }
    return { revision, created, canceled, compactRevision, cancelReason, events }
  }

  return { txn, range, lease, watch }
}

export interface WatchReplyEvent {
  readonly type: "put" | "delete"
  /** For a delete, only the key and the mod revision (the deletion's) are set. */
  readonly kv: Store.KeyValue
}

export interface WatchReply {
  readonly revision: number
  readonly created: boolean
  readonly canceled: boolean
  readonly compactRevision: number
  readonly cancelReason: string
  readonly events: ReadonlyArray<WatchReplyEvent>
}
