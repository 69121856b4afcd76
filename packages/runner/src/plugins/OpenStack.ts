/**
 * The built-in `openstack` plugin: every OpenStack task handler of
 * `@migrator/tasks-openstack` (SPEC §6), on the recovery clusters of the
 * runner's configuration (`clusters`, by the name a job's `target` gives).
 * Loaded only when a runner names it, so other runners do not load the
 * OpenStack code.
 *
 * @since 0.1.0
 */
import type { TaskRegistry } from "@migrator/core"
import { Clouds, type OpenStackClient } from "@migrator/tasks-openstack"
import * as FlavorCreate from "@migrator/tasks-openstack/handlers/FlavorCreate"
import * as FlavorDelete from "@migrator/tasks-openstack/handlers/FlavorDelete"
import * as FloatingIpCreate from "@migrator/tasks-openstack/handlers/FloatingIpCreate"
import * as FloatingIpDelete from "@migrator/tasks-openstack/handlers/FloatingIpDelete"
import * as InstanceCreate from "@migrator/tasks-openstack/handlers/InstanceCreate"
import * as InstanceDelete from "@migrator/tasks-openstack/handlers/InstanceDelete"
import * as InstanceStop from "@migrator/tasks-openstack/handlers/InstanceStop"
import * as KeypairCreate from "@migrator/tasks-openstack/handlers/KeypairCreate"
import * as KeypairDelete from "@migrator/tasks-openstack/handlers/KeypairDelete"
import * as NetworkCreate from "@migrator/tasks-openstack/handlers/NetworkCreate"
import * as NetworkDelete from "@migrator/tasks-openstack/handlers/NetworkDelete"
import * as RouterCreate from "@migrator/tasks-openstack/handlers/RouterCreate"
import * as RouterDelete from "@migrator/tasks-openstack/handlers/RouterDelete"
import * as SecurityGroupCreate from "@migrator/tasks-openstack/handlers/SecurityGroupCreate"
import * as SecurityGroupDelete from "@migrator/tasks-openstack/handlers/SecurityGroupDelete"
import * as SecurityGroupRuleCreate from "@migrator/tasks-openstack/handlers/SecurityGroupRuleCreate"
import * as SubnetCreate from "@migrator/tasks-openstack/handlers/SubnetCreate"
import * as TenantCreate from "@migrator/tasks-openstack/handlers/TenantCreate"
import * as TenantDelete from "@migrator/tasks-openstack/handlers/TenantDelete"
import * as VolumeCopy from "@migrator/tasks-openstack/handlers/VolumeCopy"
import * as VolumeDeleteCopy from "@migrator/tasks-openstack/handlers/VolumeDeleteCopy"
import * as VolumeImport from "@migrator/tasks-openstack/handlers/VolumeImport"
import * as VolumeUnmanage from "@migrator/tasks-openstack/handlers/VolumeUnmanage"
import { Layer } from "effect"

/** Every handler, needing `Clouds`. */
export const handlers = Layer.mergeAll(
  FlavorCreate.layer,
  FlavorDelete.layer,
  FloatingIpCreate.layer,
  FloatingIpDelete.layer,
  InstanceCreate.layer,
  InstanceDelete.layer,
  InstanceStop.layer,
  KeypairCreate.layer,
  KeypairDelete.layer,
  NetworkCreate.layer,
  NetworkDelete.layer,
  RouterCreate.layer,
  RouterDelete.layer,
  SecurityGroupCreate.layer,
  SecurityGroupDelete.layer,
  SecurityGroupRuleCreate.layer,
  SubnetCreate.layer,
  TenantCreate.layer,
  TenantDelete.layer,
  VolumeCopy.layer,
  VolumeDeleteCopy.layer,
  VolumeImport.layer,
  VolumeUnmanage.layer
)

/** The handlers on clients of the configured clusters (nothing is sent until a task runs). */
export const layer = (
  clusters: Readonly<Record<string, OpenStackClient.ClientConfig>>
): Layer.Layer<never, never, TaskRegistry.TaskRegistry> => handlers.pipe(Layer.provide(Clouds.layer(clusters)))
