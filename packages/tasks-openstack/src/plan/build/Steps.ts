/**
 * What the plan builder produces (a step: one task of the job with what it
 * means in terms of the plan), the task ids and references between tasks,
 * and the assembly the per-resource steps add their tasks to.
 *
 * @since 0.1.0
 */
import type { JobBuilder } from "@migrator/core"
import { Reference } from "@migrator/resolver"
import type { Schema } from "effect"
import type * as Plan from "../Plan.ts"
import type { Shares, Sharing } from "./Sharing.ts"

/** The kind of resource a step is about. */
export type ResourceKind =
  | "project"
  | "security-group"
  | "security-group-rule"
  | "network"
  | "subnet"
  | "router"
  | "floating-ip"
  | "keypair"
  | "flavor"
  | "volume"
  | "instance"

/** One task of the job with what it means in terms of the plan. */
export interface Step {
  readonly task: JobBuilder.TaskEntry & { readonly undoes?: string }
  readonly phase: "run" | "clear"
  /**
   * create, stop (run phase); delete (clear phase: delete, unmanage), or release: a clear task that
   * only gives up the job's hold on a shared child resource (a subnet), which goes with its parent.
   */
  readonly action: "create" | "stop" | "delete" | "release"
  readonly resource: {
    readonly kind: ResourceKind
    /** Plan id (rules: `<group>#<index>`). */
    readonly id: string
    readonly name: string
    /** Path in the plan, e.g. `projects[0].networks[1]`. */
    readonly path: string
  }
  /** Why a shareable resource is not shared (it is then the job's own). */
  readonly notShared?: string
}

export interface Built {
  readonly document: JobBuilder.JobDocument
  readonly steps: ReadonlyArray<Step>
}

export interface BuildOptions {
  /** The job id; absent: the JobBuilder's `generateId` decides when the job is built. */
  readonly jobId?: string | undefined
  /** Extra labels of the job (the plan's own and `plan`/`target` come first). */
  readonly labels?: Readonly<Record<string, string>> | undefined
}

/** Task type ids, `openstack/<kind>`. */
export const taskType = (kind: Plan.TaskKind): string => `openstack/${kind}`

// ---------------------------------------------------------------------------
// Task ids and references

/** Ids of the run tasks, by resource. */
export const taskIds = {
  project: (id: string) => `project:${id}`,
  securityGroup: (id: string) => `sg:${id}`,
  rule: (group: string, index: number) => `rule:${group}:${index}`,
  network: (id: string) => `network:${id}`,
  subnet: (id: string) => `subnet:${id}`,
  router: (id: string) => `router:${id}`,
  floatingIp: (id: string) => `fip:${id}`,
  keypair: (id: string) => `keypair:${id}`,
  flavor: (id: string) => `flavor:${id}`,
  volume: (id: string) => `volume:${id}`,
  instance: (id: string) => `instance:${id}`,
  stop: (id: string) => `stop:${id}`,
  /** The clear task that undoes a run task. */
  undo: (runTask: string) => `undo:${runTask}`
} as const

/** `{"$ref": "<task>#<pointer>"}` as JSON. */
export const ref = (task: string, pointer: string): Schema.Json => ({ $ref: Reference.ref(task, pointer).$ref })

/** Where the outputs of the create handlers keep the ids dependants need. */
export const out = {
  projectId: (p: string) => ref(taskIds.project(p), "/projectId"),
  securityGroupId: (g: string) => ref(taskIds.securityGroup(g), "/securityGroupId"),
  networkId: (n: string) => ref(taskIds.network(n), "/networkId"),
  subnetId: (s: string) => ref(taskIds.subnet(s), "/subnetId"),
  routerId: (r: string) => ref(taskIds.router(r), "/routerId"),
  floatingIpId: (f: string) => ref(taskIds.floatingIp(f), "/floatingIpId"),
  keypair: (k: string, field: "name" | "userId") => ref(taskIds.keypair(k), `/${field}`),
  flavorId: (f: string) => ref(taskIds.flavor(f), "/flavorId"),
  volumeId: (v: string) => ref(taskIds.volume(v), "/volumeId"),
  instance: (i: string, field: "serverId" | "portIds" | "portTag" | "volumeIds") =>
    ref(taskIds.instance(i), `/${field}`)
}

export const compact = <A extends Record<string, unknown>>(o: A): { [K in keyof A]: Exclude<A[K], undefined> } =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as never

/** The subnets a NIC takes its address from: its own, or every subnet of its network. */
export const nicSubnets = (idx: Plan.Index, nic: Plan.Nic): ReadonlyArray<string> =>
  nic.subnet !== undefined ? [nic.subnet] : (idx.networks.get(nic.network)?.value.subnets ?? []).map((s) => s.id)

/** What the plan's instances use, by kind and plan id: the instance ids (for the clear order). */
export interface InstancesUsing {
  readonly volume: Map<string, Array<string>>
  readonly floatingIp: Map<string, Array<string>>
  readonly keypair: Map<string, Array<string>>
  readonly flavor: Map<string, Array<string>>
  readonly securityGroup: Map<string, Array<string>>
  readonly network: Map<string, Array<string>>
  readonly subnet: Map<string, Array<string>>
}

