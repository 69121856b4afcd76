/**
 * Validation of a decoded plan, section by section: references between
 * resources, names the target keeps unique, addresses, security group rules,
 * volume sources; the instances (their references, attachments, boot order,
 * address clashes and dependency cycles) are in `InstanceValidation.ts`.
 * Every problem names the path of its field.
 *
 * @since 0.1.0
 */
import * as Addresses from "./Addresses.ts"
import * as InstanceValidation from "./InstanceValidation.ts"
import { Problem } from "./PlanError.ts"
import { type Index, index, type Located, type LocatedSubnet } from "./PlanIndex.ts"
import { type Plan, type Project, type Route, type Subnet, TaskKind } from "./PlanSchema.ts"

/** What each section uses: the plan's index, where problems go, and the checks they share. */
export interface Checker {
  readonly idx: Index
  readonly report: (path: string, message: string) => void
  /** Looks a plan id up among the resources of `kind` in the same project. */
  readonly inProject: <A>(
    map: ReadonlyMap<string, Located<A>>,
    kind: string,
    id: string,
    project: Project,
    path: string
  ) => Located<A> | undefined
  readonly address: (text: string, path: string) => Addresses.Address | undefined
  readonly cidr: (text: string, path: string) => Addresses.Cidr | undefined
  /** An address that must be inside the subnet `c`. */
  readonly inside: (
    c: Addresses.Cidr | undefined,
    text: string,
    path: string,
    what: string
  ) => Addresses.Address | undefined
  readonly routes: (list: ReadonlyArray<Route> | undefined, path: string) => void
}

const checker = (plan: Plan, problems: Array<Problem>): Checker => {
  const report = (path: string, message: string) => {
    problems.push(new Problem({ path, message }))
  }
  const idx = index(plan, problems)
  const inProject = <A>(
    map: ReadonlyMap<string, Located<A>>,
    kind: string,
    id: string,
    project: Project,
    path: string
  ): Located<A> | undefined => {
    const found = map.get(id)
    if (found === undefined) report(path, `unknown ${kind} "${id}"`)
    else if (found.project !== project) {
      report(path, `${kind} "${id}" belongs to project "${found.project.id}", not "${project.id}"`)
      return undefined
    }
    return found
  }
  const address = (text: string, path: string): Addresses.Address | undefined => {
    const a = Addresses.parseAddress(text)
    if (a === undefined) report(path, `"${text}" is not an IP address`)
    return a
  }
  const cidr = (text: string, path: string): Addresses.Cidr | undefined => {
    const c = Addresses.parseCidr(text)
    if (typeof c === "string") {
      report(path, c)
      return undefined
    }
    return c
  }
  const inside = (c: Addresses.Cidr | undefined, text: string, path: string, what: string) => {
    const a = address(text, path)
    if (a !== undefined && c !== undefined && !Addresses.contains(c, a))
      report(path, `${what} "${text}" is outside the subnet`)
    return a
  }
  const routes = (list: ReadonlyArray<Route> | undefined, path: string) =>
    list?.forEach((r, i) => {
      cidr(r.destination, `${path}[${i}].destination`)
      address(r.nexthop, `${path}[${i}].nexthop`)
    })
  return { idx, report, inProject, address, cidr, inside, routes }
}

/** Names the target cloud keeps unique: projects (per domain), flavors, keypairs (per user). */
const uniqueNames = ({ idx, report }: Checker) => {
  for (const [kind, map] of [
    ["project", idx.projects],
    ["flavor", idx.flavors],
    ["keypair", idx.keypairs]
  ] as const) {
    const names = new Map<string, string>()
    for (const { value, path } of (map as ReadonlyMap<string, Located<{ readonly name: string }>>).values()) {
      const other = names.get(value.name)
      if (other !== undefined)
        report(`${path}.name`, `${kind} name "${value.name}" is also at ${other}: the target keeps it unique`)
      else names.set(value.name, path)
    }
  }
}

/** `options.timeoutsMs` names task kinds. */
const timeouts = (plan: Plan, { report }: Checker) => {
  const kinds: ReadonlyArray<string> = TaskKind.literals
  for (const kind of Object.keys(plan.options?.timeoutsMs ?? {})) {
    if (!kinds.includes(kind))
      report(`options.timeoutsMs.${kind}`, `unknown task kind "${kind}" (one of ${kinds.join(", ")})`)
  }
}

