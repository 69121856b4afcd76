/**
 * Volume handlers under injected faults (simulator only): a volume that ends
 * in error, a backend volume managed twice, a POST whose answer is lost after
 * the volume was made, 503 bursts while polling.
 */
import { assert, describe, it } from "@effect/vitest"
import type { TaskError } from "@migrator/core"
import * as VolumeCopy from "@migrator/tasks-openstack/handlers/VolumeCopy"
import * as VolumeImport from "@migrator/tasks-openstack/handlers/VolumeImport"
import { Effect, Schema } from "effect"
import type { Cloud } from "../support/cloud.ts"
import { taskLayer } from "../support/cloud.ts"
import { setup, waitFor } from "../utils/index.ts"

/** A `Cloud` on a simulator of its own, also when the suite otherwise targets a real cloud. */
const simCloud = Effect.gen(function* () {
  const { sim, client } = yield* setup()
  const inventory = yield* sim.inventory
  const external = inventory.subnets.find((s) => s.network_id === sim.externalNetworkId)
  const cloud: Cloud = {
    kind: "simulator",
    client,
    clientConfig: sim.clientConfig(),
    sim,
    target: "recovery",
    admin: { userId: sim.admin.userId, projectId: sim.admin.projectId },
    externalNetwork: { id: sim.externalNetworkId ?? "", name: "public", cidr: external?.cidr ?? "" },
    image: { id: inventory.images[0]?.id ?? "", name: inventory.images[0]?.name ?? "" },
    volumeBackend: sim.volumeBackend,
    volumeType: "__DEFAULT__",
    availabilityZone: "nova",
    computeHosts: ["sim-compute-1", "sim-compute-2"]
  }
  return cloud
})

/** A project the admin may act in, and an available source volume in the admin project. */
const fixture = (c: Cloud) =>
  Effect.gen(function* () {
    const session = yield* c.client.session
    const project = (yield* c.client.request("identity", "POST", "/projects", {
      body: { project: { name: "recovery", domain_id: "default" } },
      schema: Schema.Struct({ project: Schema.Struct({ id: Schema.String }) })
    })).project
    const roles = (yield* c.client.request("identity", "GET", "/roles", {
      query: { name: "admin" },
      schema: Schema.Struct({ roles: Schema.Array(Schema.Struct({ id: Schema.String })) })
    })).roles
    yield* c.client.request("identity", "PUT", `/projects/${project.id}/users/${session.userId}/roles/${roles[0]!.id}`)
    const source = (yield* c.client.request("volumev3", "POST", "/volumes", {
      body: { volume: { size: 1, name: "replica" } },
      schema: Schema.Struct({ volume: Schema.Struct({ id: Schema.String }) })
    })).volume
    yield* waitFor(
      Effect.map(c.sim!.inventory, (i) => i.volumes.find((v) => v.id === source.id)?.status),
      (s) => s === "available"
    )
    return { projectId: project.id, sourceId: source.id }
  })

const named = (c: Cloud, name: string) => Effect.map(c.sim!.inventory, (i) => i.volumes.filter((v) => v.name === name))

