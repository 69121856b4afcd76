/**
 * The store against etcd with TLS (client certificates required) and with
 * password authentication (root and a role-limited user): the right CA and
 * credentials work; a wrong CA, a missing client certificate, a wrong
 * password or an unknown user fail fast with a typed StoreError; no
 * credential (password, private key) ever appears in an error.
 *
 * Certificates are generated per run with `createTestCertificates` (the openssl CLI).
 */
import { execFileSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { assert, describe, it } from "@effect/vitest"
import type { Store, StoreError } from "@migrator/core"
import { EtcdStore } from "@migrator/etcd-store"
import { createTestCertificates, type EtcdServer, startEtcd, type TestCertificates } from "@migrator/etcd-store/testing"
import { Cause, Effect, Exit, Fiber, Option, Schedule, type Scope, Stream } from "effect"
import { afterAll, beforeAll } from "vitest"

const ROOT_PASSWORD = "r00t-Secret-9f3a1c"
const APP_PASSWORD = "app-Secret-5e7d20"
const WRONG_PASSWORD = "wrong-Secret-0b4c66"

const dir = mkdtempSync(join(tmpdir(), "migrator-security-"))
const pem = (path: string) => readFileSync(path, "utf8")

let certs: TestCertificates
let other: TestCertificates
let tlsEtcd: EtcdServer
let authEtcd: EtcdServer

const etcdctl = (endpoint: string, ...args: Array<string>) =>
  execFileSync("etcdctl", [`--endpoints=${endpoint}`, "--dial-timeout=5s", ...args], {
    stdio: "pipe",
    env: { PATH: process.env.PATH ?? "", ETCDCTL_API: "3" }
  }).toString()

beforeAll(async () => {
  certs = createTestCertificates(dir, "ca")
  // another CA: its client certificate is one the server does not trust
  other = createTestCertificates(dir, "other-ca")
  tlsEtcd = await startEtcd("tls", {
    tls: {
      ca: certs.ca,
      cert: certs.serverCert,
      key: certs.serverKey,
      clientCertAuth: true,
      probe: { cert: certs.clientCert, key: certs.clientKey }
    }
  })
  authEtcd = await startEtcd("auth")
  const e = authEtcd.endpoint
  etcdctl(e, "user", "add", `root:${ROOT_PASSWORD}`)
  etcdctl(e, "user", "grant-role", "root", "root")
  etcdctl(e, "role", "add", "app-rw")
  etcdctl(e, "role", "grant-permission", "app-rw", "--prefix=true", "readwrite", "app/")
  etcdctl(e, "user", "add", `app:${APP_PASSWORD}`)
  etcdctl(e, "user", "grant-role", "app", "app-rw")
  etcdctl(e, "auth", "enable")
}, 60_000)

afterAll(async () => {
  await tlsEtcd?.destroy()
  await authEtcd?.destroy()
  rmSync(dir, { recursive: true, force: true })
})

const secrets = () =>
  [
    ROOT_PASSWORD,
    APP_PASSWORD,
    WRONG_PASSWORD,
    ...[certs.clientKey, other.clientKey, certs.ca.replace(/\.pem$/, ".key"), other.ca.replace(/\.pem$/, ".key")].map(
      (k) =>
        pem(k)
          .split("\n")
          .filter((l) => l.length > 20 && !l.startsWith("-----"))
          .slice(0, 3)
    )
  ].flat()

/** Every rendering of a failure a caller could log. */
const renderings = (cause: Cause.Cause<unknown>) => {
  const error = Cause.squash(cause)
  return [
    Cause.pretty(cause),
    String(error),
    (error as { message?: string }).message ?? "",
    JSON.stringify(error),
    (error as { stack?: string }).stack ?? ""
  ]
}

const assertNoSecret = (cause: Cause.Cause<unknown>) => {
  for (const text of renderings(cause)) for (const s of secrets()) assert.notInclude(text, s)
}

/** Runs a put then a get; returns the exit and how long it took. */
const roundTrip = (store: Store.Store["Service"], key: string) =>
  Effect.gen(function* () {
    yield* store.txn({ compare: [], success: [{ _tag: "put", key, value: "v" }] })
    return yield* store.get(key)
  })

const attempt = <A>(effect: Effect.Effect<A, StoreError.StoreError, Scope.Scope>) =>
  Effect.gen(function* () {
    const began = Date.now()
    const exit = yield* Effect.exit(Effect.scoped(effect))
    return { exit, ms: Date.now() - began }
  })

const expectStoreError = <A>(exit: Exit.Exit<A, StoreError.StoreError>) => {
  assert.isTrue(Exit.isFailure(exit), "expected a failure")
  if (!Exit.isFailure(exit)) throw new Error("unreachable")
  const error = Cause.findErrorOption(exit.cause)
  assert.isTrue(Option.isSome(error), `a typed failure, not a defect: ${Cause.pretty(exit.cause)}`)
  const e = Option.getOrThrow(error)
  assert.strictEqual(e._tag, "StoreError")
  assertNoSecret(exit.cause)
  return e
}

// TLS clients name the server by host: Deno's TLS refuses an IP address as the server name
const tlsEndpoint = () => tlsEtcd.endpoint.replace("127.0.0.1", "localhost")

describe("etcd with TLS and authentication", () => {
  it.live("TLS with the right CA and a client certificate: the store works", () =>
    Effect.gen(function* () {
      const store = yield* EtcdStore.make({
        endpoints: [tlsEndpoint()],
        tls: { ca: pem(certs.ca), cert: pem(certs.clientCert), key: pem(certs.clientKey) }
      })
      const got = yield* roundTrip(store, "tls/k")
      assert.strictEqual(Option.getOrThrow(got).value, "v")
    }).pipe(Effect.scoped)
  )

  it.live("a wrong CA fails fast with a typed error naming the certificate problem", () =>
    Effect.gen(function* () {
      const { exit, ms } = yield* attempt(
        Effect.flatMap(
          EtcdStore.make({
            endpoints: [tlsEndpoint()],
            requestTimeout: "3 seconds",
            tls: { ca: pem(other.ca), cert: pem(certs.clientCert), key: pem(certs.clientKey) }
          }),
          (store) => roundTrip(store, "tls/wrong-ca")
        )
      )
      const e = expectStoreError(exit)
      assert.isBelow(ms, 15_000, "no hang")
      assert.match(e.message, /certificate|self.signed|verify|handshake/i, e.message)
    })
  )

  it.live("a missing or untrusted client certificate is refused with a typed error", () =>
    Effect.gen(function* () {
      for (const client of [undefined, { cert: pem(other.clientCert), key: pem(other.clientKey) }]) {
        const { exit, ms } = yield* attempt(
          Effect.flatMap(
            EtcdStore.make({
              endpoints: [tlsEndpoint()],
              requestTimeout: "3 seconds",
              tls: { ca: pem(certs.ca), ...client }
            }),
            (store) => roundTrip(store, "tls/no-client-cert")
          )
        )
        expectStoreError(exit)
        assert.isBelow(ms, 15_000, "no hang")
      }
    })
  )

  it.live("plain http to the TLS port fails with a typed error, no hang", () =>
    Effect.gen(function* () {
      const { exit, ms } = yield* attempt(
        Effect.flatMap(
          EtcdStore.make({ endpoints: [tlsEndpoint().replace("https:", "http:")], requestTimeout: "3 seconds" }),
          (store) => roundTrip(store, "tls/plain")
        )
      )
      expectStoreError(exit)
      assert.isBelow(ms, 15_000, "no hang")
    })
  )

  it.live("auth: root and the role-limited user work within their permissions", () =>
    Effect.gen(function* () {
      const root = yield* EtcdStore.make({
        endpoints: [authEtcd.endpoint],
        auth: { username: "root", password: ROOT_PASSWORD }
      })
      assert.strictEqual(Option.getOrThrow(yield* roundTrip(root, "anywhere/k")).value, "v")
      const app = yield* EtcdStore.make({
        endpoints: [authEtcd.endpoint],
        auth: { username: "app", password: APP_PASSWORD },
        namespace: "app/"
      })
      assert.strictEqual(Option.getOrThrow(yield* roundTrip(app, "k")).value, "v")
      const range = yield* app.range("")
      assert.deepStrictEqual(
        range.kvs.map((kv) => kv.key),
        ["k"]
      )
      // without a namespace, as the runner uses it: the revision and a watch of its prefix work
      const bare = yield* EtcdStore.make({
        endpoints: [authEtcd.endpoint],
        auth: { username: "app", password: APP_PASSWORD }
      })
      const revision = yield* bare.revision
      assert.isAbove(revision, 0)
      yield* app.txn({ compare: [], success: [{ _tag: "put", key: "w/1", value: "x" }] })
      const seen = yield* bare
        .watch("app/w/", { fromRevision: revision + 1 })
        .pipe(Stream.take(1), Stream.runCollect, Effect.timeout("10 seconds"))
      assert.strictEqual(seen.length, 1)
      // outside its prefix: permission denied, typed, not retryable, no secret in it
      const outside = yield* EtcdStore.make({
        endpoints: [authEtcd.endpoint],
        auth: { username: "app", password: APP_PASSWORD }
      })
      const exit = yield* Effect.exit(roundTrip(outside, "other/k"))
      const e = expectStoreError(exit)
      assert.match(e.message, /permission denied/i)
      assert.isFalse(e.retryable)
      // nothing was written there
      assert.isTrue(Option.isNone(yield* root.get("other/k")))
      // a watch there ends with the same refusal (from a revision given, so no read comes first)
      const watched = yield* Effect.exit(
        outside
          .watch("other/", { fromRevision: revision })
          .pipe(
            Stream.take(1),
            Stream.runCollect,
            Effect.timeoutOrElse({ duration: "10 seconds", orElse: () => Effect.die("the watch went on") })
          )
      )
      const refused = expectStoreError(watched)
      assert.match(refused.message, /permission denied/i)
      assert.isFalse(refused.retryable)
    }).pipe(Effect.scoped)
  )

  it.live(
    "auth: a watch outlives a restart of etcd and goes on with the events written after it",
    () =>
      Effect.gen(function* () {
        const app = yield* EtcdStore.make({
          endpoints: [authEtcd.endpoint],
          auth: { username: "app", password: APP_PASSWORD },
          requestTimeout: "2 seconds"
        })
        const from = (yield* app.revision) + 1
        const fiber = yield* app
          .watch("app/restart/", { fromRevision: from })
          .pipe(Stream.take(2), Stream.runCollect, Effect.forkChild)
        // writes go through another client: a request of the watching one would renew its token
        const writer = yield* EtcdStore.make({
          endpoints: [authEtcd.endpoint],
          auth: { username: "app", password: APP_PASSWORD },
          requestTimeout: "2 seconds"
        })
        yield* writer.txn({ compare: [], success: [{ _tag: "put", key: "app/restart/1", value: "before" }] })
        yield* Effect.promise(() => authEtcd.stop())
        yield* Effect.promise(() => authEtcd.start())
        yield* writer
          .txn({ compare: [], success: [{ _tag: "put", key: "app/restart/2", value: "after" }] })
          .pipe(Effect.retry({ times: 20, schedule: Schedule.spaced("250 millis") }))
        const events = yield* Fiber.join(fiber).pipe(Effect.timeout("15 seconds"))
        assert.deepStrictEqual(
          events.map((e) => (e._tag === "put" ? e.kv.value : e._tag)),
          ["before", "after"]
        )
      }).pipe(Effect.scoped),
    60_000
  )

  it.live("auth: a wrong password, an unknown user or no credentials are refused, fast and without the password", () =>
    Effect.gen(function* () {
      const cases = [
        { username: "app", password: WRONG_PASSWORD },
        { username: "root", password: APP_PASSWORD },
        { username: "nobody", password: WRONG_PASSWORD },
        undefined
      ]
      for (const auth of cases) {
        const { exit, ms } = yield* attempt(
          Effect.flatMap(
            EtcdStore.make({
              endpoints: [authEtcd.endpoint],
              requestTimeout: "3 seconds",
              ...(auth === undefined ? {} : { auth })
            }),
            (store) => roundTrip(store, "app/refused")
          )
        )
        const e = expectStoreError(exit)
        assert.isBelow(ms, 15_000, "no hang")
        if (auth !== undefined) assert.match(e.message, /auth/i, e.message)
        assert.isFalse(e.retryable, `${e.reason._tag}: ${e.message}`)
        // a watch from a given revision reads nothing first: refused all the same, not retried forever
        if (auth !== undefined) {
          const watched = yield* attempt(
            Effect.flatMap(
              EtcdStore.make({ endpoints: [authEtcd.endpoint], requestTimeout: "3 seconds", auth }),
              (store) =>
                store
                  .watch("app/", { fromRevision: 1 })
                  .pipe(
                    Stream.take(1),
                    Stream.runCollect,
                    Effect.timeoutOrElse({ duration: "15 seconds", orElse: () => Effect.die("the watch went on") })
                  )
            )
          )
          const w = expectStoreError(watched.exit)
          assert.match(w.message, /auth/i, w.message)
          assert.isFalse(w.retryable, `${w.reason._tag}: ${w.message}`)
        }
      }
      const root = yield* EtcdStore.make({
        endpoints: [authEtcd.endpoint],
        auth: { username: "root", password: ROOT_PASSWORD }
      })
      assert.isTrue(Option.isNone(yield* root.get("app/refused")), "nothing written with bad credentials")
    }).pipe(Effect.scoped)
  )
})