/** The job being assembled: the plan, and the run and clear steps added so far (in order). */
export interface Assembly {
  readonly plan: Plan.Plan
  readonly idx: Plan.Index
  readonly share: Shares
  readonly opts: Plan.Options
  readonly run: Array<Step>
  readonly clear: Array<Step>
  /** Adds a task; returns its id. */
  readonly add: (
    phase: "run" | "clear",
    kind: Plan.TaskKind,
    id: string,
    dependencies: ReadonlyArray<string>,
    input: Schema.Json,
    resource: Step["resource"],
    sharing?: Sharing,
    undoes?: string,
    action?: Step["action"]
  ) => string
  /** Adds the clear task undoing run task `runId`, with the same shared key. */
  readonly undo: (
    runId: string,
    kind: Plan.TaskKind,
    dependencies: ReadonlyArray<string>,
    input: Schema.Json,
    resource: Step["resource"],
    sharing?: Sharing,
    action?: Step["action"]
  ) => string
  readonly instancesUsing: InstancesUsing
  /** The instances that depend on each instance. */
  readonly dependants: ReadonlyMap<string, ReadonlyArray<string>>
  /** The clear tasks of these instances. */
  readonly undoInstances: (ids: ReadonlyArray<string> | undefined) => Array<string>
}

/** One project of the plan while its steps are added. */
export interface ProjectScope {
  readonly project: Plan.Project
  /** Its path, `projects[<i>]`. */
  readonly pp: string
  readonly projectTask: string
  /** Reference to the project id in the output of `tenant.create`. */
  readonly projectId: Schema.Json
  /** The clear tasks of the project's resources: the tenant is deleted after them. */
  readonly clearOfProject: Array<string>
  /** The rule tasks of each security group (an instance waits for its groups' rules). */
  readonly rulesOf: Map<string, Array<string>>
}

export const res = (kind: ResourceKind, id: string, name: string, path: string): Step["resource"] => ({
  kind,
  id,
  name,
  path
})

/** An empty assembly of `plan` with what its instances use worked out. */
export const makeAssembly = (plan: Plan.Plan, idx: Plan.Index, share: Shares): Assembly => {
  const opts = plan.options ?? {}
  const run: Array<Step> = []
  const clear: Array<Step> = []
  const timeout = (kind: Plan.TaskKind): number | undefined => opts.timeoutsMs?.[kind]

  const add = (
    phase: "run" | "clear",
    kind: Plan.TaskKind,
    id: string,
    dependencies: ReadonlyArray<string>,
    input: Schema.Json,
    resource: Step["resource"],
    sharing?: Sharing,
    undoes?: string,
    action?: Step["action"]
  ) => {
    const t = timeout(kind)
    const task = {
      id,
      type: taskType(kind),
      dependencies: [...new Set(dependencies)],
      input,
      ...(sharing?.key === undefined ? {} : { shared: sharing.key }),
      ...(t === undefined ? {} : { timeoutMs: t }),
      ...(undoes === undefined ? {} : { undoes })
    }
    const step: Step = {
      task,
      phase,
      action: action ?? (phase === "clear" ? "delete" : kind === "instance.stop" ? "stop" : "create"),
      resource,
      ...(sharing?.notShared === undefined ? {} : { notShared: sharing.notShared })
    }
    ;(phase === "run" ? run : clear).push(step)
    return id
  }
  /** The clear task undoing run task `runId`, with the same shared key. */
  const undo = (
    runId: string,
    kind: Plan.TaskKind,
    dependencies: ReadonlyArray<string>,
    input: Schema.Json,
    resource: Step["resource"],
    sharing?: Sharing,
    action?: Step["action"]
  ) => add("clear", kind, taskIds.undo(runId), dependencies, input, resource, sharing, runId, action)

  // what each project's resources are used by, for the clear order
  const instancesUsing = {
    volume: new Map<string, Array<string>>(),
    floatingIp: new Map<string, Array<string>>(),
    keypair: new Map<string, Array<string>>(),
    flavor: new Map<string, Array<string>>(),
    securityGroup: new Map<string, Array<string>>(),
    network: new Map<string, Array<string>>(),
    subnet: new Map<string, Array<string>>()
  }
  const use = (map: Map<string, Array<string>>, id: string, instance: string) => {
    const list = map.get(id) ?? []
    if (!list.includes(instance)) list.push(instance)
    map.set(id, list)
  }
  const dependants = new Map<string, Array<string>>()
  for (const [id, { value }] of idx.instances) {
    use(instancesUsing.flavor, value.flavor, id)
    if (value.keypair !== undefined) use(instancesUsing.keypair, value.keypair, id)
    for (const v of value.volumes) use(instancesUsing.volume, v.volume, id)
    for (const nic of value.nics ?? []) {
      use(instancesUsing.network, nic.network, id)
      for (const s of nicSubnets(idx, nic)) use(instancesUsing.subnet, s, id)
      if (nic.floatingIp !== undefined) use(instancesUsing.floatingIp, nic.floatingIp, id)
      for (const g of nic.securityGroups ?? []) use(instancesUsing.securityGroup, g, id)
    }
    for (const d of value.dependsOn ?? []) use(dependants, d, id)
  }
  const undoInstances = (ids: ReadonlyArray<string> | undefined) =>
    (ids ?? []).map((i) => taskIds.undo(taskIds.instance(i)))
  return { plan, idx, share, opts, run, clear, add, undo, instancesUsing, dependants, undoInstances }
}
