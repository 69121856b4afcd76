/**
 * The simulator's whole world: resources by kind, tokens, faults and the
 * queue of pending state transitions.
 *
 * Time never advances by itself here. Every request (and every inventory
 * read) first applies the transitions that are due at the current time of the
 * Effect `Clock`, so a server created at t becomes ACTIVE for any request made
 * at t + stepDelay or later. No timers, and `TestClock` drives it too.
 *
 * Handlers are plain synchronous functions over this state; they throw a
 * `SimFailure` to answer with an OpenStack error.
 */
import { DateTime } from "effect"
import type * as M from "./model.ts"

export class SimFailure {
  readonly status: number
  readonly message: string
  /** Neutron's error type (e.g. `NetworkNotFound`). */
  readonly type: string | undefined
  constructor(status: number, message: string, type?: string) {
    this.status = status
    this.message = message
    this.type = type
  }
}

export const badRequest = (message: string, type?: string) => new SimFailure(400, message, type ?? "BadRequest")
export const notFound = (message: string, type?: string) => new SimFailure(404, message, type ?? "NotFound")
export const conflict = (message: string, type?: string) => new SimFailure(409, message, type ?? "Conflict")

export interface PathMatch {
  readonly service: M.ServiceName | undefined
  readonly method: string | undefined
  readonly path: string | RegExp
}

export interface FailRule extends PathMatch {
  remaining: number
  readonly status: number
  readonly retryAfter: string | undefined
  readonly message: string | undefined
  readonly body: unknown
}

export interface SideEffectRule extends PathMatch {
  remaining: number
  readonly mode: "hang" | "close"
}

export interface DelayRule extends PathMatch {
  remaining: number
  readonly delayMillis: number
}

export interface ResourceFailRule {
  readonly name: string | RegExp | undefined
  remaining: number
  readonly message: string
}

interface Pending {
  readonly at: number
  readonly seq: number
  readonly run: (at: number) => void
}

export interface Settings {
  readonly regions: ReadonlyArray<string>
  readonly tokenTtlMillis: number
  readonly maxPageSize: number
  readonly computeMaxMicroversion: string
  readonly volumeMaxMicroversion: string
  readonly availabilityZones: Readonly<Record<string, ReadonlyArray<string>>>
  readonly volumeBackends: ReadonlyArray<string>
  readonly quotas: M.Quotas
  /** What each compute host has, for the hypervisor views. */
  readonly hostCapacity: { readonly vcpus: number; readonly ramMb: number }
}

export interface State {
  readonly settings: Settings
  baseUrl: string
  stepDelayMillis: number
  readonly initialStepDelayMillis: number
  now: number
  readonly random: () => number
  seq: number

  readonly domains: Map<string, M.Domain>
  readonly projects: Map<string, M.Project>
  readonly users: Map<string, M.User>
  readonly applicationCredentials: Map<string, M.ApplicationCredential>
  readonly roles: Map<string, M.Role>
  readonly tokens: Map<string, M.Token>

  readonly servers: Map<string, M.Server>
  readonly flavors: Map<string, M.Flavor>
  readonly keypairs: Map<string, M.Keypair>

  readonly networks: Map<string, M.Network>
  readonly subnets: Map<string, M.Subnet>
  readonly ports: Map<string, M.Port>
  readonly routers: Map<string, M.Router>
  readonly floatingips: Map<string, M.FloatingIp>
  readonly securityGroups: Map<string, M.SecurityGroup>
  readonly securityGroupRules: Map<string, M.SecurityGroupRule>

  readonly volumes: Map<string, M.Volume>
  readonly snapshots: Map<string, M.Snapshot>
  readonly images: Map<string, M.Image>

  readonly pending: Array<Pending>
  readonly requests: Array<M.RequestRecord>

  readonly failRules: Array<FailRule>
  readonly sideEffectRules: Array<SideEffectRule>
  readonly delayRules: Array<DelayRule>
  readonly serverFailRules: Array<ResourceFailRule>
  readonly volumeFailRules: Array<ResourceFailRule>
}

/** A small seeded PRNG (mulberry32): ids are reproducible for a given seed. */
export const prng = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const hex = (state: State, digits: number): string => {
  let out = ""
  for (let i = 0; i < digits; i++) out += Math.floor(state.random() * 16).toString(16)
  return out
}

export const uuid = (state: State): string => {
  const variant = (8 + Math.floor(state.random() * 4)).toString(16)
  return `${hex(state, 8)}-${hex(state, 4)}-4${hex(state, 3)}-${variant}${hex(state, 3)}-${hex(state, 12)}`
}

