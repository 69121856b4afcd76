/**
 * `migrator demo`: a recovery plan end to end with no set-up. It starts an
 * in-memory store, the OpenStack simulator and two in-process runners with
 * the OpenStack handlers, builds the sample two-projects plan, runs it while
 * showing progress (and serving the dashboard), rolls it back and checks the
 * simulated cloud is back to where it started. The dashboard then stays up
 * until Ctrl-C, so it can be looked at; `--exit` ends the demo there (CI).
 *
 * @since 0.1.0
 */
import { readFileSync } from "node:fs"
import { createServer } from "node:net"
import { Engine, Jobs, Keys, Store, TaskRegistry } from "@migrator/core"
import { OpenStackSimulator } from "@migrator/openstack-simulator"
import { Clouds, OpenStackClient } from "@migrator/tasks-openstack"
import * as Plan from "@migrator/tasks-openstack/plan/Plan"
import * as PlanBuilder from "@migrator/tasks-openstack/plan/PlanBuilder"
import * as PlanHandlers from "@migrator/tasks-openstack/plan/PlanHandlers"
import * as Preview from "@migrator/tasks-openstack/plan/Preview"
import { Console, Effect, Layer, Schema } from "effect"
import { FetchHttpClient } from "effect/http"
import { jobFailed } from "./CliExit.ts"
import * as Progress from "./cli/Progress.ts"
import * as HttpApi from "./http/HttpApi.ts"
import * as OpenStackPlugin from "./plugins/OpenStack.ts"

const keys = Keys.make("demo/")
const JOB_ID = "demo-recovery"

export interface Options {
  /** Where the dashboard listens; another free port is taken when this one is busy. */
  readonly host: string
  readonly port: number
  /** Terminal the progress is drawn on, if any. */
  readonly display: Progress.Display
  /** End when the demo is done instead of serving the dashboard until interrupted. */
  readonly exit?: boolean | undefined
}

const samplePlanText = () =>
  readFileSync(
    new URL(import.meta.resolve("@migrator/tasks-openstack/package.json")).pathname.replace(
      /package\.json$/,
      "examples/plans/two-projects.json"
    ),
    "utf8"
  )

const Created = Schema.Struct({ volume: Schema.Struct({ id: Schema.String }) })
const Status = Schema.Struct({ volume: Schema.Struct({ status: Schema.String }) })

/** The sample plan on the simulator, with the replicated source volumes it copies from. */
const samplePlan = (client: OpenStackClient.Client) =>
  Effect.gen(function* () {
    let text = samplePlanText()
    for (const name of ["source-volume-web", "source-volume-db", "source-volume-ops"]) {
      const { volume } = yield* client.request("volumev3", "POST", "/volumes", {
        body: { volume: { size: 1, name } },
        schema: Created
      })
      text = text.replaceAll(`"${name}"`, `"${volume.id}"`)
      // a copy needs its source available: wait for the simulator to finish creating it
      // (a fast runtime, e.g. Deno without a transpiler, otherwise starts the copies too early)
      for (let i = 0; i < 1500; i++) {
        const current = yield* client.request("volumev3", "GET", `/volumes/${volume.id}`, { schema: Status })
        if (current.volume.status === "available") break
        yield* Effect.sleep("20 millis")
      }
    }
    return yield* Plan.parse(text, "json")
  })

/** The preferred port if it is free, else any free port (the demo must start on a busy machine too). */
const freePort = (host: string, preferred: number) =>
  Effect.callback<number>((resume) => {
    const probe = (port: number) => {
      const server = createServer()
      server.once("error", () => probe(0))
      server.listen(port, host, () => {
        const address = server.address()
        const chosen = typeof address === "object" && address !== null ? address.port : port
        server.close(() => resume(Effect.succeed(chosen)))
      })
    }
    probe(preferred)
  })

const count = (inventory: OpenStackSimulator.Inventory) =>
  Object.fromEntries(
    Object.entries(inventory).map(([kind, items]) => [kind, Array.isArray(items) ? items.length : 0] as const)
  )

