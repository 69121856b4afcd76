/**
 * Neutron v2.0 subset: networks (incl. external flat ones), subnets with IP
 * allocation, ports, routers (gateway, interfaces, extra routes), floating IPs
 * with the real reachability rule (a router must join the port's subnet to
 * the floating network), security groups and rules, tags (set after
 * creation: Zed refuses `tags` in a POST), per-project quotas.
 */
import {
  bool,
  dispatch,
  empty,
  fieldFilter,
  isRecord,
  json,
  member,
  num,
  paginate,
  projectOf,
  route,
  type SimRequest,
  selectFields,
  str,
  strings,
  tagFilter
} from "./http.ts"
import type * as M from "./model.ts"
import {
  badRequest,
  type Cidr,
  cidrsOverlap,
  inCidr,
  intToIp,
  ipToInt,
  isoSeconds,
  macAddress,
  nextSeq,
  notFound,
  parseCidr,
  SimFailure,
  type State,
  uuid
} from "./state.ts"

const MAX_TAG_LEN = 60
const PHYSNETS = ["public"]

const neutronConflict = (message: string, type: string) => new SimFailure(409, message, type)

const stamp = (state: State) => isoSeconds(state.now)

/** The owner of a created resource: an admin may name another project. */
const ownerOf = (req: SimRequest, body: Record<string, unknown>): string =>
  str(body, "project_id") ?? str(body, "tenant_id") ?? projectOf(req)

// ---------------------------------------------------------------- quotas

const QUOTA_KEYS = [
  "network",
  "subnet",
  "port",
  "router",
  "floatingip",
  "security_group",
  "security_group_rule",
  "rbac_policy",
  "subnetpool"
] as const
type QuotaKey = (typeof QUOTA_KEYS)[number]

// Per-project limits set through `PUT /quotas/{project}`, kept beside the state.
const projectQuotasByState = new WeakMap<State, Map<string, Partial<Record<QuotaKey, number>>>>()

const projectQuotas = (state: State): Map<string, Partial<Record<QuotaKey, number>>> => {
  let quotas = projectQuotasByState.get(state)
  if (quotas === undefined) {
    quotas = new Map()
    projectQuotasByState.set(state, quotas)
  }
  return quotas
}

/** The defaults: the simulator's settings where it has one, unlimited (-1) otherwise. */
const defaultQuotas = (state: State): Record<QuotaKey, number> => ({
  network: state.settings.quotas.networks,
  subnet: -1,
  port: state.settings.quotas.ports,
  router: -1,
  floatingip: state.settings.quotas.floatingips,
  security_group: state.settings.quotas.security_groups,
  security_group_rule: -1,
  rbac_policy: -1,
  subnetpool: -1
})

const quotasOf = (state: State, project: string): Record<QuotaKey, number> => ({
  ...defaultQuotas(state),
  ...projectQuotas(state).get(project)
})

const quota = (state: State, project: string, kind: QuotaKey, used: number) => {
  const limit = quotasOf(state, project)[kind]
  if (limit >= 0 && used >= limit) {
    throw neutronConflict(`Quota exceeded for resources: ['${kind}'].`, "OverQuota")
  }
}

/** Zed has no `tags` on create (that came with `tag-creation` in 2024.2): tags are set afterwards. */
const noTagsOnCreate = (body: Record<string, unknown>) => {
  if ("tags" in body) throw badRequest("Attribute 'tags' not allowed in POST", "HTTPBadRequest")
}

const touch = (state: State, r: { updated_at: string; revision_number: number }) => {
  r.updated_at = stamp(state)
  r.revision_number += 1
}

// ---------------------------------------------------------------- getters

export const getNetwork = (state: State, id: string): M.Network => {
  const n = state.networks.get(id)
  if (n === undefined) throw notFound(`Network ${id} could not be found.`, "NetworkNotFound")
  return n
}

export const getSubnet = (state: State, id: string): M.Subnet => {
  const s = state.subnets.get(id)
  if (s === undefined) throw notFound(`Subnet ${id} could not be found.`, "SubnetNotFound")
  return s
}

export const getPort = (state: State, id: string): M.Port => {
  const p = state.ports.get(id)
  if (p === undefined) throw notFound(`Port ${id} could not be found.`, "PortNotFound")
  return p
}

const getRouter = (state: State, id: string): M.Router => {
  const r = state.routers.get(id)
  if (r === undefined) throw notFound(`Router ${id} could not be found`, "RouterNotFound")
  return r
}

const getFloatingIp = (state: State, id: string): M.FloatingIp => {
  const f = state.floatingips.get(id)
  if (f === undefined) throw notFound(`Floating IP ${id} could not be found`, "FloatingIPNotFound")
  return f
}

const getSecurityGroup = (state: State, id: string): M.SecurityGroup => {
  const g = state.securityGroups.get(id)
  if (g === undefined) throw notFound(`Security group ${id} does not exist`, "SecurityGroupNotFound")
  return g
}

// ---------------------------------------------------------------- IP allocation

const usedIps = (state: State, subnetId: string): Set<string> => {
  const used = new Set<string>()
  for (const p of state.ports.values())
    for (const ip of p.fixed_ips) if (ip.subnet_id === subnetId) used.add(ip.ip_address)
  return used
}

const cidrOf = (subnet: M.Subnet): Cidr => parseCidr(subnet.cidr)!

const inPool = (pool: { start: string; end: string }, ip: string): boolean =>
  !ip.includes(":") && ipToInt(pool.start) <= ipToInt(ip) && ipToInt(ip) <= ipToInt(pool.end)

/** Neutron's default IPv4 pools: every host address but the gateway (which splits the range). */
const defaultPools = (cidr: Cidr, size: number, gateway: string | null): Array<{ start: string; end: string }> => {
  const first = size <= 2 ? cidr.network : cidr.network + 1
  const last = size <= 2 ? cidr.network + size - 1 : cidr.network + size - 2
  const gw = gateway === null ? undefined : ipToInt(gateway)
  const ranges: Array<[number, number]> =
    gw === undefined || gw < first || gw > last
      ? [[first, last]]
      : [
          [first, gw - 1],
          [gw + 1, last]
        ]
  return ranges.filter(([a, b]) => a <= b).map(([a, b]) => ({ start: intToIp(a), end: intToIp(b) }))
}

/** The first free address of the subnet's pools; `also` holds addresses picked earlier in the same request. */
const allocate = (state: State, subnet: M.Subnet, network: M.Network, also: ReadonlyArray<string> = []): string => {
  const used = usedIps(state, subnet.id)
  for (const ip of also) used.add(ip)
  if (subnet.ip_version === 6) {
    const prefix = subnet.cidr.split("::")[0] ?? "fd00"
    for (let i = 2; i < 65536; i++) {
      const ip = `${prefix}::${i.toString(16)}`
      if (!used.has(ip) && ip !== subnet.gateway_ip) return ip
    }
  } else {
    for (const pool of subnet.allocation_pools) {
      for (let n = ipToInt(pool.start); n <= ipToInt(pool.end); n++) {
        const ip = intToIp(n)
        if (!used.has(ip) && ip !== subnet.gateway_ip) return ip
      }
    }
  }
  throw neutronConflict(`No more IP addresses available on network ${network.id}.`, "IpAddressGenerationFailure")
}

const claimIp = (state: State, subnet: M.Subnet, ip: string, ignorePort?: string): void => {
  if (!inCidr(cidrOf(subnet), ip)) {
    throw badRequest(
      `Invalid input for operation: IP address ${ip} is not a valid IP for the specified subnet.`,
      "InvalidInput"
    )
  }
  for (const p of state.ports.values()) {
    if (p.id === ignorePort) continue
    if (p.fixed_ips.some((f) => f.subnet_id === subnet.id && f.ip_address === ip)) {
      throw neutronConflict(`IP address ${ip} already allocated in subnet ${subnet.id}`, "IpAddressAlreadyAllocated")
    }
  }
}

