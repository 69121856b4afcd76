/**
 * Test kit: the in-process OpenStack simulator.
 *
 * @since 0.1.0
 */
export * as OpenStackSimulator from "./OpenStackSimulator.ts"
