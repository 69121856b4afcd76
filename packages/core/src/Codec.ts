/**
 * Encoding of domain records to and from the JSON strings stored in the
 * store. Decode failures name the key and the field, so a corrupted or
 * foreign value yields an actionable error instead of a crash.
 *
 * @since 0.1.0
 */
import { Data, type Effect, Exit, Schema, type SchemaAST, SchemaIssue } from "effect"
import { instance } from "./internal/records.ts"

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
 * Encoded values remembered per schema (`encode(schema, { remember: true })`) until a decoder of
 * the same schema meets their string: the engine's own writes, which its watch hands back.
 */
const memos = new WeakMap<Schema.Top, Map<string, unknown>>()
/** Strings remembered per schema at most; the oldest go first (a write that never comes back). */
const MEMO_SIZE = 4096
/** Larger values are not remembered: the memo stays small whatever handlers return. */
const MEMO_BYTES = 16 * 1024
const memoOf = (schema: Schema.Top) => {
  let memo = memos.get(schema)
  if (memo === undefined) {
    memo = new Map()
    memos.set(schema, memo)
  }
  return memo
}

type Run<A> = (input: unknown) => Exit.Exit<A, Schema.SchemaError>

/**
 * A record class's decoding through its fields. Decoding a `Schema.Class` runs the class's own
 * schema pass and constructor, ten times what decoding its fields as a struct costs (12 µs against
 * 1.2 for a task's result), and every runner decodes the spec of every task and the result of
 * every task others run. The instance is made as `Data.Class` makes it: the class's prototype,
 * the decoded fields as its own properties; a constructor of the class's own is not run, hence
 * the option. A class with checks of its own (on the class or its struct) keeps the full pass,
 * as does anything that is not a `Schema.Class`.
 */
const viaFields = <A>(schema: Schema.Top): Run<A> | undefined => {
  const candidate = schema as unknown as {
    readonly prototype?: unknown
    readonly fields?: Schema.Struct.Fields
    readonly ast: SchemaAST.AST
  }
  if (typeof schema !== "function" || !(candidate.prototype instanceof Data.Class)) return undefined
  const ast = candidate.ast
  if (candidate.fields === undefined || ast._tag !== "Declaration" || ast.checks !== undefined) return undefined
  if (ast.typeParameters.some((p) => p.checks !== undefined)) return undefined
  const prototype = candidate.prototype as object
  // (the class's fields decode without services, as the class does)
  const fields = Schema.decodeUnknownExit(Schema.Struct(candidate.fields) as unknown as Schema.Codec<object>)
  return (input) => {
    const exit = fields(input)
    return Exit.isSuccess(exit) ? Exit.succeed(instance(prototype, exit.value) as A) : Exit.failCause(exit.cause)
  }
}

export interface DecodeOptions {
  /**
   * `schema` is a `Schema.Class` without a constructor of its own: it is decoded through its
   * fields, at a tenth of the cost (see `viaFields`).
   */
  readonly plainClass?: boolean
}

/**
 * A decoder of stored JSON strings with `schema`, built once, for hot paths that cannot afford
 * an effect per value (the engine's view applies every watch event): the value, or the error
 * naming `key` and the field.
 */
export const decoder = <S extends Schema.Top & { readonly DecodingServices: never }>(
  schema: S,
  options?: DecodeOptions
) => {
  const fast = options?.plainClass === true ? viaFields<S["Type"]>(schema) : undefined
  const run: Run<S["Type"]> = fast ?? Schema.decodeUnknownExit(schema)
  const written = memoOf(schema)
  return (key: string, raw: string): Exit.Exit<S["Type"], DecodeError> => {
    // a value this process encoded comes back through the watch: its decoding is known
    const known = written.get(raw)
    if (known !== undefined) {
      written.delete(raw)
      return Exit.succeed(known as S["Type"])
    }
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
export const decode = <S extends Schema.Top & { readonly DecodingServices: never }>(
  schema: S,
  options?: DecodeOptions
) => {
  const run = decoder(schema, options)
  return (key: string, raw: string): Effect.Effect<S["Type"], DecodeError> => run(key, raw)
}

/** Encodes a domain value to the JSON string stored in the store. */
export const encode = <S extends Schema.Top & { readonly EncodingServices: never }>(
  schema: S,
  options?: { readonly remember?: boolean }
) => {
  const run = Schema.encodeSync(schema)
  if (options?.remember !== true) return (value: S["Type"]): string => JSON.stringify(run(value))
  const remembered = memoOf(schema)
  return (value: S["Type"]): string => {
    const raw = JSON.stringify(run(value))
    if (raw.length > MEMO_BYTES) return raw
    if (remembered.size >= MEMO_SIZE) remembered.delete(remembered.keys().next().value!)
    remembered.set(raw, value)
    return raw
  }
}
