/**
 * Cinder v3 subset: volumes (blank, from a volume, from a snapshot, from an
 * image), the creating → available | error and deleting → gone state
 * machines, actions (`os-set_bootable`, `os-unmanage`, `os-reset_status`,
 * `os-extend`, `os-force_delete`), manage-existing (`manageable_volumes`,
 * managing → available | error_managing), snapshots, volume types, quotas.
 */
import {
  bool,
  dispatch,
  empty,
  isRecord,
  json,
  member,
  num,
  paginate,
  projectOf,
  route,
  type SimRequest,
  str,
  stringMap
} from "./http.ts"
import type * as M from "./model.ts"
import * as quotaSets from "./quotaSets.ts"
import {
  badRequest,
  isoSeconds,
  nextSeq,
  notFound,
  SimFailure,
  type State,
  schedule,
  takeResourceRule,
  uuid
} from "./state.ts"

const stamp = (state: State) => isoSeconds(state.now)

const overLimit = (message: string) => new SimFailure(413, message, "overLimit")

const deletable = ["available", "error", "error_restoring", "error_extending", "error_managing"]

/** Volume (and snapshot) metadata: keys and values of at most 255 characters, as Cinder checks. */
const metadataOf = (body: Record<string, unknown>): Record<string, string> | undefined => {
  const metadata = stringMap(body, "metadata")
  for (const [k, v] of Object.entries(metadata ?? {})) {
    if (k.length === 0 || k.length > 255 || v.length > 255) {
      throw badRequest(
        k.length === 0
          ? "Invalid metadata: Metadata property key blank."
          : `Invalid metadata size: Metadata property ${k.length > 255 ? "key" : "value"} greater than 255 characters.`
      )
    }
  }
  return metadata
}

export const getVolume = (state: State, id: string): M.Volume => {
  const v = state.volumes.get(id)
  if (v === undefined) throw notFound(`Volume ${id} could not be found.`, "itemNotFound")
  return v
}

const getSnapshot = (state: State, id: string): M.Snapshot => {
  const s = state.snapshots.get(id)
  if (s === undefined) throw notFound(`Snapshot ${id} could not be found.`, "itemNotFound")
  return s
}

const checkQuota = (state: State, project: string, size: number) => {
  const mine = [...state.volumes.values()].filter((v) => v.project_id === project)
  const q = {
    volumes: quotaSets.limitOf(state, "volume", project, "volumes"),
    gigabytes: quotaSets.limitOf(state, "volume", project, "gigabytes")
  }
  if (q.volumes >= 0 && mine.length + 1 > q.volumes) {
    throw overLimit(
      `VolumeLimitExceeded: Maximum number of volumes allowed (${q.volumes}) exceeded for quota 'volumes'.`
    )
  }
  const used = mine.reduce((acc, v) => acc + v.size, 0)
  if (q.gigabytes >= 0 && used + size > q.gigabytes) {
    throw overLimit(
      `VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested ${size}G, quota is ${q.gigabytes}G and ${used}G has been consumed.`
    )
  }
}

export interface VolumeFields {
  readonly project: string
  readonly userId: string
  readonly name: string
  readonly size: number
  readonly description?: string | undefined
  readonly bootable?: boolean | undefined
  readonly imageId?: string | null | undefined
  readonly snapshotId?: string | null | undefined
  readonly sourceVolid?: string | null | undefined
  readonly metadata?: Record<string, string> | undefined
  readonly volumeType?: string | undefined
  readonly availabilityZone?: string | undefined
  readonly host?: string | undefined
}

/** A new volume record, status `creating`; the caller schedules what follows. */
export const addVolume = (state: State, fields: VolumeFields): M.Volume => {
  const volume: M.Volume = {
    id: uuid(state),
    name: fields.name,
    description: fields.description ?? "",
    project_id: fields.project,
    user_id: fields.userId,
    size: fields.size,
    status: "creating",
    bootable: fields.bootable ?? false,
    volume_type: fields.volumeType ?? "__DEFAULT__",
    availability_zone: fields.availabilityZone ?? "nova",
    source_volid: fields.sourceVolid ?? null,
    snapshot_id: fields.snapshotId ?? null,
    image_id: fields.imageId ?? null,
    metadata: { ...(fields.metadata ?? {}) },
    attachments: [],
    host: fields.host ?? state.settings.volumeBackends[0] ?? "sim-cinder@fake#fake",
    created_at: stamp(state),
    updated_at: stamp(state),
    managed_ref: null,
    sim_seq: nextSeq(state)
  }
  state.volumes.set(volume.id, volume)
  return volume
}

