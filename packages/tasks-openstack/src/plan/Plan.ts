/**
 * The recovery plan document: the source resources of a protection group
 * (projects with their networks, routers, security groups, keypairs,
 * flavors, volumes, floating IPs and instances), the target cluster they
 * are recovered to, and options. JSON or YAML. Resources refer to each other
 * by plan-local ids; every problem found is reported with the path of the
 * field, e.g. `projects[0].instances[2].nics[0].network: unknown network "net-x"`.
 *
 * `sourceId` (the id of the resource on the protection cluster) is what makes
 * a resource shareable between jobs (SPEC §4.5): without it the resource
 * belongs to the job alone.
 *
 * ```yaml
 * target: recovery-1
 * projects:
 *   - id: web
 *     sourceId: 5f0c…          # the protected project
 *     name: web
 *     networks:
 *       - { id: net, sourceId: 81aa…, name: front, subnets: [{ id: sub, cidr: 10.0.0.0/24 }] }
 *     flavors: [{ id: small, name: small, vcpus: 1, ramMb: 512, diskGb: 1 }]
 *     volumes:
 *       - { id: boot, name: web-boot, bootable: true, source: { copy: { volumeId: 3c9e… } } }
 *     instances:
 *       - id: web-1
 *         name: web-1
 *         flavor: small
 *         nics: [{ network: net, subnet: sub, fixedIp: 10.0.0.10 }]
 *         volumes: [{ volume: boot, bootIndex: 0 }]
 * ```
 *
 * @since 0.1.0
 */
import { JobBuilder } from "@migrator/core"
import { Effect, Schema, SchemaIssue } from "effect"
import * as YAML from "yaml"
import * as Addresses from "./Addresses.ts"

// ---------------------------------------------------------------------------
// Schema

const idPattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/

/** A plan-local id: letters, digits, "_" and "-" (at most 63), starting with a letter or digit. */
export const Id = Schema.String.pipe(
  Schema.check(
    Schema.isPattern(idPattern, {
      message: 'a plan id has 1 to 63 letters, digits, "_" or "-" and starts with a letter or digit'
    })
  )
)

const Name = Schema.String.pipe(Schema.check(Schema.isMinLength(1), Schema.isMaxLength(255)))
const Text = Schema.String.pipe(Schema.check(Schema.isMaxLength(255)))
const PositiveInt = Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1)))
const NonNegativeInt = Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))
/** The id of the resource on the protection cluster: what identifies it across jobs. */
const SourceId = Schema.String.pipe(Schema.check(Schema.isMinLength(1), Schema.isMaxLength(255)))

const Limits = Schema.Record(Schema.String, Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(-1))))

/** Quotas by service, with each API's own names (-1: unlimited), e.g. `{ "compute": { "instances": 20 } }`. */
export const Quotas = Schema.Struct({
  compute: Schema.optionalKey(Limits),
  network: Schema.optionalKey(Limits),
  volume: Schema.optionalKey(Limits)
})

export const Route = Schema.Struct({ destination: Schema.String, nexthop: Schema.String })
export type Route = typeof Route.Type

export const AllocationPool = Schema.Struct({ start: Schema.String, end: Schema.String })
export type AllocationPool = typeof AllocationPool.Type

export const Subnet = Schema.Struct({
  id: Id,
  sourceId: Schema.optionalKey(SourceId),
  name: Schema.optionalKey(Text),
  description: Schema.optionalKey(Text),
  cidr: Schema.String,
  /** Gateway address; `null` for a subnet without gateway; absent: Neutron's default (first address). */
  gatewayIp: Schema.optionalKey(Schema.NullOr(Schema.String)),
  /** Default true. */
  enableDhcp: Schema.optionalKey(Schema.Boolean),
  allocationPools: Schema.optionalKey(Schema.Array(AllocationPool)),
  dnsNameservers: Schema.optionalKey(Schema.Array(Schema.String)),
  hostRoutes: Schema.optionalKey(Schema.Array(Route))
})
export type Subnet = typeof Subnet.Type

export const Network = Schema.Struct({
  id: Id,
  sourceId: Schema.optionalKey(SourceId),
  name: Name,
  description: Schema.optionalKey(Text),
  mtu: Schema.optionalKey(PositiveInt),
  adminStateUp: Schema.optionalKey(Schema.Boolean),
  portSecurityEnabled: Schema.optionalKey(Schema.Boolean),
  /** May be empty: a network without subnets is recovered as such. */
  subnets: Schema.optionalKey(Schema.Array(Subnet))
})
export type Network = typeof Network.Type

