/**
 * Every resource of a plan by its plan id, with where it is in the plan:
 * what validation, the builder and the pre-flight check look references up in.
 *
 * @since 0.1.0
 */
import * as Addresses from "./Addresses.ts"
import { Problem } from "./PlanError.ts"
import type {
  Flavor,
  FloatingIp,
  Instance,
  Keypair,
  Network,
  Plan,
  Project,
  Router,
  SecurityGroup,
  Subnet,
  Volume
} from "./PlanSchema.ts"

/** Where a resource is in the plan. */
export interface Located<A> {
  readonly value: A
  /** Path of the resource, e.g. `projects[0].networks[1]`. */
  readonly path: string
  readonly project: Project
  readonly projectPath: string
}

export interface LocatedSubnet extends Located<Subnet> {
  readonly network: Network
  readonly cidr: Addresses.Cidr | undefined
}

/** Every resource of a plan by its plan id (ids are unique per kind across the plan). */
export interface Index {
  readonly projects: ReadonlyMap<string, Located<Project>>
  readonly networks: ReadonlyMap<string, Located<Network>>
  readonly subnets: ReadonlyMap<string, LocatedSubnet>
  readonly routers: ReadonlyMap<string, Located<Router>>
  readonly securityGroups: ReadonlyMap<string, Located<SecurityGroup>>
  readonly keypairs: ReadonlyMap<string, Located<Keypair>>
  readonly flavors: ReadonlyMap<string, Located<Flavor>>
  readonly volumes: ReadonlyMap<string, Located<Volume>>
  readonly floatingIps: ReadonlyMap<string, Located<FloatingIp>>
  readonly instances: ReadonlyMap<string, Located<Instance>>
}

type Kind = Exclude<keyof Index, "subnets">

const singular: Record<keyof Index, string> = {
  projects: "project",
  networks: "network",
  subnets: "subnet",
  routers: "router",
  securityGroups: "security group",
  keypairs: "keypair",
  flavors: "flavor",
  volumes: "volume",
  floatingIps: "floating IP",
  instances: "instance"
}

/** Indexes the resources of a plan; with `problems`, reports duplicate ids and source ids there. */
export const index = (plan: Plan, problems?: Array<Problem>): Index => {
  const report = (path: string, message: string) => problems?.push(new Problem({ path, message }))
  const maps: Record<keyof Index, Map<string, Located<unknown>>> = {
    projects: new Map(),
    networks: new Map(),
    subnets: new Map(),
    routers: new Map(),
    securityGroups: new Map(),
    keypairs: new Map(),
    flavors: new Map(),
    volumes: new Map(),
    floatingIps: new Map(),
    instances: new Map()
  }
  const add = (kind: keyof Index, entry: Located<unknown>, id: string) => {
    const existing = maps[kind].get(id)
    if (existing !== undefined) {
      report(`${entry.path}.id`, `duplicate ${singular[kind]} id "${id}" (also at ${existing.path})`)
    } else maps[kind].set(id, entry)
  }
  // a source id names one resource: twice in the same scope would be one shared resource made twice
  const sources = new Map<string, string>()
  const source = (kind: string, scope: string, value: { readonly sourceId?: string }, path: string) => {
    if (value.sourceId === undefined) return
    const key = `${kind}\u0000${scope}\u0000${value.sourceId}`
    const seen = sources.get(key)
    if (seen !== undefined) report(`${path}.sourceId`, `duplicate sourceId "${value.sourceId}" (also at ${seen})`)
    else sources.set(key, path)
  }
  plan.projects.forEach((project, p) => {
    const projectPath = `projects[${p}]`
    const at = <A>(value: A, path: string): Located<A> => ({ value, path, project, projectPath })
    add("projects", at(project, projectPath), project.id)
    source("project", "", project, projectPath)
    const each = <A extends { readonly id: string; readonly sourceId?: string }>(
      kind: Kind,
      field: keyof Project,
      list: ReadonlyArray<A> | undefined,
      scope: string
    ) =>
      list?.forEach((value, i) => {
        const path = `${projectPath}.${String(field)}[${i}]`
        add(kind, at(value, path), value.id)
        source(kind, scope, value, path)
      })
    each("networks", "networks", project.networks, project.id)
    each("routers", "routers", project.routers, project.id)
    each("securityGroups", "securityGroups", project.securityGroups, project.id)
    each("keypairs", "keypairs", project.keypairs, "")
    each("flavors", "flavors", project.flavors, "")
    each("volumes", "volumes", project.volumes, project.id)
    each("floatingIps", "floatingIps", project.floatingIps, project.id)
    each("instances", "instances", project.instances, project.id)
    project.networks?.forEach((network, n) => {
      network.subnets?.forEach((subnet, s) => {
        const path = `${projectPath}.networks[${n}].subnets[${s}]`
        const cidr = Addresses.parseCidr(subnet.cidr)
        const entry: LocatedSubnet = {
          ...at(subnet, path),
          network,
          cidr: typeof cidr === "string" ? undefined : cidr
        }
        add("subnets", entry, subnet.id)
        source("subnet", `${project.id}/${network.id}`, subnet, path)
      })
    })
  })
  return maps as unknown as Index
}

/** The routers of `project` with an interface on `subnet` and a gateway on the external network `external`. */
export const routersReaching = (project: Project, subnet: string, external: string): ReadonlyArray<Router> =>
  (project.routers ?? []).filter(
    (r) => r.externalGateway?.network === external && (r.interfaces ?? []).some((i) => i.subnet === subnet)
  )
