/**
 * Nova v2.1 subset: servers (boot from volume or image, networks as ports or
 * network ids, forced `zone:host` placement, key pairs, metadata, tags),
 * the BUILD → ACTIVE | ERROR, stop → SHUTOFF, start → ACTIVE and delete
 * state machines, console output, interface attachments, flavors with extra
 * specs and access lists, key pairs, availability zones.
 */

import * as cinder from "./cinder.ts"
import {
  atLeast,
  dispatch,
  empty,
  isRecord,
  json,
  member,
  num,
  paginate,
  projectOf,
  queryValues,
  route,
  type SimRequest,
  str,
  stringMap,
  strings,
  tagFilter
} from "./http.ts"
import type * as M from "./model.ts"
import * as neutron from "./neutron.ts"
import * as quotaSets from "./quotaSets.ts"
import {
  badRequest,
  conflict,
  isoSeconds,
  nextSeq,
  notFound,
  SimFailure,
  type State,
  schedule,
  takeResourceRule,
  uuid
} from "./state.ts"

const forbidden = (message: string) => new SimFailure(403, message, "forbidden")

const stamp = (state: State) => isoSeconds(state.now)

const link = (req: SimRequest, kind: string, id: string) => [
  { rel: "self", href: `${req.root}/${kind}/${id}` },
  { rel: "bookmark", href: `${req.root.replace(/\/v2\.1$/, "")}/${kind}/${id}` }
]

/** Server metadata: keys and values of at most 255 characters, as Nova's schema checks. */
const serverMetadata = (body: Record<string, unknown>): Record<string, string> | undefined => {
  const metadata = stringMap(body, "metadata")
  for (const [k, v] of Object.entries(metadata ?? {})) {
    if (k.length === 0 || k.length > 255 || v.length > 255) {
      throw badRequest(
        `Invalid input for field/attribute metadata. Value: ${k}. '${k}' does not match any of the regexes`
      )
    }
  }
  return metadata
}

export const getServer = (state: State, id: string): M.Server => {
  const s = state.servers.get(id)
  if (s === undefined) throw notFound(`Instance ${id} could not be found.`, "itemNotFound")
  return s
}

const getFlavor = (state: State, ref: string): M.Flavor => {
  const id = ref.split("/").pop() ?? ref
  const f = state.flavors.get(id)
  if (f === undefined) throw notFound(`Flavor ${id} could not be found.`, "itemNotFound")
  return f
}

const zones = (state: State) => state.settings.availabilityZones
const allHosts = (state: State) => Object.values(zones(state)).flat()

// ---------------------------------------------------------------- rendering

const renderFlavor = (req: SimRequest, f: M.Flavor) => ({
  id: f.id,
  name: f.name,
  ram: f.ram,
  vcpus: f.vcpus,
  disk: f.disk,
  "OS-FLV-EXT-DATA:ephemeral": f.ephemeral,
  "OS-FLV-DISABLED:disabled": false,
  swap: atLeast(req, "2.75") ? f.swap : f.swap === 0 ? "" : f.swap,
  rxtx_factor: f.rxtx_factor,
  "os-flavor-access:is_public": f.is_public,
  ...(atLeast(req, "2.55") ? { description: f.description } : {}),
  ...(atLeast(req, "2.61") ? { extra_specs: { ...f.extra_specs } } : {}),
  links: link(req, "flavors", f.id)
})

const addresses = (state: State, server: M.Server) => {
  const out: Record<string, Array<Record<string, unknown>>> = {}
  for (const id of server.port_ids) {
    const port = state.ports.get(id)
    if (port === undefined) continue
    const name = state.networks.get(port.network_id)?.name ?? port.network_id
    const list = out[name] ?? []
    for (const ip of port.fixed_ips) {
      list.push({
        version: ip.ip_address.includes(":") ? 6 : 4,
        addr: ip.ip_address,
        "OS-EXT-IPS:type": "fixed",
        "OS-EXT-IPS-MAC:mac_addr": port.mac_address
      })
      for (const fip of state.floatingips.values()) {
        if (fip.port_id === port.id && fip.fixed_ip_address === ip.ip_address) {
          list.push({
            version: 4,
            addr: fip.floating_ip_address,
            "OS-EXT-IPS:type": "floating",
            "OS-EXT-IPS-MAC:mac_addr": port.mac_address
          })
        }
      }
    }
    out[name] = list
  }
  return out
}

const renderServer = (state: State, req: SimRequest, s: M.Server) => {
  const flavor = state.flavors.get(s.flavor_id)
  return {
    id: s.id,
    name: s.name,
    status: s.status,
    tenant_id: s.project_id,
    user_id: s.user_id,
    metadata: { ...s.metadata },
    hostId: s.host === "" ? "" : `host-${s.host}`,
    image: s.image_id === "" ? "" : { id: s.image_id, links: link(req, "images", s.image_id) },
    flavor: atLeast(req, "2.47")
      ? {
          original_name: flavor?.name ?? "",
          vcpus: flavor?.vcpus ?? 0,
          ram: flavor?.ram ?? 0,
          disk: flavor?.disk ?? 0,
          ephemeral: flavor?.ephemeral ?? 0,
          swap: flavor?.swap ?? 0,
          extra_specs: { ...(flavor?.extra_specs ?? {}) }
        }
      : { id: s.flavor_id, links: link(req, "flavors", s.flavor_id) },
    created: s.created,
    updated: s.updated,
    addresses: addresses(state, s),
    accessIPv4: "",
    accessIPv6: "",
    links: link(req, "servers", s.id),
    "OS-DCF:diskConfig": "MANUAL",
    progress: s.status === "BUILD" ? 0 : 100,
    "OS-EXT-AZ:availability_zone": s.availability_zone,
    config_drive: "",
    key_name: s.key_name,
    "OS-SRV-USG:launched_at": s.launched_at,
    "OS-SRV-USG:terminated_at": null,
    "OS-EXT-SRV-ATTR:host": s.host === "" ? null : s.host,
    "OS-EXT-SRV-ATTR:hypervisor_hostname": s.host === "" ? null : s.host,
    "OS-EXT-SRV-ATTR:instance_name": `instance-${s.sim_seq.toString(16).padStart(8, "0")}`,
    "OS-EXT-STS:task_state": s.task_state,
    "OS-EXT-STS:vm_state": s.vm_state,
    "OS-EXT-STS:power_state": s.power_state,
    "os-extended-volumes:volumes_attached": s.volumes.map((v) => ({
      id: v.volume_id,
      delete_on_termination: v.delete_on_termination
    })),
    security_groups: s.security_groups.map((name) => ({ name })),
    ...(atLeast(req, "2.26") ? { tags: [...s.tags] } : {}),
    ...(s.fault === null ? {} : { fault: { ...s.fault } })
  }
}