export const run = (options: Options) =>
  Effect.gen(function* () {
    yield* Console.log("migrator demo: in-memory store, OpenStack simulator, two runners (demo-a, demo-b)\n")
    const sim = yield* OpenStackSimulator.make({ stepDelay: "150 millis" })
    const client = yield* OpenStackClient.make(sim.clientConfig()).pipe(Effect.provide(FetchHttpClient.layer))
    const plan = yield* samplePlan(client)
    // Neutron makes the admin project's `default` group on first use: make it now, so it is part of the baseline
    yield* client.list("network", "/security-groups", "security_groups")
    const initial = count(yield* sim.inventory)

    const handlers = OpenStackPlugin.handlers.pipe(
      Layer.provide(Clouds.layerClients({ [plan.target]: client })),
      Layer.provideMerge(TaskRegistry.layer)
    )
    const context = yield* Layer.build(handlers)
    for (const runnerId of ["demo-a", "demo-b"]) {
      yield* Engine.run({ runnerId, prefix: keys.prefix, leaseTtl: "5 seconds" }).pipe(
        Effect.provide(context),
        Effect.forkScoped
      )
    }
    const port = yield* freePort(options.host, options.port)
    yield* Layer.build(HttpApi.layer({ keys, runnerId: "demo-a", host: options.host, port })).pipe(
      Effect.provide(context)
    )

    const preview = yield* Preview.preview(plan)
    yield* Console.log(Preview.render(preview))
    const built = yield* PlanBuilder.buildJob(plan, { jobId: JOB_ID, types: PlanHandlers.inputs })
    yield* Console.log(
      `\njob ${JOB_ID}: ${built.spec.runTasks} run tasks, ${built.spec.clearTasks} clear tasks on cluster "${plan.target}"`
    )
    const url = `http://${options.host}:${port}/jobs/${JOB_ID}`
    yield* Console.log(
      `dashboard: ${url}  (${options.exit === true ? "live while the demo runs" : "up until Ctrl-C"})\n`
    )

    // the dashboard stays up after the demo (also when it failed: that is when one wants to look)
    const result = yield* Effect.exit(
      Effect.gen(function* () {
        const store = yield* Store.Store
        const followFrom = Effect.fn(function* (from: number) {
          const view = yield* Jobs.read(keys, JOB_ID)
          return yield* Progress.follow(keys, Progress.fromView(JOB_ID, view), from, options.display)
        })
        const submitted = yield* store.revision
        yield* Jobs.submit(keys, built)
        const done = yield* followFrom(submitted + 1)
        if (done.state !== "completed" || done.outcome !== "succeeded") {
          return yield* jobFailed(`demo job ended ${done.state} (${done.outcome ?? "no outcome"})`)
        }
        const recovered = count(yield* sim.inventory)
        yield* Console.log(
          `\nrecovered: ${recovered.servers! - initial.servers!} servers, ${recovered.volumes! - initial.volumes!} volumes, ${recovered.networks! - initial.networks!} networks, ${recovered.routers! - initial.routers!} routers`
        )

        yield* Console.log("\nrolling back")
        const before = yield* store.revision
        yield* Jobs.request(keys, JOB_ID, "rollback", { actor: "demo" })
        const cleared = yield* followFrom(before + 1)
        const after = count(yield* sim.inventory)
        const leftovers = Object.keys(initial).filter((kind) => after[kind] !== initial[kind])
        yield* Console.log(
          `\ndemo finished: run ${done.outcome}, rollback ${cleared.state}; the simulated cloud is ${
            leftovers.length === 0
              ? "back to its initial inventory"
              : `NOT back to its initial inventory (${leftovers.join(", ")})`
          }`
        )
        if (cleared.state !== "cleared" || leftovers.length > 0) {
          return yield* jobFailed(`demo rollback ended ${cleared.state}`)
        }
      })
    )
    if (options.exit !== true) {
      yield* Console.log(`\nthe dashboard stays up at ${url}: press Ctrl-C to stop (--exit ends the demo here)`)
      return yield* Effect.never
    }
    return yield* result
  }).pipe(Effect.scoped, Effect.provide(Store.layerMemory))
