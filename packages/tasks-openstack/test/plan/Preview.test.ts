import { readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { Codec, Keys, SharedResource, Store } from "@migrator/core"
import * as Plan from "@migrator/tasks-openstack/plan/Plan"
import * as Preview from "@migrator/tasks-openstack/plan/Preview"
import { Effect } from "effect"

const twoProjects = Plan.parse(readFileSync(new URL("../../examples/plans/two-projects.json", import.meta.url), "utf8"))

describe("Preview", () => {
  it.effect("lists what the job creates, stops, deletes and releases", () =>
    Effect.gen(function* () {
      const p = yield* Preview.preview(yield* twoProjects)
      assert.strictEqual(p.target, "recovery-1")
      assert.strictEqual(p.source, "protected-1")
      assert.strictEqual(p.runTasks, 25)
      assert.strictEqual(p.clearTasks, 24)
      assert.strictEqual(p.create.length, 25)
      assert.deepStrictEqual(p.reuse, [])
      assert.deepStrictEqual(p.stop, [])
      assert.strictEqual(p.delete.length, 20)
      assert.deepStrictEqual(
        p.release.map((i) => i.id),
        ["sub-front", "sub-back-a", "sub-back-b", "sub-ops"]
      )
      const network = p.create.find((i) => i.task === "network:net-front")!
      assert.deepStrictEqual(network, {
        task: "network:net-front",
        type: "openstack/network.create",
        kind: "network",
        id: "net-front",
        name: "front",
        path: "projects[0].networks[0]",
        shared: "openstack:recovery-1/source:protected-1/project:src-project-web/network:src-net-front"
      })
      // deletes come in an order the clear DAG allows: instances before what they use, tenants last
      const order = p.delete.map((i) => i.task)
      const before = (a: string, b: string) => assert.isBelow(order.indexOf(a), order.indexOf(b), `${a} before ${b}`)
      before("undo:instance:web-1", "undo:instance:db-1")
      before("undo:instance:db-1", "undo:volume:vol-db")
      before("undo:fip:fip-web", "undo:router:router-edge")
      before("undo:router:router-edge", "undo:network:net-back")
      for (const item of p.delete) {
        const project = item.path.startsWith("projects[0]") ? "undo:project:web" : "undo:project:ops"
        if (item.task !== project) before(item.task, project)
      }
    })
  )

  it.effect("shared resources that already exist are reused; stops are listed", () =>
    Effect.gen(function* () {
      const plan = yield* twoProjects
      const p = yield* Preview.preview(
        { ...plan, options: { ...plan.options, leaveInstancesStopped: true } },
        { existing: (key) => key.endsWith("/flavor:src-flavor-small") || key.endsWith("/project:src-project-ops") }
      )
      assert.sameMembers(
        p.reuse.map((i) => i.task),
        ["flavor:small", "project:ops"]
      )
      assert.strictEqual(p.create.length, 23)
      assert.sameMembers(
        p.stop.map((i) => i.task),
        ["stop:db-1", "stop:web-1", "stop:ops-1"]
      )
    })
  )

  it.effect("reads which shared resources exist from the store's shared records", () =>
    Effect.gen(function* () {
      const keys = Keys.make("preview/")
      const store = yield* Store.Store
      const record = (state: SharedResource.State) =>
        Codec.encode(SharedResource.SharedRecord)(
          new SharedResource.SharedRecord({
            state,
            job: "other",
            task: "t",
            phase: "run",
            token: 1,
            holders: ["other"],
            updatedAt: 0
          })
        )
      const root = "openstack:recovery-1/source:protected-1"
      yield* store.txn({
        compare: [],
        success: [
          { _tag: "put", key: keys.shared(`${root}/flavor:src-flavor-small`), value: record("ready") },
          { _tag: "put", key: keys.shared(`${root}/keypair:src-kp-admin`), value: record("failed") },
          { _tag: "put", key: keys.shared(`${root}/project:src-project-ops`), value: "not json" }
        ]
      })
      const existing = yield* Preview.existingIn(keys)
      const p = yield* Preview.preview(yield* twoProjects, { existing })
      assert.deepStrictEqual(
        p.reuse.map((i) => i.task),
        ["flavor:small"]
      )
    }).pipe(Effect.provide(Store.layerMemory))
  )

  it.effect("renders one line per resource with its task, sharing noted", () =>
    Effect.gen(function* () {
      const text = Preview.render(yield* Preview.preview(yield* twoProjects))
      const lines = text.split("\n")
      assert.strictEqual(lines[0], 'Recovery plan "two-projects": protected-1 -> recovery-1')
      assert.strictEqual(lines[1], "25 run tasks, 24 clear tasks")
      assert.include(lines, "Create (25):")
      assert.include(lines, "Delete on rollback (20):")
      assert.include(lines, "Release on rollback (4):")
      const line = (task: string) => lines.find((l) => l.includes(`  ${task}`)) ?? ""
      assert.match(
        line("network:net-front"),
        /^ {2}network front \(net-front\) +network:net-front {2}shared: reused if another job holds it$/
      )
      assert.match(line("instance:web-1"), /^ {2}instance web-1 +instance:web-1$/)
      assert.match(
        line("undo:project:web"),
        /project web +undo:project:web {2}shared: only when no other job holds it$/
      )
      assert.match(line("undo:subnet:sub-ops"), /goes with its network$/)
      assert.match(
        line("undo:network:net-spare"),
        /undo:network:net-spare {2}also on confirm; shared: only when no other job holds it$/
      )
      assert.notInclude(text, "Reuse")
    })
  )

  it.effect("an invalid plan yields its problems, not a preview", () =>
    Effect.gen(function* () {
      const plan = yield* twoProjects
      const error = yield* Effect.flip(Preview.preview({ ...plan, projects: [...plan.projects, plan.projects[1]!] }))
      assert.include(error.message, 'projects[2].id: duplicate project id "ops"')
    })
  )
})