export const RouterInterface = Schema.Struct({
  /** A subnet of this project (plan id). */
  subnet: Id,
  /** Address of the router on the subnet; default: the subnet's gateway. */
  ipAddress: Schema.optionalKey(Schema.String)
})
export type RouterInterface = typeof RouterInterface.Type

export const ExternalGateway = Schema.Struct({
  /**
   * The external network on the target cluster (not a plan resource). Its id: `router.create` and
   * `floating-ip.create` do not resolve names, so a name such as "public" is to be replaced first.
   */
  network: Name,
  enableSnat: Schema.optionalKey(Schema.Boolean)
})
export type ExternalGateway = typeof ExternalGateway.Type

export const Router = Schema.Struct({
  id: Id,
  sourceId: Schema.optionalKey(SourceId),
  name: Name,
  description: Schema.optionalKey(Text),
  /** Absent: a router without gateway (only internal routing). */
  externalGateway: Schema.optionalKey(ExternalGateway),
  interfaces: Schema.optionalKey(Schema.Array(RouterInterface)),
  routes: Schema.optionalKey(Schema.Array(Route))
})
export type Router = typeof Router.Type

export const Direction = Schema.Literals(["ingress", "egress"])
export const Ethertype = Schema.Literals(["IPv4", "IPv6"])

export const SecurityGroupRule = Schema.Struct({
  direction: Direction,
  /** Default IPv4. */
  ethertype: Schema.optionalKey(Ethertype),
  /** tcp, udp, icmp, … or an IP protocol number; absent: any protocol. */
  protocol: Schema.optionalKey(Schema.Union([Schema.String, NonNegativeInt])),
  portRangeMin: Schema.optionalKey(NonNegativeInt),
  portRangeMax: Schema.optionalKey(NonNegativeInt),
  remoteIpPrefix: Schema.optionalKey(Schema.String),
  /** Another security group of this project (plan id) as the remote end. */
  remoteGroup: Schema.optionalKey(Id),
  description: Schema.optionalKey(Text)
})
export type SecurityGroupRule = typeof SecurityGroupRule.Type

export const SecurityGroup = Schema.Struct({
  id: Id,
  sourceId: Schema.optionalKey(SourceId),
  name: Name,
  description: Schema.optionalKey(Text),
  rules: Schema.optionalKey(Schema.Array(SecurityGroupRule))
})
export type SecurityGroup = typeof SecurityGroup.Type

export const Keypair = Schema.Struct({
  id: Id,
  sourceId: Schema.optionalKey(SourceId),
  name: Name,
  publicKey: Schema.String.pipe(Schema.check(Schema.isMinLength(1))),
  /** Default ssh. */
  type: Schema.optionalKey(Schema.Literals(["ssh", "x509"]))
})
export type Keypair = typeof Keypair.Type

export const Flavor = Schema.Struct({
  id: Id,
  sourceId: Schema.optionalKey(SourceId),
  name: Name,
  description: Schema.optionalKey(Text),
  vcpus: PositiveInt,
  ramMb: PositiveInt,
  diskGb: NonNegativeInt,
  ephemeralGb: Schema.optionalKey(NonNegativeInt),
  swapMb: Schema.optionalKey(NonNegativeInt),
  /** Default true. */
  isPublic: Schema.optionalKey(Schema.Boolean),
  extraSpecs: Schema.optionalKey(Schema.Record(Schema.String, Schema.String))
})
export type Flavor = typeof Flavor.Type

/** A copy of a replicated volume or snapshot that already exists on the recovery cloud. */
export const CopySource = Schema.Struct({
  volumeId: Schema.optionalKey(SourceId),
  snapshotId: Schema.optionalKey(SourceId)
})
export type CopySource = typeof CopySource.Type

/** A replicated backend volume brought under Cinder with manage-existing. */
export const ImportSource = Schema.Struct({
  /** Cinder host of the backend, `host@backend#pool`. */
  host: Name,
  sourceName: Schema.optionalKey(SourceId),
  sourceId: Schema.optionalKey(SourceId)
})
export type ImportSource = typeof ImportSource.Type

export const VolumeSource = Schema.Struct({
  copy: Schema.optionalKey(CopySource),
  import: Schema.optionalKey(ImportSource)
})
export type VolumeSource = typeof VolumeSource.Type

