/**
 * `openstack/tenant.*` against `cloud`: the simulator, or a real OpenStack
 * when `OS_AUTH_URL` is set. Each handler is run, run again with the same job
 * and task ids (it must adopt, not duplicate), undone, and undone again;
 * Keystone and Neutron are then listed to check that nothing was left behind
 * or made twice.
 */
import { assert, describe, it } from "@effect/vitest"
import type { TaskError } from "@migrator/core"
import * as TenantCreate from "@migrator/tasks-openstack/handlers/TenantCreate"
import * as TenantDelete from "@migrator/tasks-openstack/handlers/TenantDelete"
import { Effect, Exit, Schema } from "effect"
import { type Cloud, cloud, realCloud, recordingClient, taskLayer, uniqueJobId } from "../support/cloud.ts"

/** A real cloud on a loaded two-core machine takes its time. */
const timeout = realCloud ? 300_000 : 60_000

const Project = Schema.Struct({ id: Schema.String, name: Schema.String, tags: Schema.Array(Schema.String) })

const failure = <A>(exit: Exit.Exit<A, TaskError.TaskError>): TaskError.TaskError => {
  assert.isTrue(Exit.isFailure(exit), "expected the task to fail")
  const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail") : undefined
  assert.isDefined(error)
  return (error as { readonly error: TaskError.TaskError }).error
}

const projectsNamed = (c: Cloud, name: string) =>
  c.client
    .list("identity", "/projects", "projects", { name })
    .pipe(Effect.flatMap(Schema.decodeUnknownEffect(Schema.Array(Project))), Effect.orDie)

/** Runs `tenant.create` as task `taskId` of job `jobId`; the project goes at the end of the test, whatever happens. */
const createTenant = (c: Cloud, jobId: string, taskId: string, input: typeof TenantCreate.Input.Type) =>
  TenantCreate.run(input).pipe(
    Effect.provide(taskLayer(c, { jobId, taskId })),
    Effect.tap((out) =>
      Effect.addFinalizer(() =>
        TenantDelete.run({ projectId: out.projectId, force: true }).pipe(
          Effect.provide(taskLayer(c, { jobId, taskId: `${taskId}-cleanup`, phase: "clear" })),
          Effect.ignore
        )
      )
    )
  )

const deleteTenant = (c: Cloud, jobId: string, input: typeof TenantDelete.Input.Type) =>
  TenantDelete.run(input).pipe(Effect.provide(taskLayer(c, { jobId, taskId: "t1-undo", phase: "clear" })))

const hasRole = (c: Cloud, projectId: string) =>
  c.client
    .list("identity", "/role_assignments", "role_assignments", {
      "user.id": c.admin.userId,
      "scope.project.id": projectId
    })
    .pipe(Effect.map((assignments) => assignments.length > 0))

