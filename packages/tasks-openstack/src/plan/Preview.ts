/**
 * What a recovery plan will do on the target cluster, before anything runs:
 * the resources the job creates, those it shares with other jobs (and so may
 * reuse instead of creating), the instances it stops, and what its clear
 * phase deletes. Structured for the API and the CLI, plus a text rendering.
 *
 * @since 0.1.0
 */
import { Codec, type Keys, SharedResource, Store, type StoreError } from "@migrator/core"
import { Effect, Option } from "effect"
import type * as Plan from "./Plan.ts"
import * as PlanBuilder from "./PlanBuilder.ts"

export interface Item {
  /** The task id in the job. */
  readonly task: string
  /** The handler type id, e.g. `openstack/network.create`. */
  readonly type: string
  readonly kind: PlanBuilder.ResourceKind
  /** Plan id of the resource. */
  readonly id: string
  readonly name: string
  /** Path in the plan. */
  readonly path: string
  /** The shared key, when the resource is shared with other jobs. */
  readonly shared?: string
  /** Why a shareable resource is the job's own. */
  readonly notShared?: string
  /** Clear phase: deleted on confirm too (no recovered instance uses it), not only on rollback. */
  readonly onConfirm?: true
}

export interface Preview {
  readonly name: string | undefined
  readonly source: string | undefined
  readonly target: string
  readonly runTasks: number
  readonly clearTasks: number
  /** Created by the job. */
  readonly create: ReadonlyArray<Item>
  /**
   * Shared resources another job already holds (per `existing`): adopted, no cloud call. Without
   * `existing`, every shared resource is listed under `create` and marked shared.
   */
  readonly reuse: ReadonlyArray<Item>
  /** Instances stopped once recovered (`leaveInstancesStopped`). */
  readonly stop: ReadonlyArray<Item>
  /**
   * Deleted by the clear phase, in an order the DAG allows; a shared resource only when no other
   * job holds it any more.
   */
  readonly delete: ReadonlyArray<Item>
  /** Shared subnets whose hold the clear phase gives up (they go with their network). */
  readonly release: ReadonlyArray<Item>
}

export interface PreviewOptions extends PlanBuilder.BuildOptions {
  /** Whether a shared resource already exists on the target (e.g. read from the store's shared records). */
  readonly existing?: ((sharedKey: string) => boolean) | undefined
}

/**
 * Which shared resources exist (or are being made) in a store, for {@link PreviewOptions.existing}:
 * the keys of its shared records that are `ready` or `creating`.
 */
export const existingIn = (
  keys: Keys.Layout
): Effect.Effect<(sharedKey: string) => boolean, StoreError.StoreError, Store.Store> =>
  Effect.gen(function* () {
    const store = yield* Store.Store
    const { kvs } = yield* store.range(keys.sharedPrefix)
    const decode = Codec.decode(SharedResource.SharedRecord)
    const found = new Set<string>()
    for (const kv of kvs) {
      const record = yield* Effect.option(decode(kv.key, kv.value))
      if (Option.isSome(record) && (record.value.state === "ready" || record.value.state === "creating")) {
        found.add(decodeURIComponent(kv.key.slice(keys.sharedPrefix.length)))
      }
    }
    return (key: string) => found.has(key)
  })

/** The preview of a plan (validating it first). */
export const preview = (plan: Plan.Plan, options: PreviewOptions = {}): Effect.Effect<Preview, Plan.PlanError> =>
  Effect.map(PlanBuilder.plan(plan, options), (built) => fromSteps(plan, built, options.existing))

const item = (step: PlanBuilder.Step): Item => ({
  task: step.task.id,
  type: step.task.type,
  kind: step.resource.kind,
  id: step.resource.id,
  name: step.resource.name,
  path: step.resource.path,
  ...(step.task.shared === undefined ? {} : { shared: step.task.shared }),
  ...(step.notShared === undefined ? {} : { notShared: step.notShared }),
  ...(step.task.runOnConfirm === true ? { onConfirm: true as const } : {})
})