const interfaceOf = (port: M.Port) => ({
  port_id: port.id,
  net_id: port.network_id,
  mac_addr: port.mac_address,
  port_state: port.status,
  fixed_ips: port.fixed_ips.map((f) => ({ ...f }))
})

// ---------------------------------------------------------------- state machine

const releaseVolumes = (state: State, server: M.Server) => {
  for (const ref of server.volumes) {
    const volume = state.volumes.get(ref.volume_id)
    if (volume === undefined) continue
    volume.attachments = volume.attachments.filter((a) => a.server_id !== server.id)
    if (ref.delete_on_termination) cinder.startDelete(state, volume)
    else {
      volume.status = "available"
      volume.updated_at = stamp(state)
    }
  }
}

const finishBuild = (state: State, id: string, failure: string | undefined) => (at: number) => {
  const server = state.servers.get(id)
  if (server === undefined || server.status !== "BUILD" || server.task_state === "deleting") return
  server.task_state = null
  server.updated = isoSeconds(at)
  if (failure !== undefined) {
    server.status = "ERROR"
    server.vm_state = "error"
    server.power_state = 0
    server.fault = { code: 500, message: failure, created: isoSeconds(at) }
    // like Nova after a failed build: the volumes are released, the ports stay
    for (const ref of server.volumes) {
      const volume = state.volumes.get(ref.volume_id)
      if (volume !== undefined) {
        volume.status = "available"
        volume.attachments = []
      }
    }
    server.volumes = []
    neutron.syncServerPorts(state, server)
    return
  }
  server.status = "ACTIVE"
  server.vm_state = "active"
  server.power_state = 1
  server.launched_at = isoSeconds(at)
  for (const ref of server.volumes) {
    const volume = state.volumes.get(ref.volume_id)
    if (volume === undefined) continue
    volume.status = "in-use"
    volume.updated_at = isoSeconds(at)
    volume.attachments = [
      {
        id: volume.id,
        attachment_id: uuid(state),
        volume_id: volume.id,
        server_id: server.id,
        host_name: server.host,
        device: ref.device,
        attached_at: isoSeconds(at)
      }
    ]
  }
  neutron.syncServerPorts(state, server)
}

const removeServer = (state: State, id: string) => () => {
  const server = state.servers.get(id)
  if (server === undefined) return
  for (const portId of [...server.port_ids]) {
    const port = state.ports.get(portId)
    if (port === undefined) continue
    if (port.sim_nova_owned) neutron.removePort(state, port)
    else {
      port.device_id = ""
      port.device_owner = ""
      port.status = "DOWN"
      port["binding:host_id"] = ""
      port["binding:vif_type"] = "unbound"
    }
  }
  releaseVolumes(state, server)
  state.servers.delete(id)
}

/** Fault injection: an existing server goes to ERROR now. */
export const crashServer = (state: State, id: string, message: string) => {
  const server = state.servers.get(id)
  if (server === undefined) return false
  server.status = "ERROR"
  server.vm_state = "error"
  server.task_state = null
  server.power_state = 0
  server.fault = { code: 500, message, created: stamp(state) }
  server.updated = stamp(state)
  neutron.syncServerPorts(state, server)
  return true
}

const transition = (
  state: State,
  server: M.Server,
  taskState: string,
  to: { status: string; vm_state: string; power_state: number }
) => {
  server.task_state = taskState
  server.updated = stamp(state)
  const id = server.id
  schedule(state, state.stepDelayMillis, (at) => {
    const s = state.servers.get(id)
    if (s === undefined || s.task_state !== taskState) return
    s.status = to.status
    s.vm_state = to.vm_state
    s.power_state = to.power_state
    s.task_state = null
    s.updated = isoSeconds(at)
    neutron.syncServerPorts(state, s)
  })
}

// ---------------------------------------------------------------- server create

const parseZone = (state: State, text: string | undefined) => {
  const names = Object.keys(zones(state))
  if (text === undefined || text === "") return { zone: names[0]!, host: undefined }
  const [zone, host, node] = text.split(":")
  const zoneName = zone === "" || zone === undefined ? names[0]! : zone
  if (!(zoneName in zones(state))) throw badRequest("The requested availability zone is not available")
  const forced = host !== undefined && host !== "" ? host : node !== undefined && node !== "" ? node : undefined
  return { zone: zoneName, host: forced }
}

const counts = (state: State, project: string) => {
  let instances = 0
  let cores = 0
  let ram = 0
  for (const s of state.servers.values()) {
    if (s.project_id !== project) continue
    const f = state.flavors.get(s.flavor_id)
    instances += 1
    cores += f?.vcpus ?? 0
    ram += f?.ram ?? 0
  }
  return { instances, cores, ram }
}

