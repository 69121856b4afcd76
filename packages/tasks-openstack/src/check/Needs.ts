/**
 * What a plan's project takes from its quotas once recovered, with each
 * API's own quota names: Nova (instances, cores, ram, key_pairs), Cinder
 * (volumes, gigabytes, per volume type `volumes_<type>`/`gigabytes_<type>`),
 * Neutron (network, subnet, port, router, floatingip, security_group,
 * security_group_rule).
 *
 * Counted as what stays once the run DAG is done: ports are the instances'
 * NICs and the routers' interfaces (a router's gateway port belongs to no
 * project); a new project also gets Neutron's `default` group with its four
 * rules, and a group without planned rules keeps Neutron's two egress rules.
 *
 * @since 0.1.0
 */
import type * as Plan from "../plan/Plan.ts"
import type { QuotaService } from "./CloudFacts.ts"

/** One quota need: how much, and what of the plan makes it up (for the report). */
export interface Need {
  readonly amount: number
  readonly what: string
}

export type Needs = Readonly<Record<QuotaService, Readonly<Record<string, Need>>>>

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`

/**
 * The needs of `project`; `sizeOf` gives a volume's size when the plan does not
 * (a copy takes its source's), `undefined` when unknown (an import).
 */
export const ofProject = (
  plan: Plan.Plan,
  project: Plan.Project,
  isNew: boolean,
  sizeOf: (volume: Plan.Volume) => number | undefined
): Needs => {
  const flavors = new Map(plan.projects.flatMap((p) => p.flavors ?? []).map((f) => [f.id, f]))
  const instances = project.instances ?? []
  const sized = instances.map((i) => flavors.get(i.flavor)).filter((f) => f !== undefined)
  const compute: Record<string, Need> = {}
  const add = (into: Record<string, Need>, key: string, amount: number, what: string) => {
    if (amount > 0) into[key] = { amount, what }
  }
  add(compute, "instances", instances.length, plural(instances.length, "instance"))
  add(
    compute,
    "cores",
    sized.reduce((n, f) => n + f.vcpus, 0),
    `vCPUs of ${plural(sized.length, "instance")}`
  )
  add(
    compute,
    "ram",
    sized.reduce((n, f) => n + f.ramMb, 0),
    `MiB of RAM of ${plural(sized.length, "instance")}`
  )
  const keypairs = project.keypairs?.length ?? 0
  add(compute, "key_pairs", keypairs, plural(keypairs, "key pair"))

  const volume: Record<string, Need> = {}
  const volumes = project.volumes ?? []
  const known = volumes.map((v) => ({ v, size: v.size ?? sizeOf(v) }))
  const unknown = known.filter((k) => k.size === undefined).length
  const gigabytes = known.reduce((n, k) => n + (k.size ?? 0), 0)
  add(volume, "volumes", volumes.length, plural(volumes.length, "volume"))
  add(
    volume,
    "gigabytes",
    gigabytes,
    `GiB of ${plural(volumes.length - unknown, "volume")}${unknown === 0 ? "" : ` (and ${plural(unknown, "import")} of unknown size)`}`
  )
  const types = new Set(volumes.flatMap((v) => (v.volumeType === undefined ? [] : [v.volumeType])))
  for (const type of types) {
    const ofType = known.filter((k) => k.v.volumeType === type)
    add(volume, `volumes_${type}`, ofType.length, plural(ofType.length, `volume of type ${type}`))
    add(
      volume,
      `gigabytes_${type}`,
      ofType.reduce((n, k) => n + (k.size ?? 0), 0),
      `GiB of volumes of type ${type}`
    )
  }

  const network: Record<string, Need> = {}
  const networks = project.networks ?? []
  const subnets = networks.flatMap((n) => n.subnets ?? [])
  const nics = instances.reduce((n, i) => n + (i.nics?.length ?? 0), 0)
  const routers = project.routers ?? []
  const interfaces = routers.reduce((n, r) => n + (r.interfaces?.length ?? 0), 0)
  const groups = project.securityGroups ?? []
  const rules = groups.reduce((n, g) => n + (g.rules === undefined ? 2 : g.rules.length), 0)
  add(network, "network", networks.length, plural(networks.length, "network"))
  add(network, "subnet", subnets.length, plural(subnets.length, "subnet"))
  add(
    network,
    "port",
    nics + interfaces,
    `${plural(nics, "instance NIC")} and ${plural(interfaces, "router interface")}`
  )
  add(network, "router", routers.length, plural(routers.length, "router"))
  const fips = project.floatingIps?.length ?? 0
  add(network, "floatingip", fips, plural(fips, "floating IP"))
  add(
    network,
    "security_group",
    groups.length + (isNew ? 1 : 0),
    `${plural(groups.length, "security group")}${isNew ? " and Neutron's default group" : ""}`
  )
  add(
    network,
    "security_group_rule",
    rules + (isNew ? 4 : 0),
    `${plural(rules, "rule")} of the plan's groups${isNew ? " and 4 of the default group" : ""}`
  )
  return { compute, network, volume }
}
