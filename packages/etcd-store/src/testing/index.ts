/**
 * Test kit: a real etcd on free loopback ports (Node only), for integration tests.
 *
 * @since 0.1.0
 */

export * from "./CuttingProxy.ts"
export * from "./EtcdCluster.ts"
export * from "./EtcdServer.ts"
