/**
 * `openstack/tenant.create`: the recovery project (a Keystone project in a
 * domain), a role on it for the runner's own user so later tasks can get
 * tokens scoped to it (`client.forProject`), and optionally its quotas in
 * Nova, Neutron and Cinder.
 *
 * Identity: the project is created with the task's marker as a tag (Keystone
 * takes tags in the POST), and looked up by name in its domain first. A
 * project of that name without the marker is someone else's: a permanent
 * failure, never adopted. Role assignment and quotas are PUTs, so a retry
 * simply sets them again.
 *
 * @since 0.1.0
 */
import { type TaskContext, TaskError, TaskHandler } from "@migrator/core"
import { Effect, Schema } from "effect"
import * as Clouds from "../Clouds.ts"
import { mapErrors } from "../internal/handler.ts"
import { findOrCreate, listAs, ownerMarker } from "../internal/neutronHandler.ts"
import type { Client } from "../OpenStackClient.ts"

const Limits = Schema.Record(Schema.String, Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(-1))))

/**
 * @category schemas
 * @since 0.1.0
 */
export const Input = Schema.Struct({
  name: Schema.NonEmptyString,
  description: Schema.optional(Schema.String),
  /** The domain, by id or by name (default `default`, Keystone's `Default`). */
  domain: Schema.optional(Schema.NonEmptyString),
  /** Default true. */
  enabled: Schema.optional(Schema.Boolean),
  /**
   * Roles (by name) given to the runner's user on the project, so that later
   * tasks can scope tokens to it. Default `["admin"]`.
   */
  roles: Schema.optional(Schema.Array(Schema.NonEmptyString)),
  /**
   * Quotas by service, with each API's own names (-1: unlimited):
   * `compute` (`instances`, `cores`, `ram`, …), `network` (`network`, `subnet`,
   * `port`, `router`, `floatingip`, `security_group`, `security_group_rule`, …),
   * `volume` (`volumes`, `gigabytes`, `snapshots`, …).
   */
  quotas: Schema.optional(
    Schema.Struct({
      compute: Schema.optional(Limits),
      network: Schema.optional(Limits),
      volume: Schema.optional(Limits)
    })
  )
})

/**
 * @category schemas
 * @since 0.1.0
 */
export const Output = Schema.Struct({
  projectId: Schema.String,
  name: Schema.String,
  domainId: Schema.String
})

/**
 * @category definitions
 * @since 0.1.0
 */
export const definition = TaskHandler.make("openstack/tenant.create", {
  input: Input,
  output: Output,
  retry: { maxAttempts: 5 },
  timeout: "3 minutes",
  description:
    "Creates the recovery project in a domain, gives the runner's user a role on it, sets its quotas; adopts its own earlier project"
})

const Project = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  domain_id: Schema.String,
  tags: Schema.optional(Schema.Array(Schema.String))
})

const Named = Schema.Struct({ id: Schema.String, name: Schema.String })

const domainOf = (client: Client, ref: string) =>
  Effect.gen(function* () {
    const byId = yield* listAs(client, "identity", "/domains", "domains", Named, { name: ref })
    if (byId[0] !== undefined) return byId[0].id
    // not a name: an id (Keystone answers 404 for an unknown one)
    const domain = yield* client
      .request("identity", "GET", `/domains/${encodeURIComponent(ref)}`, {
        schema: Schema.Struct({ domain: Named })
      })
      .pipe(
        Effect.catchIf(
          (e) => e.reason._tag === "NotFound",
          () => Effect.fail(TaskError.permanent("openstack.domain-not-found", `no domain named or with id "${ref}"`))
        )
      )
    return domain.domain.id
  })

const roleIds = (client: Client, names: ReadonlyArray<string>) =>
  Effect.forEach(names, (name) =>
    Effect.flatMap(listAs(client, "identity", "/roles", "roles", Named, { name }), (roles) => {
      const role = roles.find((r) => r.name === name)
      return role === undefined
        ? Effect.fail(TaskError.permanent("openstack.role-not-found", `no role named "${name}" in Keystone`))
        : Effect.succeed(role.id)
    })
  )

/**
 * @category handlers
 * @since 0.1.0
 */
export const run = (
  input: typeof Input.Type
): Effect.Effect<typeof Output.Type, TaskError.TaskError, Clouds.Clouds | TaskContext.TaskContext> =>
  mapErrors(
    Effect.gen(function* () {
      const client = yield* Clouds.current
      const marker = yield* ownerMarker
      const domainId = input.domain === undefined ? "default" : yield* domainOf(client, input.domain)
      const roles = yield* roleIds(client, input.roles ?? ["admin"])
      const session = yield* client.session
      if (session.userId === undefined) {
        return yield* Effect.fail(TaskError.permanent("openstack.no-user", "the cloud's token names no user"))
      }

      const byName = listAs(client, "identity", "/projects", "projects", Project, {
        name: input.name,
        domain_id: domainId
      }).pipe(Effect.map((projects) => projects.find((p) => p.name === input.name && p.domain_id === domainId)))
      const mine = Effect.flatMap(byName, (project) =>
        project === undefined || (project.tags ?? []).includes(marker)
          ? Effect.succeed(project)
          : Effect.fail(
              TaskError.permanent(
                "openstack.tenant-exists",
                `a project named "${input.name}" already exists in domain ${domainId} and was not made by this task (${project.id})`
              )
            )
      )
      const { value: project } = yield* findOrCreate(
        mine,
        client
          .request("identity", "POST", "/projects", {
            body: {
              project: {
                name: input.name,
                domain_id: domainId,
                description: input.description ?? "",
                enabled: input.enabled ?? true,
                tags: [marker]
              }
            },
            schema: Schema.Struct({ project: Project })
          })
          .pipe(Effect.map((body) => body.project))
      )

      for (const role of roles) {
        yield* client.request(
          "identity",
          "PUT",
          `/projects/${encodeURIComponent(project.id)}/users/${encodeURIComponent(session.userId)}/roles/${encodeURIComponent(role)}`
        )
      }

      const quotas = input.quotas
      if (quotas?.compute !== undefined && Object.keys(quotas.compute).length > 0) {
        yield* client.request("compute", "PUT", `/os-quota-sets/${encodeURIComponent(project.id)}`, {
          body: { quota_set: quotas.compute }
        })
      }
      if (quotas?.network !== undefined && Object.keys(quotas.network).length > 0) {
        yield* client.request("network", "PUT", `/quotas/${encodeURIComponent(project.id)}`, {
          body: { quota: quotas.network }
        })
      }
      if (quotas?.volume !== undefined && Object.keys(quotas.volume).length > 0) {
        yield* client.request("volumev3", "PUT", `/os-quota-sets/${encodeURIComponent(project.id)}`, {
          body: { quota_set: quotas.volume }
        })
      }
      return { projectId: project.id, name: project.name, domainId: project.domain_id }
    })
  )

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = definition.toLayer(run)