export const Volume = Schema.Struct({
  id: Id,
  sourceId: Schema.optionalKey(SourceId),
  name: Name,
  description: Schema.optionalKey(Text),
  /** GiB; a copy defaults to its source's size, an import takes the backend volume's. */
  size: Schema.optionalKey(PositiveInt),
  volumeType: Schema.optionalKey(Name),
  bootable: Schema.optionalKey(Schema.Boolean),
  availabilityZone: Schema.optionalKey(Name),
  /** Exactly one of `copy` and `import`. */
  source: VolumeSource
})
export type Volume = typeof Volume.Type

export const FloatingIp = Schema.Struct({
  id: Id,
  /** The external network on the target cluster: its id (see {@link ExternalGateway}). */
  network: Name,
  /** Address to request; absent: any free address. */
  address: Schema.optionalKey(Schema.String),
  description: Schema.optionalKey(Text)
})
export type FloatingIp = typeof FloatingIp.Type

export const Nic = Schema.Struct({
  network: Id,
  /** The subnet to take the address from; required with `fixedIp` when the network has several subnets. */
  subnet: Schema.optionalKey(Id),
  fixedIp: Schema.optionalKey(Schema.String),
  securityGroups: Schema.optionalKey(Schema.Array(Id)),
  floatingIp: Schema.optionalKey(Id)
})
export type Nic = typeof Nic.Type

export const InstanceVolume = Schema.Struct({
  volume: Id,
  /** 0 for the boot volume; the others in attachment order. */
  bootIndex: Schema.optionalKey(NonNegativeInt),
  /** e.g. `/dev/vdb` (a hint: the hypervisor may name it otherwise). */
  deviceName: Schema.optionalKey(Schema.String)
})
export type InstanceVolume = typeof InstanceVolume.Type

export const ConsoleLog = Schema.Struct({
  /** Regular expression the console log must match before the instance counts as recovered. */
  pattern: Schema.String.pipe(Schema.check(Schema.isMinLength(1))),
  /** How long the diagnosis may take (the handler's default when absent). */
  timeoutSeconds: Schema.optionalKey(PositiveInt)
})
export type ConsoleLog = typeof ConsoleLog.Type

export const Instance = Schema.Struct({
  id: Id,
  name: Name,
  description: Schema.optionalKey(Text),
  flavor: Id,
  keypair: Schema.optionalKey(Id),
  availabilityZone: Schema.optionalKey(Name),
  hypervisor: Schema.optionalKey(Name),
  nics: Schema.optionalKey(Schema.Array(Nic)),
  volumes: Schema.Array(InstanceVolume),
  /** Instances (plan ids, any project) that must be up before this one boots. */
  dependsOn: Schema.optionalKey(Schema.Array(Id)),
  consoleLog: Schema.optionalKey(ConsoleLog),
  metadata: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  /** Base64 user data. */
  userData: Schema.optionalKey(Schema.String),
  /** Stop the instance once recovered; default: the plan's `options.leaveInstancesStopped`. */
  leaveStopped: Schema.optionalKey(Schema.Boolean)
})
export type Instance = typeof Instance.Type

export const Project = Schema.Struct({
  id: Id,
  sourceId: Schema.optionalKey(SourceId),
  name: Name,
  description: Schema.optionalKey(Text),
  /** Quotas to set on the recovered project. */
  quotas: Schema.optionalKey(Quotas),
  networks: Schema.optionalKey(Schema.Array(Network)),
  routers: Schema.optionalKey(Schema.Array(Router)),
  securityGroups: Schema.optionalKey(Schema.Array(SecurityGroup)),
  keypairs: Schema.optionalKey(Schema.Array(Keypair)),
  flavors: Schema.optionalKey(Schema.Array(Flavor)),
  volumes: Schema.optionalKey(Schema.Array(Volume)),
  floatingIps: Schema.optionalKey(Schema.Array(FloatingIp)),
  instances: Schema.optionalKey(Schema.Array(Instance))
})
export type Project = typeof Project.Type

/** The task kinds of a plan, as in the handler type ids `openstack/<kind>`. */
export const TaskKind = Schema.Literals([
  "tenant.create",
  "security-group.create",
  "security-group-rule.create",
  "network.create",
  "subnet.create",
  "router.create",
  "floating-ip.create",
  "keypair.create",
  "flavor.create",
  "volume.copy",
  "volume.import",
  "instance.create",
  "instance.stop",
  "instance.delete",
  "flavor.delete",
  "keypair.delete",
  "volume.unmanage",
  "volume.delete-copy",
  "security-group.delete",
  "floating-ip.delete",
  "router.delete",
  "network.delete",
  "tenant.delete"
])
export type TaskKind = typeof TaskKind.Type

