/**
 * Encoding of domain records to and from the JSON strings stored in the
 * store. Decode failures name the key and the field, so a corrupted or
 * foreign value yields an actionable error instead of a crash.
 *
 * @since 0.1.0
 */
import { type Effect, Exit, Schema, SchemaIssue } from "effect"

export class DecodeError extends Schema.TaggedError<DecodeError>()("DecodeError", {
  key: Schema.String,
  /** JSON pointer of the offending field ("" for the whole value). */
  field: Schema.String,
  detail: Schema.String
}) {
  override get message(): string {
    return `invalid value at key "${this.key}"${this.field === "" ? "" : `, field "${this.field}"`}: ${this.detail}`
  }
}

const standard = SchemaIssue.makeFormatterStandardSchemaV1()

const pointer = (path: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined): string =>
  (path ?? [])
    .map((p) =>
      String(typeof p === "object" ? p.key : p)
        .replaceAll("~", "~0")
        .replaceAll("/", "~1")
    )
    .map((t) => `/${t}`)
    .join("")

/** The first issue of a schema failure as `{ field, message }`. */
export const describeIssue = (issue: SchemaIssue.Issue): { readonly field: string; readonly detail: string } => {
  const first = standard(issue).issues[0]
  return { field: pointer(first?.path), detail: first?.message ?? "invalid value" }
}

/** Every issue of a schema failure as `{ field, detail }` (decode with `errors: "all"` to get them all). */
export const describeIssues = (
  issue: SchemaIssue.Issue
): ReadonlyArray<{ readonly field: string; readonly detail: string }> =>
  standard(issue).issues.map((i) => ({ field: pointer(i.path), detail: i.message }))

/**
 * A decoder of stored JSON strings with `schema`, built once, for hot paths that cannot afford
 * an effect per value (the engine's view applies every watch event): the value, or the error
 * naming `key` and the field.
 */
export const decoder = <S extends Schema.Top & { readonly DecodingServices: never }>(schema: S) => {
  const run = Schema.decodeUnknownExit(schema)
  return (key: string, raw: string): Exit.Exit<S["Type"], DecodeError> => {
    let json: unknown
    try {
      json = JSON.parse(raw)
    } catch (e) {
      return Exit.fail(new DecodeError({ key, field: "", detail: `not JSON: ${(e as Error).message}` }))
    }
    const exit = run(json)
    if (Exit.isSuccess(exit)) return Exit.succeed(exit.value)
    const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
    return Exit.fail(
      new DecodeError({
        key,
        ...(failure?._tag === "Fail" ? describeIssue(failure.error.issue) : { field: "", detail: "invalid value" })
      })
    )
  }
}

/** Decodes a stored JSON string with `schema`, naming `key` and the field on failure. */
export const decode = <S extends Schema.Top & { readonly DecodingServices: never }>(schema: S) => {
  const run = decoder(schema)
  return (key: string, raw: string): Effect.Effect<S["Type"], DecodeError> => run(key, raw)
}

/** Encodes a domain value to the JSON string stored in the store. */
export const encode =
  <S extends Schema.Top & { readonly EncodingServices: never }>(schema: S) =>
  (value: S["Type"]): string =>
    JSON.stringify(Schema.encodeSync(schema)(value))