describe("openstack/tenant.*", () => {
  it.live(
    "create with a role for the runner's user, adopt on a second run, delete twice",
    () =>
      Effect.gen(function* () {
        const c = yield* cloud
        const jobId = yield* uniqueJobId("tenant")
        const name = `mig-${jobId}`
        const input = { name, description: "recovered project" }

        const first = yield* createTenant(c, jobId, "t1", input)
        assert.strictEqual(first.name, name)
        assert.strictEqual(first.domainId, "default")
        const again = yield* createTenant(c, jobId, "t1", input)
        assert.deepStrictEqual(again, first)

        const projects = yield* projectsNamed(c, name)
        assert.strictEqual(projects.length, 1, "one project, not two")
        assert.include(projects[0]!.tags, `migrator:${jobId}:t1`)
        assert.isTrue(yield* hasRole(c, first.projectId), "the runner's user has a role on the project")
        // later tasks can act inside the project
        const scoped = c.client.forProject(first.projectId)
        assert.strictEqual((yield* scoped.session).projectId, first.projectId)
        // which makes Neutron give it a default security group
        yield* scoped.list("network", "/security-groups", "security_groups")

        assert.deepStrictEqual(yield* deleteTenant(c, jobId, { projectId: first.projectId }), {
          deleted: [first.projectId]
        })
        assert.deepStrictEqual(yield* projectsNamed(c, name), [])
        // (listing with a project_id filter would make Neutron create the group again)
        const groups = (yield* c.client.list("network", "/security-groups", "security_groups")).filter(
          (g) => (g as { project_id?: string }).project_id === first.projectId
        )
        assert.deepStrictEqual(groups, [], "no default security group left behind")
        assert.deepStrictEqual(yield* deleteTenant(c, jobId, { projectId: first.projectId }), { deleted: [] })
      }).pipe(Effect.scoped),
    timeout
  )

  it.live(
    "a project of the same name that another task made is refused, never adopted",
    () =>
      Effect.gen(function* () {
        const c = yield* cloud
        const jobId = yield* uniqueJobId("tenant")
        const name = `mig-${jobId}`
        yield* createTenant(c, jobId, "t1", { name })
        const error = failure(yield* Effect.exit(createTenant(c, jobId, "t2", { name })))
        assert.strictEqual(error.code, "openstack.tenant-exists")
        assert.isFalse(error.retryable)
        assert.strictEqual((yield* projectsNamed(c, name)).length, 1)
      }).pipe(Effect.scoped),
    timeout
  )

  it.live(
    "a domain by name; an unknown domain or role is a permanent failure",
    () =>
      Effect.gen(function* () {
        const c = yield* cloud
        const jobId = yield* uniqueJobId("tenant")
        const out = yield* createTenant(c, jobId, "t1", { name: `mig-${jobId}`, domain: "Default", roles: ["member"] })
        assert.strictEqual(out.domainId, "default")
        assert.isTrue(yield* hasRole(c, out.projectId))
        const domain = failure(
          yield* Effect.exit(createTenant(c, jobId, "t2", { name: `x-${jobId}`, domain: "nowhere" }))
        )
        assert.strictEqual(domain.code, "openstack.domain-not-found")
        const role = failure(
          yield* Effect.exit(createTenant(c, jobId, "t3", { name: `y-${jobId}`, roles: ["no-such"] }))
        )
        assert.strictEqual(role.code, "openstack.role-not-found")
        assert.deepStrictEqual(yield* projectsNamed(c, `x-${jobId}`), [])
        assert.deepStrictEqual(yield* projectsNamed(c, `y-${jobId}`), [])
      }).pipe(Effect.scoped),
    timeout
  )

  it.live(
    "network quotas are set on the project",
    () =>
      Effect.gen(function* () {
        const c = yield* cloud
        const jobId = yield* uniqueJobId("tenant")
        const out = yield* createTenant(c, jobId, "t1", {
          name: `mig-${jobId}`,
          quotas: { network: { network: 7, router: 3, floatingip: 4 } }
        })
        const quota = yield* c.client.request("network", "GET", `/quotas/${out.projectId}`, {
          schema: Schema.Struct({
            quota: Schema.Struct({ network: Schema.Number, router: Schema.Number, floatingip: Schema.Number })
          })
        })
        assert.deepStrictEqual(quota.quota, { network: 7, router: 3, floatingip: 4 })
      }).pipe(Effect.scoped),
    timeout
  )

  it.live(
    "the quotas set on the project are removed with it",
    () =>
      Effect.gen(function* () {
        const c = yield* cloud
        const jobId = yield* uniqueJobId("tenant")
        const out = yield* createTenant(c, jobId, "t1", {
          name: `mig-${jobId}`,
          quotas: { compute: { instances: 5 }, network: { port: 120 }, volume: { volumes: 40 } }
        })
        const Limit = (key: string, member: string) =>
          Schema.Struct({ [member]: Schema.Struct({ [key]: Schema.Number }) })
        // Nova, Neutron and Cinder keep quotas by project id; Neutron and Cinder show them after the project is gone
        const show = Effect.all({
          port: c.client.request("network", "GET", `/quotas/${out.projectId}`, { schema: Limit("port", "quota") }),
          volumes: c.client.request("volumev3", "GET", `/os-quota-sets/${out.projectId}`, {
            schema: Limit("volumes", "quota_set")
          })
        })
        const set = yield* show
        const instances = yield* c.client.request("compute", "GET", `/os-quota-sets/${out.projectId}`, {
          schema: Limit("instances", "quota_set")
        })
        assert.deepStrictEqual(
          [instances.quota_set.instances, set.port.quota.port, set.volumes.quota_set.volumes],
          [5, 120, 40]
        )
        const recorded = yield* recordingClient(c)
        yield* TenantDelete.run({ projectId: out.projectId }).pipe(
          Effect.provide(taskLayer({ ...c, client: recorded.client }, { jobId, taskId: "t1-undo", phase: "clear" }))
        )
        const after = yield* show
        const defaults = yield* Effect.all({
          port: c.client.request("network", "GET", `/quotas/${out.projectId}/default`, {
            schema: Limit("port", "quota")
          }),
          volumes: c.client.request("volumev3", "GET", `/os-quota-sets/${out.projectId}/defaults`, {
            schema: Limit("volumes", "quota_set")
          })
        })
        assert.deepStrictEqual(after, defaults)
        // Neutron lists only projects with quotas of their own
        const listed = yield* c.client.list("network", "/quotas", "quotas")
        assert.isFalse(
          listed.some((q) => (q as { readonly project_id?: string }).project_id === out.projectId),
          "Neutron still lists the deleted project's quotas"
        )
        // a real Nova refuses to show the quotas of a deleted project (not a valid project): its DELETE is the evidence
        const reset = recorded
          .calls()
          .filter((x) => x.method === "DELETE" && x.status < 300 && x.path.endsWith(`/os-quota-sets/${out.projectId}`))
        assert.isTrue(
          reset.some((x) => x.path.includes("/v2.1/")),
          `no Nova quota reset among ${JSON.stringify(reset)}`
        )
      }).pipe(Effect.scoped),
    timeout
  )

  it.live(
    "compute and volume quotas are set on the project",
    () =>
      Effect.gen(function* () {
        const c = yield* cloud
        const jobId = yield* uniqueJobId("tenant")
        const out = yield* createTenant(c, jobId, "t1", {
          name: `mig-${jobId}`,
          quotas: { compute: { instances: 5, cores: 11 }, volume: { volumes: 6 } }
        })
        const compute = yield* c.client.request("compute", "GET", `/os-quota-sets/${out.projectId}`, {
          schema: Schema.Struct({ quota_set: Schema.Struct({ instances: Schema.Number, cores: Schema.Number }) })
        })
        assert.deepStrictEqual(compute.quota_set, { instances: 5, cores: 11 })
        const volume = yield* c.client.request("volumev3", "GET", `/os-quota-sets/${out.projectId}`, {
          schema: Schema.Struct({ quota_set: Schema.Struct({ volumes: Schema.Number }) })
        })
        assert.strictEqual(volume.quota_set.volumes, 6)
      }).pipe(Effect.scoped),
    timeout
  )

  it.live(
    "delete finds the project by its marker when only the create task is known",
    () =>
      Effect.gen(function* () {
        const c = yield* cloud
        const jobId = yield* uniqueJobId("tenant")
        const out = yield* createTenant(c, jobId, "t1", { name: `mig-${jobId}` })
        assert.deepStrictEqual(yield* deleteTenant(c, jobId, { createdBy: "t1" }), { deleted: [out.projectId] })
        assert.deepStrictEqual(yield* projectsNamed(c, `mig-${jobId}`), [])
        assert.deepStrictEqual(yield* deleteTenant(c, jobId, { createdBy: "t1" }), { deleted: [] })
        const none = failure(yield* Effect.exit(deleteTenant(c, jobId, {})))
        assert.strictEqual(none.code, "openstack.invalid-input")
      }).pipe(Effect.scoped),
    timeout
  )

  it.live(
    "delete refuses a project migrator did not make (unless forced) and the runner's own project",
    () =>
      Effect.gen(function* () {
        const c = yield* cloud
        const jobId = yield* uniqueJobId("tenant")
        const foreign = (yield* c.client.request("identity", "POST", "/projects", {
          body: { project: { name: `foreign-${jobId}`, domain_id: "default" } },
          schema: Schema.Struct({ project: Schema.Struct({ id: Schema.String }) })
        })).project
        yield* Effect.addFinalizer(() =>
          c.client.request("identity", "DELETE", `/projects/${foreign.id}`).pipe(Effect.ignore)
        )
        const refused = failure(yield* Effect.exit(deleteTenant(c, jobId, { projectId: foreign.id })))
        assert.strictEqual(refused.code, "openstack.tenant-not-owned")
        assert.isFalse(refused.retryable)
        assert.strictEqual((yield* projectsNamed(c, `foreign-${jobId}`)).length, 1)
        const own = failure(yield* Effect.exit(deleteTenant(c, jobId, { projectId: c.admin.projectId, force: true })))
        assert.strictEqual(own.code, "openstack.tenant-in-use")
        assert.deepStrictEqual(yield* deleteTenant(c, jobId, { projectId: foreign.id, force: true }), {
          deleted: [foreign.id]
        })
      }).pipe(Effect.scoped),
    timeout
  )
})
