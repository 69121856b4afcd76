/**
 * The memory store's "commit, then lose the reply" fault: the operation takes
 * effect, the caller gets the error a connection reset would give it.
 */
import { assert, describe, it } from "@effect/vitest"
import { Store } from "@migrator/core"
import { Duration, Effect, Exit, Option, Stream } from "effect"
import { TestClock } from "effect/testing"

const put = (key: string, value: string, lease?: Store.LeaseId): Store.TxnRequest => ({
  compare: [],
  success: [{ _tag: "put", key, value, lease }]
})

const failsUnavailable = <A, E extends { readonly reason?: { readonly _tag: string } }>(exit: Exit.Exit<A, E>) => {
  assert.isTrue(Exit.isFailure(exit), "the caller sees a failure")
  const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
  assert.strictEqual(error?._tag === "Fail" ? error.error.reason?._tag : undefined, "Unavailable")
}

describe("memory store: lost replies", () => {
  it.effect("a txn whose reply is lost has committed", () =>
    Effect.gen(function* () {
      const { store, control } = yield* Store.makeMemory
      yield* control.loseRepliesNext(1)
      failsUnavailable(yield* Effect.exit(store.txn(put("k", "v"))))
      assert.strictEqual(Option.getOrThrow(yield* store.get("k")).value, "v")
      assert.deepStrictEqual(yield* control.lostReplies, { txn: 1 })
      // the budget is spent: the next txn answers
      assert.isTrue((yield* store.txn(put("k", "w"))).succeeded)
    }).pipe(Effect.scoped)
  )

  it.effect("only the named operations lose their replies", () =>
    Effect.gen(function* () {
      const { store, control } = yield* Store.makeMemory
      yield* control.loseRepliesNext(2, ["txn"])
      yield* store.txn(put("a", "1")).pipe(Effect.ignore)
      assert.strictEqual(Option.getOrThrow(yield* store.get("a")).value, "1")
      yield* store.range("")
      yield* store.txn(put("b", "2")).pipe(Effect.ignore)
      assert.deepStrictEqual(yield* control.lostReplies, { txn: 2 })
      assert.deepStrictEqual(
        (yield* control.peek("")).map((kv) => kv.key),
        ["a", "b"]
      )
    }).pipe(Effect.scoped)
  )

  it.effect("lease grant, keep-alive and revoke take effect without an answer", () =>
    Effect.gen(function* () {
      const { store, control } = yield* Store.makeMemory
      yield* control.loseRepliesNext(1, ["grantLease"])
      failsUnavailable(yield* Effect.exit(store.grantLease(Duration.seconds(2))))
      const next = yield* store.grantLease(Duration.seconds(2))
      // ids are sequential in memory: the lost grant made the one before
      const orphan = String(Number(next) - 1)
      assert.isTrue(yield* control.leaseExists(orphan))
      yield* TestClock.adjust("1500 millis")
      yield* control.loseRepliesNext(1, ["keepAlive"])
      failsUnavailable(yield* Effect.exit(store.keepAliveOnce(next)))
      yield* TestClock.adjust("1500 millis")
      // the lost keep-alive still renewed `next`; the orphan, never kept alive, expired
      assert.isTrue(yield* control.leaseExists(next))
      assert.isFalse(yield* control.leaseExists(orphan))
      yield* store.txn(put("held", "x", next))
      yield* control.loseRepliesNext(1, ["revokeLease"])
      failsUnavailable(yield* Effect.exit(store.revokeLease(next)))
      assert.isFalse(yield* control.leaseExists(next))
      assert.isTrue(Option.isNone(yield* store.get("held")))
      const again = yield* Effect.exit(store.revokeLease(next))
      assert.isTrue(Exit.isFailure(again), "a retried revoke finds no lease")
    }).pipe(Effect.scoped)
  )

  it.effect("a watch whose reply is lost delivers what it had, then breaks", () =>
    Effect.gen(function* () {
      const { store, control } = yield* Store.makeMemory
      const first = yield* store.txn(put("w/a", "1"))
      yield* store.txn(put("w/b", "2"))
      yield* control.loseRepliesNext(1, ["watch"])
      const seen: Array<string> = []
      const exit = yield* store.watch("w/", { fromRevision: first.revision }).pipe(
        Stream.runForEach((e) => Effect.sync(() => seen.push(e._tag === "put" ? e.kv.key : e.key))),
        Effect.exit
      )
      assert.deepStrictEqual(seen, ["w/a", "w/b"])
      failsUnavailable(exit)
    }).pipe(Effect.scoped)
  )
})
