/**
 * The steps of a project's compute and storage resources: keypairs,
 * flavors, volumes (a copy or an import) and instances (with `instance.stop`
 * when they are to be left stopped); each a run task and the clear task
 * that undoes it.
 *
 * @since 0.1.0
 */
import type * as Plan from "../Plan.ts"
import { type Assembly, compact, nicSubnets, out, type ProjectScope, res, taskIds } from "./Steps.ts"

/** Keypairs (a keypair belongs to the runner's user, not to the project). */
export const keypairs = (a: Assembly, scope: ProjectScope): void => {
  const { share, add, undo, instancesUsing, undoInstances } = a
  const { pp, project, clearOfProject } = scope
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
}

/** Flavors (a private one is given to its project). */
export const flavors = (a: Assembly, scope: ProjectScope): void => {
  const { idx, share, add, undo, instancesUsing, undoInstances } = a
  const { project, pp, projectTask, projectId, clearOfProject } = scope
  project.flavors?.forEach((flavor, f) => {
    // an existing flavor of the recovery cloud: instance.create takes it by name
    if (flavor.existing === true) return
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
}

/** Volumes: a copy of a replicated volume/snapshot, or an import of the backend volume. */
export const volumes = (a: Assembly, scope: ProjectScope): void => {
  const { add, undo, instancesUsing, undoInstances } = a
  const { project, pp, projectTask, projectId, clearOfProject } = scope
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
}

/** Instances: after everything they use and the instances they depend on. */
export const instances = (a: Assembly, scope: ProjectScope): void => {
  const { idx, opts, add, undo, dependants, undoInstances } = a
  const { project, pp, projectTask, projectId, clearOfProject, rulesOf } = scope
  project.instances?.forEach((instance, i) => {
    const ip = `${pp}.instances[${i}]`
    const nics = instance.nics ?? []
    const groups = [...new Set(nics.flatMap((n) => n.securityGroups ?? []))]
    const subnets = [...new Set(nics.flatMap((n) => nicSubnets(idx, n)))]
    const routers = (project.routers ?? []).filter((r) => (r.interfaces ?? []).some((x) => subnets.includes(x.subnet)))
    const dependencies = [
      projectTask,
      ...(existingFlavor(idx, instance.flavor) === undefined ? [taskIds.flavor(instance.flavor)] : []),
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
        flavorId: existingFlavor(idx, instance.flavor) ?? out.flavorId(instance.flavor),
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
}

/** The name of the flavor `id` when the plan uses the recovery cloud's own (`existing`). */
const existingFlavor = (idx: Plan.Index, id: string): string | undefined => {
  const flavor = idx.flavors.get(id)?.value
  return flavor?.existing === true ? flavor.name : undefined
}
