/**
 * @since 0.1.0
 */
export * as Codec from "./Codec.ts"
export * as Engine from "./Engine.ts"
export * as Job from "./Job.ts"
export * as JobBuilder from "./JobBuilder.ts"
export * as JobEvent from "./JobEvent.ts"
export * as Jobs from "./Jobs.ts"
export * as Keys from "./Keys.ts"
export * as Reason from "./Reason.ts"
export * as SharedResource from "./SharedResource.ts"
export * as Store from "./Store.ts"
export * as StoreError from "./StoreError.ts"
export * as Task from "./Task.ts"
export * as TaskContext from "./TaskContext.ts"
export * as TaskError from "./TaskError.ts"
export * as TaskHandler from "./TaskHandler.ts"
export * as TaskRegistry from "./TaskRegistry.ts"
