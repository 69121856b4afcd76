/**
 * Validation of a plan's instances: flavor, keypair, NICs (networks, subnets,
 * fixed IPs, security groups, floating IPs and a router to reach them),
 * volume attachments and boot order, dependencies; then the addresses two
 * things of the plan would both take, and dependency cycles.
 *
 * @since 0.1.0
 */
import { JobBuilder } from "@migrator/core"
import * as Addresses from "./Addresses.ts"
import type { LocatedSubnet } from "./PlanIndex.ts"
import { routersReaching } from "./PlanIndex.ts"
import type { Instance, InstanceVolume, Nic, Project } from "./PlanSchema.ts"
import type { Checker } from "./PlanValidation.ts"

/** References across the project, attachments, boot order. */
export const instances = (c: Checker) => {
  const { idx, report } = c
  const volumeUsers = new Map<string, string>()
  const fipUsers = new Map<string, string>()
  for (const [, { value: instance, path, project }] of idx.instances) {
    // flavors and keypairs are not project resources in Nova: any project of the plan may use them
    if (!idx.flavors.has(instance.flavor)) report(`${path}.flavor`, `unknown flavor "${instance.flavor}"`)
    if (instance.keypair !== undefined && !idx.keypairs.has(instance.keypair)) {
      report(`${path}.keypair`, `unknown keypair "${instance.keypair}"`)
    }
    instance.nics?.forEach((nic, i) => {
      nicChecks(c, project, nic, `${path}.nics[${i}]`, fipUsers)
    })
    // instance.create gives every port of the server the same security groups
    const sets = (instance.nics ?? []).map((nic) => [...new Set(nic.securityGroups ?? [])].sort().join(","))
    sets.forEach((set, i) => {
      if (set !== sets[0]) {
        report(
          `${path}.nics[${i}].securityGroups`,
          "every NIC of an instance has the same security groups (they apply to all the instance's ports)"
        )
      }
    })
    attachments(c, project, instance, path, volumeUsers)
    const deps = new Set<string>()
    instance.dependsOn?.forEach((dep, i) => {
      const dp = `${path}.dependsOn[${i}]`
      if (!idx.instances.has(dep)) report(dp, `unknown instance "${dep}"`)
      else if (dep === instance.id) report(dp, "an instance cannot depend on itself")
      if (deps.has(dep)) report(dp, `instance "${dep}" is listed twice`)
      deps.add(dep)
    })
    if (instance.consoleLog !== undefined) {
      try {
        new RegExp(instance.consoleLog.pattern)
      } catch (e) {
        report(`${path}.consoleLog.pattern`, `not a regular expression: ${(e as Error).message}`)
      }
    }
  }
}

/** Volume attachments: each volume attached once, boot indexes unique, a bootable volume at index 0. */
const attachments = (
  { idx, report, inProject }: Checker,
  project: Project,
  instance: Instance,
  path: string,
  volumeUsers: Map<string, string>
) => {
  const indexes = new Map<number, number>()
  let boot: InstanceVolume | undefined
  instance.volumes.forEach((attachment, i) => {
    const vp = `${path}.volumes[${i}]`
    const volume = inProject(idx.volumes, "volume", attachment.volume, project, `${vp}.volume`)
    const other = volumeUsers.get(attachment.volume)
    if (other !== undefined) report(`${vp}.volume`, `volume "${attachment.volume}" is already attached at ${other}`)
    else volumeUsers.set(attachment.volume, vp)
    if (attachment.bootIndex !== undefined) {
      const before = indexes.get(attachment.bootIndex)
      if (before !== undefined)
        report(`${vp}.bootIndex`, `bootIndex ${attachment.bootIndex} is also on volumes[${before}]`)
      else indexes.set(attachment.bootIndex, i)
      if (attachment.bootIndex === 0) {
        boot = attachment
        if (volume !== undefined && volume.value.bootable === false) {
          report(`${vp}.volume`, `boot volume "${attachment.volume}" is not bootable`)
        }
      }
    }
  })
  if (boot === undefined) report(`${path}.volumes`, "an instance boots from a volume: one needs bootIndex 0")
}