const checkQuota = (state: State, project: string, flavor: M.Flavor) => {
  const used = counts(state, project)
  const q = {
    instances: quotaSets.limitOf(state, "compute", project, "instances"),
    cores: quotaSets.limitOf(state, "compute", project, "cores"),
    ram: quotaSets.limitOf(state, "compute", project, "ram")
  }
  const over = (resource: string, requested: number, inUse: number, limit: number) => {
    if (limit >= 0 && inUse + requested > limit) {
      throw forbidden(
        `Quota exceeded for ${resource}: Requested ${requested}, but already used ${inUse} of ${limit} ${resource}`
      )
    }
  }
  over("instances", 1, used.instances, q.instances)
  over("cores", flavor.vcpus, used.cores, q.cores)
  over("ram", flavor.ram, used.ram, q.ram)
}

const checkServerTag = (tag: string) => {
  if (tag.length === 0 || tag.length > 60 || tag.includes(",") || tag.includes("/")) {
    throw badRequest(`Invalid input for field/attribute tags. Value: ${tag}. '${tag}' is not a valid tag`)
  }
}

const createServer = (state: State, req: SimRequest) => {
  const project = projectOf(req)
  const body = member(req, "server")
  const name = str(body, "name")
  if (name === undefined || name.length === 0) throw badRequest("Invalid input for field/attribute name. Value: None.")
  const flavorRef = str(body, "flavorRef")
  if (flavorRef === undefined) throw badRequest("Missing flavorRef attribute")
  const flavor = (() => {
    try {
      return getFlavor(state, flavorRef)
    } catch {
      throw badRequest(`Flavor ${flavorRef} could not be found.`)
    }
  })()
  const bdm = body.block_device_mapping_v2
  if (bdm !== undefined && !Array.isArray(bdm))
    throw badRequest("Invalid input for field/attribute block_device_mapping_v2.")
  const mappings = (bdm ?? []) as Array<unknown>
  const imageRef = str(body, "imageRef") ?? ""
  const bootsFromVolume = mappings.some((m) => isRecord(m) && Number(m.boot_index) === 0)
  if (imageRef === "" && !bootsFromVolume)
    throw badRequest(
      "Block Device Mapping is Invalid: Boot sequence for the instance and image/block device mapping combination is not valid."
    )
  if (imageRef !== "" && !state.images.has(imageRef.split("/").pop() ?? imageRef)) {
    throw badRequest(`Invalid imageRef provided.`)
  }
  const tags = strings(body, "tags")
  if (tags !== undefined && !atLeast(req, "2.52")) {
    throw badRequest(
      "Invalid input for field/attribute server. Value: tags. Additional properties are not allowed ('tags' was unexpected)"
    )
  }
  for (const t of tags ?? []) checkServerTag(t)
  const keyName = str(body, "key_name") ?? null
  if (
    keyName !== null &&
    ![...state.keypairs.values()].some((k) => k.name === keyName && k.user_id === req.token!.userId)
  ) {
    throw badRequest("Invalid key_name provided.")
  }
  const placement = parseZone(state, str(body, "availability_zone"))
  const hostParam = atLeast(req, "2.74") ? (str(body, "host") ?? str(body, "hypervisor_hostname")) : undefined
  if (hostParam !== undefined && !allHosts(state).includes(hostParam)) {
    throw badRequest(`Compute host ${hostParam} could not be found.`)
  }
  const networks = body.networks
  if (networks === undefined && atLeast(req, "2.37")) {
    throw badRequest("Invalid input for field/attribute server. Value: 'networks' is a required property")
  }
  const metadata = serverMetadata(body) ?? {}
  checkQuota(state, project, flavor)

  // validate the security groups before anything is created
  const groupRefs = Array.isArray(body.security_groups)
    ? body.security_groups.map((g) => (isRecord(g) && typeof g.name === "string" ? g.name : String(g)))
    : ["default"]
  const groups = groupRefs.map((ref) => {
    const g = neutron.findSecurityGroup(state, project, ref)
    if (g === undefined) throw badRequest(`Security group ${ref} not found for project ${project}.`)
    return g
  })

  // validate the networks and ports
  type NetRequest = { readonly port: M.Port } | { readonly network: M.Network; readonly fixedIp: string | undefined }
  const netRequests: Array<NetRequest> = []
  if (networks === "auto") {
    const candidates = [...state.networks.values()].filter((n) => n.project_id === project && !n["router:external"])
    if (candidates.length !== 1) throw badRequest(`Unable to automatically allocate a network for project ${project}`)
    netRequests.push({ network: candidates[0]!, fixedIp: undefined })
  } else if (Array.isArray(networks)) {
    for (const n of networks) {
      if (!isRecord(n)) throw badRequest("Bad networks format")
      const portId = str(n, "port")
      if (portId !== undefined) {
        const port = state.ports.get(portId)
        if (port === undefined) throw badRequest(`Port ${portId} could not be found.`)
        if (port.device_id !== "") throw new SimFailure(409, `Port ${portId} is still in use.`, "conflictingRequest")
        netRequests.push({ port })
        continue
      }
      const netId = str(n, "uuid")
      if (netId === undefined) throw badRequest("Bad networks format: network uuid is not in proper format")
      const network = state.networks.get(netId)
      if (network === undefined) throw badRequest(`Network ${netId} could not be found.`)
      if (network.subnets.length === 0)
        throw badRequest(`Network ${netId} requires a subnet in order to boot instances on.`)
      netRequests.push({ network, fixedIp: str(n, "fixed_ip") })
    }
  } else if (networks !== undefined && networks !== "none") {
    throw badRequest("Bad networks format")
  }

  // validate the block devices
  type Disk = { readonly volume: M.Volume; readonly created: boolean; readonly ref: M.VolumeAttachmentRef }
  const plannedDisks: Array<() => Disk> = []
  const letters = "abcdefghijklmnopqrstuvwxyz"
  mappings.forEach((raw, i) => {
    if (!isRecord(raw)) throw badRequest("Block Device Mapping is Invalid: malformed mapping.")
    const sourceType = str(raw, "source_type") ?? "image"
    const destination = str(raw, "destination_type") ?? "volume"
    const bootIndex = raw.boot_index === undefined || raw.boot_index === null ? null : Number(raw.boot_index)
    const deleteOnTermination = raw.delete_on_termination === true
    const device = str(raw, "device_name") ?? `/dev/vd${letters[i] ?? "z"}`
    const uuidRef = str(raw, "uuid")
    if (destination !== "volume") return
    if (sourceType === "volume") {
      const volume = uuidRef === undefined ? undefined : state.volumes.get(uuidRef)
      if (volume === undefined) throw badRequest(`Block Device Mapping is Invalid: failed to get volume ${uuidRef}.`)
      if (volume.status !== "available") {
        throw badRequest(
          `Invalid volume: volume ${volume.id} status must be 'available'. Currently in '${volume.status}'`
        )
      }
      if (bootIndex === 0 && !volume.bootable) throw badRequest(`Block Device ${volume.id} is not bootable.`)
      plannedDisks.push(() => ({
        volume,
        created: false,
        ref: { volume_id: volume.id, device, delete_on_termination: deleteOnTermination, boot_index: bootIndex }
      }))
    } else if (sourceType === "image" || sourceType === "blank" || sourceType === "snapshot") {
      const size = num(raw, "volume_size")
      if (size === undefined)
        throw badRequest("Block Device Mapping is Invalid: You specified more local devices than the limit allows")
      if (sourceType === "image" && (uuidRef === undefined || !state.images.has(uuidRef))) {
        throw badRequest(`Block Device Mapping is Invalid: failed to get image ${uuidRef}.`)
      }
      if (sourceType === "snapshot" && (uuidRef === undefined || !state.snapshots.has(uuidRef))) {
        throw badRequest(`Block Device Mapping is Invalid: failed to get snapshot ${uuidRef}.`)
      }
      plannedDisks.push(() => {
        const volume = cinder.addVolume(state, {
          project,
          userId: req.token!.userId,
          name: "",
          size,
          bootable: sourceType === "image",
          imageId: sourceType === "image" ? (uuidRef ?? null) : null,
          snapshotId: sourceType === "snapshot" ? (uuidRef ?? null) : null
        })
        volume.status = "creating"
        return {
          volume,
          created: true,
          ref: { volume_id: volume.id, device, delete_on_termination: deleteOnTermination, boot_index: bootIndex }
        }
      })
    } else {
      throw badRequest(`Block Device Mapping is Invalid: unknown source_type ${sourceType}.`)
    }
  })

  // everything checked: create
  const id = uuid(state)
  const hosts = zones(state)[placement.zone] ?? []
  const forcedHost = placement.host ?? hostParam
  const host = forcedHost ?? hosts[nextSeq(state) % Math.max(hosts.length, 1)] ?? ""
  const server: M.Server = {
    id,
    name,
    project_id: project,
    user_id: req.token!.userId,
    status: "BUILD",
    vm_state: "building",
    task_state: "scheduling",
    power_state: 0,
    flavor_id: flavor.id,
    image_id: imageRef === "" ? "" : (imageRef.split("/").pop() ?? imageRef),
    key_name: keyName,
    availability_zone: placement.zone,
    host,
    metadata,
    tags: [...(tags ?? [])],
    security_groups: groups.map((g) => g.name),
    port_ids: [],
    volumes: [],
    fault: null,
    created: stamp(state),
    updated: stamp(state),
    launched_at: null,
    console_output: null,
    sim_seq: nextSeq(state)
  }
  for (const request of netRequests) {
    if ("port" in request) {
      request.port.device_id = id
      request.port.device_owner = `compute:${placement.zone}`
      server.port_ids.push(request.port.id)
    } else {
      const port = neutron.createPort(state, {
        networkId: request.network.id,
        project,
        fixedIps: request.fixedIp === undefined ? undefined : [{ ip_address: request.fixedIp }],
        securityGroups: groups.map((g) => g.id),
        deviceId: id,
        deviceOwner: `compute:${placement.zone}`,
        novaOwned: true
      })
      server.port_ids.push(port.id)
    }
  }
  for (const plan of plannedDisks) {
    const disk = plan()
    if (!disk.created) disk.volume.status = "reserved"
    server.volumes.push(disk.ref)
  }
  state.servers.set(id, server)

  const rule = takeResourceRule(state.serverFailRules, name)
  const failure =
    rule !== undefined
      ? rule.message
      : forcedHost !== undefined && !hosts.includes(forcedHost) && !allHosts(state).includes(forcedHost)
        ? "No valid host was found. "
        : undefined
  server.task_state = "spawning"
  schedule(state, state.stepDelayMillis, finishBuild(state, id, failure))
  return json(202, {
    server: {
      id,
      links: link(req, "servers", id),
      "OS-DCF:diskConfig": "MANUAL",
      security_groups: server.security_groups.map((n) => ({ name: n })),
      adminPass: "sim-admin-pass"
    }
  })
}