export const Options = Schema.Struct({
  /** Stop every instance once it has been recovered and diagnosed (default false). */
  leaveInstancesStopped: Schema.optionalKey(Schema.Boolean),
  /**
   * Diagnosis requires every port of a recovered instance `ACTIVE` (default true; false on a
   * Neutron without L2 agents, where ports stay `DOWN`).
   */
  requirePortsActive: Schema.optionalKey(Schema.Boolean),
  /** How long an instance may take to become `ACTIVE` (the handler's default when absent). */
  bootTimeoutSeconds: Schema.optionalKey(PositiveInt),
  /** Per-attempt timeout per task kind, in milliseconds, e.g. `{ "instance.create": 1800000 }`. */
  timeoutsMs: Schema.optionalKey(Schema.Record(Schema.String, PositiveInt)),
  /** DR drills: roll the job back by itself this long after it completed. */
  autoRollbackAfterMs: Schema.optionalKey(PositiveInt),
  /** Recovery time objective. */
  rtoMs: Schema.optionalKey(PositiveInt)
})
export type Options = typeof Options.Type

export const Plan = Schema.Struct({
  /** Name of the plan (protection group); becomes the job's `plan` label. */
  name: Schema.optionalKey(Name),
  /** Name of the protection cluster; part of the identity of shared resources when given. */
  source: Schema.optionalKey(Name),
  /** Name of the recovery cluster the job runs against. */
  target: Name,
  labels: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  options: Schema.optionalKey(Options),
  projects: Schema.Array(Project).pipe(Schema.check(Schema.isMinLength(1, { message: "a plan has a project" })))
})
export type Plan = typeof Plan.Type

// ---------------------------------------------------------------------------
// Errors

export class Problem extends Schema.Class<Problem>("@migrator/tasks-openstack/plan/Problem")({
  /** Path of the field in the plan, e.g. `projects[0].instances[2].nics[0].network`. */
  path: Schema.String,
  message: Schema.String
}) {}

export class PlanError extends Schema.TaggedError<PlanError>()("PlanError", {
  problems: Schema.Array(Problem)
}) {
  override get message(): string {
    return this.problems.map((p) => `${p.path === "" ? "plan" : p.path}: ${p.message}`).join("\n")
  }
}

/** Formats a property path as `a.b[0].c`. */
export const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path
    .map((k, i) =>
      typeof k === "number" || (typeof k === "string" && /^\d+$/.test(k))
        ? `[${String(k)}]`
        : `${i === 0 ? "" : "."}${String(k)}`
    )
    .join("")

const standard = SchemaIssue.makeFormatterStandardSchemaV1()

/** Schema messages said the way a plan's author thinks of them. */
const plainer: Record<string, string> = {
  "Expected no excess property": "unknown field (misspelt, or not in a plan document)",
  "Missing key": "required field is missing"
}

// ---------------------------------------------------------------------------
// Parsing and validation

export type Format = "json" | "yaml"

/**
 * Parses a plan document: JSON when `format` says so or the text starts
 * with `{`, YAML otherwise; then decodes and validates it.
 */
export const parse = (text: string, format?: Format): Effect.Effect<Plan, PlanError> =>
  Effect.suspend(() => {
    const json = format === "json" || (format === undefined && text.trimStart().startsWith("{"))
    let document: unknown
    if (json) {
      try {
        document = JSON.parse(text)
      } catch (e) {
        return Effect.fail(
          new PlanError({ problems: [new Problem({ path: "", message: `not JSON: ${(e as Error).message}` })] })
        )
      }
    } else {
      const parsed = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true })
      if (parsed.errors.length > 0) {
        return Effect.fail(
          new PlanError({
            problems: parsed.errors.map((e) => new Problem({ path: "", message: `not YAML: ${e.message}` }))
          })
        )
      }
      try {
        document = parsed.toJS({ maxAliasCount: 100 })
      } catch (e) {
        // e.g. an alias expanding too far
        return Effect.fail(
          new PlanError({ problems: [new Problem({ path: "", message: `not YAML: ${(e as Error).message}` })] })
        )
      }
    }
    return decode(document)
  })

/** Decodes a plan from parsed JSON/YAML and validates its references and values. */
export const decode = (document: unknown): Effect.Effect<Plan, PlanError> =>
  Schema.decodeUnknownEffect(Plan)(document, { errors: "all", onExcessProperty: "error" }).pipe(
    Effect.mapError(
      (e) =>
        new PlanError({
          problems: standard(e.issue).issues.map(
            (i) =>
              new Problem({
                path: formatPath((i.path ?? []).map((p) => (typeof p === "object" ? p.key : p))),
                message: plainer[i.message] ?? i.message
              })
          )
        })
    ),
    Effect.flatMap((plan) => {
      const problems = validate(plan)
      return problems.length === 0 ? Effect.succeed(plan) : Effect.fail(new PlanError({ problems }))
    })
  )

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

