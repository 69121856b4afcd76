/**
 * `openstack/tenant.*` under injected faults (simulator only): a lost answer
 * to the project's POST, a task that died after making the project, 503s on
 * the role assignment and a lost answer to the DELETE. Each must end with
 * exactly one project (or none), adopted rather than made twice.
 */
import { assert, describe, it } from "@effect/vitest"
import { TaskContext, type TaskError } from "@migrator/core"
import { Clouds } from "@migrator/tasks-openstack"
import * as TenantCreate from "@migrator/tasks-openstack/handlers/TenantCreate"
import * as TenantDelete from "@migrator/tasks-openstack/handlers/TenantDelete"
import { Effect, Exit, Layer } from "effect"
import { setup } from "../utils/index.ts"

type Task<A> = Effect.Effect<A, TaskError.TaskError, Clouds.Clouds | TaskContext.TaskContext>

const fixture = Effect.gen(function* () {
  const { sim, client } = yield* setup({}, { requestTimeout: "300 millis" })
  const as = <A>(taskId: string, task: Task<A>, attempt = 1) =>
    task.pipe(
      Effect.provide(
        Layer.mergeAll(
          Clouds.layerClients({ recovery: client }),
          Layer.succeed(TaskContext.TaskContext, {
            jobId: "job-1",
            taskId,
            phase: "run",
            type: "openstack/test",
            attempt,
            fencingToken: attempt,
            target: "recovery",
            runnerId: "test-runner",
            shared: undefined,
            idempotencyKey: `job-1:${taskId}`
          })
        )
      )
    )
  return { sim, client, as }
})

describe("tenant handlers under faults", () => {
  it.live("the answer to POST /projects is lost after the project was made: the same attempt adopts it", () =>
    Effect.gen(function* () {
      const f = yield* fixture
      yield* f.sim.faults.timeoutAfterSideEffect({ service: "identity", method: "POST", path: "/projects" })
      const out = yield* f.as("t1", TenantCreate.run({ name: "recovered" }))
      const projects = (yield* f.sim.inventory).projects.filter((p) => p.name === "recovered")
      assert.deepStrictEqual(
        projects.map((p) => p.id),
        [out.projectId]
      )
      // the role was given: a token scoped to the project works
      assert.strictEqual(
        (yield* f.client.forProject(out.projectId).session.pipe(Effect.orDie)).projectId,
        out.projectId
      )
    }).pipe(Effect.scoped)
  )

  it.live(
    "a task that died after making the project is adopted by the next attempt; 503s on the role are ridden out",
    () =>
      Effect.gen(function* () {
        const f = yield* fixture
        yield* f.sim.faults.failNext({
          service: "identity",
          method: "PUT",
          path: "/projects/*/users/*/roles/*",
          status: 400
        })
        assert.isTrue(Exit.isFailure(yield* Effect.exit(f.as("t1", TenantCreate.run({ name: "recovered" })))))
        yield* f.sim.faults.failNext({
          service: "identity",
          method: "PUT",
          path: "/projects/*/users/*/roles/*",
          status: 503,
          times: 2
        })
        const out = yield* f.as("t1", TenantCreate.run({ name: "recovered" }), 2)
        assert.strictEqual((yield* f.sim.inventory).projects.filter((p) => p.name === "recovered").length, 1)
        assert.strictEqual(
          (yield* f.client.forProject(out.projectId).session.pipe(Effect.orDie)).projectId,
          out.projectId
        )
      }).pipe(Effect.scoped)
  )

  it.live("a lost answer to DELETE /projects: the project is reported deleted and is gone", () =>
    Effect.gen(function* () {
      const f = yield* fixture
      const out = yield* f.as("t1", TenantCreate.run({ name: "recovered" }))
      yield* f.sim.faults.timeoutAfterSideEffect({ service: "identity", method: "DELETE", path: "/projects/*" })
      assert.deepStrictEqual(yield* f.as("t1-undo", TenantDelete.run({ projectId: out.projectId })), {
        deleted: [out.projectId]
      })
      assert.deepStrictEqual(
        (yield* f.sim.inventory).projects.filter((p) => p.name === "recovered"),
        []
      )
    }).pipe(Effect.scoped)
  )
})
