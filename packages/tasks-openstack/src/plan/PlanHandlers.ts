/**
 * The handler definitions a recovery plan's jobs use, by task type id: to
 * validate built jobs with core's JobBuilder (unknown types, inputs that do
 * not match their handler's Schema) without running anything.
 *
 * @since 0.1.0
 */
import type { Schema } from "effect"
import * as FlavorCreate from "../handlers/FlavorCreate.ts"
import * as FlavorDelete from "../handlers/FlavorDelete.ts"
import * as FloatingIpCreate from "../handlers/FloatingIpCreate.ts"
import * as FloatingIpDelete from "../handlers/FloatingIpDelete.ts"
import * as InstanceCreate from "../handlers/InstanceCreate.ts"
import * as InstanceDelete from "../handlers/InstanceDelete.ts"
import * as InstanceStop from "../handlers/InstanceStop.ts"
import * as KeypairCreate from "../handlers/KeypairCreate.ts"
import * as KeypairDelete from "../handlers/KeypairDelete.ts"
import * as NetworkCreate from "../handlers/NetworkCreate.ts"
import * as NetworkDelete from "../handlers/NetworkDelete.ts"
import * as RouterCreate from "../handlers/RouterCreate.ts"
import * as RouterDelete from "../handlers/RouterDelete.ts"
import * as SecurityGroupCreate from "../handlers/SecurityGroupCreate.ts"
import * as SecurityGroupDelete from "../handlers/SecurityGroupDelete.ts"
import * as SecurityGroupRuleCreate from "../handlers/SecurityGroupRuleCreate.ts"
import * as SubnetCreate from "../handlers/SubnetCreate.ts"
import * as TenantCreate from "../handlers/TenantCreate.ts"
import * as TenantDelete from "../handlers/TenantDelete.ts"
import * as VolumeCopy from "../handlers/VolumeCopy.ts"
import * as VolumeDeleteCopy from "../handlers/VolumeDeleteCopy.ts"
import * as VolumeImport from "../handlers/VolumeImport.ts"
import * as VolumeUnmanage from "../handlers/VolumeUnmanage.ts"

/** Every handler definition a plan may produce tasks for. */
export const definitions = [
  TenantCreate.definition,
  SecurityGroupCreate.definition,
  SecurityGroupRuleCreate.definition,
  NetworkCreate.definition,
  SubnetCreate.definition,
  RouterCreate.definition,
  FloatingIpCreate.definition,
  KeypairCreate.definition,
  FlavorCreate.definition,
  VolumeCopy.definition,
  VolumeImport.definition,
  InstanceCreate.definition,
  InstanceStop.definition,
  InstanceDelete.definition,
  FlavorDelete.definition,
  KeypairDelete.definition,
  VolumeUnmanage.definition,
  VolumeDeleteCopy.definition,
  SecurityGroupDelete.definition,
  FloatingIpDelete.definition,
  RouterDelete.definition,
  NetworkDelete.definition,
  TenantDelete.definition
] as const

/** Input Schemas by task type id, as `JobBuilder.build`'s `types` option takes them. */
export const inputs: ReadonlyMap<string, Schema.Codec<unknown, unknown>> = new Map(
  definitions.map((d) => [d.type, d.input as unknown as Schema.Codec<unknown, unknown>])
)