/** Networks and their subnets: CIDRs, gateways, allocation pools, DNS servers, host routes. */
const networks = ({ report, cidr, inside, address, routes }: Checker, project: Project, pp: string) => {
  project.networks?.forEach((network, n) => {
    const subnets: Array<{ cidr: Addresses.Cidr; path: string; id: string }> = []
    network.subnets?.forEach((subnet, s) => {
      const sp = `${pp}.networks[${n}].subnets[${s}]`
      const c = cidr(subnet.cidr, `${sp}.cidr`)
      if (c !== undefined) {
        const clash = subnets.find((o) => Addresses.overlaps(o.cidr, c))
        if (clash !== undefined)
          report(`${sp}.cidr`, `overlaps subnet "${clash.id}" (${clash.path}) of the same network`)
        subnets.push({ cidr: c, path: sp, id: subnet.id })
      }
      if (subnet.gatewayIp !== undefined && subnet.gatewayIp !== null) {
        inside(c, subnet.gatewayIp, `${sp}.gatewayIp`, "gateway")
      }
      const gateway = typeof subnet.gatewayIp === "string" ? Addresses.parseAddress(subnet.gatewayIp)?.value : undefined
      const pools: Array<{ start: bigint; end: bigint; i: number }> = []
      subnet.allocationPools?.forEach((pool, i) => {
        const pp = `${sp}.allocationPools[${i}]`
        const start = inside(c, pool.start, `${pp}.start`, "pool start")
        const end = inside(c, pool.end, `${pp}.end`, "pool end")
        if (start === undefined || end === undefined) return
        if (start.value > end.value) report(pp, `pool start "${pool.start}" is after its end "${pool.end}"`)
        else if (gateway !== undefined && gateway >= start.value && gateway <= end.value) {
          report(pp, `the pool holds the gateway "${subnet.gatewayIp}"`)
        }
        const clash = pools.find((o) => start.value <= o.end && o.start <= end.value)
        if (clash !== undefined) report(pp, `overlaps allocationPools[${clash.i}]`)
        pools.push({ start: start.value, end: end.value, i })
      })
      const servers = new Set<string>()
      subnet.dnsNameservers?.forEach((ns, i) => {
        address(ns, `${sp}.dnsNameservers[${i}]`)
        if (servers.has(ns)) report(`${sp}.dnsNameservers[${i}]`, `"${ns}" is listed twice`)
        servers.add(ns)
      })
      routes(subnet.hostRoutes, `${sp}.hostRoutes`)
    })
  })
}

/** Routers: interfaces on subnets of the project, addresses, extra routes. */
const routers = ({ idx, report, inProject, inside, routes }: Checker, project: Project, pp: string) => {
  project.routers?.forEach((router, r) => {
    const rp = `${pp}.routers[${r}]`
    const seen = new Map<string, number>()
    router.interfaces?.forEach((itf, i) => {
      const ip = `${rp}.interfaces[${i}]`
      const subnet = inProject(idx.subnets, "subnet", itf.subnet, project, `${ip}.subnet`)
      const before = seen.get(itf.subnet)
      if (before !== undefined) report(`${ip}.subnet`, `subnet "${itf.subnet}" is already on interfaces[${before}]`)
      else seen.set(itf.subnet, i)
      if (itf.ipAddress !== undefined)
        inside((subnet as LocatedSubnet | undefined)?.cidr, itf.ipAddress, `${ip}.ipAddress`, "address")
      else if (subnet !== undefined && (subnet.value as Subnet).gatewayIp === null) {
        report(`${ip}.ipAddress`, `subnet "${itf.subnet}" has no gateway: give the router's address on it`)
      }
    })
    routes(router.routes, `${rp}.routes`)
    // Neutron takes an extra route only through a subnet the router is on
    router.routes?.forEach((route, i) => {
      const hop = Addresses.parseAddress(route.nexthop)
      if (hop === undefined) return
      const reachable = (router.interfaces ?? []).some((itf) => {
        const c = idx.subnets.get(itf.subnet)?.cidr
        return c !== undefined && Addresses.contains(c, hop)
      })
      if (!reachable)
        report(`${rp}.routes[${i}].nexthop`, `"${route.nexthop}" is on no subnet the router has an interface on`)
    })
  })
}

