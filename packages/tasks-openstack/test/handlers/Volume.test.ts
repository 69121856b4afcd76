/**
 * Volume handlers (copy, import, and their undos) against `cloud`: the
 * simulator, or a real OpenStack when `OS_AUTH_URL` is set (manage-existing
 * then goes to the fake Cinder backend of `Cloud.volumeBackend`, which
 * accepts any `source-name`). Each
 * handler is run, run again with the same ids (adopt, not duplicate), undone
 * twice, and the project's volumes are listed afterwards.
 */
import { assert, describe, it } from "@effect/vitest"
import type { OpenStackClient } from "@migrator/tasks-openstack"
import { OpenStackError } from "@migrator/tasks-openstack"
import * as VolumeCopy from "@migrator/tasks-openstack/handlers/VolumeCopy"
import * as VolumeDeleteCopy from "@migrator/tasks-openstack/handlers/VolumeDeleteCopy"
import * as VolumeImport from "@migrator/tasks-openstack/handlers/VolumeImport"
import * as VolumeUnmanage from "@migrator/tasks-openstack/handlers/VolumeUnmanage"
import { Effect, Schedule, Schema } from "effect"
import { type Cloud, cloud, scratchProject, taskLayer, uniqueJobId } from "../support/cloud.ts"

const Id = Schema.Struct({ id: Schema.String })

const VolumeBody = Schema.Struct({
  volume: Schema.Struct({
    id: Schema.String,
    status: Schema.String,
    size: Schema.Number,
    bootable: Schema.String,
    metadata: Schema.Record(Schema.String, Schema.String),
    "os-vol-tenant-attr:tenant_id": Schema.optional(Schema.String)
  })
})

const readVolume = (client: OpenStackClient.Client, id: string) =>
  client.request("volumev3", "GET", `/volumes/${id}`, { schema: VolumeBody }).pipe(Effect.map((b) => b.volume))

const gone = (client: OpenStackClient.Client, id: string) =>
  client.request("volumev3", "GET", `/volumes/${id}`).pipe(
    Effect.as(false),
    OpenStackError.catchNotFound(() => true)
  )

const awaitStatus = (client: OpenStackClient.Client, id: string, status: string) =>
  readVolume(client, id).pipe(
    Effect.repeat({
      until: (v) => v.status === status || v.status === "error",
      schedule: Schedule.spaced("100 millis")
    }),
    Effect.timeout("60 seconds")
  )

/** Ids of the project's volumes carrying `key=value` metadata. */
const volumesWith = (client: OpenStackClient.Client, key: string, value: string) =>
  client
    .list("volumev3", "/volumes/detail", "volumes")
    .pipe(
      Effect.map((items) =>
        (items as ReadonlyArray<{ id: string; metadata?: Record<string, string> }>)
          .filter((v) => v.metadata?.[key] === value)
          .map((v) => v.id)
      )
    )

/** The replicated source: a volume (and a snapshot of it) in the admin project. */
const replica = (c: Cloud, name: string) =>
  Effect.gen(function* () {
    const volume = (yield* c.client.request("volumev3", "POST", "/volumes", {
      body: { volume: { size: 1, name } },
      schema: Schema.Struct({ volume: Id })
    })).volume
    yield* Effect.addFinalizer(() =>
      c.client
        .request("volumev3", "DELETE", `/volumes/${volume.id}`, { query: { cascade: "true" } })
        .pipe(Effect.ignore)
    )
    yield* awaitStatus(c.client, volume.id, "available")
    const snapshot = (yield* c.client.request("volumev3", "POST", "/snapshots", {
      body: { snapshot: { volume_id: volume.id, name: `${name}-snap` } },
      schema: Schema.Struct({ snapshot: Id })
    })).snapshot
    yield* c.client
      .request("volumev3", "GET", `/snapshots/${snapshot.id}`, {
        schema: Schema.Struct({ snapshot: Schema.Struct({ status: Schema.String }) })
      })
      .pipe(
        Effect.repeat({
          until: (s) => s.snapshot.status !== "creating",
          schedule: Schedule.spaced("100 millis")
        }),
        Effect.timeout("60 seconds")
      )
    return { volumeId: volume.id, snapshotId: snapshot.id }
  })