const fromSteps = (
  plan: Plan.Plan,
  built: PlanBuilder.Built,
  existing: ((key: string) => boolean) | undefined
): Preview => {
  const runSteps = built.steps.filter((s) => s.phase === "run")
  const exists = (s: PlanBuilder.Step) => s.task.shared !== undefined && existing?.(s.task.shared) === true
  return {
    name: plan.name,
    source: plan.source,
    target: plan.target,
    runTasks: runSteps.length,
    clearTasks: built.steps.length - runSteps.length,
    create: runSteps.filter((s) => s.action === "create" && !exists(s)).map(item),
    reuse: runSteps.filter((s) => s.action === "create" && exists(s)).map(item),
    stop: runSteps.filter((s) => s.action === "stop").map(item),
    delete: topological(built.steps.filter((s) => s.phase === "clear" && s.action === "delete")).map(item),
    release: built.steps.filter((s) => s.action === "release").map(item)
  }
}

/** Clear steps wave by wave: each wave's dependencies are in earlier waves; plan order within a wave. */
const topological = (steps: ReadonlyArray<PlanBuilder.Step>): ReadonlyArray<PlanBuilder.Step> => {
  const ids = new Set(steps.map((s) => s.task.id))
  const done = new Set<string>()
  const ordered: Array<PlanBuilder.Step> = []
  let left = steps
  while (left.length > 0) {
    const ready = left.filter((s) => (s.task.dependencies ?? []).every((d) => done.has(d) || !ids.has(d)))
    // a cycle cannot happen in a built plan; list what is left rather than loop
    const wave = ready.length > 0 ? ready : left
    for (const s of wave) done.add(s.task.id)
    ordered.push(...wave)
    left = left.filter((s) => !done.has(s.task.id))
  }
  return ordered
}

const label: Record<PlanBuilder.ResourceKind, string> = {
  project: "project",
  "security-group": "security group",
  "security-group-rule": "security group rule",
  network: "network",
  subnet: "subnet",
  router: "router",
  "floating-ip": "floating IP",
  keypair: "keypair",
  flavor: "flavor",
  volume: "volume",
  instance: "instance"
}

/** A text rendering of a preview, one resource per line. */
export const render = (p: Preview): string => {
  const lines: Array<string> = []
  const title = p.name === undefined ? "Recovery plan" : `Recovery plan "${p.name}"`
  lines.push(`${title}: ${p.source === undefined ? "" : `${p.source} -> `}${p.target}`)
  lines.push(`${p.runTasks} run tasks, ${p.clearTasks} clear tasks`)
  const width = Math.max(
    0,
    ...[...p.create, ...p.reuse, ...p.stop, ...p.delete, ...p.release].map((i) => describe(i).length)
  )
  const section = (heading: string, items: ReadonlyArray<Item>, note: (i: Item) => string) => {
    if (items.length === 0) return
    lines.push("", `${heading} (${items.length}):`)
    for (const i of items) {
      const n = note(i)
      lines.push(`  ${describe(i).padEnd(width)}  ${i.task}${n === "" ? "" : `  ${n}`}`)
    }
  }
  section("Create", p.create, (i) =>
    i.shared !== undefined
      ? "shared: reused if another job holds it"
      : i.notShared === undefined
        ? ""
        : `own: ${i.notShared}`
  )
  section("Reuse", p.reuse, () => "shared: held by another job")
  section("Stop", p.stop, () => "")
  section("Delete on rollback", p.delete, (i) =>
    [i.onConfirm ? "also on confirm" : "", i.shared === undefined ? "" : "shared: only when no other job holds it"]
      .filter((n) => n !== "")
      .join("; ")
  )
  section("Release on rollback", p.release, () => "goes with its network")
  return lines.join("\n")
}

const describe = (i: Item) => `${label[i.kind]} ${i.name}${i.name === i.id ? "" : ` (${i.id})`}`
