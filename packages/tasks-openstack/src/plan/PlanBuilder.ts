/**
 * Turns a recovery plan into a job document (SPEC §4.7, §6): the run DAG
 * that rebuilds the plan's resources on the target cluster and the clear DAG
 * that removes them again in reverse order.
 *
 * Run DAG: tenant → security groups → rules (remote-group rules also after
 * the remote group) → networks → subnets → routers → floating IPs; keypairs
 * and flavors; volumes (copy or import); each instance after everything it
 * uses and after the instances it depends on; `instance.stop` after each
 * instance when `leaveInstancesStopped`.
 *
 * Clear DAG (each task `undoes` its run task): instances (dependants first),
 * then the volumes, floating IPs, keypairs and flavors they used, routers,
 * networks (with their subnets), security groups (with their rules), and
 * the tenant last. On confirm (the failover is kept) only the clear tasks of
 * what no recovered instance depends on run (`runOnConfirm`), as the
 * original did.
 *
 * Shared resources (SPEC §4.5): a tenant, security group (its rules are part
 * of it), network, subnet, router, keypair or flavor with a `sourceId`
 * carries a `shared` key naming the target cluster, the resource kind and
 * the source id, nested under its parent's key (a network's key extends its
 * tenant's; a subnet's, identified by `sourceId` or CIDR, extends its
 * network's), so two jobs recovering the same source resource to the same
 * cluster share one. A resource is shared only when what it lives in or
 * attaches to is shared too; otherwise the job keeps its own, and
 * {@link Step.notShared} says why. Rules whose remote is another group are
 * never shared: their handler adopts an equal rule, and they go with either
 * group. A shared subnet's hold is given up by a "release" clear task (see
 * {@link Step.action}), since subnets have no delete task of their own.
 *
 * @since 0.1.0
 */
import { JobBuilder } from "@migrator/core"
import { Reference } from "@migrator/resolver"
import { Effect, type Schema } from "effect"
import * as Plan from "./Plan.ts"

// ---------------------------------------------------------------------------
// What the builder produces

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
const ref = (task: string, pointer: string): Schema.Json => ({ $ref: Reference.ref(task, pointer).$ref })

