/**
 * Example: a task-handler plugin. A module like this one, exporting `layer`,
 * is loaded by `migrator run --plugins ./path/to/dns-plugin.ts`.
 *
 * The handler records a DNS name for an address in an (imaginary) zone kept
 * in memory. It shows the parts every handler has: Schemas for input and
 * output, a retry policy and timeout, idempotency (a second delivery finds the
 * record and adopts it), and typed, retryable-or-not failures.
 */
import { TaskContext, TaskError, TaskHandler } from "@migrator/core"
import { Context, Effect, Layer, Schema } from "effect"

/** The service the handler talks to; a real plugin would wrap an HTTP API here. */
export class Zone extends Context.Service<
  Zone,
  {
    readonly find: (name: string) => Effect.Effect<{ readonly address: string; readonly owner: string } | undefined>
    readonly put: (name: string, address: string, owner: string) => Effect.Effect<void>
  }
>()("example/Zone") {}

export const zoneInMemory = Layer.sync(Zone, () => {
  const records = new Map<string, { readonly address: string; readonly owner: string }>()
  return {
    find: (name) => Effect.sync(() => records.get(name)),
    put: (name, address, owner) => Effect.sync(() => void records.set(name, { address, owner }))
  }
})

export const DnsRecord = TaskHandler.make("example/dns.record", {
  input: Schema.Struct({ name: Schema.String, address: Schema.String }),
  output: Schema.Struct({ fqdn: Schema.String, adopted: Schema.Boolean }),
  retry: { maxAttempts: 3 },
  timeout: "30 seconds",
  description: "Points a DNS name at an address"
})

export const dnsRecord = DnsRecord.toLayer((input) =>
  Effect.gen(function* () {
    const zone = yield* Zone
    const task = yield* TaskContext.TaskContext
    // delivery is at least once: tag what we create with the job and task, and adopt it on a retry
    const owner = `${task.jobId}/${task.taskId}`
    const fqdn = `${input.name}.dr.example.`
    const existing = yield* zone.find(fqdn)
    if (existing !== undefined) {
      if (existing.owner !== owner) {
        return yield* TaskError.permanent("dns.taken", `${fqdn} already points at ${existing.address}`)
      }
      return { fqdn, adopted: true }
    }
    yield* zone.put(fqdn, input.address, owner)
    return { fqdn, adopted: false }
  })
)

/** What `--plugins` loads: every handler of the plugin, with the services they need. */
export const layer = dnsRecord.pipe(Layer.provide(zoneInMemory))
