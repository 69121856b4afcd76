/**
 * The catalogue of the OpenStack task handlers: every handler module, their
 * definitions, and one layer registering them all. The runner's `openstack`
 * plugin, the plan builder's type checks and the tests derive from it, so
 * adding a task type is one module in `handlers/` plus one line here.
 *
 * Importing this module loads every handler; a runner that needs only some
 * imports them alone (`@migrator/tasks-openstack/handlers/<Name>`).
 *
 * @since 0.1.0
 */
import type { TaskRegistry } from "@migrator/core"
import { Layer, type Schema } from "effect"
import * as Clouds from "./Clouds.ts"
import * as FlavorCreate from "./handlers/FlavorCreate.ts"
import * as FlavorDelete from "./handlers/FlavorDelete.ts"
import * as FloatingIpCreate from "./handlers/FloatingIpCreate.ts"
import * as FloatingIpDelete from "./handlers/FloatingIpDelete.ts"
import * as InstanceCreate from "./handlers/InstanceCreate.ts"
import * as InstanceDelete from "./handlers/InstanceDelete.ts"
import * as InstanceStop from "./handlers/InstanceStop.ts"
import * as KeypairCreate from "./handlers/KeypairCreate.ts"
import * as KeypairDelete from "./handlers/KeypairDelete.ts"
import * as NetworkCreate from "./handlers/NetworkCreate.ts"
import * as NetworkDelete from "./handlers/NetworkDelete.ts"
import * as RouterCreate from "./handlers/RouterCreate.ts"
import * as RouterDelete from "./handlers/RouterDelete.ts"
import * as SecurityGroupCreate from "./handlers/SecurityGroupCreate.ts"
import * as SecurityGroupDelete from "./handlers/SecurityGroupDelete.ts"
import * as SecurityGroupRuleCreate from "./handlers/SecurityGroupRuleCreate.ts"
import * as SubnetCreate from "./handlers/SubnetCreate.ts"
import * as TenantCreate from "./handlers/TenantCreate.ts"
import * as TenantDelete from "./handlers/TenantDelete.ts"
import * as VolumeCopy from "./handlers/VolumeCopy.ts"
import * as VolumeDeleteCopy from "./handlers/VolumeDeleteCopy.ts"
import * as VolumeImport from "./handlers/VolumeImport.ts"
import * as VolumeUnmanage from "./handlers/VolumeUnmanage.ts"
import type * as OpenStackClient from "./OpenStackClient.ts"

/**
 * Every handler module, creation before removal.
 *
 * @category catalogue
 * @since 0.1.0
 */
export const handlers = [
  TenantCreate,
  SecurityGroupCreate,
  SecurityGroupRuleCreate,
  NetworkCreate,
  SubnetCreate,
  RouterCreate,
  FloatingIpCreate,
  KeypairCreate,
  FlavorCreate,
  VolumeCopy,
  VolumeImport,
  InstanceCreate,
  InstanceStop,
  InstanceDelete,
  FlavorDelete,
  KeypairDelete,
  VolumeUnmanage,
  VolumeDeleteCopy,
  SecurityGroupDelete,
  FloatingIpDelete,
  RouterDelete,
  NetworkDelete,
  TenantDelete
] as const

/**
 * Every handler definition (task type id, input and output Schemas, retry, timeout).
 *
 * @category catalogue
 * @since 0.1.0
 */
export const definitions = handlers.map((h) => h.definition)

/**
 * Input Schemas by task type id, as `JobBuilder.build`'s `types` option takes them.
 *
 * @category catalogue
 * @since 0.1.0
 */
export const inputs: ReadonlyMap<string, Schema.Codec<unknown, unknown>> = new Map(
  definitions.map((d) => [d.type, d.input as unknown as Schema.Codec<unknown, unknown>])
)

/**
 * Registers every handler; they reach OpenStack through `Clouds`.
 *
 * @category layers
 * @since 0.1.0
 */
export const layer: Layer.Layer<never, never, TaskRegistry.TaskRegistry | Clouds.Clouds> = Layer.mergeAll(
  ...(handlers.map((h) => h.layer) as unknown as [Layer.Layer<never, never, TaskRegistry.TaskRegistry | Clouds.Clouds>])
)

/**
 * Every handler, on clients of the given clusters (by the name a job's
 * `target` gives; nothing is sent until a task runs).
 *
 * @category layers
 * @since 0.1.0
 */
export const layerClusters = (
  clusters: Readonly<Record<string, OpenStackClient.ClientConfig>>
): Layer.Layer<never, never, TaskRegistry.TaskRegistry> => layer.pipe(Layer.provide(Clouds.layer(clusters)))
