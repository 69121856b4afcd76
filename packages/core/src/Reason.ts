/**
 * Why a task or job ended the way it did: a stable machine code, a human
 * message and optional details. Persisted with task results and events.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

export class Reason extends Schema.Class<Reason>("@migrator/core/Reason")({
  code: Schema.String,
  message: Schema.String,
  details: Schema.optional(Schema.Json)
}) {}

export const make = (code: string, message: string, details?: Schema.Json): Reason =>
  new Reason(details === undefined ? { code, message } : { code, message, details })
