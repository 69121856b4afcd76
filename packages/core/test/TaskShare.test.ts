/**
 * The split of ready tasks between runners: every task is in exactly one live runner's share of
 * its type, shares follow the fleet as it changes, and a runner alone (or unregistered) has all.
 */
import { assert, describe, it } from "@effect/vitest"
import * as TaskShare from "../src/internal/taskShare.ts"

const keys = Array.from({ length: 3000 }, (_, i) => `job/run/t${i}`)

describe("task share", () => {
  it("every task is in exactly one serving runner's share, and the shares are about even", () => {
    const fleet = new Map([
      ["r1", new Set(["a", "b"])],
      ["r2", new Set(["a"])],
      ["r3", new Set(["a", "b"])]
    ])
    const shares = ["r1", "r2", "r3"].map((id) => TaskShare.make(id, () => fleet))
    for (const s of shares) assert.isTrue(s.shared())
    const counts = [0, 0, 0]
    for (const key of keys) {
      const owners = shares.map((s, i) => (s.mine(key, "a") ? i : -1)).filter((i) => i >= 0)
      assert.strictEqual(owners.length, 1, key)
      counts[owners[0]!]!++
    }
    for (const c of counts) assert.isAbove(c, 800)
    // type b: r2 does not serve it, so r1 and r3 split it
    for (const key of keys) {
      assert.strictEqual(Number(shares[0]!.mine(key, "b")) + Number(shares[2]!.mine(key, "b")), 1, key)
    }
  })

  it("follows the fleet: a runner that leaves hands its share to the others", () => {
    const fleet = new Map([
      ["r1", new Set(["a"])],
      ["r2", new Set(["a"])]
    ])
    const r1 = TaskShare.make("r1", () => fleet)
    assert.isTrue(r1.shared())
    assert.isFalse(keys.every((k) => r1.mine(k, "a")))
    const before = r1.version()
    fleet.delete("r2")
    assert.isFalse(r1.shared())
    // what was sorted by the old split is sorted again
    assert.notStrictEqual(r1.version(), before)
    const after = r1.version()
    r1.shared()
    assert.strictEqual(r1.version(), after, "an unchanged fleet keeps its split")
    assert.isTrue(keys.every((k) => r1.mine(k, "a")))
    // a re-registration with other types is a new set: the split is taken again
    fleet.set("r2", new Set(["a"]))
    fleet.set("r1", new Set(["b"]))
    assert.isTrue(r1.shared())
    assert.isTrue(keys.every((k) => r1.mine(k, "b")))
  })

  it("a runner whose registration the view has not seen yet takes everything", () => {
    const fleet = new Map([["r2", new Set(["a"])]])
    const r1 = TaskShare.make("r1", () => fleet)
    r1.shared()
    assert.isTrue(keys.every((k) => r1.mine(k, "a")))
  })
})
