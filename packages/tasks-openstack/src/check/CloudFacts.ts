/**
 * What the pre-flight check reads from the recovery cloud, with GETs only:
 * the plan's projects if they exist (their quotas and usage) or the cloud's
 * default quotas, flavors, the runner user's key pairs, external networks,
 * subnets a project can see, availability zones, compute hosts with their
 * free vCPUs and RAM, volume types, Cinder pools, the source volumes and
 * snapshots the plan copies, floating IP addresses it asks for, and ports
 * holding the fixed IPs it asks for.
 *
 * Answers are read leniently (a field a cloud does not send is absent, not an
 * error): the check reports what it found, it does not validate the cloud.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import type { Client, Service } from "../OpenStackClient.ts"
import * as OpenStackError from "../OpenStackError.ts"
import type * as Plan from "../plan/Plan.ts"

/** A quota as the check sees it: the limit (-1 unlimited) and what is in use. */
export interface Quota {
  readonly limit: number
  readonly inUse: number
}

export type QuotaService = "compute" | "network" | "volume"

/** The quotas of one plan project: its own (it exists) or the cloud's defaults (it is new). */
export interface ProjectQuotas {
  readonly source: "project" | "defaults"
  readonly quotas: Readonly<Record<QuotaService, Readonly<Record<string, Quota>>>>
}

export interface ProjectFacts {
  readonly id: string
  readonly tags: ReadonlyArray<string>
}

export interface SubnetFacts {
  readonly id: string
  readonly name: string
  readonly cidr: string
  readonly networkId: string
  readonly projectId: string
  readonly tags: ReadonlyArray<string>
  readonly description: string
  /** Why the plan's project sees it. */
  readonly visibleAs: "shared network" | "external network" | "the project's own"
}

export interface HostFacts {
  readonly host: string
  readonly hypervisorHostname: string
  readonly up: boolean
  readonly freeVcpus: number
  readonly freeRamMb: number
}

export interface VolumeFacts {
  readonly status: string
  readonly size: number
}

export interface PortFacts {
  readonly id: string
  readonly networkId: string
  readonly ips: ReadonlyArray<string>
  readonly deviceOwner: string
  readonly tags: ReadonlyArray<string>
  readonly description: string
}

export interface Facts {
  /** The plan's projects that exist, by plan project id. */
  readonly projects: ReadonlyMap<string, ProjectFacts>
  readonly quotas: ReadonlyMap<string, ProjectQuotas>
  readonly flavors: ReadonlyArray<{
    readonly id: string
    readonly name: string
    readonly description: string
    readonly vcpus: number
    readonly ramMb: number
    readonly diskGb: number
  }>
  /** The runner user's key pairs. */
  readonly keypairs: ReadonlyArray<{ readonly name: string; readonly publicKey: string }>
  readonly externalNetworks: ReadonlyArray<{ readonly id: string; readonly name: string }>
  /** Subnets of each plan project's view (shared and external networks, its own when it exists), by plan project id. */
  readonly subnets: ReadonlyMap<string, ReadonlyArray<SubnetFacts>>
  /** Networks of existing plan projects, by plan project id. */
  readonly networks: ReadonlyMap<string, ReadonlyArray<{ readonly id: string; readonly name: string }>>
  readonly computeZones: ReadonlyArray<string>
  readonly volumeZones: ReadonlyArray<string>
  readonly hosts: ReadonlyArray<HostFacts>
  readonly volumeTypes: ReadonlyArray<{ readonly id: string; readonly name: string }>
  /** Cinder pools, `host@backend#pool`. */
  readonly pools: ReadonlyArray<string>
  readonly sourceVolumes: ReadonlyMap<string, VolumeFacts | undefined>
  readonly sourceSnapshots: ReadonlyMap<string, VolumeFacts | undefined>
  /** Floating IPs holding the addresses the plan asks for, by address. */
  readonly floatingIps: ReadonlyMap<string, PortFacts | undefined>
  /** Ports on the existing networks of the plan's projects, by network id. */
  readonly ports: ReadonlyMap<string, ReadonlyArray<PortFacts>>
}

