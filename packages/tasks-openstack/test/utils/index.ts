import { OpenStackSimulator } from "@migrator/openstack-simulator"
import { OpenStackClient } from "@migrator/tasks-openstack"
import { Duration, Effect, Logger, References, Schedule, type Scope } from "effect"
import { FetchHttpClient } from "effect/http"

/** A simulator and a client for it; both live as long as the test's scope. */
export const setup = (
  options: OpenStackSimulator.Options = {},
  overrides: Parameters<OpenStackSimulator.Simulator["clientConfig"]>[0] = {}
): Effect.Effect<
  { readonly sim: OpenStackSimulator.Simulator; readonly client: OpenStackClient.Client },
  never,
  Scope.Scope
> =>
  Effect.gen(function* () {
    const sim = yield* OpenStackSimulator.make({ stepDelay: "20 millis", ...options })
    const client = yield* OpenStackClient.make(
      sim.clientConfig({ retry: { baseDelay: "5 millis", maxDelay: "50 millis" }, ...overrides })
    ).pipe(Effect.provide(FetchHttpClient.layer))
    return { sim, client }
  })

/** Polls `self` until `done` holds (every 10 ms, at most `within`). */
export const waitFor = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  done: (a: A) => boolean,
  within: Duration.Input = "5 seconds"
): Effect.Effect<A, E | string, R> =>
  self.pipe(
    Effect.repeat({ schedule: Schedule.spaced("10 millis"), until: done }),
    Effect.timeoutOrElse({
      duration: within,
      orElse: () => Effect.fail(`condition not reached within ${Duration.format(Duration.fromInputUnsafe(within))}`)
    })
  )

/** Every log line (message, annotations, cause) of `self`, at every level. */
export const captureLogs = <A, E, R>(self: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const lines: Array<string> = []
    const logger = Logger.make<unknown, void>((options) => {
      lines.push(Logger.formatLogFmt.log(options), Logger.formatJson.log(options))
    })
    const exit = yield* self.pipe(
      Effect.provide(Logger.layer([logger])),
      Effect.provideService(References.MinimumLogLevel, "All"),
      Effect.exit
    )
    return { exit, lines }
  })
