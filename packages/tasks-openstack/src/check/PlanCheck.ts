/**
 * Pre-flight check of a recovery plan against the live recovery cloud (SPEC
 * §6): will the plan fit when the disaster comes? Read-only: it gathers
 * facts with GETs (`CloudFacts.ts`) and judges the plan against them:
 *
 * - `quota.<service>.<name>`: headroom per project for everything the plan
 *   creates (`Needs.ts`), against the project's quotas and usage when it
 *   exists, the cloud's defaults when it is new (the plan's own `quotas`,
 *   which `tenant.create` sets, win over both);
 * - `exists.*`: every existing flavor (`existing: true`), external network, availability zone, compute host,
 *   volume type, Cinder pool and source volume or snapshot (available, not
 *   larger than the planned size) the plan names;
 * - `clash.*`: planned CIDRs overlapping subnets the project can see, fixed
 *   and floating IPs already taken, names the target keeps unique held by
 *   something migrator did not make (`tenant.create`, `flavor.create`,
 *   `keypair.create` would refuse them);
 * - `capacity.*` (warnings only): whether the instances' flavors fit the free
 *   vCPUs and RAM of the compute hosts (first fit, pinned ones on their host;
 *   allocation ratios are not applied).
 *
 * Each result is one line: status, check, the plan field path, what was
 * found, what is needed.
 *
 * @since 0.1.0
 */
import { Effect, Schema } from "effect"
import type { Client } from "../OpenStackClient.ts"
import type * as OpenStackError from "../OpenStackError.ts"
import * as Addresses from "../plan/Addresses.ts"
import type * as Plan from "../plan/Plan.ts"
import * as CloudFacts from "./CloudFacts.ts"
import * as Needs from "./Needs.ts"

export const Status = Schema.Literals(["pass", "warn", "fail"])
export type Status = typeof Status.Type

/** One check of the report. */
export const Result = Schema.Struct({
  status: Status,
  /** What was checked, e.g. `quota.compute.cores`, `exists.external-network`, `clash.cidr`. */
  check: Schema.String,
  /** The plan field it is about, e.g. `projects[0].routers[0].externalGateway.network`. */
  path: Schema.String,
  found: Schema.String,
  needed: Schema.String
})
export type Result = typeof Result.Type

export const Report = Schema.Struct({
  plan: Schema.optionalKey(Schema.String),
  /** The cluster checked (the plan's target unless another was asked for). */
  cluster: Schema.String,
  ok: Schema.Boolean,
  summary: Schema.Struct({ pass: Schema.Int, warn: Schema.Int, fail: Schema.Int }),
  checks: Schema.Array(Result)
})
export type Report = typeof Report.Type

const MIGRATOR = "migrator:"
/** Whether migrator made a resource (its marker as a tag or in its description). */
const ours = (r: { readonly tags?: ReadonlyArray<string>; readonly description?: string }) =>
  (r.tags ?? []).some((t) => t.startsWith(MIGRATOR)) || (r.description ?? "").includes(`[${MIGRATOR}`)

