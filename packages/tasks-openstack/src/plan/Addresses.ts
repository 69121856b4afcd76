/**
 * IPv4/IPv6 addresses and CIDRs, just enough to validate a recovery plan
 * before anything reaches Neutron: an address or a CIDR parses, a CIDR has
 * no host bits (Neutron refuses `10.0.0.1/24`), and an address lies inside
 * a subnet.
 *
 * @since 0.1.0
 */

export interface Address {
  readonly version: 4 | 6
  readonly value: bigint
}

export interface Cidr {
  readonly version: 4 | 6
  /** The network address. */
  readonly network: bigint
  readonly prefix: number
}

const parseV4 = (text: string): bigint | undefined => {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text)
  if (m === null) return undefined
  let value = 0n
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i])
    if (octet > 255) return undefined
    value = (value << 8n) | BigInt(octet)
  }
  return value
}

const parseGroups = (text: string): Array<number> | undefined => {
  if (text === "") return []
  const groups: Array<number> = []
  const parts = text.split(":")
  for (const [i, part] of parts.entries()) {
    if (i === parts.length - 1 && part.includes(".")) {
      const v4 = parseV4(part)
      if (v4 === undefined) return undefined
      groups.push(Number(v4 >> 16n), Number(v4 & 0xffffn))
    } else if (/^[0-9A-Fa-f]{1,4}$/.test(part)) groups.push(Number.parseInt(part, 16))
    else return undefined
  }
  return groups
}

const parseV6 = (text: string): bigint | undefined => {
  const halves = text.split("::")
  if (halves.length > 2) return undefined
  const head = parseGroups(halves[0]!)
  const tail = halves.length === 2 ? parseGroups(halves[1]!) : []
  if (head === undefined || tail === undefined) return undefined
  const missing = 8 - head.length - tail.length
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined
  const groups = [...head, ...Array.from({ length: halves.length === 2 ? missing : 0 }, () => 0), ...tail]
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n)
}

/** Parses an IPv4 or IPv6 address. */
export const parseAddress = (text: string): Address | undefined => {
  const v4 = parseV4(text)
  if (v4 !== undefined) return { version: 4, value: v4 }
  const v6 = text.includes(":") ? parseV6(text) : undefined
  return v6 === undefined ? undefined : { version: 6, value: v6 }
}

const width = (version: 4 | 6) => (version === 4 ? 32 : 128)

/** Parses `address/prefix`; a string describing the problem when it is not a valid network. */
export const parseCidr = (text: string): Cidr | string => {
  const slash = text.indexOf("/")
  if (slash < 0) return `"${text}" is not a CIDR (address/prefix)`
  const address = parseAddress(text.slice(0, slash))
  const prefixText = text.slice(slash + 1)
  if (address === undefined || !/^\d{1,3}$/.test(prefixText)) return `"${text}" is not a CIDR (address/prefix)`
  const prefix = Number(prefixText)
  const bits = width(address.version)
  if (prefix > bits) return `"${text}": an IPv${address.version} prefix is at most ${bits}`
  const hostMask = (1n << BigInt(bits - prefix)) - 1n
  if ((address.value & hostMask) !== 0n) {
    const network = address.value & ~hostMask
    return `"${text}" has host bits set; did you mean "${formatAddress({ version: address.version, value: network })}/${prefix}"?`
  }
  return { version: address.version, network: address.value, prefix }
}

/** Whether `address` lies inside `cidr`. */
export const contains = (cidr: Cidr, address: Address): boolean => {
  if (cidr.version !== address.version) return false
  const shift = BigInt(width(cidr.version) - cidr.prefix)
  return address.value >> shift === cidr.network >> shift
}

/** Whether two networks share any address. */
export const overlaps = (a: Cidr, b: Cidr): boolean =>
  a.version === b.version &&
  (contains(a, { version: b.version, value: b.network }) || contains(b, { version: a.version, value: a.network }))

/** The canonical text of an address (IPv6 without zero compression). */
export const formatAddress = (address: Address): string => {
  if (address.version === 4) {
    return [24n, 16n, 8n, 0n].map((s) => String((address.value >> s) & 0xffn)).join(".")
  }
  return Array.from({ length: 8 }, (_, i) => ((address.value >> BigInt(112 - 16 * i)) & 0xffffn).toString(16)).join(":")
}
