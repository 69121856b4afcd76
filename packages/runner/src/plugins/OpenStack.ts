/**
 * The built-in `openstack` plugin: every OpenStack task handler of
 * `@migrator/tasks-openstack` (its `OpenStackTasks` catalogue, SPEC §6), on
 * the recovery clusters of the runner's configuration (`clusters`, by the
 * name a job's `target` gives). Loaded only when a runner names it, so other
 * runners do not load the OpenStack code.
 *
 * @since 0.1.0
 */
import type { TaskRegistry } from "@migrator/core"
import type { OpenStackClient } from "@migrator/tasks-openstack"
import * as OpenStackTasks from "@migrator/tasks-openstack/OpenStackTasks"
import type { Layer } from "effect"

/** Every handler, needing `Clouds`. */
export const handlers = OpenStackTasks.layer

/** The handlers on clients of the configured clusters (nothing is sent until a task runs). */
export const layer = (
  clusters: Readonly<Record<string, OpenStackClient.ClientConfig>>
): Layer.Layer<never, never, TaskRegistry.TaskRegistry> => OpenStackTasks.layerClusters(clusters)
