/**
 * Where a runner's CPU goes: self time of a `.cpuprofile` (node --cpu-prof) grouped by module, the
 * top functions, and our own functions by inclusive time. Frames of the esbuild bundle are mapped
 * back to their sources through `dist/migrator.mjs.map`, so the engine's functions, Effect's runtime
 * and etcd3/grpc are told apart. A window (CLOCK_MONOTONIC microseconds, the profile's own clock)
 * keeps start-up and shutdown out of a job's figures.
 *
 *   tsx packages/runner/bench/profile.ts <file.cpuprofile> [--from <us>] [--to <us>] [--top N]
 *     [--callers <function name>]   where the samples of a leaf function come from
 */
import { existsSync, readFileSync } from "node:fs"
import { SourceMap } from "node:module"
import { dirname, resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

interface CallFrame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
  readonly columnNumber: number
}

interface ProfileNode {
  readonly id: number
  readonly callFrame: CallFrame
  readonly children?: ReadonlyArray<number>
}

export interface CpuProfile {
  readonly nodes: ReadonlyArray<ProfileNode>
  readonly startTime: number
  readonly endTime: number
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

interface Frame {
  readonly module: string
  readonly name: string
  readonly source: string
}

const maps = new Map<string, SourceMap | undefined>()
/**
 * The source map of the bundle that ran: a copy saved beside the profiles (`pnpm bench --cpu-prof`
 * saves one, since the next bundle maps differently), else the one beside the bundle.
 */
let savedMap: string | undefined
/** Dependencies outside the bundle are named by their own path; only the bundle is mapped. */
const sourceMapOf = (url: string) => {
  if (!url.endsWith("/dist/migrator.mjs")) return undefined
  if (!maps.has(url)) {
    const file = savedMap !== undefined && existsSync(savedMap) ? savedMap : `${fileURLToPath(url)}.map`
    maps.set(url, existsSync(file) ? new SourceMap(JSON.parse(readFileSync(file, "utf8"))) : undefined)
  }
  return maps.get(url)
}

/** Name of the bundle's source map saved beside the profiles of a run. */
export const SAVED_MAP = "migrator.mjs.map"

const DECLARATION = /(?:const|let|function\*?)\s+(\w+)|^\s*(\w+)\s*(?::|\()/

/**
 * Names an anonymous function of ours (an Effect.gen body, a callback) by the declaration that
 * encloses it in the original source (from the map's `sourcesContent`): the nearest line above,
 * indented less, that declares a name.
 */
const enclosingName = (url: string, source: string, line: number) => {
  const payload = sourceMapOf(url)?.payload
  const lines = payload?.sourcesContent?.[payload.sources.indexOf(source)]?.split("\n")
  const at = lines?.[line]
  if (lines === undefined || at === undefined) return undefined
  const indent = (text: string) => text.length - text.trimStart().length
  const own = DECLARATION.exec(at)
  if (own !== null) return own[1] ?? own[2]
  for (let i = line - 1; i >= 0 && i > line - 80; i--) {
    const text = lines[i]!
    if (text.trim() === "" || indent(text) >= indent(at)) continue
    const found = DECLARATION.exec(text)
    if (found !== null) return found[1] ?? found[2]
  }
  return undefined
}

/** protobufjs compiles its codecs with `new Function`: frames without a script, named `Type$method`. */
const PROTOBUF_CODEC = /^\w+\$(?:encode|decode|fromObject|toObject|verify)$/

const GRPC = new Set(["etcd3", "@grpc/grpc-js", "@grpc/proto-loader", "protobufjs", "long", "cockatiel"])

/** Effect, split where the lead's suspects differ: Schema codecs, streams, and the fiber runtime. */
const effectPart = (file: string) => {
  if (/(^|\/)(Schema\w*|internal\/schema\/.*)\.ts$/.test(file)) return "effect: Schema"
  if (/(^|\/)(Stream|Channel|Sink|Pull|internal\/stream\w*)\.ts$/.test(file)) return "effect: Stream/Channel"
  return "effect: runtime"
}

/** The module a source path belongs to: `core/Engine.ts` for ours, the package name for a dependency. */
const moduleOfSource = (source: string) => {
  const dependency = /.*node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(source)
  if (dependency !== null) {
    const name = dependency[1]!
    if (GRPC.has(name) || name.startsWith("@protobufjs/")) return "etcd3/grpc"
    if (name === "effect" || name.startsWith("@effect/")) return effectPart(dependency[2]!)
    return name
  }
  const ours = /packages\/([^/]+)\/(?:src|bin|dist)\/(.*)$/.exec(source)
  if (ours !== null) return ours[2] === "migrator.mjs" ? "esbuild bundle glue" : `${ours[1]}/${ours[2]}`
  if (source.startsWith("(")) return source
  return source
}

const frameOf = (frame: CallFrame): Frame => {
  const name = frame.functionName === "" ? "(anonymous)" : frame.functionName
  if (frame.url === "") {
    if (name === "(garbage collector)") return { module: "GC", name, source: "" }
    if (name === "(program)" || name === "(root)" || name === "(idle)") return { module: name, name, source: "" }
    if (name === "parse" || name === "stringify") return { module: "JSON", name: `JSON.${name}`, source: "" }
    if (PROTOBUF_CODEC.test(name)) return { module: "etcd3/grpc", name, source: "(protobufjs codec)" }
    return { module: "V8 builtins", name, source: "" }
  }
  if (frame.url.startsWith("node:")) return { module: "node internals", name, source: frame.url }
  if (frame.url.startsWith("file://")) {
    const url = frame.url
    const entry = sourceMapOf(url)?.findEntry(frame.lineNumber, frame.columnNumber)
    if (entry !== undefined && "originalSource" in entry) {
      const source = resolve(dirname(fileURLToPath(url)), entry.originalSource)
      const module = moduleOfSource(source)
      const enclosing =
        name === "(anonymous)" && OURS.test(module)
          ? enclosingName(url, entry.originalSource, entry.originalLine)
          : undefined
      return {
        module,
        name: enclosing === undefined ? name : `(anonymous in ${enclosing})`,
        source: `${source}:${entry.originalLine + 1}`
      }
    }
    const path = fileURLToPath(frame.url)
    return { module: moduleOfSource(path), name, source: `${path}:${frame.lineNumber + 1}` }
  }
  return { module: frame.url, name, source: frame.url }
}

export interface Summary {
  readonly windowMs: number
  /** CPU time sampled in the window, idle excluded. */
  readonly busyMs: number
  readonly byModule: ReadonlyArray<readonly [string, number]>
  readonly topSelf: ReadonlyArray<{ readonly key: string; readonly ms: number }>
  readonly oursInclusive: ReadonlyArray<{ readonly key: string; readonly ms: number }>
  /** With `callers`: the call paths (leaf first) of the samples whose leaf's name contains it. */
  readonly callers: ReadonlyArray<{ readonly key: string; readonly ms: number }>
}

const OURS = /^(core|etcd-store|runner|resolver)\//

/** Frames of a caller path shown by `--callers`. */
const CALLER_DEPTH = 4

export const summarize = (
  profile: CpuProfile,
  window: { from?: number; to?: number } = {},
  top = 25,
  callers?: string
): Summary => {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map<number, number>()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const frames = new Map(profile.nodes.map((n) => [n.id, frameOf(n.callFrame)]))
  const keyOf = (f: Frame) => `${f.module}  ${f.name}${f.source === "" ? "" : `  (${shorten(f.source)})`}`
  const stackKeys = new Map<number, ReadonlyArray<string>>()
  const keysOnStack = (id: number): ReadonlyArray<string> => {
    const cached = stackKeys.get(id)
    if (cached !== undefined) return cached
    const up = parent.get(id)
    const above = up === undefined ? [] : keysOnStack(up)
    const own = frames.get(id)!
    const keys = OURS.test(own.module) && !above.includes(keyOf(own)) ? [...above, keyOf(own)] : above
    stackKeys.set(id, keys)
    return keys
  }
  const from = window.from ?? Number.NEGATIVE_INFINITY
  const to = window.to ?? Number.POSITIVE_INFINITY
  const byModule = new Map<string, number>()
  const self = new Map<string, number>()
  const inclusive = new Map<string, number>()
  const paths = new Map<string, number>()
  // a leaf's callers, skipping Effect's runtime frames, which say nothing about who asked
  const callerPath = (id: number) => {
    const names: Array<string> = []
    for (let up = parent.get(id); up !== undefined && names.length < CALLER_DEPTH; up = parent.get(up)) {
      const f = frames.get(up)!
      if (f.module !== "effect: runtime") names.push(`${f.name} (${shorten(f.source)})`)
    }
    return names.join(" ← ")
  }
  const add = (m: Map<string, number>, k: string, ms: number) => m.set(k, (m.get(k) ?? 0) + ms)
  let at = profile.startTime
  let busy = 0
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i]!
    if (at < from || at > to) continue
    // a sample stands for the time until the next one
    const ms = (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i]!) / 1000
    const id = profile.samples[i]!
    const frame = frames.get(id)!
    if (frame.module === "(idle)" || nodes.get(id) === undefined) continue
    busy += ms
    add(byModule, frame.module, ms)
    add(self, keyOf(frame), ms)
    for (const k of keysOnStack(id)) add(inclusive, k, ms)
    if (callers !== undefined && frame.name.includes(callers)) add(paths, callerPath(id), ms)
  }
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1])
  return {
    windowMs: (Math.min(to, profile.endTime) - Math.max(from, profile.startTime)) / 1000,
    busyMs: busy,
    byModule: sorted(byModule),
    topSelf: sorted(self)
      .slice(0, top)
      .map(([key, ms]) => ({ key, ms })),
    oursInclusive: sorted(inclusive)
      .slice(0, top)
      .map(([key, ms]) => ({ key, ms })),
    callers: sorted(paths)
      .slice(0, top)
      .map(([key, ms]) => ({ key, ms }))
  }
}

