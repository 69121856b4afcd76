/**
 * `openstack/flavor.create`: a Nova flavor with the planned sizes and extra
 * specs; a private flavor is given access for the recovery project.
 *
 * Identity: the task's owner tag is the flavor's description (microversion
 * 2.55), so a retry or a takeover finds the flavor an earlier attempt made
 * even when that POST's answer was lost. A flavor of the same name that is
 * not ours is a permanent conflict (names are unique in Nova).
 *
 * @since 0.1.0
 */
import { type TaskContext, TaskError, TaskHandler } from "@migrator/core"
import { Effect, Schema } from "effect"
import * as Clouds from "../Clouds.ts"
import { mapErrors, ownerTag } from "../internal/handler.ts"
import type { Client } from "../OpenStackClient.ts"

const Count = Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(0)))
const Positive = Schema.Int.pipe(Schema.check(Schema.isGreaterThanOrEqualTo(1)))

/**
 * @category schemas
 * @since 0.1.0
 */
export const Input = Schema.Struct({
  name: Schema.NonEmptyString,
  vcpus: Positive,
  ramMiB: Positive,
  /** Root disk in GiB (0: the size of the boot volume or image). */
  diskGiB: Count,
  ephemeralGiB: Schema.optional(Count),
  swapMiB: Schema.optional(Count),
  /** Default true. */
  isPublic: Schema.optional(Schema.Boolean),
  extraSpecs: Schema.optional(Schema.Record(Schema.String, Schema.String)),
  /** Project given access to a private flavor (the recovery tenant). */
  projectId: Schema.optional(Schema.String)
})

/**
 * @category schemas
 * @since 0.1.0
 */
export const Output = Schema.Struct({
  flavorId: Schema.String,
  name: Schema.String
})

/**
 * @category definitions
 * @since 0.1.0
 */
export const definition = TaskHandler.make("openstack/flavor.create", {
  input: Input,
  output: Output,
  retry: { maxAttempts: 5 },
  timeout: "2 minutes",
  description: "Creates a Nova flavor with extra specs (and project access when private); adopts its own earlier flavor"
})

// 2.55: flavor description; 2.61: extra specs in flavor bodies.
const microversion = "2.61"

const FlavorView = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  description: Schema.optional(Schema.NullOr(Schema.String)),
  "os-flavor-access:is_public": Schema.optional(Schema.Boolean)
})

const findOwned = (client: Client, tag: string) =>
  client.list("compute", "/flavors/detail", "flavors", { is_public: "None" }, { microversion }).pipe(
    Effect.flatMap(Schema.decodeUnknownEffect(Schema.Array(FlavorView))),
    Effect.map((flavors) => flavors.find((f) => f.description === tag)),
    Effect.catchTag("SchemaError", (e) =>
      Effect.fail(TaskError.permanent("openstack.invalid-response", `unexpected flavor list: ${e.message}`))
    )
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
      const tag = yield* ownerTag
      const isPublic = input.isPublic ?? true
      let flavor = yield* findOwned(client, tag)
      if (flavor !== undefined) {
        yield* Effect.logInfo("adopting the flavor an earlier attempt made").pipe(
          Effect.annotateLogs({ flavorId: flavor.id })
        )
      }
      if (flavor === undefined) {
        const created = yield* client
          .request("compute", "POST", "/flavors", {
            body: {
              flavor: {
                name: input.name,
                vcpus: input.vcpus,
                ram: input.ramMiB,
                disk: input.diskGiB,
                "OS-FLV-EXT-DATA:ephemeral": input.ephemeralGiB ?? 0,
                swap: input.swapMiB ?? 0,
                "os-flavor-access:is_public": isPublic,
                description: tag
              }
            },
            microversion,
            schema: Schema.Struct({ flavor: FlavorView })
          })
          .pipe(
            Effect.map((body) => body.flavor),
            Effect.catchIf(
              (e) => e.reason._tag === "Conflict",
              (e) =>
                // ours after all (an earlier POST whose answer was lost), or someone else's name
                Effect.flatMap(findOwned(client, tag), (mine) =>
                  mine !== undefined
                    ? Effect.succeed(mine)
                    : Effect.fail(
                        TaskError.permanent(
                          "openstack.flavor-exists",
                          `a flavor named "${input.name}" already exists and was not made by this task: ${e.reason.message}`
                        )
                      )
                )
            )
          )
        flavor = created
      }
      const flavorId = flavor.id
      if (input.extraSpecs !== undefined && Object.keys(input.extraSpecs).length > 0) {
        // setting the same specs again is harmless
        yield* client.request("compute", "POST", `/flavors/${encodeURIComponent(flavorId)}/os-extra_specs`, {
          body: { extra_specs: input.extraSpecs },
          microversion,
          idempotent: true
        })
      }
      if (!isPublic && input.projectId !== undefined) {
        yield* client
          .request("compute", "POST", `/flavors/${encodeURIComponent(flavorId)}/action`, {
            body: { addTenantAccess: { tenant: input.projectId } },
            microversion,
            idempotent: true
          })
          .pipe(
            // the access exists already (an earlier attempt)
            Effect.catchIf(
              (e) => e.reason._tag === "Conflict",
              () => Effect.void
            )
          )
      }
      return { flavorId, name: flavor.name }
    })
  )

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = definition.toLayer(run)
