/**
 * The Schema of a recovery plan document (see `Plan.ts` for the document
 * itself, parsing and validation): the fields of every resource, what is
 * optional, and the few values checked here (ids, name lengths, integers).
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

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
   * The external network on the target cluster (not a plan resource): its id or its name
   * (`router.create` and `floating-ip.create` look a name such as "public" up among the external networks).
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
  extraSpecs: Schema.optionalKey(Schema.Record(Schema.String, Schema.String)),
  /**
   * The recovery cloud's flavor of this name is used as it is: not created, not deleted (default
   * false). The sizes say what the instances need (the pre-flight check compares them).
   */
  existing: Schema.optionalKey(Schema.Boolean)
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
  /** The external network on the target cluster: its id or name (see {@link ExternalGateway}). */
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
