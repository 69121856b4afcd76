/**
 * Resolves a task input against the stored outputs of its dependencies:
 * every reference, at any depth (also inside the outputs it points into),
 * is replaced by the value it points to. Eager and total: the result is a
 * fresh plain JSON value (inputs and outputs are never mutated), every
 * problem is a typed `ResolverError`, cycles are reported, and depth and
 * size limits stop hostile inputs.
 *
 * @since 0.1.0
 */
import { Effect, Result } from "effect"
import * as Reference from "./Reference.ts"
import {
  LimitExceeded,
  MalformedReference,
  PointerNotFound,
  ReferenceCycle,
  ResolverError,
  UnknownTask
} from "./ResolverError.ts"

export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

export interface Options {
  /** Maximum nesting depth of the resolved value and of reference chains (default 256). */
  readonly maxDepth?: number
  /** Maximum number of nodes visited while resolving (default 1,000,000). */
  readonly maxNodes?: number
}

export type Outputs = ReadonlyMap<string, unknown> | { readonly [taskId: string]: unknown }

class Failure {
  readonly error: ResolverError
  constructor(error: ResolverError) {
    this.error = error
  }
}

const fail = (reason: ResolverError["reason"]): never => {
  throw new Failure(new ResolverError({ reason }))
}

const escapeToken = (token: string | number) => String(token).replaceAll("~", "~0").replaceAll("/", "~1")

/** Resolves `input`; the synchronous core, as a `Result`. */
export const resolveResult = (
  input: unknown,
  outputs: Outputs,
  options: Options = {}
): Result.Result<Json, ResolverError> => {
  const maxDepth = options.maxDepth ?? 256
  const maxNodes = options.maxNodes ?? 1_000_000
  const lookup: ReadonlyMap<string, unknown> = outputs instanceof Map ? outputs : new Map(Object.entries(outputs))
  const done = new Map<string, Json>() // resolved targets, by "<task>#<pointer>"
  const active: Array<string> = [] // references being resolved, for cycle reports
  let nodes = 0

  // Walks a value, building a fresh copy with every reference replaced.
  const walk = (value: unknown, location: string, depth: number): Json => {
    if (++nodes > maxNodes) fail(new LimitExceeded({ limit: "nodes", max: maxNodes, location }))
    if (depth > maxDepth) fail(new LimitExceeded({ limit: "depth", max: maxDepth, location }))
    if (value === null || typeof value === "boolean" || typeof value === "string") return value
    if (typeof value === "number") {
      if (!Number.isFinite(value)) fail(new MalformedReference({ ref: null, location, reason: "not a JSON number" }))
      return value
    }
    if (Array.isArray(value)) return value.map((v, i) => walk(v, `${location}/${i}`, depth + 1))
    if (typeof value === "object") {
      const record = value as Record<string, unknown>
      if (Object.hasOwn(record, "$ref")) return follow(record, location, depth)
      const out: Record<string, Json> = {}
      for (const [k, v] of Object.entries(record)) out[k] = walk(v, `${location}/${escapeToken(k)}`, depth + 1)
      return out
    }
    return fail(new MalformedReference({ ref: null, location, reason: `not JSON: ${typeof value}` }))
  }

  const follow = (record: Record<string, unknown>, location: string, depth: number): Json => {
    const ref = record.$ref
    if (typeof ref !== "string") {
      return fail(new MalformedReference({ ref: ref ?? null, location, reason: "$ref is not a string" }))
    }
    if (Object.keys(record).length !== 1) {
      return fail(new MalformedReference({ ref, location, reason: "a reference has no other members than $ref" }))
    }
    const parsed = Reference.parse(ref)
    if (typeof parsed === "string") return fail(new MalformedReference({ ref, location, reason: parsed }))
    return target(parsed, location, depth)
  }

  // The resolved value a parsed reference points to (memoized; cycles detected).
  const target = (parsed: Reference.Parsed, location: string, depth: number): Json => {
    const pointer = Reference.formatPointer(parsed.tokens)
    const id = `${parsed.taskId}#${pointer}`
    const known = done.get(id)
    if (known !== undefined) return known
    if (active.includes(id))
      return fail(new ReferenceCycle({ chain: [...active.slice(active.indexOf(id)), id], location }))
    if (active.length >= maxDepth) fail(new LimitExceeded({ limit: "depth", max: maxDepth, location }))
    if (!lookup.has(parsed.taskId)) return fail(new UnknownTask({ taskId: parsed.taskId, location }))
    active.push(id)
    let node: unknown = lookup.get(parsed.taskId)
    let at = ""
    for (const token of parsed.tokens) {
      // a reference on the way is followed first, then the pointer goes on inside its value
      if (isRefObject(node)) node = follow(node as Record<string, unknown>, location, depth)
      const next = step(node, token)
      if (next === absent) {
        return fail(new PointerNotFound({ taskId: parsed.taskId, pointer, deepestExisting: at, location }))
      }
      node = next
      at += `/${escapeToken(token)}`
    }
    const value = walk(node, location, depth)
    active.pop()
    done.set(id, value)
    return value
  }

  try {
    return Result.succeed(walk(input, "", 0))
  } catch (e) {
    if (e instanceof Failure) return Result.fail(e.error)
    if (e instanceof RangeError) {
      return Result.fail(
        new ResolverError({ reason: new LimitExceeded({ limit: "depth", max: maxDepth, location: "" }) })
      )
    }
    throw e
  }
}

