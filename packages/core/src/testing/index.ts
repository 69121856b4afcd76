/**
 * Test kit: the Store conformance suite and the test plugin handlers.
 *
 * @since 0.1.0
 */
export * from "./StoreConformance.ts"
export * as TestPlugin from "./TestPlugin.ts"