/** Every problem of a decoded plan: references, duplicates, addresses, boot order. Empty when valid. */
export const validate = (plan: Plan): ReadonlyArray<Problem> => {
  const problems: Array<Problem> = []
  const report = (path: string, message: string) => problems.push(new Problem({ path, message }))
  const idx = index(plan, problems)

  /** Looks a plan id up among the resources of `kind` in the same project. */
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

  // names the target cloud keeps unique: projects (per domain), flavors, keypairs (per user)
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

  const kinds: ReadonlyArray<string> = TaskKind.literals
  for (const kind of Object.keys(plan.options?.timeoutsMs ?? {})) {
    if (!kinds.includes(kind))
      report(`options.timeoutsMs.${kind}`, `unknown task kind "${kind}" (one of ${kinds.join(", ")})`)
  }

  plan.projects.forEach((project, p) => {
    const pp = `projects[${p}]`

    // networks and subnets
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
        const gateway =
          typeof subnet.gatewayIp === "string" ? Addresses.parseAddress(subnet.gatewayIp)?.value : undefined
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

    // routers
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

    // security groups and rules
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

    // volumes
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

    // floating IPs
    project.floatingIps?.forEach((fip, f) => {
      if (fip.address !== undefined) address(fip.address, `${pp}.floatingIps[${f}].address`)
    })
  })

  // instances: references across the project, attachments, boot order
  const volumeUsers = new Map<string, string>()
  const fipUsers = new Map<string, string>()
  for (const [, { value: instance, path, project }] of idx.instances) {
    // flavors and keypairs are not project resources in Nova: any project of the plan may use them
    if (!idx.flavors.has(instance.flavor)) report(`${path}.flavor`, `unknown flavor "${instance.flavor}"`)
    if (instance.keypair !== undefined && !idx.keypairs.has(instance.keypair)) {
      report(`${path}.keypair`, `unknown keypair "${instance.keypair}"`)
    }
    instance.nics?.forEach((nic, i) => {
      const np = `${path}.nics[${i}]`
      const network = inProject(idx.networks, "network", nic.network, project, `${np}.network`)
      let subnets: ReadonlyArray<LocatedSubnet> = []
      if (network !== undefined) {
        subnets = (network.value.subnets ?? []).map((s) => idx.subnets.get(s.id)!).filter((s) => s !== undefined)
      }
      if (nic.subnet !== undefined) {
        const subnet = inProject(idx.subnets, "subnet", nic.subnet, project, `${np}.subnet`) as
          | LocatedSubnet
          | undefined
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
          if (subnets.length === 0)
            report(fp, `network "${nic.network}" has no subnet: the port gets no address to float`)
          else if (!subnets.some((s) => routersReaching(project, s.value.id, fip.value.network).length > 0)) {
            report(
              fp,
              `floating IP "${nic.floatingIp}" on "${fip.value.network}" is unreachable: no router of the project has a gateway on "${fip.value.network}" and an interface on ${subnets.map((s) => `"${s.value.id}"`).join(" or ")}`
            )
          }
        }
      }
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
  addressClashes(idx, report)
  for (const cycle of instanceCycles(idx)) {
    const first = idx.instances.get(cycle[0]!)!
    report(`${first.path}.dependsOn`, `instance dependency cycle: ${[...cycle, cycle[0]].join(" -> ")}`)
  }
  return problems
}

/**
 * Two things at one address of a subnet: the gateway, router interfaces (at the gateway unless
 * given an address) and instances' fixed IPs. Neutron would refuse the second one at run time.
 */
const addressClashes = (idx: Index, report: (path: string, message: string) => void) => {
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

/** The routers of `project` with an interface on `subnet` and a gateway on the external network `external`. */
export const routersReaching = (project: Project, subnet: string, external: string): ReadonlyArray<Router> =>
  (project.routers ?? []).filter(
    (r) => r.externalGateway?.network === external && (r.interfaces ?? []).some((i) => i.subnet === subnet)
  )

/** Each cycle of `dependsOn` once, as the instance ids along it. */
const instanceCycles = (idx: Index): Array<Array<string>> =>
  JobBuilder.findCycles(
    [...idx.instances.keys()].map((id) => ({
      id,
      dependencies: (idx.instances.get(id)?.value.dependsOn ?? []).filter((d) => d !== id)
    }))
  )
