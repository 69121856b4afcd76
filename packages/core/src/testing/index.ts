/**
 * Test kit: the test plugin's handlers (`test/echo`, `test/sleep`,
 * `test/fail`). It needs no test framework, so runners can load it; the
 * vitest-based Store conformance suite is `@migrator/core/conformance`.
 *
 * @since 0.1.0
 */
export * as TestPlugin from "./TestPlugin.ts"