describe("volume handlers under faults", () => {
  it.live("a copy that ends in error is deleted and the task fails retryably", () =>
    Effect.gen(function* () {
      const c = yield* simCloud
      const f = yield* fixture(c)
      yield* c.sim!.faults.failVolumes({ name: "bad-copy" })
      const error = yield* VolumeCopy.run({
        projectId: f.projectId,
        name: "bad-copy",
        sourceVolumeId: f.sourceId
      }).pipe(Effect.provide(taskLayer(c, { jobId: "j", taskId: "copy" })), Effect.flip)
      assert.strictEqual(error.code, "openstack.volume-error")
      assert.isTrue(error.retryable)
      assert.deepStrictEqual(yield* named(c, "bad-copy"), [])
      // the retry starts clean and succeeds
      const out = yield* VolumeCopy.run({ projectId: f.projectId, name: "bad-copy", sourceVolumeId: f.sourceId }).pipe(
        Effect.provide(taskLayer(c, { jobId: "j", taskId: "copy", attempt: 2 }))
      )
      assert.deepStrictEqual(
        (yield* named(c, "bad-copy")).map((v) => [v.id, v.status]),
        [[out.volumeId, "available"]]
      )
    })
  )

  it.live("a lost answer to the create POST: the retry adopts the volume instead of making a second", () =>
    Effect.gen(function* () {
      const c = yield* simCloud
      const f = yield* fixture(c)
      const input = { projectId: f.projectId, name: "copy-1", sourceVolumeId: f.sourceId }
      yield* c.sim!.faults.timeoutAfterSideEffect({
        service: "volumev3",
        method: "POST",
        path: "/volumes",
        mode: "close"
      })
      const error = yield* VolumeCopy.run(input).pipe(
        Effect.provide(taskLayer(c, { jobId: "j", taskId: "copy-1" })),
        Effect.flip
      )
      assert.isTrue(error.retryable)
      assert.strictEqual((yield* named(c, "copy-1")).length, 1)
      const out = yield* VolumeCopy.run(input).pipe(
        Effect.provide(taskLayer(c, { jobId: "j", taskId: "copy-1", attempt: 2 }))
      )
      assert.deepStrictEqual(
        (yield* named(c, "copy-1")).map((v) => v.id),
        [out.volumeId]
      )
    })
  )

  it.live("a lost answer to the manage POST: the retry adopts instead of managing twice", () =>
    Effect.gen(function* () {
      const c = yield* simCloud
      const f = yield* fixture(c)
      const input = {
        projectId: f.projectId,
        name: "imported",
        host: c.sim!.volumeBackend,
        reference: { "source-name": "volume-replica-1" }
      }
      yield* c.sim!.faults.timeoutAfterSideEffect({
        service: "volumev3",
        method: "POST",
        path: "/manageable_volumes",
        mode: "close"
      })
      const error = yield* VolumeImport.run(input).pipe(
        Effect.provide(taskLayer(c, { jobId: "j", taskId: "import" })),
        Effect.flip
      )
      assert.isTrue(error.retryable)
      const out = yield* VolumeImport.run(input).pipe(
        Effect.provide(taskLayer(c, { jobId: "j", taskId: "import", attempt: 2 }))
      )
      assert.deepStrictEqual(
        (yield* named(c, "imported")).map((v) => [v.id, v.status]),
        [[out.volumeId, "available"]]
      )
    })
  )

  it.live("a backend volume already managed: error_managing fails for good and leaves no record", () =>
    Effect.gen(function* () {
      const c = yield* simCloud
      const f = yield* fixture(c)
      const input = {
        projectId: f.projectId,
        name: "imported",
        host: c.sim!.volumeBackend,
        reference: { "source-name": "volume-replica-1" }
      }
      const first = yield* VolumeImport.run(input).pipe(Effect.provide(taskLayer(c, { jobId: "j1", taskId: "import" })))
      const error: TaskError.TaskError = yield* VolumeImport.run(input).pipe(
        Effect.provide(taskLayer(c, { jobId: "j2", taskId: "import" })),
        Effect.flip
      )
      assert.strictEqual(error.code, "openstack.volume-import-failed")
      assert.isFalse(error.retryable)
      assert.deepStrictEqual(
        (yield* named(c, "imported")).map((v) => v.id),
        [first.volumeId]
      )
    })
  )

  it.live("the longest job and task ids: the owner metadata is bounded to 255 characters and still adopts", () =>
    Effect.gen(function* () {
      const c = yield* simCloud
      const f = yield* fixture(c)
      const task = taskLayer(c, { jobId: `job-${"j".repeat(124)}`, taskId: `volume.${"t".repeat(193)}` })
      const input = { projectId: f.projectId, name: "copy-long", sourceVolumeId: f.sourceId }
      const first = yield* VolumeCopy.run(input).pipe(Effect.provide(task))
      const second = yield* VolumeCopy.run(input).pipe(Effect.provide(task))
      assert.strictEqual(second.volumeId, first.volumeId)
      const volumes = yield* named(c, "copy-long")
      assert.strictEqual(volumes.length, 1)
      assert.isTrue((volumes[0]!.metadata.migrator_owner ?? "").length <= 255)
    })
  )

  it.live("503 bursts on volume reads are ridden out", () =>
    Effect.gen(function* () {
      const c = yield* simCloud
      const f = yield* fixture(c)
      yield* c.sim!.faults.failNext({ service: "volumev3", method: "GET", path: "/volumes/*", status: 503, times: 3 })
      const out = yield* VolumeCopy.run({ projectId: f.projectId, name: "copy-2", sourceVolumeId: f.sourceId }).pipe(
        Effect.provide(taskLayer(c, { jobId: "j", taskId: "copy-2" }))
      )
      const failed503 = (yield* c.sim!.requests).filter((r) => r.status === 503)
      assert.strictEqual(failed503.length, 3)
      assert.strictEqual((yield* named(c, "copy-2"))[0]?.id, out.volumeId)
    })
  )
})
