/**
 * How the runner process sizes V8's heap. Between two full collections V8 lets the old generation
 * grow by a factor of what survived the last one, up to four times when collecting is cheap, as it
 * is for a runner (measured: 120-190 MB live, 630 MB heap, 830 MB RSS on a 100,000-task job).
 * Growing by 30% kept that job's peak RSS at 429 MB, against 467-486 MB at 50% on a busy machine.
 * But 30% of a small heap is a few megabytes: with the 40 MB a runner holds at rest, it collected
 * in full every 10-15 MB of growth, about twice in each 1,000-task job.
 *
 * So the old generation grows by 30% of what survived, but to at least `FLOOR_MB` (set again after
 * every full collection, since V8 reads the factor at each one; it applies at the next, from the
 * size the last one left, a lag that matters only below the floor): a runner at rest collects in full
 * only once 128 MB are in use, and a large job's heap, which is past that, grows as before. (A full
 * collection forced once the warm-up is done made the first pickups slower: 3.1-3.3 ms against
 * 2.6-2.8 ms at the median, the compiled code apparently thrown away with the garbage.)
 *
 * Node only (the flags and the `gc` events); elsewhere, and when the operator sets V8 heap flags
 * of their own, nothing here changes the heap.
 *
 * @since 0.4.0
 */
import { constants, PerformanceObserver } from "node:perf_hooks"
import { getHeapStatistics, setFlagsFromString } from "node:v8"

export const GROWING_PERCENT = 30
export const FLOOR_MB = 128

/** The growth V8 may allow after a full collection left `liveMb` live: a share, up to a floor. */
export const growingPercent = (liveMb: number): number =>
  Math.max(GROWING_PERCENT, Math.round((FLOOR_MB / Math.max(1, liveMb) - 1) * 100))

const OPERATOR_FLAGS = [
  "--heap-growing-percent",
  "--max-old-space-size",
  "--initial-old-space-size",
  "--initial-heap-size"
]

/** What Node's `gc` performance entries carry (its types leave `detail` out). */
interface GcEntry {
  readonly detail?: { readonly kind?: number }
}

let managed = false

const setGrowth = () => {
  const liveMb = getHeapStatistics().used_heap_size / (1024 * 1024)
  setFlagsFromString(`--heap-growing-percent=${growingPercent(liveMb)}`)
}

/**
 * Takes the heap's growth in hand, unless `flags` (the process's own) size the heap already;
 * whether the heap is now managed here.
 */
export const install = (flags: ReadonlyArray<string>): boolean => {
  if (managed) return true
  if (flags.some((f) => OPERATOR_FLAGS.some((o) => f.startsWith(o)))) return false
  try {
    // (until the first full collection, at about 30 MB while the runner starts, V8's own growth)
    const observer = new PerformanceObserver((list) => {
      if (
        list.getEntries().some((e) => (e as unknown as GcEntry).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)
      ) {
        setGrowth()
      }
    })
    observer.observe({ entryTypes: ["gc"] })
    managed = true
  } catch {
    // a runtime without V8 flags or gc events: its own heap policy stands
  }
  return managed
}