describe("openstack/volume.copy and volume.delete-copy", () => {
  it.live(
    "copy a volume and a snapshot into the project, adopt on a second run, delete twice",
    () =>
      Effect.gen(function* () {
        const c = yield* cloud
        const jobId = yield* uniqueJobId("vc")
        const { projectId, client: p } = yield* scratchProject(c, jobId)
        const source = yield* replica(c, `${jobId}-replica`)

        const fromVolume = taskLayer(c, { jobId, taskId: "copy-disk-1" })
        const input = {
          projectId,
          name: `${jobId}-disk-1`,
          sourceVolumeId: source.volumeId,
          metadata: { "source-volume": source.volumeId },
          bootable: true
        }
        const first = yield* VolumeCopy.run(input).pipe(Effect.provide(fromVolume))
        const second = yield* VolumeCopy.run(input).pipe(Effect.provide(fromVolume))
        assert.deepStrictEqual(second, first)
        assert.deepStrictEqual({ sizeGiB: first.sizeGiB, bootable: first.bootable }, { sizeGiB: 1, bootable: true })
        const copy = yield* readVolume(p, first.volumeId)
        assert.strictEqual(copy.status, "available")
        assert.strictEqual(copy.bootable, "true")
        assert.strictEqual(copy.metadata["source-volume"], source.volumeId)
        assert.strictEqual(copy.metadata.migrator_owner, `migrator:${jobId}:copy-disk-1`)
        assert.deepStrictEqual(yield* volumesWith(p, "migrator_owner", `migrator:${jobId}:copy-disk-1`), [
          first.volumeId
        ])

        const fromSnapshot = taskLayer(c, { jobId, taskId: "copy-disk-2" })
        const snap = yield* VolumeCopy.run({
          projectId,
          name: `${jobId}-disk-2`,
          sourceSnapshotId: source.snapshotId,
          sizeGiB: 2
        }).pipe(Effect.provide(fromSnapshot))
        assert.notStrictEqual(snap.volumeId, first.volumeId)
        assert.strictEqual(snap.sizeGiB, 2)

        const clear = taskLayer(c, { jobId, taskId: "copy-undo", phase: "clear" })
        for (const volumeId of [first.volumeId, first.volumeId, snap.volumeId, snap.volumeId]) {
          yield* VolumeDeleteCopy.run({ projectId, volumeId }).pipe(Effect.provide(clear))
          assert.isTrue(yield* gone(p, volumeId))
        }
        // the replicated source is untouched
        assert.strictEqual((yield* readVolume(c.client, source.volumeId)).status, "available")
      }),
    { timeout: 180_000 }
  )

  it.live("metadata Cinder refuses (a value over 255 characters) fails for good and makes nothing", () =>
    Effect.gen(function* () {
      const c = yield* cloud
      const jobId = yield* uniqueJobId("vc")
      const { projectId, client: p } = yield* scratchProject(c, jobId)
      const source = yield* replica(c, `${jobId}-replica`)
      const error = yield* VolumeCopy.run({
        projectId,
        name: `${jobId}-long`,
        sourceVolumeId: source.volumeId,
        metadata: { note: "x".repeat(300) }
      }).pipe(Effect.provide(taskLayer(c, { jobId, taskId: "copy" })), Effect.flip)
      assert.strictEqual(error.code, "openstack.bad-request")
      assert.isFalse(error.retryable)
      assert.deepStrictEqual(yield* volumesWith(p, "migrator_owner", `migrator:${jobId}:copy`), [])
    })
  )

  it.live("needs exactly one source", () =>
    Effect.gen(function* () {
      const c = yield* cloud
      const jobId = yield* uniqueJobId("vc")
      const error = yield* VolumeCopy.run({ projectId: "p", name: "x" }).pipe(
        Effect.provide(taskLayer(c, { jobId, taskId: "copy" })),
        Effect.flip
      )
      assert.strictEqual(error.code, "openstack.bad-input")
      assert.isFalse(error.retryable)
    })
  )
})

describe("openstack/volume.import and volume.unmanage", () => {
  it.live(
    "manage a backend volume into the project, adopt on a second run, unmanage twice",
    () =>
      Effect.gen(function* () {
        const c = yield* cloud
        const jobId = yield* uniqueJobId("vi")
        const { projectId, client: p } = yield* scratchProject(c, jobId)
        const task = taskLayer(c, { jobId, taskId: "import-disk-1" })
        const input = {
          projectId,
          name: `${jobId}-disk-1`,
          host: c.volumeBackend,
          reference: { "source-name": `${jobId}-replicated`, size: 2 },
          bootable: true,
          metadata: { "source-volume": "protected-disk-1" }
        }
        const first = yield* VolumeImport.run(input).pipe(Effect.provide(task))
        yield* Effect.addFinalizer(() =>
          VolumeUnmanage.run({ projectId, volumeId: first.volumeId }).pipe(Effect.provide(task), Effect.ignore)
        )
        const second = yield* VolumeImport.run(input).pipe(Effect.provide(task))
        assert.deepStrictEqual(second, first)
        assert.deepStrictEqual({ sizeGiB: first.sizeGiB, bootable: first.bootable }, { sizeGiB: 2, bootable: true })
        const volume = yield* readVolume(p, first.volumeId)
        assert.strictEqual(volume.status, "available")
        assert.strictEqual(volume.bootable, "true")
        assert.strictEqual(volume["os-vol-tenant-attr:tenant_id"], projectId)
        assert.strictEqual(volume.metadata["source-volume"], "protected-disk-1")
        assert.deepStrictEqual(yield* volumesWith(p, "migrator_owner", `migrator:${jobId}:import-disk-1`), [
          first.volumeId
        ])

        const clear = taskLayer(c, { jobId, taskId: "import-disk-1-undo", phase: "clear" })
        yield* VolumeUnmanage.run({ projectId, volumeId: first.volumeId }).pipe(Effect.provide(clear))
        assert.isTrue(yield* gone(p, first.volumeId))
        yield* VolumeUnmanage.run({ projectId, volumeId: first.volumeId }).pipe(Effect.provide(clear))
        assert.deepStrictEqual(yield* volumesWith(p, "migrator_owner", `migrator:${jobId}:import-disk-1`), [])
      }),
    { timeout: 180_000 }
  )
})
