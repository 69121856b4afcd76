/**
 * Which ready tasks a runner tries first. Every runner sees the same ready tasks at the same
 * moment; if all claimed them in the same order, each batch would meet another runner's and
 * fail whole. Each live runner therefore prefers its own share of the tasks of a type (a hash
 * split by its rank among the live runners serving that type) and takes from the others'
 * shares only when it has nothing of its own. A preference only: any runner may claim any
 * task, and the claim is a compare-and-swap, so a runner that is slow, gone or unaware of the
 * split costs a retry at most.
 */

export interface TaskShare {
  /** Whether some other live runner may be claiming the same tasks. */
  readonly shared: () => boolean
  /** Changes whenever the split does (a runner came, left or re-registered): as of the last `shared()`. */
  readonly version: () => number
  /** Whether `key` (job/phase/task) of type `type` is in this runner's share. */
  readonly mine: (key: string, type: string) => boolean
}

/** FNV-1a: cheap, and the same on every runner. */
const hash = (s: string) => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** `runners`: live runners and the task types each serves (a new set whenever one re-registers). */
export const make = (runnerId: string, runners: () => ReadonlyMap<string, ReadonlySet<string>>): TaskShare => {
  let seen = new Map<string, ReadonlySet<string>>()
  let version = 0
  const byType = new Map<string, { readonly rank: number; readonly size: number }>()
  const refresh = () => {
    const live = runners()
    let same = live.size === seen.size
    if (same) for (const [id, types] of live) if (seen.get(id) !== types) same = false
    if (same) return
    seen = new Map(live)
    byType.clear()
    version++
  }
  const splitOf = (type: string) => {
    let split = byType.get(type)
    if (split === undefined) {
      const serving = [...seen].filter(([, types]) => types.has(type)).map(([id]) => id)
      serving.sort()
      const at = serving.indexOf(runnerId)
      split = at === -1 ? { rank: 0, size: 1 } : { rank: at, size: serving.length }
      byType.set(type, split)
    }
    return split
  }
  return {
    shared: () => {
      refresh()
      return seen.size > 1
    },
    version: () => version,
    mine: (key, type) => {
      const { rank, size } = splitOf(type)
      return size === 1 || hash(key) % size === rank
    }
  }
}