/** Fixed IPs for a new port (or an update): explicit ones checked, else one from the first subnet. */
const fixedIpsFor = (state: State, network: M.Network, requested: unknown, portId?: string): Array<M.FixedIp> => {
  if (requested === undefined || requested === null) {
    const subnet =
      network.subnets.map((id) => state.subnets.get(id)).find((s) => s?.ip_version === 4) ??
      (network.subnets[0] === undefined ? undefined : state.subnets.get(network.subnets[0]))
    return subnet === undefined ? [] : [{ subnet_id: subnet.id, ip_address: allocate(state, subnet, network) }]
  }
  if (!Array.isArray(requested))
    throw badRequest("Invalid input for fixed_ips. Reason: Invalid data format for fixed IP.")
  const out: Array<M.FixedIp> = []
  for (const entry of requested) {
    if (!isRecord(entry)) throw badRequest("Invalid input for fixed_ips. Reason: Invalid data format for fixed IP.")
    const subnetId = str(entry, "subnet_id")
    const ip = str(entry, "ip_address")
    let subnet: M.Subnet | undefined
    if (subnetId !== undefined) {
      subnet = state.subnets.get(subnetId)
      if (subnet === undefined || subnet.network_id !== network.id) {
        throw badRequest(
          `Invalid input for operation: Failed to create port on network ${network.id}, because fixed_ips included invalid subnet ${subnetId}.`,
          "InvalidInput"
        )
      }
    } else if (ip !== undefined) {
      subnet = network.subnets.map((id) => state.subnets.get(id)!).find((s) => inCidr(cidrOf(s), ip))
      if (subnet === undefined) {
        throw badRequest(
          `Invalid input for operation: IP address ${ip} is not a valid IP for any subnet on network ${network.id}.`,
          "InvalidInput"
        )
      }
    } else {
      throw badRequest("Invalid input for fixed_ips. Reason: Exactly one of subnet_id or ip_address is required.")
    }
    if (ip !== undefined) {
      claimIp(state, subnet, ip, portId)
      if (out.some((f) => f.ip_address === ip)) throw badRequest(`Duplicate IP address ${ip}`)
      out.push({ subnet_id: subnet.id, ip_address: ip })
    } else {
      out.push({
        subnet_id: subnet.id,
        ip_address: allocate(
          state,
          subnet,
          network,
          out.map((f) => f.ip_address)
        )
      })
    }
  }
  return out
}

// ---------------------------------------------------------------- security groups

const addRule = (
  state: State,
  group: M.SecurityGroup,
  fields: Partial<M.SecurityGroupRule> & { direction: string; ethertype: string }
): M.SecurityGroupRule => {
  const rule: M.SecurityGroupRule = {
    id: uuid(state),
    security_group_id: group.id,
    project_id: group.project_id,
    tenant_id: group.project_id,
    protocol: null,
    port_range_min: null,
    port_range_max: null,
    remote_ip_prefix: null,
    remote_group_id: null,
    description: "",
    created_at: stamp(state),
    updated_at: stamp(state),
    revision_number: 0,
    ...fields
  }
  state.securityGroupRules.set(rule.id, rule)
  return rule
}

const addGroup = (state: State, project: string, name: string, description: string, tags: Array<string>) => {
  const group: M.SecurityGroup = {
    id: uuid(state),
    name,
    project_id: project,
    tenant_id: project,
    description,
    stateful: true,
    tags,
    created_at: stamp(state),
    updated_at: stamp(state),
    revision_number: 0
  }
  state.securityGroups.set(group.id, group)
  addRule(state, group, { direction: "egress", ethertype: "IPv4" })
  addRule(state, group, { direction: "egress", ethertype: "IPv6" })
  return group
}

/** Neutron creates a project's `default` group the first time the project needs one. */
export const ensureDefaultSecurityGroup = (state: State, project: string): M.SecurityGroup => {
  const existing = [...state.securityGroups.values()].find((g) => g.project_id === project && g.name === "default")
  if (existing !== undefined) return existing
  const group = addGroup(state, project, "default", "Default security group", [])
  addRule(state, group, { direction: "ingress", ethertype: "IPv4", remote_group_id: group.id })
  addRule(state, group, { direction: "ingress", ethertype: "IPv6", remote_group_id: group.id })
  return group
}

/** A group by id, or by name within the project (Nova passes names). */
export const findSecurityGroup = (state: State, project: string, ref: string): M.SecurityGroup | undefined => {
  const byId = state.securityGroups.get(ref)
  if (byId !== undefined) return byId
  if (ref === "default") return ensureDefaultSecurityGroup(state, project)
  const named = [...state.securityGroups.values()].filter((g) => g.project_id === project && g.name === ref)
  if (named.length > 1) {
    throw neutronConflict(
      `Multiple security_group matches found for name '${ref}', use an ID to be more specific.`,
      "NeutronClientNoUniqueMatch"
    )
  }
  return named[0]
}

const groupsFor = (state: State, project: string, requested: Array<string> | undefined): Array<string> => {
  if (requested === undefined) return [ensureDefaultSecurityGroup(state, project).id]
  return requested.map((ref) => {
    const group = state.securityGroups.get(ref)
    if (group === undefined) throw notFound(`Security group ${ref} does not exist`, "SecurityGroupNotFound")
    return group.id
  })
}

// ---------------------------------------------------------------- ports

export interface PortFields {
  readonly networkId: string
  readonly project: string
  readonly name?: string | undefined
  readonly fixedIps?: unknown
  readonly securityGroups?: Array<string> | undefined
  readonly deviceId?: string | undefined
  readonly deviceOwner?: string | undefined
  readonly macAddress?: string | undefined
  readonly description?: string | undefined
  readonly tags?: Array<string> | undefined
  readonly novaOwned?: boolean | undefined
  readonly status?: string | undefined
}

export const createPort = (state: State, fields: PortFields): M.Port => {
  const network = getNetwork(state, fields.networkId)
  const ports = [...state.ports.values()].filter((p) => p.project_id === fields.project)
  if (!fields.deviceOwner?.startsWith("network:")) quota(state, fields.project, "port", ports.length)
  const mac = fields.macAddress ?? macAddress(state)
  if ([...state.ports.values()].some((p) => p.network_id === network.id && p.mac_address === mac)) {
    throw neutronConflict(
      `Unable to complete operation for network ${network.id}. The mac address ${mac} is in use.`,
      "MacAddressInUse"
    )
  }
  const isNetworkOwned = fields.deviceOwner?.startsWith("network:") ?? false
  const port: M.Port = {
    id: uuid(state),
    name: fields.name ?? "",
    network_id: network.id,
    project_id: fields.project,
    tenant_id: fields.project,
    mac_address: mac,
    fixed_ips: fixedIpsFor(state, network, fields.fixedIps),
    security_groups: isNetworkOwned ? [] : groupsFor(state, fields.project, fields.securityGroups),
    device_id: fields.deviceId ?? "",
    device_owner: fields.deviceOwner ?? "",
    status: fields.status ?? "DOWN",
    admin_state_up: true,
    "binding:host_id": "",
    "binding:vif_type": "unbound",
    description: fields.description ?? "",
    tags: fields.tags ?? [],
    created_at: stamp(state),
    updated_at: stamp(state),
    revision_number: 0,
    sim_nova_owned: fields.novaOwned ?? false
  }
  state.ports.set(port.id, port)
  return port
}