/** Security group rules: remote ends, ethertypes, protocols and port ranges. */
const securityGroups = ({ idx, report, inProject, cidr }: Checker, project: Project, pp: string) => {
  project.securityGroups?.forEach((group, g) => {
    group.rules?.forEach((rule, i) => {
      const rp = `${pp}.securityGroups[${g}].rules[${i}]`
      if (rule.remoteGroup !== undefined) {
        inProject(idx.securityGroups, "security group", rule.remoteGroup, project, `${rp}.remoteGroup`)
        if (rule.remoteIpPrefix !== undefined)
          report(`${rp}.remoteIpPrefix`, "a rule has a remoteIpPrefix or a remoteGroup, not both")
      }
      if (rule.remoteIpPrefix !== undefined) {
        const c = cidr(rule.remoteIpPrefix, `${rp}.remoteIpPrefix`)
        const family = rule.ethertype ?? "IPv4"
        if (c !== undefined && `IPv${c.version}` !== family) {
          report(`${rp}.remoteIpPrefix`, `"${rule.remoteIpPrefix}" is not an ${family} network (ethertype ${family})`)
        }
      }
      const hasPorts = rule.portRangeMin !== undefined || rule.portRangeMax !== undefined
      if (hasPorts && rule.protocol === undefined) report(`${rp}.protocol`, "a port range needs a protocol")
      const icmp =
        rule.protocol === "icmp" || rule.protocol === "ipv6-icmp" || rule.protocol === 1 || rule.protocol === 58
      const limit = icmp ? 255 : 65535
      for (const field of ["portRangeMin", "portRangeMax"] as const) {
        const v = rule[field]
        if (v !== undefined && v > limit) report(`${rp}.${field}`, `${v} is above ${limit}`)
      }
      if (
        !icmp &&
        rule.portRangeMin !== undefined &&
        rule.portRangeMax !== undefined &&
        rule.portRangeMin > rule.portRangeMax
      ) {
        report(`${rp}.portRangeMax`, `${rule.portRangeMax} is below portRangeMin ${rule.portRangeMin}`)
      }
    })
  })
}

/** Volume sources: exactly one of copy (volume or snapshot) and import (by name or id). */
const volumes = ({ report }: Checker, project: Project, pp: string) => {
  project.volumes?.forEach((volume, v) => {
    const vp = `${pp}.volumes[${v}].source`
    const { copy, import: imported } = volume.source
    if ((copy === undefined) === (imported === undefined)) {
      report(vp, "a volume source is exactly one of `copy` and `import`")
    }
    if (copy !== undefined && (copy.volumeId === undefined) === (copy.snapshotId === undefined)) {
      report(`${vp}.copy`, "a copy source is exactly one of `volumeId` and `snapshotId`")
    }
    if (imported !== undefined && (imported.sourceName === undefined) === (imported.sourceId === undefined)) {
      report(`${vp}.import`, "an import source is exactly one of `sourceName` and `sourceId`")
    }
  })
}

/** Floating IP addresses. */
const floatingIps = ({ address }: Checker, project: Project, pp: string) => {
  project.floatingIps?.forEach((fip, f) => {
    if (fip.address !== undefined) address(fip.address, `${pp}.floatingIps[${f}].address`)
  })
}

/** Every problem of a decoded plan: references, duplicates, addresses, boot order. Empty when valid. */
export const validate = (plan: Plan): ReadonlyArray<Problem> => {
  const problems: Array<Problem> = []
  const c = checker(plan, problems)
  uniqueNames(c)
  timeouts(plan, c)
  plan.projects.forEach((project, p) => {
    const pp = `projects[${p}]`
    networks(c, project, pp)
    routers(c, project, pp)
    securityGroups(c, project, pp)
    volumes(c, project, pp)
    floatingIps(c, project, pp)
  })
  InstanceValidation.instances(c)
  InstanceValidation.addressClashes(c)
  InstanceValidation.cycles(c)
  return problems
}
