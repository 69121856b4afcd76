/**
 * References between task outputs and inputs: `{"$ref": "<taskId>#<pointer>"}`
 * where the fragment is a JSON Pointer in URI-fragment form (RFC 6901 §6):
 * tokens escaped with `~0`/`~1`, then percent-encoded where a URI fragment
 * requires it. The task id is percent-encoded the same way (so it may hold
 * `#`, spaces or any character). `#` alone means the whole output.
 *
 * @since 0.1.0
 */
import * as JsonPointer from "effect/JsonPointer"
import { isRef } from "jsonref"

export interface Reference {
  readonly $ref: string
}

export interface Parsed {
  readonly taskId: string
  /** Unescaped pointer tokens; empty for the whole output. */
  readonly tokens: ReadonlyArray<string>
}

// pchar / "/" / "?" of RFC 3986 may stay as they are; everything else is percent-encoded
const encodeFragment = (s: string) => s.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@/?]/gu, (c) => encodeURIComponent(c))

/** Formats a pointer's tokens as a JSON Pointer string (`/a/b~1c`). */
export const formatPointer = (tokens: ReadonlyArray<string>): string =>
  tokens.map((t) => `/${JsonPointer.escapeToken(t)}`).join("")

/**
 * `ref(taskId, pointer)`: the pointer is either a JSON Pointer string
 * (`"/tenant/id"`, `""` for the whole output) or its unescaped tokens.
 */
export const ref = (taskId: string, pointer: string | ReadonlyArray<string> = ""): Reference => {
  const text = typeof pointer === "string" ? pointer : formatPointer(pointer)
  if (text !== "" && !text.startsWith("/")) throw new TypeError(`a JSON pointer starts with "/": "${text}"`)
  return { $ref: `${encodeFragment(taskId).replaceAll("/", "%2F")}#${encodeFragment(text)}` }
}

/** Whether a value is a reference object (exactly one member, `$ref`). */
export const isReference = (u: unknown): u is Reference =>
  typeof u === "object" && u !== null && !Array.isArray(u) && isRef(u)

/** Parses `<taskId>#<pointer>`; a string describing the problem when malformed. */
export const parse = (ref: string): Parsed | string => {
  const hash = ref.indexOf("#")
  if (hash < 0) return `"${ref}" is not "<taskId>#<pointer>"`
  let taskId: string
  let fragment: string
  try {
    taskId = decodeURIComponent(ref.slice(0, hash))
    fragment = decodeURIComponent(ref.slice(hash + 1))
  } catch {
    return `"${ref}" has an invalid percent-encoding`
  }
  if (taskId === "") return `"${ref}" names no task`
  if (fragment === "") return { taskId, tokens: [] }
  if (!fragment.startsWith("/")) return `the pointer of "${ref}" does not start with "/"`
  const raw = fragment.slice(1).split("/")
  if (raw.some((t) => /~[^01]|~$/.test(t))) return `the pointer of "${ref}" has an invalid "~" escape`
  return { taskId, tokens: raw.map(JsonPointer.unescapeToken) }
}