/** Removes a port and whatever hangs on it (floating IP association, server reference). */
export const removePort = (state: State, port: M.Port): void => {
  for (const f of state.floatingips.values()) {
    if (f.port_id === port.id) disassociate(state, f)
  }
  for (const s of state.servers.values()) s.port_ids = s.port_ids.filter((id) => id !== port.id)
  state.ports.delete(port.id)
}

/** Port status follows the server it is bound to: ACTIVE while the server runs. */
export const syncServerPorts = (state: State, server: M.Server): void => {
  for (const id of server.port_ids) {
    const port = state.ports.get(id)
    if (port === undefined) continue
    const up = server.status === "ACTIVE"
    if (port.status !== (up ? "ACTIVE" : "DOWN")) {
      port.status = up ? "ACTIVE" : "DOWN"
      touch(state, port)
    }
    if (server.status !== "BUILD" && server.status !== "ERROR") {
      port["binding:host_id"] = server.host
      port["binding:vif_type"] = "ovs"
    }
  }
}

// ---------------------------------------------------------------- floating IPs

const disassociate = (state: State, fip: M.FloatingIp) => {
  fip.port_id = null
  fip.fixed_ip_address = null
  fip.router_id = null
  fip.status = "DOWN"
  touch(state, fip)
}

const associate = (state: State, fip: M.FloatingIp, portId: string, fixedIp: string | undefined) => {
  const port = getPort(state, portId)
  const v4 = port.fixed_ips.filter((f) => !f.ip_address.includes(":"))
  if (v4.length === 0)
    throw badRequest(`Bad floatingip request: Port ${port.id} does not have any IPv4 fixed IP.`, "BadRequest")
  const chosen = fixedIp === undefined ? v4[0]! : v4.find((f) => f.ip_address === fixedIp)
  if (chosen === undefined) {
    throw badRequest(`Bad floatingip request: Port ${port.id} does not have fixed ip ${fixedIp}.`, "BadRequest")
  }
  const taken = [...state.floatingips.values()].find(
    (f) => f.id !== fip.id && f.port_id === port.id && f.fixed_ip_address === chosen.ip_address
  )
  if (taken !== undefined) {
    throw neutronConflict(
      `Cannot associate floating IP ${fip.floating_ip_address} (${fip.id}) with port ${port.id} using fixed IP ${chosen.ip_address}, as that fixed IP already has a floating IP on external network ${taken.floating_network_id}.`,
      "FloatingIPPortAlreadyAssociated"
    )
  }
  // a router must have its gateway on the floating network and an interface on the port's subnet
  const router = [...state.routers.values()].find(
    (r) =>
      r.external_gateway_info?.network_id === fip.floating_network_id &&
      [...state.ports.values()].some(
        (p) =>
          p.device_id === r.id &&
          p.device_owner === "network:router_interface" &&
          p.fixed_ips.some((f) => f.subnet_id === chosen.subnet_id)
      )
  )
  if (router === undefined) {
    throw notFound(
      `External network ${fip.floating_network_id} is not reachable from subnet ${chosen.subnet_id}.  Therefore, cannot associate Port ${port.id} with a Floating IP.`,
      "ExternalGatewayForFloatingIPNotFound"
    )
  }
  fip.port_id = port.id
  fip.fixed_ip_address = chosen.ip_address
  fip.router_id = router.id
  fip.status = "ACTIVE"
  touch(state, fip)
}

// ---------------------------------------------------------------- routers

const interfacePorts = (state: State, router: M.Router) =>
  [...state.ports.values()].filter((p) => p.device_id === router.id && p.device_owner === "network:router_interface")

const setGateway = (state: State, router: M.Router, info: unknown) => {
  const current = router.external_gateway_info
  const wanted = isRecord(info) && typeof info.network_id === "string" ? info : undefined
  if (current !== null && (wanted === undefined || wanted.network_id !== current.network_id)) {
    const users = [...state.floatingips.values()].filter((f) => f.router_id === router.id)
    if (users.length > 0) {
      throw neutronConflict(
        `Gateway cannot be updated for router ${router.id}, since a gateway to external network ${current.network_id} is required by one or more floating IPs.`,
        "RouterExternalGatewayInUseByFloatingIp"
      )
    }
    for (const p of [...state.ports.values()]) {
      if (p.device_id === router.id && p.device_owner === "network:router_gateway") state.ports.delete(p.id)
    }
    router.external_gateway_info = null
  }
  if (wanted === undefined || (current !== null && wanted.network_id === current.network_id)) {
    if (wanted !== undefined && router.external_gateway_info !== null && typeof wanted.enable_snat === "boolean") {
      router.external_gateway_info.enable_snat = wanted.enable_snat
    }
    return
  }
  const network = getNetwork(state, wanted.network_id as string)
  if (!network["router:external"]) {
    throw badRequest(`Bad router request: Network ${network.id} is not a valid external network.`, "BadRequest")
  }
  if (network.subnets.length === 0) {
    throw badRequest(`Bad router request: No subnets defined on network ${network.id}.`, "BadRequest")
  }
  const port = createPort(state, {
    networkId: network.id,
    project: router.project_id,
    fixedIps: wanted.external_fixed_ips,
    deviceId: router.id,
    deviceOwner: "network:router_gateway",
    status: "ACTIVE"
  })
  router.external_gateway_info = {
    network_id: network.id,
    enable_snat: typeof wanted.enable_snat === "boolean" ? wanted.enable_snat : true,
    external_fixed_ips: port.fixed_ips.map((f) => ({ ...f }))
  }
}

const connectedSubnets = (state: State, router: M.Router): Array<M.Subnet> => {
  const ids = new Set<string>()
  for (const p of state.ports.values()) {
    if (p.device_id === router.id && p.device_owner.startsWith("network:router_")) {
      for (const f of p.fixed_ips) ids.add(f.subnet_id)
    }
  }
  return [...ids].map((id) => state.subnets.get(id)).filter((s): s is M.Subnet => s !== undefined)
}

const checkRoutes = (
  state: State,
  router: M.Router,
  routes: unknown
): Array<{ destination: string; nexthop: string }> => {
  if (!Array.isArray(routes)) throw badRequest("Invalid input for routes. Reason: Invalid data format for hostroute.")
  const subnets = connectedSubnets(state, router)
  return routes.map((r) => {
    if (
      !isRecord(r) ||
      typeof r.destination !== "string" ||
      typeof r.nexthop !== "string" ||
      parseCidr(r.destination) === undefined
    ) {
      throw badRequest(`Invalid input for routes. Reason: Invalid data format for hostroute: ${JSON.stringify(r)}.`)
    }
    const hop = r.nexthop
    if (!subnets.some((s) => inCidr(cidrOf(s), hop))) {
      throw badRequest(
        `Invalid format for routes: ${JSON.stringify(routes)}, the nexthop is not connected with router`,
        "InvalidRoutes"
      )
    }
    return { destination: r.destination, nexthop: hop }
  })
}

const interfaceInfo = (router: M.Router, port: M.Port) => ({
  id: router.id,
  tenant_id: router.project_id,
  project_id: router.project_id,
  port_id: port.id,
  network_id: port.network_id,
  subnet_id: port.fixed_ips[0]?.subnet_id ?? "",
  subnet_ids: port.fixed_ips.map((f) => f.subnet_id),
  tags: []
})

// ---------------------------------------------------------------- rendering

const plain = <T extends object>(r: T): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(r)) if (!k.startsWith("sim_")) out[k] = structuredClone(v)
  return out
}

const renderGroup = (state: State, g: M.SecurityGroup) => ({
  ...plain(g),
  security_group_rules: [...state.securityGroupRules.values()].filter((r) => r.security_group_id === g.id).map(plain)
})

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)

