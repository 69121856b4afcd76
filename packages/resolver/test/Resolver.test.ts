import { assert, describe, it } from "@effect/vitest"
import { Reference, Resolver } from "@migrator/resolver"
import { Effect, Result } from "effect"
import fc from "fast-check"

const reason = (input: unknown, outputs: Resolver.Outputs, options?: Resolver.Options) => {
  const r = Resolver.resolveResult(input, outputs, options)
  if (Result.isSuccess(r)) throw new Error(`expected a failure, got ${JSON.stringify(r.success)}`)
  return r.failure.reason
}

describe("Reference", () => {
  it("builds references with escaped tokens and a percent-encoded fragment", () => {
    assert.deepStrictEqual(Reference.ref("net-1", "/id"), { $ref: "net-1#/id" })
    assert.deepStrictEqual(Reference.ref("t", ""), { $ref: "t#" })
    assert.deepStrictEqual(Reference.ref("t", ["a/b", "m~n"]), { $ref: "t#/a~1b/m~0n" })
    assert.deepStrictEqual(Reference.ref("t", ["a b", 'x"y', "ü", "p%q"]), { $ref: "t#/a%20b/x%22y/%C3%BC/p%25q" })
    assert.deepStrictEqual(Reference.ref("task #1", "/x"), { $ref: "task%20%231#/x" })
    assert.throws(() => Reference.ref("t", "no-slash"))
  })

  it("parses what it builds and rejects malformed references", () => {
    assert.deepStrictEqual(Reference.parse("t#/a~1b/m~0n/%C3%BC"), { taskId: "t", tokens: ["a/b", "m~n", "ü"] })
    assert.deepStrictEqual(Reference.parse("t#"), { taskId: "t", tokens: [] })
    assert.deepStrictEqual(Reference.parse("t#/"), { taskId: "t", tokens: [""] })
    for (const bad of ["no-hash", "#/x", "t#x", "t#/%E0%A4%A", "t#/a~2b"]) {
      assert.isString(Reference.parse(bad), bad)
    }
  })
})

describe("Resolver.resolve", () => {
  const outputs = {
    tenant: { tenant: { id: "t-42", name: "acme", tags: ["a", "b"] }, "a/b": 1, "m~n": 2, "": "empty key" },
    network: { id: "n-1", tenantId: { $ref: "tenant#/tenant/id" }, subnets: [{ id: "s-1" }, { id: "s-2" }] }
  }

  it.effect("replaces references at any depth with fresh, plain values", () =>
    Effect.gen(function* () {
      const input = {
        name: "vm",
        tenant: { $ref: "tenant#/tenant" },
        nested: [{ deep: { $ref: "network#/subnets/1/id" } }, { $ref: "tenant#/tenant/tags/0" }],
        whole: { $ref: "network#" },
        escaped: [{ $ref: "tenant#/a~1b" }, { $ref: "tenant#/m~0n" }, { $ref: "tenant#/" }]
      }
      const before = JSON.stringify({ input, outputs })
      const resolved = yield* Resolver.resolve(input, outputs)
      assert.deepStrictEqual(resolved, {
        name: "vm",
        tenant: { id: "t-42", name: "acme", tags: ["a", "b"] },
        nested: [{ deep: "s-2" }, "a"],
        whole: { id: "n-1", tenantId: "t-42", subnets: [{ id: "s-1" }, { id: "s-2" }] },
        escaped: [1, 2, "empty key"]
      })
      // nothing lazy, nothing mutated, nothing shared with the outputs
      assert.strictEqual(JSON.stringify(resolved), JSON.stringify(structuredClone(resolved)))
      assert.strictEqual(JSON.stringify({ input, outputs }), before)
      assert.notStrictEqual((resolved as { tenant: unknown }).tenant, outputs.tenant.tenant)
    })
  )

  it.effect("follows a reference met on the way of a pointer", () =>
    Effect.gen(function* () {
      const resolved = yield* Resolver.resolve(
        { $ref: "b#/link/name" },
        new Map<string, unknown>([
          ["a", { tenant: { name: "acme" } }],
          ["b", { link: { $ref: "a#/tenant" } }]
        ])
      )
      assert.strictEqual(resolved, "acme")
    })
  )

  it("names the unknown task", () => {
    const r = reason({ x: { $ref: "ghost#/id" } }, outputs)
    assert.strictEqual(r._tag, "UnknownTask")
    if (r._tag === "UnknownTask") {
      assert.strictEqual(r.taskId, "ghost")
      assert.strictEqual(r.location, "/x")
    }
  })

  it("names the task, the pointer and the deepest token that exists", () => {
    const r = reason({ a: [{ $ref: "tenant#/tenant/missing/deeper" }] }, outputs)
    assert.strictEqual(r._tag, "PointerNotFound")
    if (r._tag === "PointerNotFound") {
      assert.strictEqual(r.taskId, "tenant")
      assert.strictEqual(r.pointer, "/tenant/missing/deeper")
      assert.strictEqual(r.deepestExisting, "/tenant")
      assert.strictEqual(r.location, "/a/0")
    }
    assert.strictEqual(reason({ $ref: "tenant#/tenant/tags/2" }, outputs)._tag, "PointerNotFound")
    assert.strictEqual(reason({ $ref: "tenant#/tenant/tags/01" }, outputs)._tag, "PointerNotFound")
    assert.strictEqual(reason({ $ref: "tenant#/tenant/id/0" }, outputs)._tag, "PointerNotFound")
  })

  it("rejects malformed references", () => {
    for (const input of [
      { $ref: 42 },
      { $ref: "no-hash" },
      { $ref: "t#x" },
      { $ref: "tenant#/tenant", other: 1 },
      { $ref: "tenant#/%ZZ" }
    ]) {
      assert.strictEqual(reason({ field: input }, outputs)._tag, "MalformedReference", JSON.stringify(input))
    }
  })

  it("reports reference cycles across outputs instead of overflowing the stack", () => {
    const r = reason({ $ref: "a#/x" }, { a: { x: { $ref: "b#/y" } }, b: { y: { $ref: "a#/x" } } })
    assert.strictEqual(r._tag, "ReferenceCycle")
    if (r._tag === "ReferenceCycle") assert.deepStrictEqual(r.chain, ["a#/x", "b#/y", "a#/x"])
    assert.strictEqual(reason({ $ref: "a#" }, { a: { self: { $ref: "a#" } } })._tag, "ReferenceCycle")
  })

  it("stops hostile inputs at the depth and size limits", () => {
    let deep: unknown = "leaf"
    for (let i = 0; i < 100_000; i++) deep = [deep]
    const r = reason(deep, {})
    assert.strictEqual(r._tag, "LimitExceeded")
    const wide = { $ref: "a#" }
    const big = { a: Array.from({ length: 1000 }, () => Array.from({ length: 100 }, (_, i) => i)) }
    const nodes = reason([wide, wide], big, { maxNodes: 50_000 })
    assert.strictEqual(nodes._tag, "LimitExceeded")
    // a long chain of references beyond the depth limit
    const chain: Record<string, unknown> = { t0: { v: 1 } }
    for (let i = 1; i < 400; i++) chain[`t${i}`] = { v: { $ref: `t${i - 1}#/v` } }
    assert.strictEqual(reason({ $ref: "t399#/v" }, chain)._tag, "LimitExceeded")
  })

  it("resolves a chain of 1,000 tasks with a raised depth limit", () => {
    const chain: Record<string, unknown> = { t0: { v: "root" } }
    for (let i = 1; i < 1000; i++) chain[`t${i}`] = { v: { $ref: `t${i - 1}#/v` } }
    const r = Resolver.resolveResult({ $ref: "t999#/v" }, chain, { maxDepth: 2000 })
    assert.deepStrictEqual(r, Result.succeed("root"))
  })

  it("lists the tasks an input refers to, for job building", () => {
    const r = Resolver.referencedTaskIds({ a: { $ref: "x#/a" }, b: [{ $ref: "y#" }, { $ref: "x#/b" }], c: "plain" })
    assert.deepStrictEqual(r, Result.succeed(["x", "y"]))
    const sites = Resolver.references({ b: [{ $ref: "y#/p~1q" }] })
    assert.deepStrictEqual(sites, Result.succeed([{ taskId: "y", pointer: "/p~1q", location: "/b/0" }]))
    assert.isTrue(Result.isFailure(Resolver.referencedTaskIds({ $ref: 1 })))
  })
})

