/**
 * Encoding of domain records to and from the JSON strings stored in the
 * store. Decode failures name the key and the field, so a corrupted or
 * foreign value yields an actionable error instead of a crash.
 *
 * @since 0.1.0
 */
import { Effect, Schema, SchemaIssue } from "effect"

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

/** Decodes a stored JSON string with `schema`, naming `key` and the field on failure. */
export const decode =
  <S extends Schema.Top & { readonly DecodingServices: never }>(schema: S) =>
  (key: string, raw: string): Effect.Effect<S["Type"], DecodeError> => {
    let json: unknown
    try {
      json = JSON.parse(raw)
    } catch (e) {
      return Effect.fail(new DecodeError({ key, field: "", detail: `not JSON: ${(e as Error).message}` }))
    }
    return Schema.decodeUnknownEffect(schema)(json).pipe(
      Effect.mapError((e) => new DecodeError({ key, ...describeIssue(e.issue) }))
    )
  }

/** Encodes a domain value to the JSON string stored in the store. */
export const encode =
  <S extends Schema.Top & { readonly EncodingServices: never }>(schema: S) =>
  (value: S["Type"]): string =>
    JSON.stringify(Schema.encodeSync(schema)(value))
