import { type ChildProcess, spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Keys } from "@migrator/core"
import { EtcdStore } from "@migrator/etcd-store"
import { type EtcdServer, startEtcd } from "@migrator/etcd-store/testing"
import { Effect } from "effect"
import { afterAll, beforeAll } from "vitest"
import { migrator, type Run, stop } from "./utils/cli.ts"

const plans = fileURLToPath(new URL("../../tasks-openstack/examples/plans/", import.meta.url))
const yamlPlan = join(plans, "two-projects.yaml")
const jsonPlan = join(plans, "two-projects.json")
/** Every CLI call starts a process (TypeScript through tsx): slow on a loaded machine. */
const LONG = 400_000

let etcd: EtcdServer
const children: Array<ChildProcess> = []
let prefixes = 0
/** The plans and jobs the tests write: removed when the file ends. */
const dir = mkdtempSync(join(tmpdir(), "migrator-plancmd-"))

beforeAll(async () => {
  etcd = await startEtcd("plan-commands")
})
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  await Promise.all(children.map((c) => stop(c, "SIGKILL")))
  await etcd.destroy()
})

const context = () => {
  const prefix = `plans-${++prefixes}/`
  const flags = ["--etcd", etcd.endpoint, "--prefix", prefix]
  const cli = (...args: Array<string>) => migrator([...args, ...flags])
  return { prefix, flags, cli }
}

const tmp = (name: string) => join(dir, name)

const ok = (r: Run) => {
  assert.strictEqual(r.code, 0, r.stdout + r.stderr)
  return r.stdout
}

interface PlanDocument {
  target?: string
  projects: Array<{ instances: Array<{ nics: Array<{ network: string }> }> }>
}

/** The example plan with changes. */
const variant = (name: string, change: (plan: PlanDocument) => void) => {
  const plan = JSON.parse(readFileSync(jsonPlan, "utf8")) as PlanDocument
  change(plan)
  const path = tmp(`${name}.json`)
  writeFileSync(path, JSON.stringify(plan))
  return path
}

/** Dependency edges of a job document. */
const dependencies = (document: { tasks: Array<unknown>; clearTasks: Array<unknown> }) =>
  [...document.tasks, ...document.clearTasks].reduce<number>(
    (n, t) => n + ((t as { dependencies?: Array<string> }).dependencies?.length ?? 0),
    0
  )

interface Item {
  task: string
  type: string
  kind: string
  shared?: string
}