const listOf = <T extends { id: string; tags?: Array<string> }>(
  state: State,
  req: SimRequest,
  collection: string,
  items: Iterable<T>,
  render: (item: T) => Record<string, unknown>
) => {
  const tagged = tagFilter(req.query)
  const filter = fieldFilter(req.query, new Set(["fixed_ips"]))
  const fixedIpFilters = req.query.getAll("fixed_ips").map((f) => new URLSearchParams(f))
  const all = [...items]
    .filter((i) => (i.tags === undefined || tagged(i.tags)) && filter(render(i)))
    .filter((i) =>
      fixedIpFilters.every((f) => {
        const ips = (i as unknown as { fixed_ips?: Array<M.FixedIp> }).fixed_ips ?? []
        return ips.some(
          (ip) =>
            (f.get("ip_address") === null || f.get("ip_address") === ip.ip_address) &&
            (f.get("subnet_id") === null || f.get("subnet_id") === ip.subnet_id)
        )
      })
    )
    .sort(byId)
  const { page, extra } = paginate(state, req, all, (i) => i.id, collection)
  return json(200, { [collection]: page.map((i) => selectFields(req.query, render(i))), ...extra })
}

// ---------------------------------------------------------------- tags

const taggable = (
  state: State,
  resource: string
): Map<string, { tags: Array<string>; updated_at: string; revision_number: number }> => {
  switch (resource) {
    case "networks":
      return state.networks
    case "subnets":
      return state.subnets
    case "ports":
      return state.ports
    case "routers":
      return state.routers
    case "floatingips":
      return state.floatingips
    case "security-groups":
      return state.securityGroups
  }
  throw notFound(`The resource could not be found.`)
}

const tagged = (state: State, resource: string, id: string) => {
  const r = taggable(state, resource).get(id)
  if (r === undefined) throw notFound(`${resource} ${id} could not be found.`, "NotFound")
  return r
}

const checkTag = (tag: string) => {
  if (tag.length === 0 || tag.length > MAX_TAG_LEN) {
    throw badRequest(`Invalid input for operation: '${tag}' exceeds maximum length of ${MAX_TAG_LEN}.`, "InvalidInput")
  }
  if (tag.includes(",")) throw badRequest(`Invalid input for operation: '${tag}' contains a comma.`, "InvalidInput")
}

const tagsIn = (body: Record<string, unknown>): Array<string> => {
  const tags = strings(body, "tags") ?? []
  for (const t of tags) checkTag(t)
  return [...new Set(tags)]
}

// ---------------------------------------------------------------- routes