// ---------------------------------------------------------------- server listing

const listServers = (state: State, req: SimRequest, detail: boolean) => {
  const project = projectOf(req)
  const allTenants = /^(1|true|yes)$/i.test(req.query.get("all_tenants") ?? "")
  const names = req.query.get("name")
  const nameRe = names === null ? undefined : new RegExp(names)
  const statuses = queryValues(req.query, "status").map((s) => s.toUpperCase())
  const tagged = tagFilter(req.query)
  const host = req.query.get("host")
  const items = [...state.servers.values()]
    .filter(
      (s) =>
        (allTenants || s.project_id === project) &&
        (nameRe === undefined || nameRe.test(s.name)) &&
        (statuses.length === 0 || statuses.includes(s.status)) &&
        (host === null || s.host === host) &&
        tagged(s.tags)
    )
    .sort((a, b) => b.sim_seq - a.sim_seq)
  const { page, extra } = paginate(state, req, items, (s) => s.id, "servers")
  return json(200, {
    servers: page.map((s) =>
      detail ? renderServer(state, req, s) : { id: s.id, name: s.name, links: link(req, "servers", s.id) }
    ),
    ...extra
  })
}

// ---------------------------------------------------------------- actions

const consoleOutput = (state: State, server: M.Server, length: number | undefined) => {
  const text =
    server.console_output ??
    [
      "[    0.000000] Linux version 6.1.0-sim (simulator@openstack) #1 SMP",
      "[    0.512345] EXT4-fs (vda1): mounted filesystem with ordered data mode",
      `[    2.345678] cloud-init[412]: Cloud-init v. 23.1 running 'init' at ${server.launched_at ?? server.created}`,
      `[    3.456789] cloud-init[412]: ci-info: | eth0 | True | ${[...server.port_ids].map((p) => state.ports.get(p)?.fixed_ips[0]?.ip_address ?? "").join(",")} |`,
      "",
      `Debian GNU/Linux 12 ${server.name} ttyS0`,
      "",
      `${server.name} login: `
    ].join("\n")
  const lines = text.split("\n")
  return length === undefined || length < 0 ? text : lines.slice(-length).join("\n")
}

