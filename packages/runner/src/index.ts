/**
 * @since 0.1.0
 */
export * as Cli from "./Cli.ts"
export * as Demo from "./Demo.ts"
export * as Plugins from "./Plugins.ts"