export const tokenValue = (state: State): string => `gAAAAA${hex(state, 64)}`

export const macAddress = (state: State): string => `fa:16:3e:${hex(state, 2)}:${hex(state, 2)}:${hex(state, 2)}`

export const nextSeq = (state: State): number => ++state.seq

/** ISO time without milliseconds, as Nova, Neutron and Cinder print it. */
export const isoSeconds = (millis: number): string => `${DateTime.formatIso(DateTime.makeUnsafe(millis)).slice(0, 19)}Z`

/** Keystone prints microseconds. */
export const isoMicros = (millis: number): string =>
  `${DateTime.formatIso(DateTime.makeUnsafe(millis)).slice(0, 23)}000Z`

/** Runs `run` once the clock reaches `at`. */
export const schedule = (state: State, delayMillis: number, run: (at: number) => void): void => {
  const at = state.now + delayMillis
  const item = { at, seq: nextSeq(state), run }
  const index = state.pending.findIndex((p) => p.at > at)
  if (index === -1) state.pending.push(item)
  else state.pending.splice(index, 0, item)
}

/** Applies every transition due at `now`, in order (a transition may schedule the next one). */
export const advance = (state: State, now: number): void => {
  while (state.pending.length > 0 && state.pending[0]!.at <= now) {
    const item = state.pending.shift()!
    // transitions scheduled by this one count from its own due time
    state.now = item.at
    item.run(item.at)
  }
  state.now = Math.max(state.now, now)
}

/** Matches a path pattern: a RegExp, or a string where `*` is one segment and `**` anything. */
export const matchPath = (pattern: string | RegExp, path: string): boolean => {
  if (typeof pattern !== "string") return pattern.test(path)
  const source = pattern
    .split("**")
    .map((part) =>
      part
        .split("*")
        .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
        .join("[^/]+")
    )
    .join(".*")
  return new RegExp(`^${source}/?$`).test(path)
}

export const matches = (rule: PathMatch, service: M.ServiceName | "unknown", method: string, route: string) =>
  (rule.service === undefined || rule.service === service) &&
  (rule.method === undefined || rule.method.toUpperCase() === method) &&
  matchPath(rule.path, route)

/** Takes one use of the first rule matching a resource name. */
export const takeResourceRule = (rules: Array<ResourceFailRule>, name: string): ResourceFailRule | undefined => {
  const index = rules.findIndex((r) =>
    r.name === undefined ? true : typeof r.name === "string" ? r.name === name : r.name.test(name)
  )
  if (index === -1) return undefined
  const rule = rules[index]!
  rule.remaining -= 1
  if (rule.remaining <= 0) rules.splice(index, 1)
  return rule
}

// ---------------------------------------------------------------- IPv4 / IPv6

export const ipToInt = (ip: string): number =>
  ip.split(".").reduce((acc, part) => ((acc << 8) >>> 0) + Number(part), 0) >>> 0

export const intToIp = (n: number): string => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".")

export interface Cidr {
  readonly version: 4 | 6
  readonly network: number
  readonly prefix: number
  readonly text: string
}

// `<<` counts modulo 32 in JavaScript, so /0 needs its own case
const maskOf = (prefix: number): number => (prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0)

export const parseCidr = (cidr: string): Cidr | undefined => {
  const [address, bits] = cidr.split("/")
  if (address === undefined || bits === undefined || !/^\d+$/.test(bits)) return undefined
  const prefix = Number(bits)
  if (address.includes(":")) {
    if (prefix > 128) return undefined
    return { version: 6, network: 0, prefix, text: cidr }
  }
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(address) || address.split(".").some((p) => Number(p) > 255)) return undefined
  if (prefix > 32) return undefined
  const mask = maskOf(prefix)
  return {
    version: 4,
    network: (ipToInt(address) & mask) >>> 0,
    prefix,
    text: `${intToIp((ipToInt(address) & mask) >>> 0)}/${prefix}`
  }
}

export const inCidr = (cidr: Cidr, ip: string): boolean => {
  if (cidr.version === 6) return ip.includes(":") && ip.startsWith(cidr.text.split("::")[0] ?? "")
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) return false
  const mask = (0xffffffff << (32 - cidr.prefix)) >>> 0
  return (ipToInt(ip) & mask) >>> 0 === cidr.network
}

export const cidrsOverlap = (a: Cidr, b: Cidr): boolean => {
  if (a.version !== b.version) return false
  if (a.version === 6) return a.text === b.text
  const mask = maskOf(Math.min(a.prefix, b.prefix))
  return (a.network & mask) >>> 0 === (b.network & mask) >>> 0
}
