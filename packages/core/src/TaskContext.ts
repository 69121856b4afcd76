/**
 * What a handler knows about the execution it is part of. The fencing token
 * is the create revision of the task's claim: handlers that write elsewhere
 * can use it to reject writes from a stale executor.
 *
 * @since 0.1.0
 */
import { Context } from "effect"
import type { Phase } from "./Task.ts"

export class TaskContext extends Context.Service<
  TaskContext,
  {
    readonly jobId: string
    readonly taskId: string
    readonly phase: Phase
    readonly type: string
    readonly attempt: number
    readonly fencingToken: number
    readonly target: string | undefined
    readonly runnerId: string
    /** The shared-resource key of the task, if any. */
    readonly shared: string | undefined
    /**
     * What to mark created resources with so a later attempt finds them: derived from the shared
     * key for shared tasks (a successor in another job adopts what this one half-made), from the
     * job and task otherwise.
     */
    readonly idempotencyKey: string
  }
>()("@migrator/core/TaskContext") {}
