/**
 * Entry point of the `migrator` binary: runs the CLI and maps failures to
 * the documented exit codes.
 *
 * @since 0.1.0
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Cause, Console, Effect, Exit } from "effect"
import { Command } from "effect/cli"
import { command, presentation } from "./Cli.ts"
import { BAD_INPUT, STORE_UNREACHABLE } from "./CliExit.ts"
import * as Heap from "./Heap.ts"

// the heap's growth (see Heap), unless the operator sized the heap
Heap.install([...process.execArgv, ...(process.env.NODE_OPTIONS ?? "").split(/\s+/)])

const exitWith = (code: number, message: string) =>
  (message === "" ? Effect.void : Console.error(message)).pipe(
    Effect.andThen(
      Effect.sync(() => {
        process.exitCode = code
      })
    )
  )

const program = Command.runWith(command, { version: "0.1.0" })(process.argv.slice(2)).pipe(
  Effect.catchCause((cause) => {
    if (Cause.hasInterruptsOnly(cause)) return Effect.void
    const error = cause.reasons.find((r) => r._tag === "Fail")
    if (error?._tag !== "Fail") return exitWith(1, Cause.pretty(cause))
    const e = error.error as {
      readonly _tag?: string
      readonly code?: number
      readonly message?: string
      readonly reason?: { readonly _tag?: string }
    }
    switch (e._tag) {
      case "CliExit":
        return exitWith(e.code ?? 1, e.message ?? "")
      case "StoreError":
        return exitWith(e.reason?._tag === "Unavailable" ? STORE_UNREACHABLE : 1, `store: ${e.message}`)
      case "JobError":
        return exitWith(BAD_INPUT, e.message ?? "")
      case "ShowHelp":
        // the presenter has printed the errors (or the help)
        return exitWith(BAD_INPUT, "")
      default:
        return exitWith(e._tag?.includes("Cli") ? BAD_INPUT : 1, e.message ?? String(e))
    }
  }),
  Effect.provide(presentation),
  Effect.provide(NodeServices.layer)
)

// SIGTERM/SIGINT interrupt the program; after the graceful shutdown that is a clean exit (0)
NodeRuntime.runMain(program, {
  disableErrorReporting: true,
  teardown: (exit, onExit) =>
    onExit(Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause) ? 1 : Number(process.exitCode ?? 0))
})