/** `deleting` now, gone one step later. */
export const startDelete = (state: State, volume: M.Volume): void => {
  volume.status = "deleting"
  volume.updated_at = stamp(state)
  const id = volume.id
  schedule(state, state.stepDelayMillis, () => {
    state.volumes.delete(id)
    for (const s of [...state.snapshots.values()]) if (s.volume_id === id) state.snapshots.delete(s.id)
  })
}

const settle = (state: State, volume: M.Volume, ok: string, failed: string) => {
  const rule = takeResourceRule(state.volumeFailRules, volume.name)
  const id = volume.id
  const from = volume.status
  schedule(state, state.stepDelayMillis, (at) => {
    const v = state.volumes.get(id)
    if (v === undefined || v.status !== from) return
    v.status = rule === undefined ? ok : failed
    v.updated_at = isoSeconds(at)
  })
}

const renderVolume = (req: SimRequest, v: M.Volume) => ({
  id: v.id,
  name: v.name,
  description: v.description,
  size: v.size,
  status: v.status,
  bootable: v.bootable ? "true" : "false",
  attachments: v.attachments.map((a) => ({ ...a })),
  availability_zone: v.availability_zone,
  created_at: v.created_at,
  updated_at: v.updated_at,
  volume_type: v.volume_type,
  snapshot_id: v.snapshot_id,
  source_volid: v.source_volid,
  metadata: { ...v.metadata },
  multiattach: false,
  encrypted: false,
  replication_status: "disabled",
  consistencygroup_id: null,
  migration_status: null,
  user_id: v.user_id,
  "os-vol-host-attr:host": v.host,
  "os-vol-tenant-attr:tenant_id": v.project_id,
  "os-vol-mig-status-attr:migstat": null,
  "os-vol-mig-status-attr:name_id": null,
  ...(v.image_id === null ? {} : { volume_image_metadata: { image_id: v.image_id } }),
  links: [{ rel: "self", href: `${req.root}/volumes/${v.id}` }]
})

const renderSnapshot = (s: M.Snapshot) => ({
  id: s.id,
  name: s.name,
  description: s.description,
  volume_id: s.volume_id,
  size: s.size,
  status: s.status,
  metadata: { ...s.metadata },
  created_at: s.created_at,
  updated_at: s.updated_at,
  "os-extended-snapshot-attributes:project_id": s.project_id,
  "os-extended-snapshot-attributes:progress": s.status === "available" ? "100%" : "0%"
})

const listVolumes = (state: State, req: SimRequest, detail: boolean) => {
  const project = projectOf(req)
  const all = /^(1|true|yes)$/i.test(req.query.get("all_tenants") ?? "")
  const name = req.query.get("name")
  const status = req.query.get("status")
  const metadataText = req.query.get("metadata")
  let metadata: Record<string, unknown> = {}
  if (metadataText !== null) {
    try {
      const parsed: unknown = JSON.parse(metadataText)
      if (isRecord(parsed)) metadata = parsed
    } catch {
      throw badRequest(`Invalid filter metadata: ${metadataText}`)
    }
  }
  const items = [...state.volumes.values()]
    .filter(
      (v) =>
        (all || v.project_id === project) &&
        (name === null || v.name === name) &&
        (status === null || v.status === status) &&
        Object.entries(metadata).every(([k, value]) => v.metadata[k] === String(value))
    )
    .sort((a, b) => b.sim_seq - a.sim_seq)
  const { page, extra } = paginate(state, req, items, (v) => v.id, "volumes")
  return json(200, {
    volumes: page.map((v) =>
      detail
        ? renderVolume(req, v)
        : { id: v.id, name: v.name, links: [{ rel: "self", href: `${req.root}/volumes/${v.id}` }] }
    ),
    ...extra
  })
}

