/**
 * The steps of a project's network resources: security groups and their
 * rules, networks with their subnets, routers, floating IPs; each a run task
 * and the clear task that undoes it.
 *
 * @since 0.1.0
 */
import type * as Plan from "../Plan.ts"
import { type Assembly, compact, out, type ProjectScope, res, taskIds } from "./Steps.ts"

/** Security groups with their rules; a rule whose remote is another group waits for that group. */
export const securityGroups = (a: Assembly, scope: ProjectScope): void => {
  const { idx, share, add, undo, instancesUsing, undoInstances } = a
  const { project, pp, projectTask, projectId, clearOfProject, rulesOf } = scope
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
}

/** Networks and subnets. */
export const networks = (a: Assembly, scope: ProjectScope): void => {
  const { idx, share, add, undo, instancesUsing, undoInstances } = a
  const { project, pp, projectTask, projectId, clearOfProject } = scope
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
}

/** Routers: after the subnets they attach to. */
export const routers = (a: Assembly, scope: ProjectScope): void => {
  const { idx, share, add, undo, instancesUsing, undoInstances } = a
  const { project, pp, projectTask, projectId, clearOfProject } = scope
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
}

/** Floating IPs: after the routers that give their external network a way in. */
export const floatingIps = (a: Assembly, scope: ProjectScope): void => {
  const { add, undo, instancesUsing, undoInstances } = a
  const { project, pp, projectTask, projectId, clearOfProject } = scope
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
}

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
