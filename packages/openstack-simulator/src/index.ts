/**
 * An in-process OpenStack (Keystone, Nova, Neutron, Cinder, Glance) for tests
 * and the demo. It is a separate package so that runners built on
 * `@migrator/tasks-openstack` do not ship it.
 *
 * @since 0.1.0
 */
export * as OpenStackSimulator from "./OpenStackSimulator.ts"
