/**
 * @since 0.1.0
 */
export * as EtcdStore from "./EtcdStore.ts"