// ---- lenient readers ---------------------------------------------------------

type Json = Readonly<Record<string, unknown>>
const obj = (u: unknown): Json => (typeof u === "object" && u !== null && !Array.isArray(u) ? (u as Json) : {})
const arr = (u: unknown): ReadonlyArray<unknown> => (Array.isArray(u) ? u : [])
const str = (u: unknown): string => (typeof u === "string" ? u : typeof u === "number" ? String(u) : "")
const num = (u: unknown): number => (typeof u === "number" ? u : typeof u === "string" && u !== "" ? Number(u) : 0)
const strings = (u: unknown): ReadonlyArray<string> => arr(u).filter((s): s is string => typeof s === "string")

const get = (client: Client, service: Service, path: string, query?: Record<string, string>) =>
  client.request(service, "GET", path, query === undefined ? {} : { query })
const getIfPresent = (client: Client, service: Service, path: string) =>
  get(client, service, path).pipe(OpenStackError.catchNotFound(() => undefined))
const list = (client: Client, service: Service, path: string, key: string, query?: Record<string, string>) =>
  client.list(service, path, key, query)

/** `{ key: { limit, in_use|used } }` (detail answers) or `{ key: limit }` (plain ones). */
const quotaSet = (body: Json, usage: "in_use" | "used" | undefined): Record<string, Quota> => {
  const out: Record<string, Quota> = {}
  for (const [key, value] of Object.entries(body)) {
    if (key === "id" || key === "project_id" || key === "tenant_id") continue
    if (typeof value === "number") out[key] = { limit: value, inUse: 0 }
    else if (typeof value === "object" && value !== null && usage !== undefined) {
      const v = obj(value)
      out[key] = { limit: num(v.limit), inUse: num(v[usage]) + num(v.reserved) }
    }
  }
  return out
}

const projectQuotas = (
  client: Client,
  projectId: string | undefined
): Effect.Effect<ProjectQuotas, OpenStackError.OpenStackError> =>
  Effect.gen(function* () {
    if (projectId === undefined) {
      // a new project gets the cloud's defaults; the id in the path is not looked at
      const any = (yield* client.session).projectId ?? "default"
      const p = encodeURIComponent(any)
      const [compute, network, volume] = yield* Effect.all(
        [
          get(client, "compute", `/os-quota-sets/${p}/defaults`),
          get(client, "network", `/quotas/${p}/default`),
          get(client, "volumev3", `/os-quota-sets/${p}/defaults`)
        ],
        { concurrency: 3 }
      )
      return {
        source: "defaults",
        quotas: {
          compute: quotaSet(obj(obj(compute).quota_set), undefined),
          network: quotaSet(obj(obj(network).quota), undefined),
          volume: quotaSet(obj(obj(volume).quota_set), undefined)
        }
      }
    }
    const p = encodeURIComponent(projectId)
    const [compute, network, volume] = yield* Effect.all(
      [
        get(client, "compute", `/os-quota-sets/${p}/detail`),
        get(client, "network", `/quotas/${p}/details`),
        get(client, "volumev3", `/os-quota-sets/${p}`, { usage: "True" })
      ],
      { concurrency: 3 }
    )
    return {
      source: "project",
      quotas: {
        compute: quotaSet(obj(obj(compute).quota_set), "in_use"),
        network: quotaSet(obj(obj(network).quota), "used"),
        volume: quotaSet(obj(obj(volume).quota_set), "in_use")
      }
    }
  })

const subnetFacts = (u: unknown, visibleAs: SubnetFacts["visibleAs"]): SubnetFacts => {
  const s = obj(u)
  return {
    id: str(s.id),
    name: str(s.name),
    cidr: str(s.cidr),
    networkId: str(s.network_id),
    projectId: str(s.project_id ?? s.tenant_id),
    tags: strings(s.tags),
    description: str(s.description),
    visibleAs
  }
}