const createVolume = (state: State, req: SimRequest) => {
  const project = projectOf(req)
  const body = member(req, "volume")
  const sourceVolid = str(body, "source_volid")
  const snapshotId = str(body, "snapshot_id")
  const imageRef = str(body, "imageRef")
  let size = num(body, "size")
  let bootable = false
  if (sourceVolid !== undefined) {
    const source = getVolume(state, sourceVolid)
    if (source.status !== "available" && source.status !== "in-use") {
      throw badRequest(
        `Invalid volume: Volume ${source.id} status must be available or in-use, but current status is: ${source.status}.`
      )
    }
    size = size ?? source.size
    if (size < source.size) {
      throw badRequest(
        `Invalid input received: Volume size '${size}'GB cannot be smaller than original volume size ${source.size}GB. They must be >= original volume size.`
      )
    }
    bootable = source.bootable
  }
  if (snapshotId !== undefined) {
    const snapshot = getSnapshot(state, snapshotId)
    if (snapshot.status !== "available") {
      throw badRequest(`Invalid snapshot: Originating snapshot status must be one of 'available' values`)
    }
    size = size ?? snapshot.size
    if (size < snapshot.size) {
      throw badRequest(
        `Invalid input received: Volume size '${size}'GB cannot be smaller than the snapshot size ${snapshot.size}GB. They must be >= original snapshot size.`
      )
    }
    bootable = state.volumes.get(snapshot.volume_id)?.bootable ?? false
  }
  if (imageRef !== undefined) {
    if (!state.images.has(imageRef)) throw badRequest(`Invalid image identifier or unable to access requested image.`)
    bootable = true
  }
  if (size === undefined || !Number.isInteger(size) || size < 1) {
    throw badRequest(`Invalid input received: "size" (${size}) must be an integer greater than 0.`)
  }
  checkQuota(state, project, size)
  const volume = addVolume(state, {
    project,
    userId: req.token!.userId,
    name: str(body, "name") ?? "",
    size,
    description: str(body, "description"),
    bootable,
    imageId: imageRef ?? null,
    snapshotId: snapshotId ?? null,
    sourceVolid: sourceVolid ?? null,
    metadata: metadataOf(body),
    volumeType: str(body, "volume_type"),
    availabilityZone: str(body, "availability_zone")
  })
  settle(state, volume, "available", "error")
  return json(202, { volume: renderVolume(req, volume) })
}

const manage = (state: State, req: SimRequest) => {
  const project = projectOf(req)
  const body = member(req, "volume")
  const host = str(body, "host") ?? str(body, "cluster")
  if (host === undefined) throw badRequest("Invalid input received: Either host or cluster must be specified.")
  const backend = state.settings.volumeBackends.find((b) => b === host || b.split("#")[0] === host)
  if (backend === undefined) throw notFound(`Host '${host}' not found.`, "itemNotFound")
  const ref = body.ref
  if (!isRecord(ref) || Object.keys(ref).length === 0) throw badRequest("Manage existing volume requires 'ref'.")
  const size = num(ref, "size") ?? 1
  checkQuota(state, project, size)
  // a backend volume that is already managed cannot be managed twice: the
  // driver finds no unmanaged image and the new volume ends in error_managing
  const refKey = JSON.stringify(ref)
  const already = [...state.volumes.values()].some(
    (v) => v.managed_ref !== null && JSON.stringify(v.managed_ref) === refKey
  )
  const volume = addVolume(state, {
    project,
    userId: req.token!.userId,
    name: str(body, "name") ?? "",
    size,
    description: str(body, "description"),
    bootable: bool(body, "bootable") ?? false,
    metadata: metadataOf(body),
    volumeType: str(body, "volume_type"),
    availabilityZone: str(body, "availability_zone"),
    host: backend
  })
  volume.status = "managing"
  volume.managed_ref = already ? null : { ...ref }
  if (already) {
    const id = volume.id
    schedule(state, state.stepDelayMillis, (at) => {
      const v = state.volumes.get(id)
      if (v !== undefined && v.status === "managing") {
        v.status = "error_managing"
        v.updated_at = isoSeconds(at)
      }
    })
  } else {
    settle(state, volume, "available", "error_managing")
  }
  return json(202, { volume: renderVolume(req, volume) })
}