const absent = Symbol("absent")

const isRefObject = (u: unknown) => typeof u === "object" && u !== null && !Array.isArray(u) && Object.hasOwn(u, "$ref")

const step = (node: unknown, token: string): unknown => {
  if (Array.isArray(node)) {
    if (!/^(0|[1-9][0-9]*)$/.test(token)) return absent
    const i = Number(token)
    return i < node.length ? node[i] : absent
  }
  if (typeof node === "object" && node !== null && Object.hasOwn(node, token)) {
    return (node as Record<string, unknown>)[token]
  }
  return absent
}

/** Resolves `input` against the outputs of its dependencies (by task id). */
export const resolve = (input: unknown, outputs: Outputs, options?: Options): Effect.Effect<Json, ResolverError> =>
  Effect.suspend(() => Effect.fromResult(resolveResult(input, outputs, options)))

export interface ReferenceSite {
  readonly taskId: string
  readonly pointer: string
  /** Where in the input the reference sits (JSON pointer). */
  readonly location: string
}

/**
 * The references an input makes, without resolving them (for job building:
 * a reference to a task that is not a dependency is rejected before submit).
 */
export const references = (input: unknown): Result.Result<ReadonlyArray<ReferenceSite>, ResolverError> => {
  const found: Array<ReferenceSite> = []
  const stack: Array<{ readonly value: unknown; readonly location: string }> = [{ value: input, location: "" }]
  while (stack.length > 0) {
    const { value, location } = stack.pop()!
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], location: `${location}/${i}` })
    } else if (typeof value === "object" && value !== null) {
      const record = value as Record<string, unknown>
      if (Object.hasOwn(record, "$ref")) {
        const ref = record.$ref
        const problem =
          typeof ref !== "string"
            ? "$ref is not a string"
            : Object.keys(record).length !== 1
              ? "a reference has no other members than $ref"
              : undefined
        const parsed = typeof ref === "string" ? Reference.parse(ref) : undefined
        const reason = problem ?? (typeof parsed === "string" ? parsed : undefined)
        if (reason !== undefined || parsed === undefined || typeof parsed === "string") {
          return Result.fail(
            new ResolverError({
              reason: new MalformedReference({ ref: ref ?? null, location, reason: reason ?? "malformed" })
            })
          )
        }
        found.push({ taskId: parsed.taskId, pointer: Reference.formatPointer(parsed.tokens), location })
        continue
      }
      const entries = Object.entries(record)
      for (let i = entries.length - 1; i >= 0; i--) {
        const [k, v] = entries[i]!
        stack.push({ value: v, location: `${location}/${escapeToken(k)}` })
      }
    }
  }
  return Result.succeed(found)
}

/** The distinct task ids an input refers to. */
export const referencedTaskIds = (input: unknown): Result.Result<ReadonlyArray<string>, ResolverError> =>
  Result.map(references(input), (sites) => [...new Set(sites.map((s) => s.taskId))])