const whose: Record<CloudFacts.SubnetFacts["visibleAs"], string> = {
  "external network": "an external network",
  "shared network": "a shared network",
  "the project's own": "a network of the project"
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Judges `plan` against what was read from the cloud. */
export const evaluate = (plan: Plan.Plan, facts: CloudFacts.Facts): ReadonlyArray<Result> => {
  const results: Array<Result> = []
  const put = (status: Status, check: string, path: string, found: string, needed: string) =>
    results.push({ status, check, path, found, needed })

  plan.projects.forEach((project, p) => {
    const pp = `projects[${p}]`
    const existing = facts.projects.get(project.id)
    names(put, facts, project, pp)
    quotas(put, plan, facts, project, pp, existing === undefined)
    networking(put, facts, project, pp)
    storage(put, facts, project, pp)
    project.instances?.forEach((instance, i) => {
      const ip = `${pp}.instances[${i}]`
      if (instance.availabilityZone !== undefined) {
        const zone = instance.availabilityZone
        const found = facts.computeZones.includes(zone)
        put(
          found ? "pass" : "fail",
          "exists.availability-zone",
          `${ip}.availabilityZone`,
          found
            ? `compute zone "${zone}"`
            : `no compute zone "${zone}" (zones: ${facts.computeZones.join(", ") || "none"})`,
          "an available compute availability zone"
        )
      }
      if (instance.hypervisor !== undefined) {
        const name = instance.hypervisor
        const host = facts.hosts.find((h) => h.host === name || h.hypervisorHostname === name)
        put(
          host?.up === true ? "pass" : "fail",
          "exists.host",
          `${ip}.hypervisor`,
          host === undefined
            ? `no compute host "${name}" (hosts: ${facts.hosts.map((h) => h.host).join(", ") || "none"})`
            : host.up
              ? `compute host "${name}" is up`
              : `compute host "${name}" is down`,
          "a compute host that is up"
        )
      }
    })
  })
  capacity(put, plan, facts)
  return results
}

type Put = (status: Status, check: string, path: string, found: string, needed: string) => void

/** Names the target keeps unique, held by something migrator did not make: the create task would refuse. */
const names = (put: Put, facts: CloudFacts.Facts, project: Plan.Project, pp: string) => {
  const existing = facts.projects.get(project.id)
  put(
    existing === undefined || existing.tags.some((t) => t.startsWith(MIGRATOR)) ? "pass" : "fail",
    "clash.name",
    `${pp}.name`,
    existing === undefined
      ? `no project "${project.name}": it will be created`
      : existing.tags.some((t) => t.startsWith(MIGRATOR))
        ? `project "${project.name}" (${existing.id}) was made by migrator: it is reused`
        : `project "${project.name}" (${existing.id}) exists and was not made by migrator`,
    "no project of that name, or one migrator made"
  )
  project.flavors?.forEach((flavor, f) => {
    const found = facts.flavors.find((x) => x.name === flavor.name)
    if (flavor.existing === true) {
      const small =
        found !== undefined &&
        (found.vcpus < flavor.vcpus || found.ramMb < flavor.ramMb || found.diskGb < flavor.diskGb)
      put(
        found === undefined ? "fail" : small ? "warn" : "pass",
        "exists.flavor",
        `${pp}.flavors[${f}].name`,
        found === undefined
          ? `no flavor "${flavor.name}"`
          : `flavor "${flavor.name}" (${found.id}): ${found.vcpus} vCPUs, ${found.ramMb} MiB, ${found.diskGb} GiB`,
        `a flavor of that name with at least ${flavor.vcpus} vCPUs, ${flavor.ramMb} MiB, ${flavor.diskGb} GiB`
      )
      return
    }
    put(
      found === undefined || ours(found) ? "pass" : "fail",
      "clash.name",
      `${pp}.flavors[${f}].name`,
      found === undefined
        ? `no flavor "${flavor.name}"`
        : ours(found)
          ? `flavor "${flavor.name}" (${found.id}) was made by migrator`
          : `flavor "${flavor.name}" (${found.id}) exists and was not made by migrator`,
      "no flavor of that name, or one migrator made"
    )
  })
  project.keypairs?.forEach((keypair, k) => {
    const found = facts.keypairs.find((x) => x.name === keypair.name)
    const same = found !== undefined && found.publicKey.trim() === keypair.publicKey.trim()
    put(
      found === undefined || same ? "pass" : "fail",
      "clash.name",
      `${pp}.keypairs[${k}].name`,
      found === undefined
        ? `the runner's user has no key pair "${keypair.name}"`
        : same
          ? `key pair "${keypair.name}" exists with the same public key`
          : `key pair "${keypair.name}" exists with another public key`,
      "no key pair of that name, or one with the same key"
    )
  })
}

const quotas = (
  put: Put,
  plan: Plan.Plan,
  facts: CloudFacts.Facts,
  project: Plan.Project,
  pp: string,
  isNew: boolean
) => {
  const sizeOf = (volume: Plan.Volume) => {
    const copy = volume.source.copy
    if (copy?.volumeId !== undefined) return facts.sourceVolumes.get(copy.volumeId)?.size
    if (copy?.snapshotId !== undefined) return facts.sourceSnapshots.get(copy.snapshotId)?.size
    return undefined
  }
  const needs = Needs.ofProject(plan, project, isNew, sizeOf)
  const have = facts.quotas.get(project.id)
  for (const service of ["compute", "volume", "network"] as const) {
    for (const [key, need] of Object.entries(needs[service])) {
      const path = `${pp}.quotas.${service}.${key}`
      const planned = project.quotas?.[service]?.[key]
      const current = have?.quotas[service][key]
      const inUse = current?.inUse ?? 0
      const limit = planned ?? current?.limit
      const origin =
        planned !== undefined
          ? "set by the plan"
          : have?.source === "defaults"
            ? "the cloud's default"
            : "the project's quota"
      if (limit === undefined) {
        // per-type Cinder quotas exist only for the types the cloud has; other keys the cloud does not limit
        put("pass", `quota.${service}.${key}`, path, "not limited by the cloud", `${need.amount} (${need.what})`)
        continue
      }
      const fits = limit === -1 || inUse + need.amount <= limit
      put(
        fits ? "pass" : "fail",
        `quota.${service}.${key}`,
        path,
        `limit ${limit === -1 ? "unlimited" : limit} (${origin}), ${inUse} in use`,
        `${need.amount} more (${need.what})${fits || limit === -1 ? "" : `: a limit of at least ${inUse + need.amount}`}`
      )
    }
  }
}

/** External networks, CIDR overlaps, fixed and floating IPs. */
const networking = (put: Put, facts: CloudFacts.Facts, project: Plan.Project, pp: string) => {
  const external = (name: string, path: string) => {
    const found = UUID.test(name)
      ? facts.externalNetworks.filter((n) => n.id === name)
      : facts.externalNetworks.filter((n) => n.name === name)
    put(
      found.length === 1 ? "pass" : "fail",
      "exists.external-network",
      path,
      found.length === 1
        ? `external network "${found[0]!.name}" (${found[0]!.id})`
        : found.length === 0
          ? `no external network "${name}" (external: ${facts.externalNetworks.map((n) => n.name).join(", ") || "none"})`
          : `${found.length} external networks are named "${name}"`,
      "exactly one external network (router:external) of that name or id"
    )
  }
  project.routers?.forEach((router, r) => {
    if (router.externalGateway !== undefined)
      external(router.externalGateway.network, `${pp}.routers[${r}].externalGateway.network`)
  })
  project.floatingIps?.forEach((fip, f) => {
    external(fip.network, `${pp}.floatingIps[${f}].network`)
    if (fip.address === undefined) return
    const holder = facts.floatingIps.get(fip.address)
    put(
      holder === undefined || ours(holder) ? "pass" : "fail",
      "clash.floating-ip",
      `${pp}.floatingIps[${f}].address`,
      holder === undefined ? `${fip.address} is free` : `${fip.address} is already allocated (${holder.id})`,
      "a free floating IP address"
    )
  })

  const visible = facts.subnets.get(project.id) ?? []
  project.networks?.forEach((network, n) => {
    network.subnets?.forEach((subnet, s) => {
      const path = `${pp}.networks[${n}].subnets[${s}].cidr`
      const mine = Addresses.parseCidr(subnet.cidr)
      if (typeof mine === "string") return
      const clashes = visible.filter((v) => {
        const theirs = Addresses.parseCidr(v.cidr)
        if (typeof theirs === "string" || !Addresses.overlaps(mine, theirs)) return false
        // the same subnet made by migrator (an earlier run, or a job sharing it) is reused, not a clash
        return !(v.visibleAs === "the project's own" && v.cidr === subnet.cidr && ours(v))
      })
      put(
        clashes.length === 0 ? "pass" : "fail",
        "clash.cidr",
        path,
        clashes.length === 0
          ? `${subnet.cidr} overlaps no subnet the project sees`
          : clashes
              .map((c) => `${subnet.cidr} overlaps ${c.cidr} (subnet "${c.name || c.id}" of ${whose[c.visibleAs]})`)
              .join("; "),
        "a CIDR no subnet the project sees overlaps"
      )
    })
  })

  // fixed IPs on networks that exist already (the project is reused): a port of someone else holds it
  const networks = facts.networks.get(project.id) ?? []
  project.instances?.forEach((instance, i) => {
    instance.nics?.forEach((nic, k) => {
      if (nic.fixedIp === undefined) return
      const planned = project.networks?.find((x) => x.id === nic.network)
      const existing = networks.filter((x) => x.name === planned?.name)
      const holders = existing
        .flatMap((x) => facts.ports.get(x.id) ?? [])
        .filter((port) => port.ips.includes(nic.fixedIp!))
      const foreign = holders.filter((port) => !ours(port))
      put(
        foreign.length === 0 ? "pass" : "fail",
        "clash.fixed-ip",
        `${pp}.instances[${i}].nics[${k}].fixedIp`,
        foreign.length === 0
          ? existing.length === 0
            ? `network "${planned?.name ?? nic.network}" does not exist yet`
            : `${nic.fixedIp} is free on network "${planned?.name}"`
          : `${nic.fixedIp} is held by port ${foreign[0]!.id}${foreign[0]!.deviceOwner === "" ? "" : ` (${foreign[0]!.deviceOwner})`}`,
        "a free fixed IP"
      )
    })
  })
}

/** Volume types, zones, Cinder pools for imports, source volumes and snapshots of copies. */
const storage = (put: Put, facts: CloudFacts.Facts, project: Plan.Project, pp: string) => {
  project.volumes?.forEach((volume, v) => {
    const vp = `${pp}.volumes[${v}]`
    if (volume.volumeType !== undefined) {
      const type = volume.volumeType
      const found = facts.volumeTypes.some((t) => t.name === type || t.id === type)
      put(
        found ? "pass" : "fail",
        "exists.volume-type",
        `${vp}.volumeType`,
        found
          ? `volume type "${type}"`
          : `no volume type "${type}" (types: ${facts.volumeTypes.map((t) => t.name).join(", ") || "none"})`,
        "a volume type of that name or id"
      )
    }
    if (volume.availabilityZone !== undefined) {
      const zone = volume.availabilityZone
      const found = facts.volumeZones.includes(zone)
      put(
        found ? "pass" : "fail",
        "exists.availability-zone",
        `${vp}.availabilityZone`,
        found ? `volume zone "${zone}"` : `no volume zone "${zone}" (zones: ${facts.volumeZones.join(", ") || "none"})`,
        "an available volume availability zone"
      )
    }
    const imported = volume.source.import
    if (imported !== undefined) {
      // a pool is host@backend#pool; a host given without the pool names every pool of the backend
      const found = facts.pools.some((p) => p === imported.host || p.split("#")[0] === imported.host)
      put(
        found ? "pass" : "fail",
        "exists.volume-backend",
        `${vp}.source.import.host`,
        found
          ? `Cinder pool "${imported.host}"`
          : `no Cinder pool "${imported.host}" (pools: ${facts.pools.join(", ") || "none"})`,
        "a Cinder backend pool to manage the volume into"
      )
    }
    const copy = volume.source.copy
    if (copy === undefined) return
    const [kind, id, found] =
      copy.volumeId !== undefined
        ? (["volume", copy.volumeId, facts.sourceVolumes.get(copy.volumeId)] as const)
        : (["snapshot", copy.snapshotId!, facts.sourceSnapshots.get(copy.snapshotId!)] as const)
    const path = `${vp}.source.copy.${kind === "volume" ? "volumeId" : "snapshotId"}`
    const tooBig = found !== undefined && volume.size !== undefined && found.size > volume.size
    const status = found === undefined || found.status !== "available" || tooBig ? "fail" : "pass"
    put(
      status,
      `exists.source-${kind}`,
      path,
      found === undefined ? `no source ${kind} ${id}` : `source ${kind} ${id} is ${found.status}, ${found.size} GiB`,
      `an available source ${kind}${volume.size === undefined ? "" : ` of at most ${volume.size} GiB (the planned size)`}`
    )
  })
}

/** First fit of the instances' flavors on the compute hosts' free vCPUs and RAM: warnings only. */
const capacity = (put: Put, plan: Plan.Plan, facts: CloudFacts.Facts) => {
  const flavors = new Map(plan.projects.flatMap((p) => p.flavors ?? []).map((f) => [f.id, f]))
  const free = facts.hosts.filter((h) => h.up).map((h) => ({ ...h }))
  const totalVcpus = free.reduce((n, h) => n + h.freeVcpus, 0)
  const totalRam = free.reduce((n, h) => n + h.freeRamMb, 0)
  let vcpus = 0
  let ram = 0
  let unplaced = 0
  plan.projects.forEach((project, p) => {
    project.instances?.forEach((instance, i) => {
      const flavor = flavors.get(instance.flavor)
      if (flavor === undefined) return
      vcpus += flavor.vcpus
      ram += flavor.ramMb
      const candidates =
        instance.hypervisor === undefined
          ? free
          : free.filter((h) => h.host === instance.hypervisor || h.hypervisorHostname === instance.hypervisor)
      const host = candidates.find((h) => h.freeVcpus >= flavor.vcpus && h.freeRamMb >= flavor.ramMb)
      if (host !== undefined) {
        host.freeVcpus -= flavor.vcpus
        host.freeRamMb -= flavor.ramMb
        return
      }
      unplaced++
      put(
        "warn",
        "capacity.host",
        `projects[${p}].instances[${i}].flavor`,
        `no ${instance.hypervisor === undefined ? "compute host" : `"${instance.hypervisor}"`} has ${flavor.vcpus} vCPUs and ${flavor.ramMb} MiB free after the instances before it`,
        `${flavor.vcpus} vCPUs and ${flavor.ramMb} MiB of RAM on one host (flavor "${flavor.name}")`
      )
    })
  })
  if (vcpus === 0) return
  const hosts = `${free.length} compute host${free.length === 1 ? "" : "s"} up`
  put(
    vcpus <= totalVcpus ? "pass" : "warn",
    "capacity.vcpus",
    "projects",
    `${totalVcpus} vCPUs free on ${hosts}`,
    `${vcpus} vCPUs`
  )
  put(ram <= totalRam ? "pass" : "warn", "capacity.ram", "projects", `${totalRam} MiB free on ${hosts}`, `${ram} MiB`)
  if (unplaced === 0)
    put("pass", "capacity.host", "projects", "every instance fits on a compute host", "each flavor on one host")
}

/** The report of checks: `ok` when none failed (warnings allowed). */
export const report = (plan: Plan.Plan, cluster: string, checks: ReadonlyArray<Result>): Report => {
  const count = (s: Status) => checks.filter((c) => c.status === s).length
  const fail = count("fail")
  return {
    ...(plan.name === undefined ? {} : { plan: plan.name }),
    cluster,
    ok: fail === 0,
    summary: { pass: count("pass"), warn: count("warn"), fail },
    checks
  }
}

/** Checks `plan` against the cloud behind `client` (named `cluster`): GETs only. */
export const check = (
  client: Client,
  plan: Plan.Plan,
  cluster: string
): Effect.Effect<Report, OpenStackError.OpenStackError> =>
  Effect.map(CloudFacts.gather(client, plan), (facts) => report(plan, cluster, evaluate(plan, facts)))

/** The report as text: one line per check (status, check, path, found, needed), then a summary. */
export const render = (r: Report): string => {
  const width = (f: (c: Result) => string) => Math.max(0, ...r.checks.map((c) => f(c).length))
  const w = { check: width((c) => c.check), path: width((c) => c.path) }
  const lines = r.checks.map(
    (c) => `${c.status.padEnd(4)}  ${c.check.padEnd(w.check)}  ${c.path.padEnd(w.path)}  ${c.found}; needs ${c.needed}`
  )
  const { pass, warn, fail } = r.summary
  lines.push(
    `${r.plan === undefined ? "plan" : `plan ${r.plan}`} on ${r.cluster}: ${pass} pass, ${warn} warn, ${fail} fail${r.ok ? "" : " — the plan does not fit the recovery cloud"}`
  )
  return lines.join("\n")
}
