/**
 * OpenStack side of migrator (SPEC §6): the REST client and its typed errors.
 * The simulator for tests and the demo is the package `@migrator/openstack-simulator`.
 *
 * @since 0.1.0
 */

export * as Clouds from "./Clouds.ts"
export * as OpenStackClient from "./OpenStackClient.ts"
export * as OpenStackError from "./OpenStackError.ts"