describe("migrator plan commands against a real etcd", () => {
  it.live(
    "validate: exit 0 for JSON and YAML plans, 2 with every problem and its field path",
    () =>
      Effect.promise(async () => {
        const { cli } = context()
        const unknownNetwork = variant("unknown-network", (p) => {
          p.projects[0]!.instances[0]!.nics[0]!.network = "net-x"
        })
        const noTarget = variant("no-target", (p) => {
          delete p.target
        })
        const badYaml = tmp("bad.yaml")
        writeFileSync(badYaml, "name: [unclosed\n")
        const [yaml, json, jsonOut, unknown, unknownJson, missing, notYaml, noFile] = await Promise.all([
          cli("plan", "validate", yamlPlan),
          cli("plan", "validate", jsonPlan),
          cli("plan", "validate", jsonPlan, "--json"),
          cli("plan", "validate", unknownNetwork),
          cli("plan", "validate", unknownNetwork, "--json"),
          cli("plan", "validate", noTarget),
          cli("plan", "validate", badYaml),
          cli("plan", "validate", tmp("absent.yaml"))
        ])
        assert.match(ok(yaml), /valid \(25 run tasks, 24 clear tasks\)/)
        assert.match(ok(json), /valid \(25 run tasks, 24 clear tasks\)/)
        assert.deepStrictEqual(JSON.parse(ok(jsonOut)), { valid: true, problems: [], runTasks: 25, clearTasks: 24 })

        assert.strictEqual(unknown.code, 2)
        assert.include(unknown.stderr, 'projects[0].instances[0].nics[0].network: unknown network "net-x"')
        assert.strictEqual(unknownJson.code, 2)
        assert.deepStrictEqual(JSON.parse(unknownJson.stdout), {
          valid: false,
          problems: [{ path: "projects[0].instances[0].nics[0].network", message: 'unknown network "net-x"' }]
        })
        assert.strictEqual(missing.code, 2)
        assert.match(missing.stderr, /^target: /m)
        assert.strictEqual(notYaml.code, 2)
        assert.include(notYaml.stderr, "not YAML")
        assert.strictEqual(noFile.code, 2)
      }),
    LONG
  )

  it.live(
    "preview: text or JSON; with --store, shared resources other jobs hold are listed as reused",
    () =>
      Effect.gen(function* () {
        const { cli, prefix } = context()
        const [text, json] = yield* Effect.promise(() =>
          Promise.all([cli("plan", "preview", yamlPlan), cli("plan", "preview", yamlPlan, "--json")])
        )
        assert.match(ok(text), /^Recovery plan "two-projects": protected-1 -> recovery-1$/m)
        assert.include(text.stdout, "25 run tasks, 24 clear tasks")
        const preview = JSON.parse(ok(json)) as {
          target: string
          runTasks: number
          clearTasks: number
          create: Array<Item>
          reuse: Array<Item>
          stop: Array<Item>
          delete: Array<Item>
          release: Array<Item>
        }
        assert.strictEqual(preview.target, "recovery-1")
        assert.strictEqual(preview.runTasks, 25)
        assert.strictEqual(preview.reuse.length, 0)
        const project = preview.create.find((i) => i.task === "project:web")
        assert.isDefined(project?.shared)

        // another job holds the project on the target
        const keys = Keys.make(prefix)
        yield* Effect.gen(function* () {
          const store = yield* EtcdStore.make({ endpoints: [etcd.endpoint] })
          yield* store.txn({
            compare: [],
            success: [
              {
                _tag: "put",
                key: keys.shared(project!.shared!),
                value: JSON.stringify({
                  state: "ready",
                  job: "other",
                  task: "project:web",
                  phase: "run",
                  token: 1,
                  output: { id: "p-1" },
                  holders: ["other"],
                  updatedAt: 0
                })
              }
            ]
          })
        }).pipe(Effect.scoped)
        const [live, offline, unreachable] = yield* Effect.promise(() =>
          Promise.all([
            cli("plan", "preview", yamlPlan, "--store", "--json"),
            cli("plan", "preview", yamlPlan, "--json"),
            migrator(["plan", "preview", yamlPlan, "--store", "--etcd", "http://127.0.0.1:1"])
          ])
        )
        const withStore = JSON.parse(ok(live)) as typeof preview
        assert.deepStrictEqual(
          withStore.reuse.map((i) => i.task),
          ["project:web"]
        )
        assert.notInclude(
          withStore.create.map((i) => i.task),
          "project:web"
        )
        assert.strictEqual((JSON.parse(ok(offline)) as typeof preview).reuse.length, 0)
        assert.strictEqual(unreachable.code, 3)
      }),
    LONG
  )

  it.live(
    "build prints the job document (or writes it with -o); submit builds, submits and prints only the id",
    () =>
      Effect.promise(async () => {
        const { cli } = context()
        const out = tmp("job.json")
        const invalid = variant("invalid", (p) => {
          p.projects[0]!.instances[0]!.nics[0]!.network = "net-x"
        })
        const [printed, written, badLabel, badBuild] = await Promise.all([
          cli("plan", "build", yamlPlan, "--id", "drill-1", "--label", "drill=yes"),
          cli("plan", "build", yamlPlan, "--id", "drill-1", "--label", "drill=yes", "-o", out),
          cli("plan", "build", yamlPlan, "--label", "nope"),
          cli("plan", "build", invalid)
        ])
        const document = JSON.parse(ok(printed)) as {
          id: string
          labels: Record<string, string>
          target: string
          tasks: Array<{ id: string; type: string }>
          clearTasks: Array<{ id: string; undoes: string }>
        }
        assert.strictEqual(document.id, "drill-1")
        assert.strictEqual(document.target, "recovery-1")
        assert.deepStrictEqual(document.labels, {
          plan: "two-projects",
          target: "recovery-1",
          source: "protected-1",
          drill: "yes"
        })
        assert.strictEqual(document.tasks.length, 25)
        assert.strictEqual(document.clearTasks.length, 24)
        assert.isTrue(document.tasks.every((t) => t.type.startsWith("openstack/")))
        ok(written)
        assert.strictEqual(written.stdout, "")
        assert.deepStrictEqual(JSON.parse(readFileSync(out, "utf8")), document)
        assert.strictEqual(badLabel.code, 2)
        assert.strictEqual(badBuild.code, 2)
        assert.include(badBuild.stderr, "projects[0].instances[0].nics[0].network")

        // the built document is what `job submit` accepts; `plan submit` does both at once
        const [viaJob, viaPlan, invalidSubmit, unreachable] = await Promise.all([
          cli("job", "submit", out),
          cli("plan", "submit", jsonPlan, "--label", "drill=no"),
          cli("plan", "submit", invalid),
          migrator(["plan", "submit", yamlPlan, "--etcd", "http://127.0.0.1:1"])
        ])
        assert.strictEqual(ok(viaJob), "drill-1\n")
        const id = ok(viaPlan).trim()
        assert.match(id, /^job-[a-z0-9]+$/)
        assert.strictEqual(viaPlan.stdout, `${id}\n`)
        assert.strictEqual(invalidSubmit.code, 2)
        assert.strictEqual(unreachable.code, 3)

        const [list, shown, taken] = await Promise.all([
          cli("job", "list", "--label", "plan=two-projects", "--json"),
          cli("job", "show", id, "--json"),
          cli("plan", "submit", yamlPlan, "--id", "drill-1")
        ])
        const jobs = JSON.parse(ok(list)) as Array<{ id: string; labels: Record<string, string> }>
        // the invalid plan wrote nothing
        assert.deepStrictEqual(jobs.map((j) => j.id).sort(), [id, "drill-1"].sort())
        assert.strictEqual(jobs.find((j) => j.id === id)?.labels.drill, "no")
        const view = JSON.parse(ok(shown)) as { state: string; tasks: Array<{ id: string; phase: string }> }
        assert.strictEqual(view.state, "pending")
        assert.strictEqual(view.tasks.length, 49)
        assert.strictEqual(taken.code, 2, "a job id already taken")

        // the plan's DAG as Graphviz draws it
        const graph = ok(await cli("job", "graph", id, "--format", "dot"))
        const graphviz = spawnSync("dot", ["-Tsvg"], { input: graph, encoding: "utf8" })
        assert.isUndefined(graphviz.error, "Graphviz's dot is required (scripts/setup.sh installs it)")
        assert.strictEqual(graphviz.status, 0, graphviz.stderr)
        assert.strictEqual(graphviz.stderr, "", "no Graphviz warnings")
        assert.strictEqual(
          graph.match(/ -> /g)?.length,
          graph.match(/label="undoes"/g)!.length + dependencies(document)
        )
      }),
    LONG
  )
})
