/**
 * The benchmark's view of etcd, through the plain `etcd3` client and etcd's own `/metrics`: the raw
 * floor every figure is compared with, revisions, watches that time events as they arrive, and the
 * server's counters. Nothing here goes through the project's Store or Effect layers, so the floor
 * and the observations carry none of their cost.
 */
import { Etcd3, type IKeyValue, type Watcher } from "etcd3"
import { monotonicUs, now, percentile, sleep } from "./common.ts"

export const connect = (endpoint: string) => new Etcd3({ hosts: endpoint })

export interface Floor {
  /** One compare-and-put txn at a time: the latency every hand-off in the engine pays at least once. */
  readonly sequentialTxnMsP50: number
  /** Compare-and-put txns with 64 in flight: the most writes a runner could hope to make. */
  readonly txnPerSecond: number
}

/** Compare-and-put on a fresh key, as the engine's claims and results are. */
const casPut = (client: Etcd3, key: string) =>
  client.if(key, "Create", "==", 0).then(client.put(key).value("x")).commit()

export const measureFloor = async (
  client: Etcd3,
  prefix: string,
  options: { readonly sequential: number; readonly parallel: number; readonly inFlight: number }
): Promise<Floor> => {
  for (let i = 0; i < 100; i++) await casPut(client, `${prefix}warm/${i}`)
  const latencies: Array<number> = []
  for (let i = 0; i < options.sequential; i++) {
    const start = now()
    await casPut(client, `${prefix}seq/${i}`)
    latencies.push(now() - start)
  }
  let next = 0
  const start = now()
  const worker = async () => {
    while (next < options.parallel) await casPut(client, `${prefix}par/${next++}`)
  }
  await Promise.all(Array.from({ length: options.inFlight }, worker))
  const seconds = (now() - start) / 1000
  await client.delete().prefix(prefix).exec()
  return { sequentialTxnMsP50: percentile(latencies, 50), txnPerSecond: options.parallel / seconds }
}

/**
 * Pickup by a reactor that costs nothing: after `gapMs` of quiet, one compare-and-put (the
 * submission), and on its watch event at once another (the claim), the time between the two
 * events as this watcher receives them. An idle etcd answers its first transactions two to three
 * times slower than the back-to-back ones of the sequential floor; this is the floor of a pickup
 * measured as the pickup case measures it (same gap, same watch), so what a runner adds to it is
 * its own cost.
 */
export const measurePickupFloor = async (client: Etcd3, prefix: string, count: number, gapMs: number) => {
  const samples: Array<number> = []
  let submitted: (at: number) => void = () => undefined
  let claimed: (at: number) => void = () => undefined
  const watcher = await watchPuts(client, prefix, (await revision(client)) + 1, (kv, at) => {
    const key = kv.key.toString()
    if (key.endsWith("/spec")) {
      submitted(at.at)
      void casPut(client, `${key.slice(0, -"/spec".length)}/claim`)
    } else claimed(at.at)
  })
  try {
    for (let i = 0; i < count; i++) {
      await sleep(gapMs)
      const seen = new Promise<number>((resolve) => {
        submitted = resolve
      })
      const done = new Promise<number>((resolve) => {
        claimed = resolve
      })
      await casPut(client, `${prefix}${i}/spec`)
      const [from, to] = await Promise.all([seen, done])
      samples.push(to - from)
    }
  } finally {
    await watcher.cancel()
    await client.delete().prefix(prefix).exec()
  }
  return percentile(samples, 50)
}

/** The store's current revision (a range request: not inside windows that count them). */
export const revision = async (client: Etcd3) => Number((await client.get("\0").exec()).header.revision)

/** When the bench's watcher received an event, and the revision it carried. */
export interface Arrival {
  readonly at: number
  readonly us: number
  readonly revision: number
}

export const arrival = (kv: IKeyValue): Arrival => ({ at: now(), us: monotonicUs(), revision: Number(kv.mod_revision) })

/** Watches a prefix from a revision, calling `onPut` for every put as it arrives. */
export const watchPuts = async (
  client: Etcd3,
  prefix: string,
  fromRevision: number,
  onPut: (kv: IKeyValue, at: Arrival) => void
): Promise<Watcher> => {
  const watcher = await client.watch().prefix(prefix).startRevision(String(fromRevision)).create()
  watcher.on("put", (kv) => onPut(kv, arrival(kv)))
  watcher.on("error", () => {
    // etcd3 reconnects its watchers itself; a case that misses its event fails by its deadline
  })
  return watcher
}

/** etcd's counters that the cases compare (from `/metrics`, so reading them is no range request). */
export interface Counters {
  /** Range RPCs (`grpc_server_handled_total{grpc_method="Range"}`). */
  readonly rangeRequests: number
  /** Ranges inside the MVCC store, txn reads included (`etcd_mvcc_range_total`). */
  readonly mvccRanges: number
  readonly txnRequests: number
  readonly cpuSeconds: number
  readonly dbBytes: number
  readonly dbBytesInUse: number
  readonly keys: number
}

export const counters = async (endpoint: string): Promise<Counters> => {
  const text = await (await fetch(`${endpoint}/metrics`)).text()
  const sum = (name: string, label?: string) => {
    let total = 0
    for (const line of text.split("\n")) {
      if (!line.startsWith(name) || (line[name.length] !== " " && line[name.length] !== "{")) continue
      if (label !== undefined && !line.includes(label)) continue
      total += Number(line.slice(line.lastIndexOf(" ") + 1))
    }
    return total
  }
  return {
    rangeRequests: sum("grpc_server_handled_total", 'grpc_method="Range"'),
    mvccRanges: sum("etcd_mvcc_range_total"),
    txnRequests: sum("grpc_server_handled_total", 'grpc_method="Txn"'),
    cpuSeconds: sum("process_cpu_seconds_total"),
    dbBytes: sum("etcd_mvcc_db_total_size_in_bytes"),
    dbBytesInUse: sum("etcd_mvcc_db_total_size_in_use_in_bytes"),
    keys: sum("etcd_debugging_mvcc_keys_total")
  }
}

/** The first key after every key that starts with `prefix` (etcd's range end for a prefix). */
const prefixEnd = (prefix: string) => {
  const end = Buffer.from(prefix)
  end[end.length - 1] = end[end.length - 1]! + 1
  return end
}

/** Keys and bytes (key + value) under a prefix, read in pages so a 100,000-task job fits in memory. */
export const footprint = async (client: Etcd3, prefix: string) => {
  let keys = 0
  let bytes = 0
  let from = Buffer.from(prefix)
  const end = prefixEnd(prefix)
  for (;;) {
    const page = await client.kv.range({ key: from, range_end: end, limit: "5000" })
    for (const kv of page.kvs) {
      keys++
      bytes += kv.key.length + kv.value.length
    }
    if (!page.more || page.kvs.length === 0) break
    from = Buffer.concat([page.kvs[page.kvs.length - 1]!.key, Buffer.from([0])])
  }
  return { keys, bytes }
}
