import { describe, expect, it } from "vitest"
import { type CpuProfile, summarize } from "../bench/profile.ts"

const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 9, columnNumber: 0 })

// root ─ program
//      ├ idle
//      ├ gc
//      └ engine ─ etcd3 ─ http2
//               └ effect
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame("(root)", ""), children: [2, 3, 4, 5] },
    { id: 2, callFrame: frame("(program)", "") },
    { id: 3, callFrame: frame("(idle)", "") },
    { id: 4, callFrame: frame("(garbage collector)", "") },
    { id: 5, callFrame: frame("claim", "file:///repo/packages/core/src/Engine.ts"), children: [6, 8] },
    {
      id: 6,
      callFrame: frame("txn", "file:///repo/node_modules/.pnpm/etcd3@1.1.2/node_modules/etcd3/lib/index.js"),
      children: [7]
    },
    { id: 7, callFrame: frame("request", "node:internal/http2/core") },
    {
      id: 8,
      callFrame: frame(
        "runLoop",
        "file:///repo/node_modules/.pnpm/effect@4.1.0/node_modules/effect/dist/internal/effect.js"
      )
    }
  ],
  startTime: 1_000_000,
  endTime: 1_010_000,
  // one sample per millisecond: 7 inside the window [1_001_000, 1_007_000], one before, one after
  samples: [5, 6, 7, 7, 3, 4, 8, 2, 6, 5],
  timeDeltas: [0, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000]
}

describe("bench profile summary", () => {
  it("groups self time by module within the window, idle left out", () => {
    const s = summarize(profile, { from: 1_001_000, to: 1_007_000 })
    expect(Object.fromEntries(s.byModule)).toEqual({
      "etcd3/grpc": 1,
      "node internals": 2,
      GC: 1,
      "effect: runtime": 1,
      "(program)": 1
    })
    expect(s.busyMs).toBe(6)
    expect(s.windowMs).toBe(6)
  })

  it("counts our functions inclusively, callees in etcd3, node and effect included", () => {
    const s = summarize(profile)
    expect(s.oursInclusive).toEqual([{ key: "core/Engine.ts  claim  (core/Engine.ts:10)", ms: 7 }])
    expect(s.busyMs).toBe(9)
  })
})
