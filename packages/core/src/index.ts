/**
 * @since 0.1.0
 */
export * as Store from "./Store.ts"
export * as StoreError from "./StoreError.ts"