const routes = [
  // networks
  route("GET", "/networks", (state, req) => listOf(state, req, "networks", state.networks.values(), plain)),
  route("GET", "/networks/:id", (state, req, { id }) =>
    json(200, { network: selectFields(req.query, plain(getNetwork(state, id!))) })
  ),
  route("POST", "/networks", (state, req) => {
    const body = member(req, "network")
    const project = ownerOf(req, body)
    noTagsOnCreate(body)
    quota(state, project, "network", [...state.networks.values()].filter((n) => n.project_id === project).length)
    const type = str(body, "provider:network_type") ?? "vxlan"
    const physnet = str(body, "provider:physical_network") ?? null
    if (type === "flat" || type === "vlan") {
      if (physnet === null || !PHYSNETS.includes(physnet)) {
        throw badRequest(
          `Invalid input for operation: physical_network '${physnet}' unknown for ${type} provider network.`,
          "InvalidInput"
        )
      }
      if (type === "flat" && [...state.networks.values()].some((n) => n["provider:physical_network"] === physnet)) {
        throw neutronConflict(
          `Unable to create the flat network. Physical network ${physnet} is in use.`,
          "FlatNetworkInUse"
        )
      }
    } else if (type !== "vxlan" && type !== "geneve" && type !== "local") {
      throw badRequest(`Invalid input for operation: network_type value '${type}' not supported.`, "InvalidInput")
    }
    const network: M.Network = {
      id: uuid(state),
      name: str(body, "name") ?? "",
      project_id: project,
      tenant_id: project,
      admin_state_up: bool(body, "admin_state_up") ?? true,
      shared: bool(body, "shared") ?? false,
      status: "ACTIVE",
      subnets: [],
      mtu: num(body, "mtu") ?? (type === "vxlan" ? 1450 : 1500),
      description: str(body, "description") ?? "",
      "router:external": bool(body, "router:external") ?? false,
      "provider:network_type": type,
      "provider:physical_network": type === "flat" || type === "vlan" ? physnet : null,
      "provider:segmentation_id":
        type === "flat" ? null : (num(body, "provider:segmentation_id") ?? 1000 + nextSeq(state)),
      tags: [],
      created_at: stamp(state),
      updated_at: stamp(state),
      revision_number: 1
    }
    state.networks.set(network.id, network)
    return json(201, { network: plain(network) })
  }),
  route("PUT", "/networks/:id", (state, req, { id }) => {
    const network = getNetwork(state, id!)
    const body = member(req, "network")
    network.name = str(body, "name") ?? network.name
    network.description = str(body, "description") ?? network.description
    network.admin_state_up = bool(body, "admin_state_up") ?? network.admin_state_up
    network.shared = bool(body, "shared") ?? network.shared
    network["router:external"] = bool(body, "router:external") ?? network["router:external"]
    network.mtu = num(body, "mtu") ?? network.mtu
    touch(state, network)
    return json(200, { network: plain(network) })
  }),
  route("DELETE", "/networks/:id", (state, _req, { id }) => {
    const network = getNetwork(state, id!)
    const inUse = [...state.ports.values()].some(
      (p) => p.network_id === network.id && p.device_owner !== "network:dhcp"
    )
    if (inUse) {
      throw neutronConflict(
        `Unable to complete operation on network ${network.id}. There are one or more ports still in use on the network.`,
        "NetworkInUse"
      )
    }
    for (const s of network.subnets) state.subnets.delete(s)
    state.networks.delete(network.id)
    return empty(204)
  }),

  // subnets
  route("GET", "/subnets", (state, req) => listOf(state, req, "subnets", state.subnets.values(), plain)),
  route("GET", "/subnets/:id", (state, req, { id }) =>
    json(200, { subnet: selectFields(req.query, plain(getSubnet(state, id!))) })
  ),
  route("POST", "/subnets", (state, req) => {
    const body = member(req, "subnet")
    noTagsOnCreate(body)
    const networkId = str(body, "network_id")
    if (networkId === undefined)
      throw badRequest("Failed to parse request. Required attribute 'network_id' not specified")
    const network = getNetwork(state, networkId)
    const owner = ownerOf(req, body)
    quota(state, owner, "subnet", [...state.subnets.values()].filter((x) => x.project_id === owner).length)
    const version = num(body, "ip_version") ?? 4
    const cidrText = str(body, "cidr")
    if (cidrText === undefined) throw badRequest("Bad subnets request: a cidr is required without a subnetpool.")
    const cidr = parseCidr(cidrText)
    if (cidr === undefined)
      throw badRequest(`Invalid input for cidr. Reason: '${cidrText}' is not a valid IP subnet.`, "InvalidInput")
    if (cidr.version !== version) {
      throw badRequest(
        `Invalid input for operation: Cidr ${cidrText} does not match ip_version ${version}.`,
        "InvalidInput"
      )
    }
    for (const other of network.subnets.map((s) => state.subnets.get(s)!)) {
      if (cidrsOverlap(cidrOf(other), cidr)) {
        throw badRequest(
          `Invalid input for operation: Requested subnet with cidr: ${cidr.text} for network: ${network.id} overlaps with another subnet.`,
          "InvalidInput"
        )
      }
    }
    const size = cidr.version === 4 ? 2 ** (32 - cidr.prefix) : 0
    const gatewayGiven = "gateway_ip" in body
    let gateway = gatewayGiven
      ? (str(body, "gateway_ip") ?? null)
      : cidr.version === 4
        ? intToIp(cidr.network + 1)
        : `${cidrText.split("::")[0]}::1`
    if (gateway !== null && !inCidr(cidr, gateway)) {
      throw badRequest(
        `Invalid input for operation: Gateway IP ${gateway} conflicts with allocation pool or is outside the subnet.`,
        "InvalidInput"
      )
    }
    if (cidr.version === 4 && size < 4 && gateway !== null && !gatewayGiven) gateway = null
    const pools = Array.isArray(body.allocation_pools)
      ? body.allocation_pools.map((p) => {
          if (
            !isRecord(p) ||
            typeof p.start !== "string" ||
            typeof p.end !== "string" ||
            !inCidr(cidr, p.start) ||
            !inCidr(cidr, p.end)
          ) {
            throw badRequest(
              `Invalid input for operation: allocation pool ${JSON.stringify(p)} is not valid for ${cidr.text}.`,
              "InvalidInput"
            )
          }
          if (cidr.version === 4 && ipToInt(p.start) > ipToInt(p.end)) {
            throw badRequest(
              `Invalid input for operation: allocation pool ${p.start}-${p.end} is not valid: start is after end.`,
              "InvalidAllocationPool"
            )
          }
          return { start: p.start, end: p.end }
        })
      : cidr.version === 4
        ? defaultPools(cidr, size, gateway)
        : [{ start: `${cidrText.split("::")[0]}::2`, end: `${cidrText.split("::")[0]}::ffff` }]
    if (cidr.version === 4) {
      const sorted = [...pools].sort((a, b) => ipToInt(a.start) - ipToInt(b.start))
      sorted.forEach((p, i) => {
        const next = sorted[i + 1]
        if (next !== undefined && ipToInt(next.start) <= ipToInt(p.end)) {
          throw badRequest(
            `Found overlapping allocation pools: ${p.start}-${p.end} and ${next.start}-${next.end} for subnet ${cidr.text}.`,
            "OverlappingAllocationPools"
          )
        }
      })
      const clash = gateway === null ? undefined : pools.find((p) => inPool(p, gateway!))
      if (clash !== undefined) {
        throw neutronConflict(
          `Gateway ip ${gateway} conflicts with allocation pool ${clash.start}-${clash.end}.`,
          "GatewayConflictWithAllocationPools"
        )
      }
    }
    const hostRoutes = Array.isArray(body.host_routes) ? body.host_routes : body.host_routes == null ? [] : undefined
    if (
      hostRoutes === undefined ||
      hostRoutes.some(
        (r) =>
          !isRecord(r) ||
          typeof r.destination !== "string" ||
          typeof r.nexthop !== "string" ||
          parseCidr(r.destination) === undefined
      )
    ) {
      throw badRequest(
        `Invalid input for host_routes. Reason: Invalid data format for hostroute: ${JSON.stringify(body.host_routes)}.`,
        "InvalidInput"
      )
    }
    const subnet: M.Subnet = {
      id: uuid(state),
      name: str(body, "name") ?? "",
      network_id: network.id,
      project_id: ownerOf(req, body),
      tenant_id: ownerOf(req, body),
      ip_version: version,
      cidr: cidr.text,
      gateway_ip: gateway,
      enable_dhcp: bool(body, "enable_dhcp") ?? true,
      allocation_pools: pools,
      dns_nameservers: strings(body, "dns_nameservers") ?? [],
      host_routes: (hostRoutes as Array<{ destination: string; nexthop: string }>).map((r) => ({
        destination: r.destination,
        nexthop: r.nexthop
      })),
      description: str(body, "description") ?? "",
      tags: [],
      created_at: stamp(state),
      updated_at: stamp(state),
      revision_number: 0
    }
    state.subnets.set(subnet.id, subnet)
    network.subnets.push(subnet.id)
    touch(state, network)
    return json(201, { subnet: plain(subnet) })
  }),
  route("PUT", "/subnets/:id", (state, req, { id }) => {
    const subnet = getSubnet(state, id!)
    const body = member(req, "subnet")
    subnet.name = str(body, "name") ?? subnet.name
    subnet.description = str(body, "description") ?? subnet.description
    subnet.enable_dhcp = bool(body, "enable_dhcp") ?? subnet.enable_dhcp
    subnet.dns_nameservers = strings(body, "dns_nameservers") ?? subnet.dns_nameservers
    if ("gateway_ip" in body) subnet.gateway_ip = str(body, "gateway_ip") ?? null
    touch(state, subnet)
    return json(200, { subnet: plain(subnet) })
  }),
  route("DELETE", "/subnets/:id", (state, _req, { id }) => {
    const subnet = getSubnet(state, id!)
    const inUse = [...state.ports.values()].some(
      (p) => p.device_owner !== "network:dhcp" && p.fixed_ips.some((f) => f.subnet_id === subnet.id)
    )
    if (inUse) {
      throw neutronConflict(
        `Unable to complete operation on subnet ${subnet.id}: One or more ports have an IP allocation from this subnet.`,
        "SubnetInUse"
      )
    }
    state.subnets.delete(subnet.id)
    const network = state.networks.get(subnet.network_id)
    if (network !== undefined) network.subnets = network.subnets.filter((s) => s !== subnet.id)
    return empty(204)
  }),

  // ports
  route("GET", "/ports", (state, req) => listOf(state, req, "ports", state.ports.values(), plain)),
  route("GET", "/ports/:id", (state, req, { id }) =>
    json(200, { port: selectFields(req.query, plain(getPort(state, id!))) })
  ),
  route("POST", "/ports", (state, req) => {
    const body = member(req, "port")
    noTagsOnCreate(body)
    const networkId = str(body, "network_id")
    if (networkId === undefined)
      throw badRequest("Failed to parse request. Required attribute 'network_id' not specified")
    const port = createPort(state, {
      networkId,
      project: ownerOf(req, body),
      name: str(body, "name"),
      fixedIps: body.fixed_ips,
      securityGroups: strings(body, "security_groups"),
      deviceId: str(body, "device_id"),
      deviceOwner: str(body, "device_owner"),
      macAddress: str(body, "mac_address"),
      description: str(body, "description"),
      tags: []
    })
    return json(201, { port: plain(port) })
  }),
  route("PUT", "/ports/:id", (state, req, { id }) => {
    const port = getPort(state, id!)
    const body = member(req, "port")
    port.name = str(body, "name") ?? port.name
    port.description = str(body, "description") ?? port.description
    port.admin_state_up = bool(body, "admin_state_up") ?? port.admin_state_up
    if ("device_id" in body) port.device_id = str(body, "device_id") ?? ""
    if ("device_owner" in body) port.device_owner = str(body, "device_owner") ?? ""
    const groups = strings(body, "security_groups")
    if (groups !== undefined) port.security_groups = groupsFor(state, port.project_id, groups)
    if ("fixed_ips" in body)
      port.fixed_ips = fixedIpsFor(state, getNetwork(state, port.network_id), body.fixed_ips, port.id)
    touch(state, port)
    return json(200, { port: plain(port) })
  }),
  route("DELETE", "/ports/:id", (state, _req, { id }) => {
    const port = getPort(state, id!)
    if (port.device_owner === "network:router_interface" || port.device_owner === "network:router_gateway") {
      throw neutronConflict(
        `Port ${port.id} cannot be deleted directly via the port API: has device owner ${port.device_owner}.`,
        "ServicePortInUse"
      )
    }
    removePort(state, port)
    return empty(204)
  }),

  // routers
  route("GET", "/routers", (state, req) => listOf(state, req, "routers", state.routers.values(), plain)),
  route("GET", "/routers/:id", (state, req, { id }) =>
    json(200, { router: selectFields(req.query, plain(getRouter(state, id!))) })
  ),
  route("POST", "/routers", (state, req) => {
    const body = member(req, "router")
    if ("routes" in body) throw badRequest("Attribute 'routes' not allowed in POST", "HTTPBadRequest")
    noTagsOnCreate(body)
    const project = ownerOf(req, body)
    quota(state, project, "router", [...state.routers.values()].filter((r) => r.project_id === project).length)
    const router: M.Router = {
      id: uuid(state),
      name: str(body, "name") ?? "",
      project_id: project,
      tenant_id: project,
      status: "ACTIVE",
      admin_state_up: bool(body, "admin_state_up") ?? true,
      external_gateway_info: null,
      routes: [],
      description: str(body, "description") ?? "",
      tags: [],
      created_at: stamp(state),
      updated_at: stamp(state),
      revision_number: 1
    }
    if (body.external_gateway_info !== undefined) setGateway(state, router, body.external_gateway_info)
    state.routers.set(router.id, router)
    return json(201, { router: plain(router) })
  }),
  route("PUT", "/routers/:id", (state, req, { id }) => {
    const router = getRouter(state, id!)
    const body = member(req, "router")
    router.name = str(body, "name") ?? router.name
    router.description = str(body, "description") ?? router.description
    router.admin_state_up = bool(body, "admin_state_up") ?? router.admin_state_up
    if ("external_gateway_info" in body) setGateway(state, router, body.external_gateway_info)
    if ("routes" in body) router.routes = checkRoutes(state, router, body.routes ?? [])
    touch(state, router)
    return json(200, { router: plain(router) })
  }),
  route("PUT", "/routers/:id/add_extraroutes", (state, req, { id }) => {
    const router = getRouter(state, id!)
    const added = checkRoutes(state, router, member(req, "router").routes)
    for (const r of added) {
      if (!router.routes.some((x) => x.destination === r.destination && x.nexthop === r.nexthop)) router.routes.push(r)
    }
    touch(state, router)
    return json(200, { router: plain(router) })
  }),
  route("PUT", "/routers/:id/remove_extraroutes", (state, req, { id }) => {
    const router = getRouter(state, id!)
    const removed = member(req, "router").routes
    if (!Array.isArray(removed)) throw badRequest("Invalid input for routes.")
    router.routes = router.routes.filter(
      (x) => !removed.some((r) => isRecord(r) && r.destination === x.destination && r.nexthop === x.nexthop)
    )
    touch(state, router)
    return json(200, { router: plain(router) })
  }),
  route("PUT", "/routers/:id/add_router_interface", (state, req, { id }) => {
    const router = getRouter(state, id!)
    const body = isRecord(req.body) ? req.body : {}
    const subnetId = str(body, "subnet_id")
    const portId = str(body, "port_id")
    if ((subnetId === undefined) === (portId === undefined)) {
      throw badRequest("Bad router request: Either subnet_id or port_id must be specified.", "BadRequest")
    }
    let port: M.Port
    if (subnetId !== undefined) {
      const subnet = getSubnet(state, subnetId)
      if (interfacePorts(state, router).some((p) => p.fixed_ips.some((f) => f.subnet_id === subnet.id))) {
        throw badRequest(`Bad router request: Router already has a port on subnet ${subnet.id}.`, "BadRequest")
      }
      for (const other of connectedSubnets(state, router)) {
        if (other.id !== subnet.id && cidrsOverlap(cidrOf(other), cidrOf(subnet))) {
          throw badRequest(
            `Bad router request: Cidr ${subnet.cidr} of subnet ${subnet.id} overlaps with cidr ${other.cidr} of subnet ${other.id}.`,
            "BadRequest"
          )
        }
      }
      if (subnet.gateway_ip === null) {
        throw badRequest(`Bad router request: Subnet ${subnet.id} does not have a gateway IP.`, "BadRequest")
      }
      port = createPort(state, {
        networkId: subnet.network_id,
        project: router.project_id,
        fixedIps: [{ subnet_id: subnet.id, ip_address: subnet.gateway_ip }],
        deviceId: router.id,
        deviceOwner: "network:router_interface",
        status: "ACTIVE"
      })
    } else {
      port = getPort(state, portId!)
      if (port.device_id !== "") throw neutronConflict(`Port ${port.id} is still in use.`, "PortInUse")
      port.device_id = router.id
      port.device_owner = "network:router_interface"
      port.status = "ACTIVE"
      port.security_groups = []
      touch(state, port)
    }
    touch(state, router)
    return json(200, interfaceInfo(router, port))
  }),
  route("PUT", "/routers/:id/remove_router_interface", (state, req, { id }) => {
    const router = getRouter(state, id!)
    const body = isRecord(req.body) ? req.body : {}
    const subnetId = str(body, "subnet_id")
    const portId = str(body, "port_id")
    const port = interfacePorts(state, router).find((p) =>
      portId !== undefined ? p.id === portId : p.fixed_ips.some((f) => f.subnet_id === subnetId)
    )
    if (port === undefined) {
      throw notFound(
        portId !== undefined
          ? `Router ${router.id} does not have an interface with id ${portId}`
          : `Router ${router.id} has no interface on subnet ${subnetId}`,
        "RouterInterfaceNotFound"
      )
    }
    const subnets = port.fixed_ips
      .map((f) => state.subnets.get(f.subnet_id))
      .filter((s): s is M.Subnet => s !== undefined)
    for (const subnet of subnets) {
      if (router.routes.some((r) => inCidr(cidrOf(subnet), r.nexthop))) {
        throw neutronConflict(
          `Router interface for subnet ${subnet.id} on router ${router.id} cannot be deleted, as it is required by one or more routes.`,
          "RouterInterfaceInUseByRoute"
        )
      }
      const fipUser = [...state.floatingips.values()].some(
        (f) => f.router_id === router.id && f.fixed_ip_address !== null && inCidr(cidrOf(subnet), f.fixed_ip_address)
      )
      if (fipUser) {
        throw neutronConflict(
          `Router interface for subnet ${subnet.id} on router ${router.id} cannot be deleted, as it is required by one or more floating IPs.`,
          "RouterInterfaceInUseByFloatingIP"
        )
      }
    }
    const info = interfaceInfo(router, port)
    state.ports.delete(port.id)
    touch(state, router)
    return json(200, info)
  }),
  route("DELETE", "/routers/:id", (state, _req, { id }) => {
    const router = getRouter(state, id!)
    if (interfacePorts(state, router).length > 0) {
      throw neutronConflict(`Router ${router.id} still has ports`, "RouterInUse")
    }
    setGateway(state, router, null)
    state.routers.delete(router.id)
    return empty(204)
  }),

  // floating IPs
  route("GET", "/floatingips", (state, req) => listOf(state, req, "floatingips", state.floatingips.values(), plain)),
  route("GET", "/floatingips/:id", (state, req, { id }) =>
    json(200, { floatingip: selectFields(req.query, plain(getFloatingIp(state, id!))) })
  ),
  route("POST", "/floatingips", (state, req) => {
    const body = member(req, "floatingip")
    const networkId = str(body, "floating_network_id")
    if (networkId === undefined)
      throw badRequest("Failed to parse request. Required attribute 'floating_network_id' not specified")
    const network = getNetwork(state, networkId)
    if (!network["router:external"]) {
      throw badRequest(`Bad floatingip request: Network ${network.id} is not a valid external network.`, "BadRequest")
    }
    const project = ownerOf(req, body)
    noTagsOnCreate(body)
    quota(state, project, "floatingip", [...state.floatingips.values()].filter((f) => f.project_id === project).length)
    const address = str(body, "floating_ip_address")
    const subnetId = str(body, "subnet_id")
    const fixed =
      address !== undefined ? [{ ip_address: address }] : subnetId !== undefined ? [{ subnet_id: subnetId }] : undefined
    const internal = createPort(state, {
      networkId: network.id,
      project,
      fixedIps: fixed,
      deviceOwner: "network:floatingip",
      status: "N/A"
    })
    const ip = internal.fixed_ips[0]
    if (ip === undefined) {
      state.ports.delete(internal.id)
      throw badRequest(`Bad floatingip request: Network ${network.id} has no subnet.`, "BadRequest")
    }
    const fip: M.FloatingIp = {
      id: uuid(state),
      project_id: project,
      tenant_id: project,
      floating_network_id: network.id,
      floating_ip_address: ip.ip_address,
      port_id: null,
      fixed_ip_address: null,
      router_id: null,
      status: "DOWN",
      description: str(body, "description") ?? "",
      tags: [],
      created_at: stamp(state),
      updated_at: stamp(state),
      revision_number: 0
    }
    internal.device_id = fip.id
    const portId = str(body, "port_id")
    if (portId !== undefined) {
      try {
        associate(state, fip, portId, str(body, "fixed_ip_address"))
      } catch (e) {
        state.ports.delete(internal.id)
        throw e
      }
    }
    state.floatingips.set(fip.id, fip)
    return json(201, { floatingip: plain(fip) })
  }),
  route("PUT", "/floatingips/:id", (state, req, { id }) => {
    const fip = getFloatingIp(state, id!)
    const body = member(req, "floatingip")
    fip.description = str(body, "description") ?? fip.description
    if ("port_id" in body) {
      const portId = str(body, "port_id")
      if (portId === undefined) disassociate(state, fip)
      else associate(state, fip, portId, str(body, "fixed_ip_address"))
    }
    touch(state, fip)
    return json(200, { floatingip: plain(fip) })
  }),
  route("DELETE", "/floatingips/:id", (state, _req, { id }) => {
    const fip = getFloatingIp(state, id!)
    for (const p of [...state.ports.values()]) {
      if (p.device_owner === "network:floatingip" && p.device_id === fip.id) state.ports.delete(p.id)
    }
    state.floatingips.delete(fip.id)
    return empty(204)
  }),

  // security groups
  route("GET", "/security-groups", (state, req) => {
    // like Neutron: the project of the filter (else the token's) gets its default group first
    const project = req.query.get("project_id") ?? req.query.get("tenant_id") ?? req.token?.projectId
    if (project !== undefined && project !== null) ensureDefaultSecurityGroup(state, project)
    return listOf(state, req, "security_groups", state.securityGroups.values(), (g) => renderGroup(state, g))
  }),
  route("GET", "/security-groups/:id", (state, req, { id }) =>
    json(200, { security_group: selectFields(req.query, renderGroup(state, getSecurityGroup(state, id!))) })
  ),
  route("POST", "/security-groups", (state, req) => {
    const body = member(req, "security_group")
    const project = ownerOf(req, body)
    const name = str(body, "name") ?? ""
    ensureDefaultSecurityGroup(state, project)
    if (name === "default")
      throw neutronConflict("Default security group already exists.", "SecurityGroupDefaultAlreadyExists")
    noTagsOnCreate(body)
    quota(
      state,
      project,
      "security_group",
      [...state.securityGroups.values()].filter((g) => g.project_id === project).length
    )
    const group = addGroup(state, project, name, str(body, "description") ?? "", [])
    if (body.stateful === false) group.stateful = false
    return json(201, { security_group: renderGroup(state, group) })
  }),
  route("PUT", "/security-groups/:id", (state, req, { id }) => {
    const group = getSecurityGroup(state, id!)
    const body = member(req, "security_group")
    const name = str(body, "name")
    if (name !== undefined && group.name === "default" && name !== "default") {
      throw neutronConflict("Updating default security group not allowed.", "SecurityGroupCannotUpdateDefault")
    }
    group.name = name ?? group.name
    group.description = str(body, "description") ?? group.description
    touch(state, group)
    return json(200, { security_group: renderGroup(state, group) })
  }),
  route("DELETE", "/security-groups/:id", (state, _req, { id }) => {
    const group = getSecurityGroup(state, id!)
    // Neutron refuses to remove a `default` group only for non-admins; every simulator user is an admin
    if ([...state.ports.values()].some((p) => p.security_groups.includes(group.id))) {
      throw neutronConflict(`Security Group ${group.id} in use.`, "SecurityGroupInUse")
    }
    for (const r of [...state.securityGroupRules.values()]) {
      if (r.security_group_id === group.id || r.remote_group_id === group.id) state.securityGroupRules.delete(r.id)
    }
    state.securityGroups.delete(group.id)
    return empty(204)
  }),

  // security group rules
  route("GET", "/security-group-rules", (state, req) =>
    listOf(state, req, "security_group_rules", state.securityGroupRules.values(), plain)
  ),
  route("GET", "/security-group-rules/:id", (state, req, { id }) => {
    const rule = state.securityGroupRules.get(id!)
    if (rule === undefined) throw notFound(`Security group rule ${id} does not exist`, "SecurityGroupRuleNotFound")
    return json(200, { security_group_rule: selectFields(req.query, plain(rule)) })
  }),
  route("POST", "/security-group-rules", (state, req) => {
    const body = member(req, "security_group_rule")
    const groupId = str(body, "security_group_id")
    if (groupId === undefined)
      throw badRequest("Failed to parse request. Required attribute 'security_group_id' not specified")
    const group = getSecurityGroup(state, groupId)
    const direction = str(body, "direction")
    if (direction !== "ingress" && direction !== "egress") {
      throw badRequest(
        `Invalid input for direction. Reason: '${direction}' is not in ['ingress', 'egress'].`,
        "InvalidInput"
      )
    }
    const ethertype = str(body, "ethertype") ?? "IPv4"
    if (ethertype !== "IPv4" && ethertype !== "IPv6") {
      throw badRequest(
        `Invalid input for ethertype. Reason: '${ethertype}' is not in ['IPv4', 'IPv6'].`,
        "InvalidInput"
      )
    }
    const protocolRaw = body.protocol
    const protocol = protocolRaw === undefined || protocolRaw === null ? null : String(protocolRaw).toLowerCase()
    if (protocol !== null && !/^(tcp|udp|icmp|icmpv6|ipv6-icmp|sctp|gre|esp|ah|any|\d{1,3})$/.test(protocol)) {
      throw badRequest(`Security group rule protocol ${protocol} not supported.`, "SecurityGroupRuleInvalidProtocol")
    }
    const min = num(body, "port_range_min") ?? null
    const max = num(body, "port_range_max") ?? null
    if ((min !== null || max !== null) && protocol === null) {
      throw badRequest("Must also specify protocol if port range is given.", "SecurityGroupProtocolRequiredWithPorts")
    }
    if ((protocol === "tcp" || protocol === "udp" || protocol === "sctp") && (min !== null || max !== null)) {
      if (min === null || max === null || min > max || min < 1 || max > 65535) {
        throw badRequest(
          "For TCP/UDP protocols, port_range_min must be <= port_range_max",
          "SecurityGroupInvalidPortRange"
        )
      }
    }
    const prefix = str(body, "remote_ip_prefix") ?? null
    const remoteGroup = str(body, "remote_group_id") ?? null
    if (prefix !== null && remoteGroup !== null) {
      throw badRequest(
        "Only remote_ip_prefix or remote_group_id may be provided.",
        "SecurityGroupRemoteGroupAndRemoteIpPrefix"
      )
    }
    if (prefix !== null) {
      const cidr = parseCidr(prefix)
      if (cidr === undefined)
        throw badRequest(
          `Invalid input for remote_ip_prefix. Reason: '${prefix}' is not a valid IP subnet.`,
          "InvalidInput"
        )
      if ((cidr.version === 4) !== (ethertype === "IPv4")) {
        throw badRequest(
          `Conflicting value ethertype ${ethertype} for CIDR ${prefix}`,
          "SecurityGroupRuleParameterConflict"
        )
      }
    }
    if (remoteGroup !== null) getSecurityGroup(state, remoteGroup)
    const duplicate = [...state.securityGroupRules.values()].find(
      (r) =>
        r.security_group_id === group.id &&
        r.direction === direction &&
        r.ethertype === ethertype &&
        r.protocol === protocol &&
        r.port_range_min === min &&
        r.port_range_max === max &&
        r.remote_ip_prefix === prefix &&
        r.remote_group_id === remoteGroup
    )
    if (duplicate !== undefined) {
      throw neutronConflict(
        `Security group rule already exists. Rule id is ${duplicate.id}.`,
        "SecurityGroupRuleExists"
      )
    }
    quota(
      state,
      group.project_id,
      "security_group_rule",
      [...state.securityGroupRules.values()].filter((r) => r.project_id === group.project_id).length
    )
    const rule = addRule(state, group, {
      direction,
      ethertype,
      protocol,
      port_range_min: min,
      port_range_max: max,
      remote_ip_prefix: prefix,
      remote_group_id: remoteGroup,
      description: str(body, "description") ?? ""
    })
    return json(201, { security_group_rule: plain(rule) })
  }),
  route("DELETE", "/security-group-rules/:id", (state, _req, { id }) => {
    if (!state.securityGroupRules.delete(id!)) {
      throw notFound(`Security group rule ${id} does not exist`, "SecurityGroupRuleNotFound")
    }
    return empty(204)
  }),

  // quotas (admin)
  route("GET", "/quotas", (state, req) =>
    json(200, {
      quotas: [...projectQuotas(state).keys()]
        .filter((project) => fieldFilter(req.query)({ project_id: project, tenant_id: project }))
        .map((project) => ({ project_id: project, tenant_id: project, ...quotasOf(state, project) }))
    })
  ),
  route("GET", "/quotas/:project/default", (state) => json(200, { quota: defaultQuotas(state) })),
  route("GET", "/quotas/:project/details", (state, _req, { project }) => {
    const count = (items: Iterable<{ readonly project_id: string }>) =>
      [...items].filter((x) => x.project_id === project).length
    const used: Partial<Record<QuotaKey, number>> = {
      network: count(state.networks.values()),
      subnet: count(state.subnets.values()),
      port: count([...state.ports.values()].filter((p) => !p.device_owner.startsWith("network:router_gateway"))),
      router: count(state.routers.values()),
      floatingip: count(state.floatingips.values()),
      security_group: count(state.securityGroups.values()),
      security_group_rule: count(state.securityGroupRules.values())
    }
    const limits = quotasOf(state, project!)
    return json(200, {
      quota: Object.fromEntries(
        QUOTA_KEYS.map((key) => [key, { limit: limits[key], used: used[key] ?? 0, reserved: 0 }])
      )
    })
  }),
  route("GET", "/quotas/:project", (state, _req, { project }) => json(200, { quota: quotasOf(state, project!) })),
  route("PUT", "/quotas/:project", (state, req, { project }) => {
    const body = member(req, "quota")
    const unknown = Object.keys(body).filter((k) => !(QUOTA_KEYS as ReadonlyArray<string>).includes(k))
    if (unknown.length > 0) throw badRequest(`Unrecognized attribute(s) '${unknown.join(", ")}'`, "HTTPBadRequest")
    const changes: Partial<Record<QuotaKey, number>> = {}
    for (const key of QUOTA_KEYS) {
      const value = num(body, key)
      if (value === undefined) continue
      if (!Number.isInteger(value) || value < -1 || value > 2147483647) {
        throw badRequest(
          `Invalid input for ${key}. Reason: '${String(body[key])}' is not in range -1 through 2147483647.`,
          "InvalidInput"
        )
      }
      changes[key] = value
    }
    projectQuotas(state).set(project!, { ...projectQuotas(state).get(project!), ...changes })
    return json(200, { quota: quotasOf(state, project!) })
  }),
  route("DELETE", "/quotas/:project", (state, _req, { project }) => {
    projectQuotas(state).delete(project!)
    return empty(204)
  }),

  // tags (standard-attr-tag)
  route("GET", "/:resource/:id/tags", (state, _req, { resource, id }) =>
    json(200, { tags: [...tagged(state, resource!, id!).tags] })
  ),
  route("PUT", "/:resource/:id/tags", (state, req, { resource, id }) => {
    const r = tagged(state, resource!, id!)
    if (!isRecord(req.body)) throw badRequest('Invalid input: expected {"tags": [...]}')
    r.tags = tagsIn(req.body)
    touch(state, r)
    return json(200, { tags: [...r.tags] })
  }),
  route("DELETE", "/:resource/:id/tags", (state, _req, { resource, id }) => {
    const r = tagged(state, resource!, id!)
    r.tags = []
    touch(state, r)
    return empty(204)
  }),
  route("GET", "/:resource/:id/tags/:tag", (state, _req, { resource, id, tag }) => {
    if (!tagged(state, resource!, id!).tags.includes(tag!))
      throw notFound(`Tag ${tag} could not be found.`, "TagNotFound")
    return empty(204)
  }),
  route("PUT", "/:resource/:id/tags/:tag", (state, _req, { resource, id, tag }) => {
    const r = tagged(state, resource!, id!)
    checkTag(tag!)
    if (!r.tags.includes(tag!)) {
      r.tags.push(tag!)
      touch(state, r)
    }
    return empty(201)
  }),
  route("DELETE", "/:resource/:id/tags/:tag", (state, _req, { resource, id, tag }) => {
    const r = tagged(state, resource!, id!)
    if (!r.tags.includes(tag!)) throw notFound(`Tag ${tag} could not be found.`, "TagNotFound")
    r.tags = r.tags.filter((t) => t !== tag)
    touch(state, r)
    return empty(204)
  })
]