const volumeAction = (state: State, req: SimRequest, id: string) => {
  const volume = getVolume(state, id)
  if (!isRecord(req.body) || Object.keys(req.body).length !== 1) throw badRequest("Malformed request body")
  const [action, args] = Object.entries(req.body)[0]!
  switch (action) {
    case "os-set_bootable": {
      const bootable = isRecord(args) ? bool(args, "bootable") : undefined
      if (bootable === undefined) throw badRequest("Must specify bootable in request.")
      volume.bootable = bootable
      volume.updated_at = stamp(state)
      return empty(200)
    }
    case "os-unmanage":
      if (volume.attachments.length > 0 || !deletable.includes(volume.status)) {
        throw badRequest(
          `Invalid volume: Volume status must be available or error, but current status is: ${volume.status}.`
        )
      }
      startDelete(state, volume)
      return empty(202)
    case "os-reset_status": {
      const status = isRecord(args) ? str(args, "status") : undefined
      if (status === undefined) throw badRequest("Must specify 'status'")
      volume.status = status
      if (isRecord(args) && args.attach_status === "detached") volume.attachments = []
      volume.updated_at = stamp(state)
      return empty(202)
    }
    case "os-extend": {
      const newSize = isRecord(args) ? num(args, "new_size") : undefined
      if (newSize === undefined || newSize <= volume.size) {
        throw badRequest(
          `Invalid input received: New size for extend must be greater than current size. (current: ${volume.size}, extended: ${newSize}).`
        )
      }
      if (volume.status !== "available") {
        throw badRequest(
          `Invalid volume: Volume ${volume.id} status must be 'available' to extend, currently ${volume.status}.`
        )
      }
      volume.size = newSize
      volume.status = "extending"
      settle(state, volume, "available", "error_extending")
      return empty(202)
    }
    case "os-force_delete":
      startDelete(state, volume)
      return empty(202)
    default:
      throw badRequest(`There is no such action: ${action}`)
  }
}

