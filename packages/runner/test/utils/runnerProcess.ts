/** `migrator run` processes for integration tests, their logs kept, killed by PID with the scope. */
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"
import { Effect, Schedule } from "effect"

const bin = fileURLToPath(new URL("../../bin/migrator.js", import.meta.url))

export interface RunnerProcess {
  readonly child: ChildProcess
  /** Everything it logged so far (stderr). */
  readonly log: { text: string }
}

const kill = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGKILL")
  })

/** `migrator run --plugins test` on `endpoint` and `prefix`, as operators start it, with `flags` added. */
export const runnerProcess = (endpoint: string, prefix: string, runnerId: string, flags: ReadonlyArray<string> = []) =>
  Effect.acquireRelease(
    Effect.sync((): RunnerProcess => {
      const child = spawn(
        process.execPath,
        [bin, "run", "--plugins", "test", "--etcd", endpoint, "--prefix", prefix, "--runner-id", runnerId, ...flags],
        { stdio: ["ignore", "ignore", "pipe"] }
      )
      const log = { text: "" }
      child.stderr?.on("data", (d) => {
        log.text += d
      })
      return { child, log }
    }),
    ({ child }) => Effect.promise(() => kill(child))
  )

/** The process's exit code, once it has exited by itself. */
export const exitCode = ({ child }: RunnerProcess) =>
  Effect.promise(
    () =>
      new Promise<number | null>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve(child.exitCode)
        child.once("exit", (code) => resolve(code))
      })
  )

/** Tries `check` every 100 ms for up to a minute, until it gives a value. */
export const eventually = <A, R>(what: string, check: Effect.Effect<A | undefined, unknown, R>) =>
  check.pipe(
    Effect.flatMap((a) => (a === undefined ? Effect.fail(`not yet: ${what}`) : Effect.succeed(a))),
    Effect.retry({ schedule: Schedule.spaced("100 millis"), times: 600 })
  )