// ---- properties ---------------------------------------------------------------

const key = fc.oneof(
  fc.constantFrom("", "/", "~", "%", " ", '"', "a/b", "m~n", "~1", "~0", "%20", "ü", "日本", "#", "?", "a b", 'x"y'),
  fc.string({ unit: "grapheme", maxLength: 6 })
)
const json = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.string({ maxLength: 5 }),
    fc.array(tie("node"), { maxLength: 4 }),
    fc.dictionary(key, tie("node"), { maxKeys: 4 }).filter((d) => !Object.hasOwn(d, "$ref"))
  )
})).node

/** Every path of a document, with the node it leads to. */
const paths = (doc: unknown, prefix: Array<string> = []): Array<[Array<string>, unknown]> => {
  const out: Array<[Array<string>, unknown]> = [[prefix, doc]]
  if (Array.isArray(doc)) {
    for (let i = 0; i < doc.length; i++) out.push(...paths(doc[i], [...prefix, String(i)]))
  } else if (typeof doc === "object" && doc !== null) {
    for (const [k, v] of Object.entries(doc)) out.push(...paths(v, [...prefix, k]))
  }
  return out
}

describe("properties", () => {
  it("a reference to any node of any document resolves to exactly that node", () => {
    fc.assert(
      fc.property(json, fc.string({ minLength: 1, maxLength: 8 }), fc.nat(), (doc, taskId, pick) => {
        const all = paths(doc)
        const [tokens, node] = all[pick % all.length]!
        const reference = Reference.ref(taskId, tokens)
        const parsed = Reference.parse(reference.$ref)
        assert.deepStrictEqual(parsed, { taskId, tokens })
        const r = Resolver.resolveResult({ wrapped: [reference] }, new Map([[taskId, doc]]))
        assert.deepStrictEqual(r, Result.succeed({ wrapped: [node] } as Resolver.Json))
      }),
      { numRuns: 500 }
    )
  })

  it("inputs without references resolve to an equal, separate copy", () => {
    fc.assert(
      fc.property(json, (doc) => {
        const r = Resolver.resolveResult(doc, {})
        assert.deepStrictEqual(r, Result.succeed(doc as Resolver.Json))
      }),
      { numRuns: 300 }
    )
  })
})
