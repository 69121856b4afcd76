/**
 * Turns a recovery plan into a job document (SPEC §4.7, §6): the run DAG
 * that rebuilds the plan's resources on the target cluster and the clear DAG
 * that removes them again in reverse order.
 *
 * Run DAG: tenant → security groups → rules (remote-group rules also after
 * the remote group) → networks → subnets → routers → floating IPs; keypairs
 * and flavors; volumes (copy or import); each instance after everything it
 * uses and after the instances it depends on; `instance.stop` after each
 * instance when `leaveInstancesStopped`.
 *
 * Clear DAG (each task `undoes` its run task): instances (dependants first),
 * then the volumes, floating IPs, keypairs and flavors they used, routers,
 * networks (with their subnets), security groups (with their rules), and
 * the tenant last. On confirm (the failover is kept) only the clear tasks of
 * what no recovered instance depends on run (`runOnConfirm`), as the
 * original did.
 *
 * Shared resources (SPEC §4.5): a tenant, security group (its rules are part
 * of it), network, subnet, router, keypair or flavor with a `sourceId`
 * carries a `shared` key naming the target cluster, the resource kind and
 * the source id, nested under its parent's key (a network's key extends its
 * tenant's; a subnet's, identified by `sourceId` or CIDR, extends its
 * network's), so two jobs recovering the same source resource to the same
 * cluster share one. A resource is shared only when what it lives in or
 * attaches to is shared too; otherwise the job keeps its own, and
 * {@link Step.notShared} says why. Rules whose remote is another group are
 * never shared: their handler adopts an equal rule, and they go with either
 * group. A shared subnet's hold is given up by a "release" clear task (see
 * {@link Step.action}), since subnets have no delete task of their own.
 *
 * @since 0.1.0
 */
import { JobBuilder } from "@migrator/core"
import { Effect, type Schema } from "effect"
import * as ComputeSteps from "./build/ComputeSteps.ts"
import * as NetworkSteps from "./build/NetworkSteps.ts"
import { sharing } from "./build/Sharing.ts"
import {
  type BuildOptions,
  type Built,
  compact,
  makeAssembly,
  out,
  type ProjectScope,
  res,
  type Step,
  taskIds,
  taskType
} from "./build/Steps.ts"
import * as Plan from "./Plan.ts"

export { describeRule } from "./build/NetworkSteps.ts"
export { type BuildOptions, type Built, type ResourceKind, type Step, taskIds, taskType } from "./build/Steps.ts"

/**
 * Builds the job document of a plan (validating it first). The document is
 * what `migrator job submit` accepts; {@link Built.steps} describe each task
 * in terms of the plan.
 */
export const plan = (document: Plan.Plan, options: BuildOptions = {}): Effect.Effect<Built, Plan.PlanError> =>
  Effect.suspend(() => {
    const problems = Plan.validate(document)
    if (problems.length > 0) return Effect.fail(new Plan.PlanError({ problems }))
    return Effect.succeed(assemble(document, options))
  })

/** Builds the job document of a plan (validating it first). */
export const build = (
  document: Plan.Plan,
  options: BuildOptions = {}
): Effect.Effect<JobBuilder.JobDocument, Plan.PlanError> => Effect.map(plan(document, options), (b) => b.document)

/**
 * Builds and validates the job with core's JobBuilder: the records to
 * submit. `types` are the handler input Schemas by type id (see
 * `PlanHandlers.inputs`); with them, unknown types and inputs without
 * references are checked too.
 */
export const buildJob = (
  document: Plan.Plan,
  options: BuildOptions & {
    readonly types?: ReadonlyMap<string, Schema.Codec<unknown, unknown>> | undefined
    readonly generateId?: Effect.Effect<string> | undefined
  } = {}
): Effect.Effect<JobBuilder.BuiltJob, Plan.PlanError | JobBuilder.JobValidationError> =>
  Effect.flatMap(build(document, options), (doc) =>
    JobBuilder.build(doc, compact({ types: options.types, generateId: options.generateId }))
  )

const assemble = (plan: Plan.Plan, options: BuildOptions): Built => {
  const idx = Plan.index(plan)
  const a = makeAssembly(plan, idx, sharing(plan, idx))
  const { add, undo, run, clear, opts, share } = a
  const steps: Array<Step> = []

  plan.projects.forEach((project, p) => {
    const pp = `projects[${p}]`
    const projectTask = taskIds.project(project.id)
    const projectId = out.projectId(project.id)
    const projectSharing = share.project(project)
    const scope: ProjectScope = { project, pp, projectTask, projectId, clearOfProject: [], rulesOf: new Map() }

    // tenant
    add(
      "run",
      "tenant.create",
      projectTask,
      [],
      compact({ name: project.name, description: project.description, quotas: project.quotas }),
      res("project", project.id, project.name, pp),
      projectSharing
    )

    NetworkSteps.securityGroups(a, scope)
    NetworkSteps.networks(a, scope)
    NetworkSteps.routers(a, scope)
    NetworkSteps.floatingIps(a, scope)
    ComputeSteps.keypairs(a, scope)
    ComputeSteps.flavors(a, scope)
    ComputeSteps.volumes(a, scope)
    ComputeSteps.instances(a, scope)

    // the tenant goes last
    undo(
      projectTask,
      "tenant.delete",
      scope.clearOfProject,
      { projectId, createdBy: projectTask },
      res("project", project.id, project.name, pp),
      projectSharing
    )
  })

  // Confirm keeps what the recovered instances use (everything their creation depended on, transitively);
  // the clear tasks of the rest run on confirm too. A subnet's hold is released with its network's.
  const runDeps = new Map(run.map((s) => [s.task.id, s.task.dependencies ?? []]))
  const used = new Set<string>()
  const pending = run.filter((s) => s.task.type === taskType("instance.create")).map((s) => s.task.id)
  while (pending.length > 0) {
    const id = pending.pop()!
    if (used.has(id)) continue
    used.add(id)
    pending.push(...(runDeps.get(id) ?? []))
  }
  const networkOf = new Map(
    [...idx.subnets.values()].map((s) => [taskIds.subnet(s.value.id), taskIds.network(s.network.id)])
  )
  const confirmed = clear.map((s): Step => {
    const undone = s.action === "release" ? (networkOf.get(s.task.undoes!) ?? s.task.undoes!) : s.task.undoes!
    return used.has(undone) ? s : { ...s, task: { ...s.task, runOnConfirm: true } }
  })

  steps.push(...run, ...confirmed)
  const toEntry = (s: Step) => s.task
  const document: JobBuilder.JobDocument = {
    ...(options.jobId === undefined ? {} : { id: options.jobId }),
    labels: {
      ...plan.labels,
      ...(plan.name === undefined ? {} : { plan: plan.name }),
      target: plan.target,
      ...(plan.source === undefined ? {} : { source: plan.source }),
      ...options.labels
    },
    target: plan.target,
    ...(opts.autoRollbackAfterMs === undefined ? {} : { autoRollbackAfterMs: opts.autoRollbackAfterMs }),
    ...(opts.rtoMs === undefined ? {} : { rtoMs: opts.rtoMs }),
    tasks: run.map(toEntry),
    clearTasks: confirmed.map((s) => s.task as JobBuilder.ClearEntry)
  }
  return { document, steps }
}