const serverAction = (state: State, req: SimRequest, id: string) => {
  const server = getServer(state, id)
  if (!isRecord(req.body) || Object.keys(req.body).length !== 1) throw badRequest("Malformed request body")
  const [action, args] = Object.entries(req.body)[0]!
  const busy = () => {
    if (server.task_state !== null) {
      throw conflict(
        `Cannot '${action}' instance ${server.id} while it is in task_state ${server.task_state}`,
        "conflictingRequest"
      )
    }
  }
  switch (action) {
    case "os-stop":
      busy()
      if (server.status !== "ACTIVE") {
        throw conflict(
          `Cannot 'stop' instance ${server.id} while it is in vm_state ${server.vm_state}`,
          "conflictingRequest"
        )
      }
      transition(state, server, "powering-off", { status: "SHUTOFF", vm_state: "stopped", power_state: 4 })
      return empty(202)
    case "os-start":
      busy()
      if (server.status !== "SHUTOFF") {
        throw conflict(
          `Instance ${server.id} in vm_state ${server.vm_state}. Cannot start while the instance is in this state.`,
          "conflictingRequest"
        )
      }
      transition(state, server, "powering-on", { status: "ACTIVE", vm_state: "active", power_state: 1 })
      return empty(202)
    case "reboot":
      busy()
      if (server.status !== "ACTIVE" && server.status !== "SHUTOFF") {
        throw conflict(
          `Cannot 'reboot' instance ${server.id} while it is in vm_state ${server.vm_state}`,
          "conflictingRequest"
        )
      }
      server.status = "REBOOT"
      transition(state, server, "rebooting", { status: "ACTIVE", vm_state: "active", power_state: 1 })
      return empty(202)
    case "os-getConsoleOutput": {
      if (server.status !== "ACTIVE" && server.status !== "SHUTOFF") {
        throw conflict(`Guest does not have a console available.`, "conflictingRequest")
      }
      const length = isRecord(args) ? num(args, "length") : undefined
      return json(200, { output: consoleOutput(state, server, length) })
    }
    default:
      throw badRequest(`There is no such action: ${action}`)
  }
}

// ---------------------------------------------------------------- flavors

const listFlavors = (state: State, req: SimRequest, detail: boolean) => {
  const project = projectOf(req)
  const isPublic = (req.query.get("is_public") ?? "true").toLowerCase()
  const minRam = Number(req.query.get("minRam") ?? 0)
  const minDisk = Number(req.query.get("minDisk") ?? 0)
  const items = [...state.flavors.values()]
    .filter(
      (f) =>
        (isPublic === "none"
          ? true
          : isPublic === "false"
            ? !f.is_public
            : f.is_public || f.access.includes(project)) &&
        f.ram >= minRam &&
        f.disk >= minDisk
    )
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  const { page, extra } = paginate(state, req, items, (f) => f.id, "flavors")
  return json(200, {
    flavors: page.map((f) =>
      detail
        ? renderFlavor(req, f)
        : {
            id: f.id,
            name: f.name,
            ...(atLeast(req, "2.55") ? { description: f.description } : {}),
            links: link(req, "flavors", f.id)
          }
    ),
    ...extra
  })
}

const createFlavor = (state: State, req: SimRequest) => {
  const body = member(req, "flavor")
  const name = str(body, "name")
  if (name === undefined || name.trim().length === 0 || name.length > 255) {
    throw badRequest("Invalid input for field/attribute name. Value: None.")
  }
  const integer = (key: string, min: number, required: boolean) => {
    const v = num(body, key)
    if (v === undefined) {
      if (required) throw badRequest(`Invalid input for field/attribute flavor. Value: '${key}' is a required property`)
      return min
    }
    if (!Number.isInteger(v) || v < min)
      throw badRequest(`Invalid input for field/attribute ${key}. Value: ${v}. must be >= ${min}`)
    return v
  }
  const ram = integer("ram", 1, true)
  const vcpus = integer("vcpus", 1, true)
  const disk = integer("disk", 0, true)
  const rawId = body.id
  const id = rawId === undefined || rawId === null || rawId === "auto" ? uuid(state) : String(rawId)
  if ([...state.flavors.values()].some((f) => f.name === name)) {
    throw conflict(`Flavor with name ${name} already exists.`, "conflictingRequest")
  }
  if (state.flavors.has(id)) throw conflict(`Flavor with ID ${id} already exists.`, "conflictingRequest")
  const flavor: M.Flavor = {
    id,
    name,
    ram,
    vcpus,
    disk,
    ephemeral: num(body, "OS-FLV-EXT-DATA:ephemeral") ?? 0,
    swap: num(body, "swap") ?? 0,
    rxtx_factor: num(body, "rxtx_factor") ?? 1,
    is_public: body["os-flavor-access:is_public"] === undefined ? true : body["os-flavor-access:is_public"] === true,
    description: atLeast(req, "2.55") ? (str(body, "description") ?? null) : null,
    extra_specs: {},
    access: []
  }
  state.flavors.set(id, flavor)
  return json(200, { flavor: renderFlavor(req, flavor) })
}

