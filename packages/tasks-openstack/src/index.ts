/**
 * OpenStack side of migrator (SPEC §6): the REST client, its typed errors and
 * the clusters a task reaches. Every task handler is its own entry point,
 * `@migrator/tasks-openstack/handlers/<Name>` (importing one loads none of the
 * others); `@migrator/tasks-openstack/OpenStackTasks` is the catalogue of all
 * of them. The simulator for tests and the demo is the package
 * `@migrator/openstack-simulator`.
 *
 * @since 0.1.0
 */

export * as Clouds from "./Clouds.ts"
export * as OpenStackClient from "./OpenStackClient.ts"
export * as OpenStackError from "./OpenStackError.ts"