/** One NIC: its network and subnet, fixed IP, security groups, floating IP (and a router that reaches it). */
const nicChecks = (c: Checker, project: Project, nic: Nic, np: string, fipUsers: Map<string, string>) => {
  const { idx, report, inProject, address } = c
  const network = inProject(idx.networks, "network", nic.network, project, `${np}.network`)
  let subnets: ReadonlyArray<LocatedSubnet> = []
  if (network !== undefined) {
    subnets = (network.value.subnets ?? []).map((s) => idx.subnets.get(s.id)!).filter((s) => s !== undefined)
  }
  if (nic.subnet !== undefined) {
    const subnet = inProject(idx.subnets, "subnet", nic.subnet, project, `${np}.subnet`) as LocatedSubnet | undefined
    if (subnet !== undefined && network !== undefined && subnet.network !== network.value) {
      report(`${np}.subnet`, `subnet "${nic.subnet}" is not on network "${nic.network}"`)
    }
    subnets = subnet === undefined ? [] : [subnet]
  }
  if (nic.fixedIp !== undefined) {
    const a = address(nic.fixedIp, `${np}.fixedIp`)
    if (
      a !== undefined &&
      network !== undefined &&
      !subnets.some((s) => s.cidr !== undefined && Addresses.contains(s.cidr, a))
    ) {
      report(
        `${np}.fixedIp`,
        `"${nic.fixedIp}" is in no subnet of network "${nic.network}"${nic.subnet === undefined ? "" : ` (subnet "${nic.subnet}")`}`
      )
    }
  }
  const groups = new Set<string>()
  nic.securityGroups?.forEach((sg, s) => {
    inProject(idx.securityGroups, "security group", sg, project, `${np}.securityGroups[${s}]`)
    if (groups.has(sg)) report(`${np}.securityGroups[${s}]`, `security group "${sg}" is listed twice`)
    groups.add(sg)
  })
  if (nic.floatingIp !== undefined) {
    const fp = `${np}.floatingIp`
    const fip = inProject(idx.floatingIps, "floating IP", nic.floatingIp, project, fp)
    const other = fipUsers.get(nic.floatingIp)
    if (other !== undefined) report(fp, `floating IP "${nic.floatingIp}" is already used by ${other}`)
    else fipUsers.set(nic.floatingIp, np)
    if (fip !== undefined && network !== undefined) {
      if (subnets.length === 0) report(fp, `network "${nic.network}" has no subnet: the port gets no address to float`)
      else if (!subnets.some((s) => routersReaching(project, s.value.id, fip.value.network).length > 0)) {
        report(
          fp,
          `floating IP "${nic.floatingIp}" on "${fip.value.network}" is unreachable: no router of the project has a gateway on "${fip.value.network}" and an interface on ${subnets.map((s) => `"${s.value.id}"`).join(" or ")}`
        )
      }
    }
  }
}

/**
 * Two things at one address of a subnet: the gateway, router interfaces (at the gateway unless
 * given an address) and instances' fixed IPs. Neutron would refuse the second one at run time.
 */
export const addressClashes = ({ idx, report }: Checker) => {
  const used = new Map<string, Map<bigint, string>>()
  const claim = (subnet: LocatedSubnet, address: Addresses.Address, path: string, what: string, gateway = false) => {
    if (subnet.cidr === undefined || !Addresses.contains(subnet.cidr, address)) return
    const taken = used.get(subnet.value.id) ?? new Map<bigint, string>()
    used.set(subnet.value.id, taken)
    const other = taken.get(address.value)
    // a router interface without address sits at the gateway: once
    if (other !== undefined && !(gateway && other.startsWith("the gateway"))) {
      report(path, `${what} ${Addresses.formatAddress(address)} of subnet "${subnet.value.id}" is already ${other}`)
    } else if (other === undefined) taken.set(address.value, gateway ? `the gateway (${path})` : `used at ${path}`)
  }
  for (const subnet of idx.subnets.values()) {
    const { gatewayIp } = subnet.value
    if (gatewayIp === null || subnet.cidr === undefined) continue
    const address =
      gatewayIp === undefined
        ? { version: subnet.cidr.version, value: subnet.cidr.network + 1n }
        : Addresses.parseAddress(gatewayIp)
    if (address !== undefined) claim(subnet, address, `${subnet.path}.gatewayIp`, "gateway", true)
  }
  const atGateway = new Map<string, string>()
  for (const { value: router, path } of idx.routers.values()) {
    router.interfaces?.forEach((itf, i) => {
      const subnet = idx.subnets.get(itf.subnet)
      if (subnet === undefined) return
      const ip = `${path}.interfaces[${i}]`
      if (itf.ipAddress === undefined) {
        const other = atGateway.get(itf.subnet)
        if (other !== undefined)
          report(`${ip}.subnet`, `the gateway of subnet "${itf.subnet}" is already taken by ${other}`)
        else atGateway.set(itf.subnet, ip)
        return
      }
      const address = Addresses.parseAddress(itf.ipAddress)
      if (address !== undefined) claim(subnet, address, `${ip}.ipAddress`, "address")
    })
  }
  for (const { value: instance, path } of idx.instances.values()) {
    instance.nics?.forEach((nic, i) => {
      const address = nic.fixedIp === undefined ? undefined : Addresses.parseAddress(nic.fixedIp)
      if (address === undefined) return
      const candidates =
        nic.subnet !== undefined ? [nic.subnet] : (idx.networks.get(nic.network)?.value.subnets ?? []).map((s) => s.id)
      for (const id of candidates) {
        const subnet = idx.subnets.get(id)
        if (subnet !== undefined) claim(subnet, address, `${path}.nics[${i}].fixedIp`, "fixed IP")
      }
    })
  }
}

/** Each cycle of `dependsOn` once, reported on the first instance along it. */
export const cycles = ({ idx, report }: Checker) => {
  const found = JobBuilder.findCycles(
    [...idx.instances.keys()].map((id) => ({
      id,
      dependencies: (idx.instances.get(id)?.value.dependsOn ?? []).filter((d) => d !== id)
    }))
  )
  for (const cycle of found) {
    const first = idx.instances.get(cycle[0]!)!
    report(`${first.path}.dependsOn`, `instance dependency cycle: ${[...cycle, cycle[0]].join(" -> ")}`)
  }
}
