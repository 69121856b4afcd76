/**
 * A reload of the view (every resync reads each active job whole) keeps the records it already
 * decoded when their writes are unchanged, and decodes again only what changed.
 */
import { assert, describe, it } from "@effect/vitest"
import * as JobView from "../src/internal/jobView.ts"
import * as Keys from "../src/Keys.ts"
import type { KeyValue } from "../src/Store.ts"

const keys = Keys.make("reload/")
const kv = (key: string, value: unknown, mod: number): KeyValue => ({
  key,
  value: JSON.stringify(value),
  createRevision: mod,
  modRevision: mod,
  version: 1,
  lease: undefined
})
const spec = (id: string) => ({ id, type: "test/echo", phase: "run", dependencies: [], input: { id } })
const status = (attempt: number) => ({ status: "running", attempt, runner: "r1", updatedAt: 1 })
const result = { result: "success", output: { ok: true }, attempt: 1, finishedAt: 2 }

const load = (view: JobView.JobView, records: ReadonlyArray<KeyValue>) => {
  for (const r of records) view.apply(r, r.key)
  return view
}
const task = (view: JobView.JobView, id: string) => view.jobs.get("j")?.tasks.run.get(id)

describe("view reload", () => {
  it("keeps decoded records whose writes are unchanged and decodes the changed ones", () => {
    const first = [
      kv(keys.task("j", "run", "a", "spec"), spec("a"), 10),
      kv(keys.task("j", "run", "a", "status"), status(1), 11),
      kv(keys.task("j", "run", "a", "result"), result, 12),
      kv(keys.task("j", "run", "b", "spec"), spec("b"), 10),
      kv(keys.task("j", "run", "b", "status"), status(1), 13)
    ]
    const old = load(JobView.make(keys), first)
    // b's status was rewritten since (a retry): a new write, at a new revision
    const second = [...first.slice(0, 4), kv(keys.task("j", "run", "b", "status"), status(2), 20)]
    const fresh = load(JobView.make(keys, old), second)
    assert.strictEqual(task(fresh, "a")?.spec, task(old, "a")?.spec)
    assert.strictEqual(task(fresh, "a")?.status, task(old, "a")?.status)
    assert.strictEqual(task(fresh, "a")?.result, task(old, "a")?.result)
    assert.strictEqual(task(fresh, "b")?.spec, task(old, "b")?.spec)
    assert.notStrictEqual(task(fresh, "b")?.status, task(old, "b")?.status)
    assert.strictEqual(task(fresh, "b")?.status?.value.attempt, 2)
    assert.strictEqual(task(fresh, "b")?.status?.mod, 20)
  })

  it("every job's slot has the same fields in the same order, whichever record comes first", () => {
    // the engine's hot paths are compiled for one shape of slot; a slot that grew its fields in
    // another order (its state before its spec) would throw that code away in a runner's first job
    const view = JobView.make(keys)
    const state = { state: "running", updatedAt: 1 }
    const jobSpec = { id: "x", labels: {}, runTasks: 1, clearTasks: 0, createdAt: 1 }
    load(view, [kv(keys.jobSpec("x"), jobSpec, 5), kv(keys.jobState("x"), state, 6)])
    load(view, [kv(keys.jobState("y"), state, 7), kv(keys.jobSpec("y"), { ...jobSpec, id: "y" }, 8)])
    load(view, [kv(keys.task("z", "run", "a", "spec"), spec("a"), 9)])
    const fields = (id: string) => Object.keys(view.jobs.get(id) ?? {})
    assert.deepStrictEqual(fields("y"), fields("x"))
    assert.deepStrictEqual(fields("z"), fields("x"))
  })

  it("a job written again under the same id is decoded afresh", () => {
    const old = load(JobView.make(keys), [kv(keys.task("j", "run", "a", "spec"), spec("a"), 10)])
    const again = { ...spec("a"), input: { id: "again" } }
    const fresh = load(JobView.make(keys, old), [kv(keys.task("j", "run", "a", "spec"), again, 30)])
    assert.deepStrictEqual(task(fresh, "a")?.spec?.input, { id: "again" })
    assert.strictEqual(task(fresh, "a")?.specMod, 30)
  })

  it("a status is decoded when first read, and an undecodable one is reported then, by key", () => {
    const view = JobView.make(keys)
    const key = keys.task("j", "run", "a", "status")
    view.apply(kv(keys.task("j", "run", "a", "spec"), spec("a"), 10), keys.task("j", "run", "a", "spec"))
    view.apply({ ...kv(key, 0, 11), value: "{oops" }, key)
    // nothing has read it: a runner following another's task pays nothing for its statuses
    assert.isFalse(view.hasProblems())
    assert.deepStrictEqual(task(view, "a")?.unreadable, { status: true })
    assert.isUndefined(task(view, "a")?.status)
    assert.deepStrictEqual(
      view.takeProblems().map((p) => p.key),
      [key]
    )
    // rewritten: readable again, and decoded once however often it is read
    view.apply(kv(key, status(2), 12), key)
    assert.isUndefined(task(view, "a")?.unreadable)
    assert.strictEqual(task(view, "a")?.status?.value.attempt, 2)
    assert.strictEqual(task(view, "a")?.status, task(view, "a")?.status)
    assert.isFalse(view.hasProblems())
  })

  it("a reload shares a status write not yet decoded: whichever view reads it first decodes it for both", () => {
    const key = keys.task("j", "run", "a", "status")
    const old = load(JobView.make(keys), [
      kv(keys.task("j", "run", "a", "spec"), spec("a"), 10),
      kv(key, status(1), 11)
    ])
    const fresh = load(JobView.make(keys, old), [
      kv(keys.task("j", "run", "a", "spec"), spec("a"), 10),
      kv(key, status(1), 11)
    ])
    assert.strictEqual(task(fresh, "a")?.status?.value.attempt, 1)
    assert.strictEqual(task(old, "a")?.status, task(fresh, "a")?.status)
    // and an undecodable one found through the fresh view is reported with the old one's
    const broken = keys.task("j", "run", "b", "status")
    const before = load(JobView.make(keys), [{ ...kv(broken, 0, 12), value: "[" }])
    const after = load(JobView.make(keys, before), [{ ...kv(broken, 0, 12), value: "[" }])
    assert.deepStrictEqual(task(after, "b")?.unreadable, { status: true })
    assert.deepStrictEqual(
      before.takeProblems().map((p) => p.key),
      [broken]
    )
  })

  it("a task's records land in its job's current slot, after the job left the view and came back", () => {
    // consecutive changes of one task skip the map lookup: that shortcut must not outlive the slot
    const view = JobView.make(keys)
    const claim = keys.task("j", "run", "a", "claim")
    const held = (runner: string, mod: number): KeyValue => ({ ...kv(claim, null, mod), value: runner })
    load(view, [kv(keys.task("j", "run", "a", "spec"), spec("a"), 10), held("r1", 11)])
    view.jobs.delete("j") // the job went dormant
    load(view, [kv(keys.task("j", "run", "a", "spec"), spec("a"), 10), held("r2", 20)])
    assert.strictEqual(task(view, "a")?.claim?.value, "r2")
    assert.strictEqual(task(view, "a")?.spec?.id, "a")
    // and after a reload takes the fresh view's slots
    const fresh = load(JobView.make(keys, view), [kv(keys.task("j", "run", "a", "spec"), spec("a"), 10)])
    view.replace(fresh)
    view.apply(held("r3", 30), claim)
    assert.strictEqual(task(view, "a")?.claim?.value, "r3")
    assert.strictEqual(view.jobs.get("j")?.tasks.run.size, 1)
  })
})