const portFacts = (u: unknown): PortFacts => {
  const p = obj(u)
  return {
    id: str(p.id),
    networkId: str(p.network_id ?? p.floating_network_id),
    ips:
      p.floating_ip_address !== undefined
        ? [str(p.floating_ip_address)]
        : arr(p.fixed_ips).map((f) => str(obj(f).ip_address)),
    deviceOwner: str(p.device_owner),
    tags: strings(p.tags),
    description: str(p.description)
  }
}

const volumeFacts = (u: unknown): VolumeFacts | undefined => {
  if (u === undefined) return undefined
  const body = obj(u)
  const v = obj(body.volume ?? body.snapshot)
  return { status: str(v.status), size: num(v.size) }
}

// ---- gathering -----------------------------------------------------------------

/** Reads everything the check of `plan` needs; GETs only. */
export const gather = (client: Client, plan: Plan.Plan): Effect.Effect<Facts, OpenStackError.OpenStackError> =>
  Effect.gen(function* () {
    const session = yield* client.session

    // the plan's projects (by name in the default domain, where tenant.create makes them)
    const projects = new Map<string, ProjectFacts>()
    for (const project of plan.projects) {
      const found = yield* list(client, "identity", "/projects", "projects", { name: project.name })
      const match = found.map(obj).find((p) => p.name === project.name && str(p.domain_id) === "default")
      if (match !== undefined) projects.set(project.id, { id: str(match.id), tags: strings(match.tags) })
    }
    const quotas = new Map<string, ProjectQuotas>()
    for (const project of plan.projects) {
      quotas.set(project.id, yield* projectQuotas(client, projects.get(project.id)?.id))
    }

    const [flavors, keypairs, externalNetworks, sharedNetworks] = yield* Effect.all(
      [
        list(client, "compute", "/flavors/detail", "flavors", { is_public: "None" }),
        list(client, "compute", "/os-keypairs", "keypairs"),
        list(client, "network", "/networks", "networks", { "router:external": "true" }),
        list(client, "network", "/networks", "networks", { shared: "true" })
      ],
      { concurrency: 4 }
    )
    const external = externalNetworks.map(obj)
    const visibleSubnets = [
      ...(yield* Effect.forEach(external, (n) =>
        list(client, "network", "/subnets", "subnets", { network_id: str(n.id) })
      )).flatMap((subnets) => subnets.map((s) => subnetFacts(s, "external network"))),
      ...(yield* Effect.forEach(
        sharedNetworks.map(obj).filter((n) => !external.some((e) => e.id === n.id)),
        (n) => list(client, "network", "/subnets", "subnets", { network_id: str(n.id) })
      )).flatMap((subnets) => subnets.map((s) => subnetFacts(s, "shared network")))
    ]
    const subnets = new Map<string, ReadonlyArray<SubnetFacts>>()
    const networks = new Map<string, ReadonlyArray<{ id: string; name: string }>>()
    const ports = new Map<string, ReadonlyArray<PortFacts>>()
    for (const project of plan.projects) {
      const existing = projects.get(project.id)
      if (existing === undefined) {
        subnets.set(project.id, visibleSubnets)
        continue
      }
      const own = yield* list(client, "network", "/subnets", "subnets", { project_id: existing.id })
      subnets.set(project.id, [...visibleSubnets, ...own.map((s) => subnetFacts(s, "the project's own"))])
      const nets = (yield* list(client, "network", "/networks", "networks", { project_id: existing.id })).map(obj)
      networks.set(
        project.id,
        nets.map((n) => ({ id: str(n.id), name: str(n.name) }))
      )
      const planned = new Set((project.networks ?? []).map((n) => n.name))
      for (const net of nets.filter((n) => planned.has(str(n.name)))) {
        const onNet = yield* list(client, "network", "/ports", "ports", { network_id: str(net.id) })
        ports.set(str(net.id), onNet.map(portFacts))
      }
    }

    const [computeZones, volumeZones, hypervisors, volumeTypes, pools] = yield* Effect.all(
      [
        get(client, "compute", "/os-availability-zone"),
        get(client, "volumev3", "/os-availability-zone"),
        list(client, "compute", "/os-hypervisors/detail", "hypervisors"),
        list(client, "volumev3", "/types", "volume_types"),
        get(client, "volumev3", "/scheduler-stats/get_pools")
      ],
      { concurrency: 5 }
    )
    const zones = (body: unknown) =>
      arr(obj(body).availabilityZoneInfo)
        .map(obj)
        .filter((z) => obj(z.zoneState).available !== false)
        .map((z) => str(z.zoneName))

    const volumes = (project: Plan.Project) => project.volumes ?? []
    const sourceVolumes = new Map<string, VolumeFacts | undefined>()
    const sourceSnapshots = new Map<string, VolumeFacts | undefined>()
    for (const volume of plan.projects.flatMap(volumes)) {
      const copy = volume.source.copy
      if (copy?.volumeId !== undefined && !sourceVolumes.has(copy.volumeId)) {
        const found = yield* getIfPresent(client, "volumev3", `/volumes/${encodeURIComponent(copy.volumeId)}`)
        sourceVolumes.set(copy.volumeId, volumeFacts(found))
      }
      if (copy?.snapshotId !== undefined && !sourceSnapshots.has(copy.snapshotId)) {
        const found = yield* getIfPresent(client, "volumev3", `/snapshots/${encodeURIComponent(copy.snapshotId)}`)
        sourceSnapshots.set(copy.snapshotId, volumeFacts(found))
      }
    }
    const floatingIps = new Map<string, PortFacts | undefined>()
    for (const fip of plan.projects.flatMap((p) => p.floatingIps ?? [])) {
      if (fip.address === undefined || floatingIps.has(fip.address)) continue
      const found = yield* list(client, "network", "/floatingips", "floatingips", { floating_ip_address: fip.address })
      floatingIps.set(fip.address, found.length === 0 ? undefined : portFacts(found[0]))
    }

    return {
      projects,
      quotas,
      flavors: flavors.map(obj).map((f) => ({
        id: str(f.id),
        name: str(f.name),
        description: str(f.description),
        vcpus: num(f.vcpus),
        ramMb: num(f.ram),
        diskGb: num(f.disk)
      })),
      // Nova lists `{ keypair: {...} }` items
      keypairs: keypairs
        .map((k) => obj(obj(k).keypair ?? k))
        .filter((k) => session.userId === undefined || k.user_id === undefined || k.user_id === session.userId)
        .map((k) => ({ name: str(k.name), publicKey: str(k.public_key) })),
      externalNetworks: external.map((n) => ({ id: str(n.id), name: str(n.name) })),
      subnets,
      networks,
      computeZones: zones(computeZones),
      volumeZones: zones(volumeZones),
      hosts: hypervisors.map(obj).map((h) => {
        const vcpus = num(h.vcpus)
        const ram = num(h.memory_mb)
        return {
          host: str(obj(h.service).host) || str(h.hypervisor_hostname),
          hypervisorHostname: str(h.hypervisor_hostname),
          up: h.state === undefined || h.state === "up",
          freeVcpus: vcpus - num(h.vcpus_used),
          freeRamMb: h.free_ram_mb !== undefined ? num(h.free_ram_mb) : ram - num(h.memory_mb_used)
        }
      }),
      volumeTypes: volumeTypes.map(obj).map((t) => ({ id: str(t.id), name: str(t.name) })),
      pools: arr(obj(pools).pools).map((p) => str(obj(p).name)),
      sourceVolumes,
      sourceSnapshots,
      floatingIps,
      ports
    }
  })