const flavorAccess = (f: M.Flavor) => ({ flavor_access: f.access.map((tenant_id) => ({ flavor_id: f.id, tenant_id })) })

const flavorAction = (state: State, req: SimRequest, id: string) => {
  const flavor = getFlavor(state, id)
  if (!isRecord(req.body)) throw badRequest("Malformed request body")
  const add = req.body.addTenantAccess
  const remove = req.body.removeTenantAccess
  if (isRecord(add)) {
    const tenant = str(add, "tenant")
    if (tenant === undefined) throw badRequest("Missing tenant parameter")
    if (flavor.is_public) throw conflict("Can not add access to a public flavor.", "conflictingRequest")
    if (flavor.access.includes(tenant)) {
      throw conflict(
        `Flavor access already exists for flavor ${flavor.id} and project ${tenant} combination.`,
        "conflictingRequest"
      )
    }
    flavor.access.push(tenant)
    return json(200, flavorAccess(flavor))
  }
  if (isRecord(remove)) {
    const tenant = str(remove, "tenant")
    if (tenant === undefined || !flavor.access.includes(tenant)) {
      throw notFound(`Flavor access not found for ${flavor.id} / ${tenant} combination.`, "itemNotFound")
    }
    flavor.access = flavor.access.filter((t) => t !== tenant)
    return json(200, flavorAccess(flavor))
  }
  throw badRequest("There is no such action")
}

// ---------------------------------------------------------------- keypairs

const fingerprint = (text: string) => {
  let h = 0x811c9dc5
  const bytes: Array<string> = []
  for (let round = 0; round < 16; round++) {
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0
    h = Math.imul(h ^ round, 0x01000193) >>> 0
    bytes.push((h & 255).toString(16).padStart(2, "0"))
  }
  return bytes.join(":")
}

/**
 * Whether `text` is an OpenSSH public key Nova can fingerprint: a known type,
 * then base64 of a blob that starts with the same type as a length-prefixed
 * string (Nova parses the key and refuses anything else).
 */
const isOpenSshKey = (text: string): boolean => {
  const [type, data] = text.trim().split(/\s+/)
  if (type === undefined || data === undefined) return false
  if (!/^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-\S+)$/.test(type) || !/^[A-Za-z0-9+/]+={0,2}$/.test(data)) return false
  let blob: string
  try {
    blob = atob(data)
  } catch {
    return false
  }
  const length =
    ((blob.charCodeAt(0) << 24) | (blob.charCodeAt(1) << 16) | (blob.charCodeAt(2) << 8) | blob.charCodeAt(3)) >>> 0
  return blob.length > 4 + length && blob.slice(4, 4 + length) === type
}

const renderKeypair = (k: M.Keypair, full: boolean) => ({
  name: k.name,
  public_key: k.public_key,
  fingerprint: k.fingerprint,
  type: k.type,
  ...(full
    ? { user_id: k.user_id, created_at: k.created_at, deleted: false, updated_at: null, deleted_at: null, id: 1 }
    : {})
})

const keypairKey = (userId: string, name: string) => `${userId}/${name}`

const getKeypair = (state: State, req: SimRequest, name: string): M.Keypair => {
  const k = state.keypairs.get(keypairKey(req.token!.userId, name))
  if (k === undefined) throw notFound(`Keypair ${name} not found for user ${req.token!.userId}`, "itemNotFound")
  return k
}

const createKeypair = (state: State, req: SimRequest) => {
  const body = member(req, "keypair")
  const name = str(body, "name")
  if (name === undefined || !/^[A-Za-z0-9 _.@-]{1,255}$/.test(name)) {
    throw badRequest(`Invalid input for field/attribute name. Value: ${name}.`)
  }
  const type = str(body, "type") ?? "ssh"
  let publicKey = str(body, "public_key")
  if (publicKey === undefined && atLeast(req, "2.92")) {
    throw badRequest("Invalid input for field/attribute keypair. Value: 'public_key' is a required property")
  }
  const key = keypairKey(req.token!.userId, name)
  if (state.keypairs.has(key)) throw conflict(`Key pair '${name}' already exists.`, "conflictingRequest")
  let privateKey: string | undefined
  if (publicKey === undefined) {
    const material = uuid(state).replace(/-/g, "")
    publicKey = `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${material} Generated-by-Nova`
    privateKey = `-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA${material}\n-----END OPENSSH PRIVATE KEY-----\n`
  } else if (type === "ssh" && !isOpenSshKey(publicKey)) {
    throw badRequest("Keypair data is invalid: failed to generate fingerprint")
  }
  const keypair: M.Keypair = {
    name,
    user_id: req.token!.userId,
    public_key: publicKey,
    fingerprint: fingerprint(publicKey),
    type,
    created_at: stamp(state)
  }
  state.keypairs.set(key, keypair)
  return json(atLeast(req, "2.2") ? 201 : 200, {
    keypair: {
      ...renderKeypair(keypair, false),
      user_id: keypair.user_id,
      ...(privateKey === undefined ? {} : { private_key: privateKey })
    }
  })
}

// ---------------------------------------------------------------- routes