/** Where the outputs of the create handlers keep the ids dependants need. */
const out = {
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

// ---------------------------------------------------------------------------
// Shared keys

const segment = (kind: string, id: string) => `${kind}:${encodeURIComponent(id)}`

interface Sharing {
  readonly key?: string
  readonly notShared?: string
}

const shared = (key: string): Sharing => ({ key })
const notShared = (why: string): Sharing => ({ notShared: why })

/** Decides which resources are shared and under which key. */
const sharing = (plan: Plan.Plan, idx: Plan.Index) => {
  const root = `openstack:${encodeURIComponent(plan.target)}${plan.source === undefined ? "" : `/${segment("source", plan.source)}`}`
  const memo = new Map<string, Sharing>()
  const once = (id: string, f: () => Sharing) => {
    const found = memo.get(id)
    if (found !== undefined) return found
    const s = f()
    memo.set(id, s)
    return s
  }
  const project = (p: Plan.Project): Sharing =>
    once(taskIds.project(p.id), () =>
      p.sourceId === undefined
        ? notShared("the project has no sourceId")
        : shared(`${root}/${segment("project", p.sourceId)}`)
    )
  const inProject = (p: Plan.Project, kind: string, sourceId: string | undefined): Sharing => {
    if (sourceId === undefined) return notShared(`the ${kind} has no sourceId`)
    const parent = project(p)
    return parent.key === undefined
      ? notShared(`its project "${p.id}" is not shared`)
      : shared(`${parent.key}/${segment(kind, sourceId)}`)
  }
  const securityGroup = (g: Plan.Located<Plan.SecurityGroup>) =>
    once(taskIds.securityGroup(g.value.id), () => inProject(g.project, "security-group", g.value.sourceId))
  const network = (n: Plan.Located<Plan.Network>) =>
    once(taskIds.network(n.value.id), () => inProject(n.project, "network", n.value.sourceId))
  return {
    project,
    securityGroup,
    network,
    subnet: (s: Plan.LocatedSubnet): Sharing => {
      const parent = network(idx.networks.get(s.network.id)!)
      return parent.key === undefined
        ? notShared(`its network "${s.network.id}" is not shared`)
        : shared(`${parent.key}/${segment("subnet", s.value.sourceId ?? s.value.cidr)}`)
    },
    router: (r: Plan.Located<Plan.Router>): Sharing => {
      const own = inProject(r.project, "router", r.value.sourceId)
      if (own.key === undefined) return own
      for (const itf of r.value.interfaces ?? []) {
        const subnet = idx.subnets.get(itf.subnet)!
        if (network(idx.networks.get(subnet.network.id)!).key === undefined) {
          return notShared(`the network "${subnet.network.id}" of its interface on "${itf.subnet}" is not shared`)
        }
      }
      return own
    },
    keypair: (k: Plan.Keypair): Sharing =>
      k.sourceId === undefined
        ? notShared("the keypair has no sourceId")
        : shared(`${root}/${segment("keypair", k.sourceId)}`),
    flavor: (f: Plan.Located<Plan.Flavor>): Sharing => {
      if (f.value.sourceId === undefined) return notShared("the flavor has no sourceId")
      // a private flavor belongs to its project
      return f.value.isPublic === false
        ? inProject(f.project, "flavor", f.value.sourceId)
        : shared(`${root}/${segment("flavor", f.value.sourceId)}`)
    }
  }
}

// ---------------------------------------------------------------------------
// Building

const compact = <A extends Record<string, unknown>>(o: A): { [K in keyof A]: Exclude<A[K], undefined> } =>
  Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as never

/**
 * Builds the job document of a plan (validating it first). The document is
 * what `migrator job submit` accepts; {@link Built.steps} describe each task
 * in terms of the plan.
 */
export const plan = (document: Plan.Plan, options: BuildOptions = {}): Effect.Effect<Built, Plan.PlanError> =>
  Effect.suspend(() => {
    const problems = Plan.validate(document)
    if (problems.length > 0) return Effect.fail(new Plan.PlanError({ problems }))
    return Effect.succeed(assemble(document, options))
  })

/** Builds the job document of a plan (validating it first). */
export const build = (
  document: Plan.Plan,
  options: BuildOptions = {}
): Effect.Effect<JobBuilder.JobDocument, Plan.PlanError> => Effect.map(plan(document, options), (b) => b.document)

/**
 * Builds and validates the job with core's JobBuilder: the records to
 * submit. `types` are the handler input Schemas by type id (see
 * `PlanHandlers.inputs`); with them, unknown types and inputs without
 * references are checked too.
 */
export const buildJob = (
  document: Plan.Plan,
  options: BuildOptions & {
    readonly types?: ReadonlyMap<string, Schema.Codec<unknown, unknown>> | undefined
    readonly generateId?: Effect.Effect<string> | undefined
  } = {}
): Effect.Effect<JobBuilder.BuiltJob, Plan.PlanError | JobBuilder.JobValidationError> =>
  Effect.flatMap(build(document, options), (doc) =>
    JobBuilder.build(doc, compact({ types: options.types, generateId: options.generateId }))
  )

const assemble = (plan: Plan.Plan, options: BuildOptions): Built => {
  const idx = Plan.index(plan)
  const share = sharing(plan, idx)
  const opts = plan.options ?? {}
  const steps: Array<Step> = []
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

  plan.projects.forEach((project, p) => {
    const pp = `projects[${p}]`
    const projectTask = taskIds.project(project.id)
    const projectId = out.projectId(project.id)
    const projectSharing = share.project(project)
    const clearOfProject: Array<string> = []
    const res = (kind: ResourceKind, id: string, name: string, path: string) => ({ kind, id, name, path })

    // tenant
    add(
      "run",
      "tenant.create",
      projectTask,
      [],
      compact({ name: project.name, description: project.description, quotas: project.quotas }),
      res("project", project.id, project.name, pp),
      projectSharing
    )

    // security groups with their rules; a rule whose remote is another group waits for that group
    const rulesOf = new Map<string, Array<string>>()
    project.securityGroups?.forEach((group, g) => {
      const gp = `${pp}.securityGroups[${g}]`
      const located = idx.securityGroups.get(group.id)!
      const groupSharing = share.securityGroup(located)
      const inline = (group.rules ?? []).filter((r) => r.remoteGroup === undefined || r.remoteGroup === group.id)
      const groupTask = add(
        "run",
        "security-group.create",
        taskIds.securityGroup(group.id),
        [projectTask],
        compact({
          projectId,
          name: group.name,
          description: group.description,
          rules: inline.map((rule) =>
            compact({ ...ruleFields(rule), remoteGroup: rule.remoteGroup === undefined ? undefined : "self" })
          )
        }),
        res("security-group", group.id, group.name, gp),
        groupSharing
      )
      clearOfProject.push(
        undo(
          groupTask,
          "security-group.delete",
          undoInstances(instancesUsing.securityGroup.get(group.id)),
          { projectId, securityGroupId: out.securityGroupId(group.id), createdBy: groupTask },
          res("security-group", group.id, group.name, gp),
          groupSharing
        )
      )
    })
    project.securityGroups?.forEach((group, g) => {
      const ids: Array<string> = []
      group.rules?.forEach((rule, i) => {
        const remote = rule.remoteGroup
        if (remote === undefined || remote === group.id) return
        // not shared: the handler adopts an equal rule, and the rule goes with either group
        ids.push(
          add(
            "run",
            "security-group-rule.create",
            taskIds.rule(group.id, i),
            [taskIds.securityGroup(group.id), taskIds.securityGroup(remote)],
            compact({
              securityGroupId: out.securityGroupId(group.id),
              ...ruleFields(rule),
              remoteGroupId: out.securityGroupId(remote)
            }),
            res("security-group-rule", `${group.id}#${i}`, describeRule(rule), `${pp}.securityGroups[${g}].rules[${i}]`)
          )
        )
      })
      rulesOf.set(group.id, ids)
    })

    // networks and subnets
    project.networks?.forEach((network, n) => {
      const np = `${pp}.networks[${n}]`
      const networkSharing = share.network(idx.networks.get(network.id)!)
      const networkTask = add(
        "run",
        "network.create",
        taskIds.network(network.id),
        [projectTask],
        compact({
          projectId,
          name: network.name,
          description: network.description,
          mtu: network.mtu,
          adminStateUp: network.adminStateUp,
          portSecurityEnabled: network.portSecurityEnabled
        }),
        res("network", network.id, network.name, np),
        networkSharing
      )
      network.subnets?.forEach((subnet, s) => {
        const located = idx.subnets.get(subnet.id)!
        add(
          "run",
          "subnet.create",
          taskIds.subnet(subnet.id),
          [projectTask, networkTask],
          compact({
            projectId,
            networkId: out.networkId(network.id),
            name: subnet.name ?? subnet.id,
            description: subnet.description,
            cidr: subnet.cidr,
            ipVersion: located.cidr?.version,
            gatewayIp: subnet.gatewayIp,
            enableDhcp: subnet.enableDhcp,
            allocationPools: subnet.allocationPools,
            dnsNameservers: subnet.dnsNameservers,
            hostRoutes: subnet.hostRoutes
          }),
          res("subnet", subnet.id, subnet.name ?? subnet.id, `${np}.subnets[${s}]`),
          share.subnet(located)
        )
      })
      const routersOn = (project.routers ?? []).filter((r) =>
        (r.interfaces ?? []).some((i) => idx.subnets.get(i.subnet)?.network.id === network.id)
      )
      const networkUndo = undo(
        networkTask,
        "network.delete",
        [
          ...routersOn.map((r) => taskIds.undo(taskIds.router(r.id))),
          ...undoInstances(instancesUsing.network.get(network.id))
        ],
        { projectId, networkId: out.networkId(network.id), createdBy: networkTask },
        res("network", network.id, network.name, np),
        networkSharing
      )
      clearOfProject.push(networkUndo)
      // A subnet goes with its network. The shared record of a shared subnet is released by a clear
      // task with its key: a network.delete of what the subnet task itself created as a network —
      // nothing — so it never deletes a network another job holds.
      network.subnets?.forEach((subnet, s) => {
        const subnetSharing = share.subnet(idx.subnets.get(subnet.id)!)
        if (subnetSharing.key === undefined) return
        clearOfProject.push(
          undo(
            taskIds.subnet(subnet.id),
            "network.delete",
            [networkUndo],
            { projectId, createdBy: taskIds.subnet(subnet.id) },
            res("subnet", subnet.id, subnet.name ?? subnet.id, `${np}.subnets[${s}]`),
            subnetSharing,
            "release"
          )
        )
      })
    })

    // routers: after the subnets they attach to
    project.routers?.forEach((router, r) => {
      const rp = `${pp}.routers[${r}]`
      const routerSharing = share.router(idx.routers.get(router.id)!)
      const interfaces = router.interfaces ?? []
      const routerTask = add(
        "run",
        "router.create",
        taskIds.router(router.id),
        [projectTask, ...interfaces.map((i) => taskIds.subnet(i.subnet))],
        compact({
          projectId,
          name: router.name,
          description: router.description,
          externalGateway:
            router.externalGateway === undefined
              ? undefined
              : compact({ networkId: router.externalGateway.network, enableSnat: router.externalGateway.enableSnat }),
          interfaces: interfaces.map((i) => compact({ subnetId: out.subnetId(i.subnet), ipAddress: i.ipAddress })),
          routes: router.routes
        }),
        res("router", router.id, router.name, rp),
        routerSharing
      )
      const onSubnets = new Set(interfaces.map((i) => i.subnet))
      const users = [...onSubnets].flatMap((s) => instancesUsing.subnet.get(s) ?? [])
      const fips = (project.floatingIps ?? []).filter(
        (f) => router.externalGateway !== undefined && f.network === router.externalGateway.network
      )
      clearOfProject.push(
        undo(
          routerTask,
          "router.delete",
          [...undoInstances(users), ...fips.map((f) => taskIds.undo(taskIds.floatingIp(f.id)))],
          { projectId, routerId: out.routerId(router.id), createdBy: routerTask },
          res("router", router.id, router.name, rp),
          routerSharing
        )
      )
    })

    // floating IPs: after the routers that give their external network a way in
    project.floatingIps?.forEach((fip, f) => {
      const fp = `${pp}.floatingIps[${f}]`
      const gateways = (project.routers ?? []).filter((r) => r.externalGateway?.network === fip.network)
      const fipTask = add(
        "run",
        "floating-ip.create",
        taskIds.floatingIp(fip.id),
        [projectTask, ...gateways.map((r) => taskIds.router(r.id))],
        compact({ projectId, networkId: fip.network, floatingIpAddress: fip.address, description: fip.description }),
        res("floating-ip", fip.id, fip.address ?? fip.network, fp)
      )
      clearOfProject.push(
        undo(
          fipTask,
          "floating-ip.delete",
          undoInstances(instancesUsing.floatingIp.get(fip.id)),
          { projectId, floatingIpId: out.floatingIpId(fip.id), createdBy: fipTask },
          res("floating-ip", fip.id, fip.address ?? fip.network, fp)
        )
      )
    })

    // keypairs and flavors
    project.keypairs?.forEach((keypair, k) => {
      const kp = `${pp}.keypairs[${k}]`
      const keypairSharing = share.keypair(keypair)
      const keypairTask = add(
        "run",
        "keypair.create",
        taskIds.keypair(keypair.id),
        [],
        compact({ name: keypair.name, publicKey: keypair.publicKey, type: keypair.type }),
        res("keypair", keypair.id, keypair.name, kp),
        keypairSharing
      )
      clearOfProject.push(
        undo(
          keypairTask,
          "keypair.delete",
          undoInstances(instancesUsing.keypair.get(keypair.id)),
          { name: out.keypair(keypair.id, "name"), userId: out.keypair(keypair.id, "userId") },
          res("keypair", keypair.id, keypair.name, kp),
          keypairSharing
        )
      )
    })
    project.flavors?.forEach((flavor, f) => {
      const fp = `${pp}.flavors[${f}]`
      const flavorSharing = share.flavor(idx.flavors.get(flavor.id)!)
      const isPrivate = flavor.isPublic === false
      const flavorTask = add(
        "run",
        "flavor.create",
        taskIds.flavor(flavor.id),
        isPrivate ? [projectTask] : [],
        compact({
          name: flavor.name,
          vcpus: flavor.vcpus,
          ramMiB: flavor.ramMb,
          diskGiB: flavor.diskGb,
          ephemeralGiB: flavor.ephemeralGb,
          swapMiB: flavor.swapMb,
          isPublic: flavor.isPublic,
          extraSpecs: flavor.extraSpecs,
          projectId: isPrivate ? projectId : undefined
        }),
        res("flavor", flavor.id, flavor.name, fp),
        flavorSharing
      )
      clearOfProject.push(
        undo(
          flavorTask,
          "flavor.delete",
          undoInstances(instancesUsing.flavor.get(flavor.id)),
          { flavorId: out.flavorId(flavor.id) },
          res("flavor", flavor.id, flavor.name, fp),
          flavorSharing
        )
      )
    })

    // volumes: a copy of a replicated volume/snapshot, or an import of the backend volume
    project.volumes?.forEach((volume, v) => {
      const vp = `${pp}.volumes[${v}]`
      const common = {
        projectId,
        name: volume.name,
        description: volume.description,
        volumeType: volume.volumeType,
        availabilityZone: volume.availabilityZone,
        bootable: volume.bootable,
        metadata: volume.sourceId === undefined ? undefined : { "source-volume": volume.sourceId }
      }
      const copy = volume.source.copy
      const imported = volume.source.import
      const volumeTask =
        copy !== undefined
          ? add(
              "run",
              "volume.copy",
              taskIds.volume(volume.id),
              [projectTask],
              compact({
                ...common,
                sourceVolumeId: copy.volumeId,
                sourceSnapshotId: copy.snapshotId,
                sizeGiB: volume.size
              }),
              res("volume", volume.id, volume.name, vp)
            )
          : add(
              "run",
              "volume.import",
              taskIds.volume(volume.id),
              [projectTask],
              compact({
                ...common,
                host: imported!.host,
                reference:
                  imported!.sourceName !== undefined
                    ? { "source-name": imported!.sourceName }
                    : { "source-id": imported!.sourceId! }
              }),
              res("volume", volume.id, volume.name, vp)
            )
      clearOfProject.push(
        undo(
          volumeTask,
          copy !== undefined ? "volume.delete-copy" : "volume.unmanage",
          undoInstances(instancesUsing.volume.get(volume.id)),
          { projectId, volumeId: out.volumeId(volume.id) },
          res("volume", volume.id, volume.name, vp)
        )
      )
    })

    // instances
    project.instances?.forEach((instance, i) => {
      const ip = `${pp}.instances[${i}]`
      const nics = instance.nics ?? []
      const groups = [...new Set(nics.flatMap((n) => n.securityGroups ?? []))]
      const subnets = [...new Set(nics.flatMap((n) => nicSubnets(idx, n)))]
      const routers = (project.routers ?? []).filter((r) =>
        (r.interfaces ?? []).some((x) => subnets.includes(x.subnet))
      )
      const dependencies = [
        projectTask,
        taskIds.flavor(instance.flavor),
        ...(instance.keypair === undefined ? [] : [taskIds.keypair(instance.keypair)]),
        ...groups.flatMap((g) => [taskIds.securityGroup(g), ...(rulesOf.get(g) ?? [])]),
        ...nics.map((n) => taskIds.network(n.network)),
        ...subnets.map(taskIds.subnet),
        ...routers.map((r) => taskIds.router(r.id)),
        ...nics.flatMap((n) => (n.floatingIp === undefined ? [] : [taskIds.floatingIp(n.floatingIp)])),
        ...instance.volumes.map((v) => taskIds.volume(v.volume)),
        ...(instance.dependsOn ?? []).map(taskIds.instance)
      ]
      const diagnosis = compact({
        requirePortsActive: opts.requirePortsActive,
        consoleLogPattern: instance.consoleLog?.pattern,
        timeoutSeconds: instance.consoleLog?.timeoutSeconds
      })
      const instanceTask = add(
        "run",
        "instance.create",
        taskIds.instance(instance.id),
        dependencies,
        compact({
          projectId,
          name: instance.name,
          flavorId: out.flavorId(instance.flavor),
          keypairName: instance.keypair === undefined ? undefined : out.keypair(instance.keypair, "name"),
          availabilityZone: instance.availabilityZone,
          hypervisor: instance.hypervisor,
          volumes: instance.volumes.map((v) =>
            compact({ volumeId: out.volumeId(v.volume), bootIndex: v.bootIndex, deviceName: v.deviceName })
          ),
          interfaces: nics.map((n) =>
            compact({
              networkId: out.networkId(n.network),
              subnetId: n.subnet === undefined ? undefined : out.subnetId(n.subnet),
              fixedIp: n.fixedIp,
              floatingIpId: n.floatingIp === undefined ? undefined : out.floatingIpId(n.floatingIp)
            })
          ),
          securityGroupIds: groups.length === 0 ? undefined : groups.map(out.securityGroupId),
          metadata: instance.metadata,
          userData: instance.userData,
          bootTimeoutSeconds: opts.bootTimeoutSeconds,
          diagnosis: Object.keys(diagnosis).length === 0 ? undefined : diagnosis
        }),
        res("instance", instance.id, instance.name, ip)
      )
      if (instance.leaveStopped ?? opts.leaveInstancesStopped === true) {
        add(
          "run",
          "instance.stop",
          taskIds.stop(instance.id),
          [projectTask, instanceTask],
          { projectId, serverId: out.instance(instance.id, "serverId") },
          res("instance", instance.id, instance.name, ip)
        )
      }
      clearOfProject.push(
        undo(
          instanceTask,
          "instance.delete",
          undoInstances(dependants.get(instance.id)),
          {
            projectId,
            serverId: out.instance(instance.id, "serverId"),
            portIds: out.instance(instance.id, "portIds"),
            portTag: out.instance(instance.id, "portTag"),
            volumeIds: out.instance(instance.id, "volumeIds")
          },
          res("instance", instance.id, instance.name, ip)
        )
      )
    })

    // the tenant goes last
    undo(
      projectTask,
      "tenant.delete",
      clearOfProject,
      { projectId, createdBy: projectTask },
      res("project", project.id, project.name, pp),
      projectSharing
    )
  })

  // Confirm keeps what the recovered instances use (everything their creation depended on, transitively);
  // the clear tasks of the rest run on confirm too. A subnet's hold is released with its network's.
  const runDeps = new Map(run.map((s) => [s.task.id, s.task.dependencies ?? []]))
  const used = new Set<string>()
  const pending = run.filter((s) => s.task.type === taskType("instance.create")).map((s) => s.task.id)
  while (pending.length > 0) {
    const id = pending.pop()!
    if (used.has(id)) continue
    used.add(id)
    pending.push(...(runDeps.get(id) ?? []))
  }
  const networkOf = new Map(
    [...idx.subnets.values()].map((s) => [taskIds.subnet(s.value.id), taskIds.network(s.network.id)])
  )
  const confirmed = clear.map((s): Step => {
    const undone = s.action === "release" ? (networkOf.get(s.task.undoes!) ?? s.task.undoes!) : s.task.undoes!
    return used.has(undone) ? s : { ...s, task: { ...s.task, runOnConfirm: true } }
  })

  steps.push(...run, ...confirmed)
  const toEntry = (s: Step) => s.task
  const document: JobBuilder.JobDocument = {
    ...(options.jobId === undefined ? {} : { id: options.jobId }),
    labels: {
      ...plan.labels,
      ...(plan.name === undefined ? {} : { plan: plan.name }),
      target: plan.target,
      ...(plan.source === undefined ? {} : { source: plan.source }),
      ...options.labels
    },
    target: plan.target,
    ...(opts.autoRollbackAfterMs === undefined ? {} : { autoRollbackAfterMs: opts.autoRollbackAfterMs }),
    ...(opts.rtoMs === undefined ? {} : { rtoMs: opts.rtoMs }),
    tasks: run.map(toEntry),
    clearTasks: confirmed.map((s) => s.task as JobBuilder.ClearEntry)
  }
  return { document, steps }
}

/** The subnets a NIC takes its address from: its own, or every subnet of its network. */
const nicSubnets = (idx: Plan.Index, nic: Plan.Nic): ReadonlyArray<string> =>
  nic.subnet !== undefined ? [nic.subnet] : (idx.networks.get(nic.network)?.value.subnets ?? []).map((s) => s.id)

/** A plan rule in the handlers' rule fields (without its remote group). */
const ruleFields = (rule: Plan.SecurityGroupRule) =>
  compact({
    direction: rule.direction,
    ethertype: rule.ethertype,
    protocol: rule.protocol,
    portRangeMin: rule.portRangeMin,
    portRangeMax: rule.portRangeMax,
    remoteIpPrefix: rule.remoteIpPrefix,
    description: rule.description
  })

/** A short human description of a rule, e.g. `ingress tcp 22 from 0.0.0.0/0`. */
export const describeRule = (rule: Plan.SecurityGroupRule): string => {
  const ports =
    rule.portRangeMin === undefined && rule.portRangeMax === undefined
      ? ""
      : rule.portRangeMin === rule.portRangeMax || rule.portRangeMax === undefined
        ? ` ${rule.portRangeMin}`
        : ` ${rule.portRangeMin ?? 0}-${rule.portRangeMax}`
  const remote =
    rule.remoteGroup !== undefined
      ? ` ${rule.direction === "ingress" ? "from" : "to"} group ${rule.remoteGroup}`
      : rule.remoteIpPrefix !== undefined
        ? ` ${rule.direction === "ingress" ? "from" : "to"} ${rule.remoteIpPrefix}`
        : ""
  return `${rule.direction} ${rule.ethertype ?? "IPv4"} ${rule.protocol ?? "any"}${ports}${remote}`
}
