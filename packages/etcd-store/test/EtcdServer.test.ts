import { readdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { assert, it } from "@effect/vitest"
import { startEtcd } from "../src/testing/EtcdServer.ts"

const dirs = () => new Set(readdirSync(tmpdir()).filter((d) => d.startsWith("migrator-etcd-")))

it("an etcd that cannot start fails at once and leaves no directory behind", async () => {
  const before = dirs()
  const started = Date.now()
  const missing = `${tmpdir()}/migrator-no-such-file.pem`
  const error = await startEtcd("broken", { tls: { ca: missing, cert: missing, key: missing } }).then(
    () => undefined,
    (e: unknown) => e as Error
  )
  assert.isDefined(error)
  assert.match(error!.message, /exited .* before it became healthy/)
  assert.isBelow(Date.now() - started, 10_000, "not after the 20 s health wait")
  const left = [...dirs()].filter((d) => !before.has(d))
  assert.deepStrictEqual(left, [])
})
