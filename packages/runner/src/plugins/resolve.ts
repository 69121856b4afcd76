/**
 * Finds the module of a plugin named by the operator: a path (relative to
 * the directory the name was given from) or an npm package installed in the
 * operator's project, found from that directory up through its
 * `node_modules` folders, as Node would from a module there. The runner's
 * own location plays no part: the bundled binary lives in another tree than
 * the plugins it loads.
 *
 * @since 0.1.0
 */
import { existsSync, readFileSync } from "node:fs"
import { dirname, isAbsolute, join, resolve } from "node:path"
import { pathToFileURL } from "node:url"

/** Conditions a plugin is loaded under: as an ES module, on Node or Deno. */
const conditions = new Set(["import", "node", "deno", "default"])

export type Resolution =
  | { readonly _tag: "Found"; readonly url: string }
  | { readonly _tag: "NotInstalled"; readonly packageName: string }
  | { readonly _tag: "NotExported"; readonly packageName: string; readonly subpath: string }

const isPath = (name: string) => name.startsWith(".") || isAbsolute(name) || name.startsWith("file:")

/** `@acme/plugin/extra` → `@acme/plugin` and `./extra`. */
const splitName = (name: string) => {
  const parts = name.split("/")
  const length = name.startsWith("@") ? 2 : 1
  const rest = parts.slice(length).join("/")
  return { packageName: parts.slice(0, length).join("/"), subpath: rest === "" ? "." : `./${rest}` }
}

/** The first target of an `exports` value whose condition applies. */
const target = (value: unknown): string | undefined => {
  if (typeof value === "string") return value
  if (Array.isArray(value)) {
    for (const v of value) {
      const t = target(v)
      if (t !== undefined) return t
    }
    return undefined
  }
  if (typeof value === "object" && value !== null) {
    for (const [condition, v] of Object.entries(value)) {
      if (!conditions.has(condition)) continue
      const t = target(v)
      if (t !== undefined) return t
    }
  }
  return undefined
}

/** The file a subpath maps to under a package's `exports` (exact keys, then `*` patterns). */
const exported = (exports: unknown, subpath: string): string | undefined => {
  const map =
    typeof exports === "string" || Array.isArray(exports) || !Object.keys(exports ?? {}).some((k) => k.startsWith("."))
      ? { ".": exports }
      : (exports as Record<string, unknown>)
  if (subpath in map) return target(map[subpath])
  let best: { readonly key: string; readonly match: string } | undefined
  for (const key of Object.keys(map)) {
    const star = key.indexOf("*")
    if (star < 0) continue
    const [before, after] = [key.slice(0, star), key.slice(star + 1)]
    if (!subpath.startsWith(before) || !subpath.endsWith(after) || subpath.length < key.length - 1) continue
    if (best === undefined || before.length > best.key.indexOf("*")) {
      best = { key, match: subpath.slice(before.length, subpath.length - after.length) }
    }
  }
  if (best === undefined) return undefined
  return target(map[best.key])?.replaceAll("*", best.match)
}

/** Resolves a plugin name given from directory `from`. */
export const resolvePlugin = (name: string, from: string): Resolution => {
  if (isPath(name)) {
    return { _tag: "Found", url: name.startsWith("file:") ? name : pathToFileURL(resolve(from, name)).href }
  }
  const { packageName, subpath } = splitName(name)
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const root = join(dir, "node_modules", packageName)
    const manifestPath = join(root, "package.json")
    if (existsSync(manifestPath)) {
      const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as {
        readonly exports?: unknown
        readonly main?: string
      }
      const file =
        manifest.exports !== undefined && manifest.exports !== null
          ? exported(manifest.exports, subpath)
          : subpath === "."
            ? (manifest.main ?? "index.js")
            : subpath
      if (file === undefined) return { _tag: "NotExported", packageName, subpath }
      return { _tag: "Found", url: pathToFileURL(join(root, file)).href }
    }
    if (dirname(dir) === dir) return { _tag: "NotInstalled", packageName }
  }
}
