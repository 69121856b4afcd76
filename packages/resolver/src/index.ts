/**
 * @since 0.1.0
 */
export * as Reference from "./Reference.ts"
export * as Resolver from "./Resolver.ts"
export * as ResolverError from "./ResolverError.ts"
