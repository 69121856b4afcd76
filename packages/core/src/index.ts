/**
 * @since 0.1.0
 */
export * as Codec from "./Codec.ts"
export * as Job from "./Job.ts"
export * as JobEvent from "./JobEvent.ts"
export * as Keys from "./Keys.ts"
export * as Reason from "./Reason.ts"
export * as Store from "./Store.ts"
export * as StoreError from "./StoreError.ts"
export * as Task from "./Task.ts"