export const handle = (state: State, req: SimRequest) => dispatch(routes, state, req)

/** Set-up helper: an external flat network with one subnet, as operators provide. */
export const addExternalNetwork = (state: State, project: string, name: string, cidrText: string): M.Network => {
  const cidr = parseCidr(cidrText)!
  const network: M.Network = {
    id: uuid(state),
    name,
    project_id: project,
    tenant_id: project,
    admin_state_up: true,
    shared: false,
    status: "ACTIVE",
    subnets: [],
    mtu: 1500,
    description: "",
    "router:external": true,
    "provider:network_type": "flat",
    "provider:physical_network": "public",
    "provider:segmentation_id": null,
    tags: [],
    created_at: stamp(state),
    updated_at: stamp(state),
    revision_number: 1
  }
  const size = 2 ** (32 - cidr.prefix)
  const subnet: M.Subnet = {
    id: uuid(state),
    name: `${name}-subnet`,
    network_id: network.id,
    project_id: project,
    tenant_id: project,
    ip_version: 4,
    cidr: cidr.text,
    gateway_ip: intToIp(cidr.network + 1),
    enable_dhcp: false,
    allocation_pools: [{ start: intToIp(cidr.network + 2), end: intToIp(cidr.network + size - 2) }],
    dns_nameservers: [],
    host_routes: [],
    description: "",
    tags: [],
    created_at: stamp(state),
    updated_at: stamp(state),
    revision_number: 0
  }
  network.subnets.push(subnet.id)
  state.networks.set(network.id, network)
  state.subnets.set(subnet.id, subnet)
  return network
}
