/**
 * `openstack/tenant.delete`: removes the recovery project. Neutron makes a
 * `default` security group in every project that uses the network service
 * and Keystone does not remove it with the project, so the handler deletes
 * the project's `default` groups first. Nova, Neutron and Cinder keep the
 * quotas `tenant.create` set after the project is gone, so they are reset
 * too. Everything else in the project is removed by the clear tasks this one
 * depends on.
 *
 * Safety: a project that carries no migrator marker tag was not made by
 * `tenant.create` and is refused (permanent) unless `force` is set; so is the
 * project the runner's own credentials are scoped to. A project that is gone
 * already is success.
 *
 * @since 0.1.0
 */
import { type TaskContext, TaskError, TaskHandler } from "@migrator/core"
import { Effect, Schema } from "effect"
import * as Clouds from "../Clouds.ts"
import { mapErrors } from "../internal/handler.ts"
import { DeleteOutput, deleteIfPresent, getIfPresent, listAs, markerOfTask } from "../internal/neutronHandler.ts"

/**
 * @category schemas
 * @since 0.1.0
 */
export const Input = Schema.Struct({
  /** The project (the output of `tenant.create`). */
  projectId: Schema.optional(Schema.String),
  /** The `tenant.create` task: the project it made is found by its marker tag (when it has no output). */
  createdBy: Schema.optional(Schema.String),
  /** Delete even a project that `tenant.create` did not make. Default false. */
  force: Schema.optional(Schema.Boolean)
})

/**
 * @category schemas
 * @since 0.1.0
 */
export const Output = DeleteOutput

/**
 * @category definitions
 * @since 0.1.0
 */
export const definition = TaskHandler.make("openstack/tenant.delete", {
  input: Input,
  output: Output,
  retry: { maxAttempts: 5 },
  timeout: "3 minutes",
  description:
    "Deletes the recovery project (and the default security groups Neutron made in it, and its quotas); gone is success"
})

const Project = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  tags: Schema.optional(Schema.Array(Schema.String))
})

const Group = Schema.Struct({ id: Schema.String, name: Schema.String, project_id: Schema.optional(Schema.String) })

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
      if (input.projectId === undefined && input.createdBy === undefined) {
        return yield* Effect.fail(
          TaskError.permanent("openstack.invalid-input", "neither projectId nor createdBy names the project")
        )
      }
      const ids = input.projectId === undefined ? [] : [input.projectId]
      if (input.createdBy !== undefined) {
        const marker = yield* markerOfTask(input.createdBy)
        const tagged = yield* listAs(client, "identity", "/projects", "projects", Project, { tags: marker })
        ids.push(...tagged.filter((p) => (p.tags ?? []).includes(marker)).map((p) => p.id))
      }
      const session = yield* client.session
      const deleted: Array<string> = []
      for (const id of new Set(ids)) {
        const path = `/projects/${encodeURIComponent(id)}`
        const found = yield* getIfPresent(client, "identity", path, Schema.Struct({ project: Project }))
        if (found === undefined) continue
        const project = found.project
        if (project.id === session.projectId) {
          return yield* Effect.fail(
            TaskError.permanent(
              "openstack.tenant-in-use",
              `project ${project.name} (${project.id}) is the one the runner's credentials are scoped to`
            )
          )
        }
        if (input.force !== true && !(project.tags ?? []).some((t) => t.startsWith("migrator:"))) {
          return yield* Effect.fail(
            TaskError.permanent(
              "openstack.tenant-not-owned",
              `project ${project.name} (${project.id}) was not made by migrator (no migrator tag); set force to delete it`
            )
          )
        }
        const groups = yield* listAs(client, "network", "/security-groups", "security_groups", Group, {
          project_id: project.id,
          name: "default"
        })
        for (const group of groups) {
          if (group.name !== "default" || group.project_id !== project.id) continue
          yield* deleteIfPresent(client, "network", `/security-groups/${encodeURIComponent(group.id)}`)
        }
        // quotas outlive the project in each service (they are keyed by its id): reset them while it exists
        const quotas = encodeURIComponent(project.id)
        yield* deleteIfPresent(client, "compute", `/os-quota-sets/${quotas}`)
        yield* deleteIfPresent(client, "network", `/quotas/${quotas}`)
        yield* deleteIfPresent(client, "volumev3", `/os-quota-sets/${quotas}`)
        yield* deleteIfPresent(client, "identity", path)
        deleted.push(project.id)
      }
      return { deleted }
    })
  )

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = definition.toLayer(run)
