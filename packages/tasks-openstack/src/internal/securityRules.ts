/**
 * Security group rules as the handlers compare and create them. Neutron
 * refuses a rule identical to an existing one (409 `SecurityGroupRuleExists`,
 * naming the existing rule), so a rule is idempotent by its attributes: an
 * equal rule already in the group is adopted, whoever made it.
 */
import type { TaskError } from "@migrator/core"
import { Effect, Schema } from "effect"
import type { Client } from "../OpenStackClient.ts"
import type * as OpenStackError from "../OpenStackError.ts"
import { listAs } from "./neutronHandler.ts"

/** The attributes of a rule, as the plan gives them. */
export const RuleFields = {
  direction: Schema.Literals(["ingress", "egress"]),
  /** Default: the family of `remoteIpPrefix`, else `IPv4`. */
  ethertype: Schema.optional(Schema.Literals(["IPv4", "IPv6"])),
  /** `tcp`, `udp`, `icmp`, `ipv6-icmp`, … or an IP protocol number; absent (or `any`) for every protocol. */
  protocol: Schema.optional(Schema.NullOr(Schema.Union([Schema.String, Schema.Int]))),
  /** The first port (ICMP: the type). */
  portRangeMin: Schema.optional(Schema.NullOr(Schema.Int)),
  /** The last port (ICMP: the code). */
  portRangeMax: Schema.optional(Schema.NullOr(Schema.Int)),
  /** The remote side as a CIDR (exclusive with a remote group). */
  remoteIpPrefix: Schema.optional(Schema.NullOr(Schema.String)),
  description: Schema.optional(Schema.String)
}

export interface Rule {
  readonly direction: "ingress" | "egress"
  readonly ethertype?: "IPv4" | "IPv6" | undefined
  readonly protocol?: string | number | null | undefined
  readonly portRangeMin?: number | null | undefined
  readonly portRangeMax?: number | null | undefined
  readonly remoteIpPrefix?: string | null | undefined
  readonly remoteGroupId?: string | null | undefined
  readonly description?: string | undefined
}

export const RuleView = Schema.Struct({
  id: Schema.String,
  security_group_id: Schema.String,
  direction: Schema.String,
  ethertype: Schema.String,
  protocol: Schema.NullOr(Schema.String),
  port_range_min: Schema.NullOr(Schema.Number),
  port_range_max: Schema.NullOr(Schema.Number),
  remote_ip_prefix: Schema.NullOr(Schema.String),
  remote_group_id: Schema.NullOr(Schema.String)
})
export type RuleView = typeof RuleView.Type

const protocolNumbers: Readonly<Record<string, number>> = {
  icmp: 1,
  igmp: 2,
  tcp: 6,
  udp: 17,
  gre: 47,
  esp: 50,
  ah: 51,
  "ipv6-icmp": 58,
  icmpv6: 58,
  "ipv6-nonxt": 59,
  ospf: 89,
  pim: 103,
  vrrp: 112,
  sctp: 132
}

const protocolKey = (protocol: string | number | null | undefined): string | null => {
  if (protocol === null || protocol === undefined) return null
  const text = String(protocol).toLowerCase()
  if (text === "" || text === "any") return null
  return String(protocolNumbers[text] ?? text)
}

const ethertypeOf = (rule: Rule): "IPv4" | "IPv6" =>
  rule.ethertype ?? (rule.remoteIpPrefix?.includes(":") === true ? "IPv6" : "IPv4")

const ipv4ToInt = (ip: string) => ip.split(".").reduce((acc, part) => acc * 256 + Number(part), 0)
const intToIpv4 = (n: number) => [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".")

