/**
 * `openstack/keypair.create`: imports a public key as a Nova key pair of the
 * user the runner acts as (key pairs belong to a user, not to a project; the
 * instances booted by the same user in any project can use it).
 *
 * Nova key pairs carry no tag, description or metadata, so the planned name
 * is the identity: an existing key pair of that name with the same key is
 * adopted (a retry, or a takeover after a crash whose POST outcome was
 * unknown), one with another key is a permanent conflict. The plan gives
 * each job its own name (e.g. `<source name>-<job hash>`).
 *
 * @since 0.1.0
 */
import { type TaskContext, TaskError, TaskHandler } from "@migrator/core"
import { Effect, Option, Schema } from "effect"
import * as Clouds from "../Clouds.ts"
import { mapErrors } from "../internal/handler.ts"
import type { Client } from "../OpenStackClient.ts"
import * as OpenStackError from "../OpenStackError.ts"

/**
 * @category schemas
 * @since 0.1.0
 */
export const Input = Schema.Struct({
  /** Name of the key pair on the recovery cloud (unique per user). */
  name: Schema.NonEmptyString,
  /** OpenSSH public key (or an x509 certificate with `type: "x509"`). */
  publicKey: Schema.NonEmptyString,
  type: Schema.optional(Schema.Literals(["ssh", "x509"]))
})

/**
 * @category schemas
 * @since 0.1.0
 */
export const Output = Schema.Struct({
  name: Schema.String,
  fingerprint: Schema.String,
  /** The user owning the key pair (the runner's user); `keypair.delete` needs it. */
  userId: Schema.String
})

/**
 * @category definitions
 * @since 0.1.0
 */
export const definition = TaskHandler.make("openstack/keypair.create", {
  input: Input,
  output: Output,
  retry: { maxAttempts: 5 },
  timeout: "2 minutes",
  description: "Imports a public key as a Nova key pair of the runner's user; adopts an identical key pair of that name"
})

// 2.10: `user_id` in the body and query (admin acting for a user); 2.2: `type`.
export const keypairMicroversion = "2.10"

const KeypairBody = Schema.Struct({
  keypair: Schema.Struct({
    name: Schema.String,
    public_key: Schema.String,
    fingerprint: Schema.String,
    user_id: Schema.optional(Schema.String)
  })
})

/** Type and key material; the trailing comment is not part of the key. */
const keyMaterial = (publicKey: string) => publicKey.trim().split(/\s+/).slice(0, 2).join(" ")

const read = (client: Client, name: string, userId: string) =>
  client
    .request("compute", "GET", `/os-keypairs/${encodeURIComponent(name)}`, {
      query: { user_id: userId },
      microversion: keypairMicroversion,
      schema: KeypairBody
    })
    .pipe(
      Effect.map((body) => Option.some(body.keypair)),
      OpenStackError.catchNotFound(() => Option.none())
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
      const session = yield* client.session
      if (session.userId === undefined) {
        return yield* TaskError.permanent("openstack.no-user", "the runner's token names no user to own the key pair")
      }
      const userId = session.userId
      const adopt = (found: { readonly public_key: string; readonly fingerprint: string }) =>
        keyMaterial(found.public_key) === keyMaterial(input.publicKey)
          ? Effect.succeed({ name: input.name, fingerprint: found.fingerprint, userId })
          : Effect.fail(
              TaskError.permanent(
                "openstack.keypair-exists",
                `key pair "${input.name}" of user ${userId} already exists with another public key`
              )
            )
      const existing = yield* read(client, input.name, userId)
      if (Option.isSome(existing)) return yield* adopt(existing.value)
      const created = yield* client
        .request("compute", "POST", "/os-keypairs", {
          body: {
            keypair: { name: input.name, public_key: input.publicKey, type: input.type ?? "ssh", user_id: userId }
          },
          microversion: keypairMicroversion,
          schema: KeypairBody
        })
        .pipe(
          Effect.map((body) => Option.some(body.keypair)),
          // someone (an earlier attempt whose answer was lost) created it meanwhile
          Effect.catchIf(
            (e) => e.reason._tag === "Conflict",
            () => Effect.succeed(Option.none())
          )
        )
      if (Option.isSome(created)) return { name: input.name, fingerprint: created.value.fingerprint, userId }
      const raced = yield* read(client, input.name, userId)
      if (Option.isSome(raced)) return yield* adopt(raced.value)
      return yield* TaskError.retryable("openstack.conflict", `key pair "${input.name}": conflict, then not found`)
    })
  )

/**
 * @category layers
 * @since 0.1.0
 */
export const layer = definition.toLayer(run)