const routes = [
  ...quotaSets.routes("volume", (state, project) => {
    const volumes = [...state.volumes.values()].filter((v) => v.project_id === project)
    return {
      volumes: volumes.length,
      gigabytes: volumes.reduce((n, v) => n + v.size, 0),
      snapshots: [...state.snapshots.values()].filter((x) => x.project_id === project).length
    }
  }),
  route("GET", "/os-availability-zone", () =>
    json(200, { availabilityZoneInfo: [{ zoneName: "nova", zoneState: { available: true } }] })
  ),
  route("GET", "/scheduler-stats/get_pools", (state) =>
    json(200, { pools: state.settings.volumeBackends.map((name) => ({ name })) })
  ),
  route("GET", "/volumes", (state, req) => listVolumes(state, req, false)),
  route("GET", "/volumes/detail", (state, req) => listVolumes(state, req, true)),
  route("POST", "/volumes", createVolume),
  route("GET", "/volumes/:id", (state, req, { id }) => json(200, { volume: renderVolume(req, getVolume(state, id!)) })),
  route("PUT", "/volumes/:id", (state, req, { id }) => {
    const volume = getVolume(state, id!)
    const body = member(req, "volume")
    volume.name = str(body, "name") ?? volume.name
    volume.description = str(body, "description") ?? volume.description
    const metadata = metadataOf(body)
    if (metadata !== undefined) volume.metadata = metadata
    volume.updated_at = stamp(state)
    return json(200, { volume: renderVolume(req, volume) })
  }),
  route("DELETE", "/volumes/:id", (state, req, { id }) => {
    const volume = getVolume(state, id!)
    const cascade = /^(1|true|yes)$/i.test(req.query.get("cascade") ?? "")
    const hasSnapshots = [...state.snapshots.values()].some((s) => s.volume_id === volume.id)
    if (!deletable.includes(volume.status) || volume.attachments.length > 0 || (hasSnapshots && !cascade)) {
      throw badRequest(
        "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots or be disassociated from snapshots after volume transfer."
      )
    }
    startDelete(state, volume)
    return empty(202)
  }),
  route("POST", "/volumes/:id/action", (state, req, { id }) => volumeAction(state, req, id!)),
  route("GET", "/volumes/:id/metadata", (state, _req, { id }) =>
    json(200, { metadata: { ...getVolume(state, id!).metadata } })
  ),
  route("POST", "/volumes/:id/metadata", (state, req, { id }) => {
    const volume = getVolume(state, id!)
    Object.assign(volume.metadata, isRecord(req.body) ? (metadataOf(req.body) ?? {}) : {})
    return json(200, { metadata: { ...volume.metadata } })
  }),

  route("POST", "/manageable_volumes", manage),
  route("POST", "/os-volume-manage", manage),

  route("GET", "/snapshots", (state, req) => listSnapshots(state, req)),
  route("GET", "/snapshots/detail", (state, req) => listSnapshots(state, req)),
  route("POST", "/snapshots", (state, req) => {
    const project = projectOf(req)
    const body = member(req, "snapshot")
    const volumeId = str(body, "volume_id")
    if (volumeId === undefined) throw badRequest("Invalid input received: 'volume_id' is a required property")
    const volume = getVolume(state, volumeId)
    const force = bool(body, "force") ?? false
    if (volume.status !== "available" && !(force && volume.status === "in-use")) {
      throw badRequest(
        `Invalid volume: Volume ${volume.id} status must be available, but current status is: ${volume.status}.`
      )
    }
    const snapshot: M.Snapshot = {
      id: uuid(state),
      name: str(body, "name") ?? "",
      description: str(body, "description") ?? "",
      volume_id: volume.id,
      project_id: project,
      size: volume.size,
      status: "creating",
      metadata: metadataOf(body) ?? {},
      created_at: stamp(state),
      updated_at: stamp(state),
      sim_seq: nextSeq(state)
    }
    state.snapshots.set(snapshot.id, snapshot)
    const id = snapshot.id
    schedule(state, state.stepDelayMillis, (at) => {
      const s = state.snapshots.get(id)
      if (s !== undefined && s.status === "creating") {
        s.status = "available"
        s.updated_at = isoSeconds(at)
      }
    })
    return json(202, { snapshot: renderSnapshot(snapshot) })
  }),
  route("GET", "/snapshots/:id", (state, _req, { id }) =>
    json(200, { snapshot: renderSnapshot(getSnapshot(state, id!)) })
  ),
  route("DELETE", "/snapshots/:id", (state, _req, { id }) => {
    const snapshot = getSnapshot(state, id!)
    if (snapshot.status !== "available" && snapshot.status !== "error") {
      throw badRequest(
        `Invalid snapshot: Snapshot status must be available or error, but current status is: ${snapshot.status}.`
      )
    }
    snapshot.status = "deleting"
    schedule(state, state.stepDelayMillis, () => {
      state.snapshots.delete(snapshot.id)
    })
    return empty(202)
  }),

  route("GET", "/types", () =>
    json(200, {
      volume_types: [
        { id: "00000000-0000-4000-8000-000000000001", name: "__DEFAULT__", is_public: true, extra_specs: {} }
      ]
    })
  )
]

const listSnapshots = (state: State, req: SimRequest) => {
  const project = projectOf(req)
  const volumeId = req.query.get("volume_id")
  const items = [...state.snapshots.values()]
    .filter((s) => s.project_id === project && (volumeId === null || s.volume_id === volumeId))
    .sort((a, b) => b.sim_seq - a.sim_seq)
  const { page, extra } = paginate(state, req, items, (s) => s.id, "snapshots")
  return json(200, { snapshots: page.map(renderSnapshot), ...extra })
}

export const handle = (state: State, req: SimRequest) => dispatch(routes, state, req)