const shorten = (source: string) =>
  source
    .replace(/^.*node_modules\//, "")
    .replace(/^.*packages\/([^/]+)\/src\//, "$1/")
    .replace(/^.*packages\//, "")

export const format = (title: string, s: Summary, tasks?: number) => {
  const pct = (ms: number) => `${((ms / s.busyMs) * 100).toFixed(1).padStart(5)}%`
  const line = (ms: number, label: string) => `  ${ms.toFixed(0).padStart(7)} ms ${pct(ms)}  ${label}`
  const perTask = tasks === undefined ? "" : `, ${(s.busyMs / tasks).toFixed(3)} ms per task`
  return [
    `${title}: ${(s.windowMs / 1000).toFixed(2)} s window, ${s.busyMs.toFixed(0)} ms CPU sampled${perTask}`,
    "self time by module:",
    ...s.byModule.map(([m, ms]) => line(ms, m)),
    "top functions by self time:",
    ...s.topSelf.map((f) => line(f.ms, f.key)),
    "our functions by inclusive time (callees included):",
    ...s.oursInclusive.map((f) => line(f.ms, f.key)),
    ...(s.callers.length === 0 ? [] : ["callers (leaf ← caller ← …):", ...s.callers.map((f) => line(f.ms, f.key))])
  ].join("\n")
}

/** Reads a profile; frames of the bundle are mapped with the source map saved beside it, if any. */
export const readProfile = (file: string) => {
  const saved = resolve(dirname(file), SAVED_MAP)
  if (saved !== savedMap) {
    savedMap = saved
    maps.clear()
  }
  return JSON.parse(readFileSync(file, "utf8")) as CpuProfile
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2)
  const flag = (name: string) => {
    const i = args.indexOf(name)
    return i === -1 ? undefined : Number(args[i + 1])
  }
  const callersOf = args.includes("--callers") ? args[args.indexOf("--callers") + 1] : undefined
  const file = args.find((a, i) => !a.startsWith("--") && (i === 0 || !args[i - 1]!.startsWith("--")))
  if (file === undefined) {
    console.error("usage: profile.ts <file.cpuprofile> [--from <us>] [--to <us>] [--top N] [--callers <function name>]")
    process.exit(2)
  }
  const window = {
    ...(flag("--from") === undefined ? {} : { from: flag("--from")! }),
    ...(flag("--to") === undefined ? {} : { to: flag("--to")! })
  }
  console.log(format(file, summarize(readProfile(file), window, flag("--top") ?? 25, callersOf)))
}
