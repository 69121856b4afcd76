/**
 * Exit codes of the `migrator` CLI (documented in the README):
 * 0 ok (the process's normal exit), 1 the job did not succeed, 2 bad input, 3 store unreachable.
 *
 * @since 0.1.0
 */
import type { StoreError } from "@migrator/core"
import { Data } from "effect"

export const JOB_FAILED = 1
export const BAD_INPUT = 2
export const STORE_UNREACHABLE = 3

export class CliExit extends Data.TaggedError("CliExit")<{ readonly code: number; readonly message: string }> {}

export const badInput = (message: string) => new CliExit({ code: BAD_INPUT, message })
export const jobFailed = (message: string) => new CliExit({ code: JOB_FAILED, message })

/** A store operation that failed: exit 3 when the store did not answer, 1 otherwise. */
export const storeFailed = (e: StoreError.StoreError) =>
  new CliExit({ code: e.reason._tag === "Unavailable" ? STORE_UNREACHABLE : 1, message: `store: ${e.message}` })