const routes = [
  ...quotaSets.routes("compute", (state, project) => ({
    ...counts(state, project),
    key_pairs: [...state.keypairs.values()].length
  })),
  route("GET", "/servers", (state, req) => listServers(state, req, false)),
  route("GET", "/servers/detail", (state, req) => listServers(state, req, true)),
  route("POST", "/servers", createServer),
  route("GET", "/servers/:id", (state, req, { id }) =>
    json(200, { server: renderServer(state, req, getServer(state, id!)) })
  ),
  route("PUT", "/servers/:id", (state, req, { id }) => {
    const server = getServer(state, id!)
    const body = member(req, "server")
    server.name = str(body, "name") ?? server.name
    server.updated = stamp(state)
    return json(200, { server: renderServer(state, req, server) })
  }),
  route("DELETE", "/servers/:id", (state, _req, { id }) => {
    const server = getServer(state, id!)
    server.task_state = "deleting"
    server.updated = stamp(state)
    schedule(state, state.stepDelayMillis, removeServer(state, server.id))
    return empty(204)
  }),
  route("POST", "/servers/:id/action", (state, req, { id }) => serverAction(state, req, id!)),
  route("GET", "/servers/:id/metadata", (state, _req, { id }) =>
    json(200, { metadata: { ...getServer(state, id!).metadata } })
  ),
  route("POST", "/servers/:id/metadata", (state, req, { id }) => {
    const server = getServer(state, id!)
    Object.assign(server.metadata, isRecord(req.body) ? (serverMetadata(req.body) ?? {}) : {})
    return json(200, { metadata: { ...server.metadata } })
  }),
  route("PUT", "/servers/:id/metadata", (state, req, { id }) => {
    const server = getServer(state, id!)
    server.metadata = isRecord(req.body) ? (serverMetadata(req.body) ?? {}) : {}
    return json(200, { metadata: { ...server.metadata } })
  }),
  route("GET", "/servers/:id/tags", (state, _req, { id }) => json(200, { tags: [...getServer(state, id!).tags] })),
  route("PUT", "/servers/:id/tags", (state, req, { id }) => {
    const server = getServer(state, id!)
    const tags = isRecord(req.body) ? strings(req.body, "tags") : undefined
    if (tags === undefined) throw badRequest("Invalid input for field/attribute tags.")
    for (const t of tags) checkServerTag(t)
    server.tags = [...new Set(tags)]
    return json(200, { tags: [...server.tags] })
  }),
  route("DELETE", "/servers/:id/tags", (state, _req, { id }) => {
    getServer(state, id!).tags = []
    return empty(204)
  }),
  route("GET", "/servers/:id/tags/:tag", (state, _req, { id, tag }) => {
    if (!getServer(state, id!).tags.includes(tag!)) throw notFound(`Tag ${tag} could not be found.`, "itemNotFound")
    return empty(204)
  }),
  route("PUT", "/servers/:id/tags/:tag", (state, _req, { id, tag }) => {
    const server = getServer(state, id!)
    checkServerTag(tag!)
    if (server.tags.includes(tag!)) return empty(204)
    server.tags.push(tag!)
    return empty(201)
  }),
  route("DELETE", "/servers/:id/tags/:tag", (state, _req, { id, tag }) => {
    const server = getServer(state, id!)
    if (!server.tags.includes(tag!)) throw notFound(`Tag ${tag} could not be found.`, "itemNotFound")
    server.tags = server.tags.filter((t) => t !== tag)
    return empty(204)
  }),
  route("GET", "/servers/:id/os-interface", (state, _req, { id }) => {
    const server = getServer(state, id!)
    return json(200, {
      interfaceAttachments: server.port_ids
        .map((p) => state.ports.get(p))
        .filter((p): p is M.Port => p !== undefined)
        .map((p) => interfaceOf(p))
    })
  }),
  route("GET", "/servers/:id/os-interface/:port", (state, _req, { id, port }) => {
    const server = getServer(state, id!)
    const p = server.port_ids.includes(port!) ? state.ports.get(port!) : undefined
    if (p === undefined) throw notFound(`Port ${port} is not attached`, "itemNotFound")
    return json(200, { interfaceAttachment: interfaceOf(p) })
  }),
  route("POST", "/servers/:id/os-interface", (state, req, { id }) => {
    const server = getServer(state, id!)
    if (server.status !== "ACTIVE" && server.status !== "SHUTOFF") {
      throw conflict(
        `Cannot 'attach_interface' instance ${server.id} while it is in vm_state ${server.vm_state}`,
        "conflictingRequest"
      )
    }
    const body = member(req, "interfaceAttachment")
    const portId = str(body, "port_id")
    let port: M.Port
    if (portId !== undefined) {
      port = neutron.getPort(state, portId)
      if (port.device_id !== "") throw conflict(`Port ${portId} is still in use.`, "conflictingRequest")
      port.device_id = server.id
      port.device_owner = `compute:${server.availability_zone}`
    } else {
      const netId = str(body, "net_id")
      if (netId === undefined) throw badRequest("Either port_id or net_id is required")
      port = neutron.createPort(state, {
        networkId: netId,
        project: server.project_id,
        fixedIps: Array.isArray(body.fixed_ips) ? body.fixed_ips : undefined,
        deviceId: server.id,
        deviceOwner: `compute:${server.availability_zone}`,
        novaOwned: true
      })
    }
    server.port_ids.push(port.id)
    neutron.syncServerPorts(state, server)
    return json(200, { interfaceAttachment: interfaceOf(port) })
  }),
  route("DELETE", "/servers/:id/os-interface/:port", (state, _req, { id, port }) => {
    const server = getServer(state, id!)
    const p = server.port_ids.includes(port!) ? state.ports.get(port!) : undefined
    if (p === undefined) throw notFound(`Port ${port} is not attached`, "itemNotFound")
    server.port_ids = server.port_ids.filter((x) => x !== p.id)
    if (p.sim_nova_owned) neutron.removePort(state, p)
    else {
      p.device_id = ""
      p.device_owner = ""
      p.status = "DOWN"
    }
    return empty(202)
  }),
  route("GET", "/servers/:id/os-volume_attachments", (state, _req, { id }) => {
    const server = getServer(state, id!)
    return json(200, {
      volumeAttachments: server.volumes.map((v) => ({
        id: v.volume_id,
        volumeId: v.volume_id,
        serverId: server.id,
        device: v.device,
        delete_on_termination: v.delete_on_termination
      }))
    })
  }),

  route("GET", "/flavors", (state, req) => listFlavors(state, req, false)),
  route("GET", "/flavors/detail", (state, req) => listFlavors(state, req, true)),
  route("POST", "/flavors", createFlavor),
  route("GET", "/flavors/:id", (state, req, { id }) => json(200, { flavor: renderFlavor(req, getFlavor(state, id!)) })),
  route("DELETE", "/flavors/:id", (state, _req, { id }) => {
    getFlavor(state, id!)
    state.flavors.delete(id!)
    return empty(202)
  }),
  route("GET", "/flavors/:id/os-extra_specs", (state, _req, { id }) =>
    json(200, { extra_specs: { ...getFlavor(state, id!).extra_specs } })
  ),
  route("POST", "/flavors/:id/os-extra_specs", (state, req, { id }) => {
    const flavor = getFlavor(state, id!)
    const specs = isRecord(req.body) ? stringMap(req.body, "extra_specs") : undefined
    if (specs === undefined) throw badRequest("Invalid input for field/attribute extra_specs.")
    Object.assign(flavor.extra_specs, specs)
    return json(200, { extra_specs: specs })
  }),
  route("GET", "/flavors/:id/os-extra_specs/:key", (state, _req, { id, key }) => {
    const flavor = getFlavor(state, id!)
    if (!(key! in flavor.extra_specs)) {
      throw notFound(`Flavor ${flavor.id} has no extra specs with key ${key}.`, "itemNotFound")
    }
    return json(200, { [key!]: flavor.extra_specs[key!] })
  }),
  route("PUT", "/flavors/:id/os-extra_specs/:key", (state, req, { id, key }) => {
    const flavor = getFlavor(state, id!)
    const value = isRecord(req.body) ? req.body[key!] : undefined
    if (typeof value !== "string") throw badRequest("Request body and URI mismatch")
    flavor.extra_specs[key!] = value
    return json(200, { [key!]: value })
  }),
  route("DELETE", "/flavors/:id/os-extra_specs/:key", (state, _req, { id, key }) => {
    const flavor = getFlavor(state, id!)
    if (!(key! in flavor.extra_specs)) {
      throw notFound(`Flavor ${flavor.id} has no extra specs with key ${key}.`, "itemNotFound")
    }
    delete flavor.extra_specs[key!]
    return empty(200)
  }),
  route("GET", "/flavors/:id/os-flavor-access", (state, _req, { id }) => {
    const flavor = getFlavor(state, id!)
    if (flavor.is_public) throw notFound("Access list not available for public flavors.", "itemNotFound")
    return json(200, flavorAccess(flavor))
  }),
  route("POST", "/flavors/:id/action", (state, req, { id }) => flavorAction(state, req, id!)),

  route("GET", "/os-keypairs", (state, req) => {
    const mine = [...state.keypairs.values()]
      .filter((k) => k.user_id === req.token!.userId)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    const { page, extra } = atLeast(req, "2.35")
      ? paginate(state, req, mine, (k) => k.name, "keypairs")
      : { page: mine, extra: {} }
    return json(200, { keypairs: page.map((k) => ({ keypair: renderKeypair(k, false) })), ...extra })
  }),
  route("POST", "/os-keypairs", createKeypair),
  route("GET", "/os-keypairs/:name", (state, req, { name }) =>
    json(200, { keypair: renderKeypair(getKeypair(state, req, name!), true) })
  ),
  route("DELETE", "/os-keypairs/:name", (state, req, { name }) => {
    const k = getKeypair(state, req, name!)
    state.keypairs.delete(keypairKey(k.user_id, k.name))
    return empty(atLeast(req, "2.2") ? 204 : 202)
  }),

  route("GET", "/os-availability-zone", (state) =>
    json(200, {
      availabilityZoneInfo: Object.keys(zones(state)).map((zoneName) => ({
        zoneName,
        zoneState: { available: true },
        hosts: null
      }))
    })
  ),
  route("GET", "/os-availability-zone/detail", (state) =>
    json(200, {
      availabilityZoneInfo: Object.entries(zones(state)).map(([zoneName, hosts]) => ({
        zoneName,
        zoneState: { available: true },
        hosts: Object.fromEntries(
          hosts.map((h) => [h, { "nova-compute": { available: true, active: true, updated_at: stamp(state) } }])
        )
      }))
    })
  ),
  route("GET", "/os-hypervisors", (state) =>
    json(200, {
      hypervisors: allHosts(state).map((h, i) => ({
        id: String(i + 1),
        hypervisor_hostname: h,
        state: "up",
        status: "enabled"
      }))
    })
  ),
  route("GET", "/os-hypervisors/detail", (state) =>
    json(200, {
      hypervisors: allHosts(state).map((h, i) => {
        let vcpus = 0
        let ram = 0
        for (const s of state.servers.values()) {
          if (s.host !== h) continue
          const f = state.flavors.get(s.flavor_id)
          vcpus += f?.vcpus ?? 0
          ram += f?.ram ?? 0
        }
        const { vcpus: total, ramMb } = state.settings.hostCapacity
        return {
          id: String(i + 1),
          hypervisor_hostname: h,
          hypervisor_type: "fake",
          state: "up",
          status: "enabled",
          vcpus: total,
          vcpus_used: vcpus,
          memory_mb: ramMb,
          memory_mb_used: ram,
          free_ram_mb: ramMb - ram,
          running_vms: [...state.servers.values()].filter((s) => s.host === h).length,
          service: { host: h, id: i + 1, disabled_reason: null }
        }
      })
    })
  ),
  route("GET", "/limits", (state, req) => {
    const used = counts(state, projectOf(req))
    const q = state.settings.quotas
    return json(200, {
      limits: {
        rate: [],
        absolute: {
          maxTotalInstances: q.instances,
          maxTotalCores: q.cores,
          maxTotalRAMSize: q.ram,
          totalInstancesUsed: used.instances,
          totalCoresUsed: used.cores,
          totalRAMUsed: used.ram
        }
      }
    })
  })
]

export const handle = (state: State, req: SimRequest) => dispatch(routes, state, req)