/** A prefix as Neutron stores it: the network address, `/32` for a host; "everything" is no prefix. */
const prefixKey = (prefix: string | null | undefined): string | null => {
  if (prefix === null || prefix === undefined || prefix === "") return null
  if (prefix.includes(":")) {
    const withBits = prefix.includes("/") ? prefix : `${prefix}/128`
    return withBits.toLowerCase() === "::/0" ? null : withBits.toLowerCase()
  }
  const [address = "", bitsText] = prefix.split("/")
  const bits = bitsText === undefined ? 32 : Number(bitsText)
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(address) || !Number.isInteger(bits) || bits < 0 || bits > 32) return prefix
  if (bits === 0) return null
  const size = 2 ** (32 - bits)
  return `${intToIpv4(Math.floor(ipv4ToInt(address) / size) * size)}/${bits}`
}

/** What makes two rules the same for Neutron. */
export const ruleKey = (rule: Rule): string =>
  JSON.stringify([
    rule.direction,
    ethertypeOf(rule),
    protocolKey(rule.protocol),
    rule.portRangeMin ?? null,
    rule.portRangeMax ?? null,
    prefixKey(rule.remoteIpPrefix),
    rule.remoteGroupId ?? null
  ])

export const viewKey = (view: RuleView): string =>
  ruleKey({
    direction: view.direction as "ingress" | "egress",
    ethertype: view.ethertype as "IPv4" | "IPv6",
    protocol: view.protocol,
    portRangeMin: view.port_range_min,
    portRangeMax: view.port_range_max,
    remoteIpPrefix: view.remote_ip_prefix,
    remoteGroupId: view.remote_group_id
  })

export const listRules = (client: Client, groupId: string) =>
  listAs(client, "network", "/security-group-rules", "security_group_rules", RuleView, {
    security_group_id: groupId
  }).pipe(Effect.map((rules) => rules.filter((r) => r.security_group_id === groupId)))

const existingId = (message: string): string | undefined => /Rule id is ([0-9a-fA-F-]{32,36})/.exec(message)?.[1]

/**
 * The id of a rule equal to `rule` in group `groupId` (of project `projectId`):
 * one of `existing`, else a new one. A 409 saying the rule exists adopts it.
 */
export const ensureRule = (
  client: Client,
  groupId: string,
  projectId: string | undefined,
  rule: Rule,
  existing: ReadonlyArray<RuleView>
): Effect.Effect<string, OpenStackError.OpenStackError | TaskError.TaskError> => {
  const key = ruleKey(rule)
  const same = existing.find((r) => viewKey(r) === key)
  if (same !== undefined) return Effect.succeed(same.id)
  const protocol = protocolKey(rule.protocol) === null ? null : rule.protocol
  return client
    .request("network", "POST", "/security-group-rules", {
      body: {
        security_group_rule: {
          security_group_id: groupId,
          direction: rule.direction,
          ethertype: ethertypeOf(rule),
          protocol: protocol === null || protocol === undefined ? null : String(protocol),
          port_range_min: rule.portRangeMin ?? null,
          port_range_max: rule.portRangeMax ?? null,
          remote_ip_prefix: rule.remoteIpPrefix ?? null,
          remote_group_id: rule.remoteGroupId ?? null,
          ...(rule.description === undefined ? {} : { description: rule.description }),
          ...(projectId === undefined ? {} : { project_id: projectId })
        }
      },
      schema: Schema.Struct({ security_group_rule: RuleView })
    })
    .pipe(
      Effect.map((body) => body.security_group_rule.id),
      Effect.catchIf(
        (e) => e.reason._tag === "Conflict" || e.reason._tag === "Timeout" || e.reason._tag === "Unavailable",
        (e) => {
          // the rule exists: Neutron names it; or the answer was lost: look again
          const named = e.reason._tag === "Conflict" ? existingId(e.reason.message) : undefined
          if (named !== undefined) return Effect.succeed(named)
          return Effect.flatMap(listRules(client, groupId), (rules) => {
            const found = rules.find((r) => viewKey(r) === key)
            return found === undefined ? Effect.fail(e) : Effect.succeed(found.id)
          })
        }
      )
    )
}
