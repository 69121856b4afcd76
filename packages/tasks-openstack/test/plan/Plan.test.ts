import { assert, describe, it } from "@effect/vitest"
import * as Addresses from "@migrator/tasks-openstack/plan/Addresses"
import * as Plan from "@migrator/tasks-openstack/plan/Plan"
import { Effect } from "effect"

/** A valid plan document (plain JSON) with one project of each resource kind, to break in each test. */
const valid = () => ({
  target: "recovery-1",
  projects: [
    {
      id: "p",
      name: "p",
      networks: [
        {
          id: "net-a",
          name: "a",
          subnets: [
            { id: "sub-a", cidr: "10.0.0.0/24", gatewayIp: "10.0.0.1" },
            { id: "sub-b", cidr: "10.0.1.0/24" }
          ]
        },
        { id: "net-b", name: "b", subnets: [{ id: "sub-c", cidr: "10.1.0.0/24", gatewayIp: null }] }
      ],
      routers: [
        {
          id: "r",
          name: "r",
          externalGateway: { network: "public" },
          interfaces: [{ subnet: "sub-a" }],
          routes: [{ destination: "10.9.0.0/16", nexthop: "10.0.0.254" }]
        }
      ],
      securityGroups: [
        {
          id: "sg-a",
          name: "a",
          rules: [{ direction: "ingress", protocol: "tcp", portRangeMin: 22, portRangeMax: 22 }]
        },
        { id: "sg-b", name: "b", rules: [{ direction: "ingress", remoteGroup: "sg-a" }] }
      ],
      keypairs: [{ id: "k", name: "k", publicKey: "ssh-ed25519 AAAA" }],
      flavors: [{ id: "f", name: "f", vcpus: 1, ramMb: 64, diskGb: 1 }],
      floatingIps: [{ id: "fip", network: "public" }],
      volumes: [
        { id: "v1", name: "v1", size: 1, source: { copy: { volumeId: "src-1" } } },
        { id: "v2", name: "v2", size: 1, source: { copy: { snapshotId: "snap-2" } } },
        { id: "v3", name: "v3", size: 1, source: { import: { host: "h@b#p", sourceId: "x" } } }
      ],
      instances: [
        {
          id: "i1",
          name: "i1",
          flavor: "f",
          keypair: "k",
          nics: [
            { network: "net-a", subnet: "sub-a", fixedIp: "10.0.0.5", securityGroups: ["sg-a"], floatingIp: "fip" }
          ],
          volumes: [{ volume: "v1", bootIndex: 0 }]
        },
        { id: "i2", name: "i2", flavor: "f", nics: [{ network: "net-b" }], volumes: [{ volume: "v2", bootIndex: 0 }] },
        {
          id: "i3",
          name: "i3",
          flavor: "f",
          nics: [{ network: "net-a" }],
          volumes: [{ volume: "v3", bootIndex: 0 }],
          dependsOn: ["i1", "i2"],
          consoleLog: { pattern: "login:" }
        }
      ]
    }
  ]
})

type Doc = ReturnType<typeof valid>
type Project = Doc["projects"][number]

const problems = (document: unknown) =>
  Plan.decode(document).pipe(
    Effect.flip,
    Effect.map((e) => e.problems.map((p) => `${p.path}: ${p.message}`))
  )

/** The valid plan with its first project changed by `f`. */
const withProject = (f: (p: Project) => unknown) => {
  const doc = valid()
  return { ...doc, projects: [f(doc.projects[0]!)] }
}

const expectProblem = (document: unknown, expected: string) =>
  Effect.gen(function* () {
    const found = yield* problems(document)
    assert.isTrue(
      found.some((p) => p.includes(expected)),
      `expected "${expected}" among:\n${found.join("\n")}`
    )
    return found
  })

describe("Plan: decoding", () => {
  it.effect("accepts a valid plan", () =>
    Effect.gen(function* () {
      const plan = yield* Plan.decode(valid())
      assert.strictEqual(plan.projects[0]!.instances!.length, 3)
    })
  )

  it.effect("names the field of every shape problem, unknown fields included", () =>
    Effect.gen(function* () {
      const { target: _, ...noTarget } = valid()
      const found = yield* problems({
        ...noTarget,
        options: { leaveInstanceStopped: true },
        projects: [{ ...valid().projects[0]!, flavors: [{ id: "f", name: "f", vcpus: "two", ramMb: 64, diskGb: 1 }] }]
      })
      const has = (text: string) =>
        assert.isTrue(
          found.some((p) => p.startsWith(text)),
          `${text} in ${found.join("\n")}`
        )
      has("target: required field is missing")
      has("options.leaveInstanceStopped: unknown field")
      has("projects[0].flavors[0].vcpus: ")
    })
  )

  it.effect("refuses ids that would not make task ids", () =>
    expectProblem(
      withProject((p) => ({ ...p, id: "a/b" })),
      "projects[0].id: a plan id has 1 to 63 letters"
    )
  )

  it.effect("parses JSON and YAML, and reports syntax errors", () =>
    Effect.gen(function* () {
      const json = JSON.stringify(valid())
      const fromJson = yield* Plan.parse(json)
      const fromYaml = yield* Plan.parse("target: recovery-1\nprojects:\n  - id: p\n    name: p\n")
      assert.strictEqual(fromJson.target, "recovery-1")
      assert.strictEqual(fromYaml.projects[0]!.id, "p")
      const badJson = yield* Effect.flip(Plan.parse("{ not json"))
      assert.include(badJson.message, "not JSON")
      const badYaml = yield* Effect.flip(Plan.parse("target: [unclosed\n"))
      assert.include(badYaml.message, "not YAML")
      const duplicateKey = yield* Effect.flip(Plan.parse("target: a\ntarget: b\nprojects: []\n"))
      assert.include(duplicateKey.message, "not YAML")
      // a "billion laughs" document is refused, not expanded
      const bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
      for (let i = 1; i < 9; i++)
        bomb.push(
          `${"b".repeat(i)}: &${"b".repeat(i)} [${Array(10)
            .fill(`*${i === 1 ? "a" : "b".repeat(i - 1)}`)
            .join(", ")}]`
        )
      const laughs = yield* Effect.flip(Plan.parse(`${bomb.join("\n")}\ntarget: t\nprojects: []\n`))
      assert.include(laughs.message, "not YAML")
    })
  )
})

describe("Plan: references and values", () => {
  it.effect("an unknown network of a NIC, with the full path", () =>
    Effect.gen(function* () {
      const found = yield* problems(
        withProject((p) => ({
          ...p,
          instances: p.instances.map((i, n) => (n === 2 ? { ...i, nics: [{ network: "net-x" }] } : i))
        }))
      )
      assert.deepStrictEqual(found, ['projects[0].instances[2].nics[0].network: unknown network "net-x"'])
    })
  )

  it.effect("duplicate ids per kind, duplicate source ids per scope", () =>
    Effect.gen(function* () {
      const found = yield* problems(
        withProject((p) => ({
          ...p,
          networks: [
            { ...p.networks[0]!, sourceId: "same" },
            { ...p.networks[1]!, id: "net-a", sourceId: "same" }
          ],
          // same id as a network: another kind, allowed
          securityGroups: [{ ...p.securityGroups[0]!, id: "net-b" }, p.securityGroups[1]!]
        }))
      )
      assert.include(
        found,
        'projects[0].networks[1].id: duplicate network id "net-a" (also at projects[0].networks[0])'
      )
      assert.include(
        found,
        'projects[0].networks[1].sourceId: duplicate sourceId "same" (also at projects[0].networks[0])'
      )
      assert.include(found, 'projects[0].securityGroups[1].rules[0].remoteGroup: unknown security group "sg-a"')
    })
  )

  it.effect("instance dependency cycles and dangling dependencies", () =>
    Effect.gen(function* () {
      const found = yield* problems(
        withProject((p) => ({
          ...p,
          instances: p.instances.map((i) =>
            i.id === "i1" ? { ...i, dependsOn: ["i3"] } : i.id === "i2" ? { ...i, dependsOn: ["ghost", "i2"] } : i
          )
        }))
      )
      assert.include(found, "projects[0].instances[0].dependsOn: instance dependency cycle: i1 -> i3 -> i1")
      assert.include(found, 'projects[0].instances[1].dependsOn[0]: unknown instance "ghost"')
      assert.include(found, "projects[0].instances[1].dependsOn[1]: an instance cannot depend on itself")
      assert.strictEqual(found.filter((p) => p.includes("cycle")).length, 1)
    })
  )

  it.effect("resources of another project are not reachable, flavors and keypairs are", () =>
    Effect.gen(function* () {
      const doc = valid()
      const other = {
        id: "q",
        name: "q",
        volumes: [{ id: "vq", name: "vq", size: 1, source: { copy: { volumeId: "s" } } }],
        instances: [
          {
            id: "iq",
            name: "iq",
            flavor: "f",
            keypair: "k",
            nics: [{ network: "net-a" }],
            volumes: [{ volume: "vq", bootIndex: 0 }]
          }
        ]
      }
      const found = yield* problems({ ...doc, projects: [...doc.projects, other] })
      assert.deepStrictEqual(found, [
        'projects[1].instances[0].nics[0].network: network "net-a" belongs to project "p", not "q"'
      ])
    })
  )

  it.effect("subnets: CIDR, gateway, pools, overlaps, DNS and routes", () =>
    Effect.gen(function* () {
      const found = yield* problems(
        withProject((p) => ({
          ...p,
          networks: [
            {
              id: "net-a",
              name: "a",
              subnets: [
                {
                  id: "sub-a",
                  cidr: "10.0.0.0/24",
                  gatewayIp: "10.0.1.1",
                  allocationPools: [{ start: "10.0.0.100", end: "10.0.0.10" }],
                  dnsNameservers: ["dns.example"],
                  hostRoutes: [{ destination: "10.5.0.1/16", nexthop: "10.0.0.1" }]
                },
                { id: "sub-b", cidr: "10.0.0.128/25" },
                { id: "sub-x", cidr: "10.0.9.1/24" },
                {
                  id: "sub-p",
                  cidr: "10.0.3.0/24",
                  gatewayIp: "10.0.3.50",
                  allocationPools: [
                    { start: "10.0.3.10", end: "10.0.3.60" },
                    { start: "10.0.3.60", end: "10.0.3.70" }
                  ],
                  dnsNameservers: ["10.0.3.2", "10.0.3.2"]
                }
              ]
            },
            p.networks[1]!
          ]
        }))
      )
      const has = (text: string) => assert.include(found, text)
      has('projects[0].networks[0].subnets[0].gatewayIp: gateway "10.0.1.1" is outside the subnet')
      has('projects[0].networks[0].subnets[0].allocationPools[0]: pool start "10.0.0.100" is after its end "10.0.0.10"')
      has('projects[0].networks[0].subnets[0].dnsNameservers[0]: "dns.example" is not an IP address')
      has(
        'projects[0].networks[0].subnets[0].hostRoutes[0].destination: "10.5.0.1/16" has host bits set; did you mean "10.5.0.0/16"?'
      )
      has(
        'projects[0].networks[0].subnets[1].cidr: overlaps subnet "sub-a" (projects[0].networks[0].subnets[0]) of the same network'
      )
      has('projects[0].networks[0].subnets[2].cidr: "10.0.9.1/24" has host bits set; did you mean "10.0.9.0/24"?')
      has('projects[0].networks[0].subnets[3].allocationPools[0]: the pool holds the gateway "10.0.3.50"')
      has("projects[0].networks[0].subnets[3].allocationPools[1]: overlaps allocationPools[0]")
      has('projects[0].networks[0].subnets[3].dnsNameservers[1]: "10.0.3.2" is listed twice')
    })
  )

  it.effect("routers: interfaces on known subnets of the project, addresses, next hops", () =>
    Effect.gen(function* () {
      const found = yield* problems(
        withProject((p) => ({
          ...p,
          routers: [
            {
              id: "r",
              name: "r",
              interfaces: [{ subnet: "sub-a" }, { subnet: "sub-a" }, { subnet: "sub-c" }, { subnet: "nope" }],
              routes: [{ destination: "10.9.0.0/16", nexthop: "192.168.7.1" }]
            },
            { id: "r2", name: "r2", interfaces: [{ subnet: "sub-b", ipAddress: "10.0.7.1" }] }
          ]
        }))
      )
      const has = (text: string) => assert.include(found, text)
      has('projects[0].routers[0].interfaces[1].subnet: subnet "sub-a" is already on interfaces[0]')
      has(
        'projects[0].routers[0].interfaces[2].ipAddress: subnet "sub-c" has no gateway: give the router\'s address on it'
      )
      has('projects[0].routers[0].interfaces[3].subnet: unknown subnet "nope"')
      has('projects[0].routers[0].routes[0].nexthop: "192.168.7.1" is on no subnet the router has an interface on')
      has('projects[0].routers[1].interfaces[0].ipAddress: address "10.0.7.1" is outside the subnet')
      // the FIP of i1 is no longer reachable: no router with a gateway on "public" serves sub-a
      has(
        'projects[0].instances[0].nics[0].floatingIp: floating IP "fip" on "public" is unreachable: no router of the project has a gateway on "public" and an interface on "sub-a"'
      )
    })
  )

  it.effect("security group rules: remote group or prefix, family, ports", () =>
    Effect.gen(function* () {
      const found = yield* problems(
        withProject((p) => ({
          ...p,
          securityGroups: [
            {
              id: "sg-a",
              name: "a",
              rules: [
                { direction: "ingress", remoteGroup: "sg-b", remoteIpPrefix: "0.0.0.0/0" },
                { direction: "ingress", ethertype: "IPv6", remoteIpPrefix: "10.0.0.0/8" },
                { direction: "ingress", portRangeMin: 22 },
                { direction: "ingress", protocol: "tcp", portRangeMin: 90, portRangeMax: 80 },
                { direction: "ingress", protocol: "icmp", portRangeMin: 8, portRangeMax: 300 },
                { direction: "egress", ethertype: "IPv6", remoteIpPrefix: "::/0" }
              ]
            },
            p.securityGroups[1]!
          ]
        }))
      )
      const has = (text: string) => assert.include(found, text)
      has(
        "projects[0].securityGroups[0].rules[0].remoteIpPrefix: a rule has a remoteIpPrefix or a remoteGroup, not both"
      )
      has('projects[0].securityGroups[0].rules[1].remoteIpPrefix: "10.0.0.0/8" is not an IPv6 network (ethertype IPv6)')
      has("projects[0].securityGroups[0].rules[2].protocol: a port range needs a protocol")
      has("projects[0].securityGroups[0].rules[3].portRangeMax: 80 is below portRangeMin 90")
      has("projects[0].securityGroups[0].rules[4].portRangeMax: 300 is above 255")
      assert.strictEqual(found.length, 5, found.join("\n"))
    })
  )

  it.effect("volumes: exactly one source; attached once; a bootable boot volume", () =>
    Effect.gen(function* () {
      const found = yield* problems(
        withProject((p) => ({
          ...p,
          volumes: [
            { id: "v1", name: "v1", size: 1, bootable: false, source: {} },
            { id: "v2", name: "v2", size: 1, source: { copy: { volumeId: "a", snapshotId: "b" } } },
            { id: "v3", name: "v3", size: 1, source: { import: { host: "h" } } },
            { id: "v4", name: "v4", size: 1, source: { copy: { volumeId: "a" }, import: { host: "h", sourceId: "x" } } }
          ],
          instances: [
            p.instances[0]!,
            { ...p.instances[1]!, volumes: [{ volume: "v1", bootIndex: 0 }] },
            {
              ...p.instances[2]!,
              volumes: [
                { volume: "v3", bootIndex: 1 },
                { volume: "v4", bootIndex: 1 }
              ]
            }
          ]
        }))
      )
      const has = (text: string) => assert.include(found, text)
      has("projects[0].volumes[0].source: a volume source is exactly one of `copy` and `import`")
      has("projects[0].volumes[1].source.copy: a copy source is exactly one of `volumeId` and `snapshotId`")
      has("projects[0].volumes[2].source.import: an import source is exactly one of `sourceName` and `sourceId`")
      has("projects[0].volumes[3].source: a volume source is exactly one of `copy` and `import`")
      has('projects[0].instances[0].volumes[0].volume: boot volume "v1" is not bootable')
      has(
        'projects[0].instances[1].volumes[0].volume: volume "v1" is already attached at projects[0].instances[0].volumes[0]'
      )
      has("projects[0].instances[2].volumes[1].bootIndex: bootIndex 1 is also on volumes[0]")
      has("projects[0].instances[2].volumes: an instance boots from a volume: one needs bootIndex 0")
    })
  )

  it.effect("NICs: subnet of the network, fixed IP inside, one set of groups, floating IPs used once", () =>
    Effect.gen(function* () {
      const found = yield* problems(
        withProject((p) => ({
          ...p,
          instances: [
            {
              ...p.instances[0]!,
              nics: [
                { network: "net-a", subnet: "sub-c", securityGroups: ["sg-a"], floatingIp: "fip" },
                { network: "net-a", fixedIp: "10.3.0.1", securityGroups: ["sg-b", "sg-b"] }
              ]
            },
            { ...p.instances[1]!, nics: [{ network: "net-b", floatingIp: "fip" }] },
            { ...p.instances[2]!, consoleLog: { pattern: "(" } }
          ]
        }))
      )
      const has = (text: string) => assert.include(found, text)
      has('projects[0].instances[0].nics[0].subnet: subnet "sub-c" is not on network "net-a"')
      has('projects[0].instances[0].nics[1].fixedIp: "10.3.0.1" is in no subnet of network "net-a"')
      has('projects[0].instances[0].nics[1].securityGroups[1]: security group "sg-b" is listed twice')
      has(
        "projects[0].instances[0].nics[1].securityGroups: every NIC of an instance has the same security groups (they apply to all the instance's ports)"
      )
      has(
        'projects[0].instances[1].nics[0].floatingIp: floating IP "fip" is already used by projects[0].instances[0].nics[0]'
      )
      assert.isTrue(
        found.some((p) => p.startsWith("projects[0].instances[2].consoleLog.pattern: not a regular expression"))
      )
    })
  )

  it.effect("two things at one address: gateway, router interfaces, fixed IPs", () =>
    Effect.gen(function* () {
      const found = yield* problems(
        withProject((p) => ({
          ...p,
          routers: [
            ...p.routers,
            { id: "r2", name: "r2", interfaces: [{ subnet: "sub-a" }, { subnet: "sub-b", ipAddress: "10.0.1.1" }] }
          ],
          instances: [
            { ...p.instances[0]!, nics: [{ ...p.instances[0]!.nics[0]!, fixedIp: "10.0.0.1" }] },
            { ...p.instances[1]!, nics: [{ network: "net-a", fixedIp: "10.0.1.7" }] },
            { ...p.instances[2]!, nics: [{ network: "net-a", subnet: "sub-b", fixedIp: "10.0.1.7" }] }
          ]
        }))
      )
      assert.sameMembers(found, [
        'projects[0].routers[1].interfaces[1].ipAddress: address 10.0.1.1 of subnet "sub-b" is already the gateway (projects[0].networks[0].subnets[1].gatewayIp)',
        'projects[0].routers[1].interfaces[0].subnet: the gateway of subnet "sub-a" is already taken by projects[0].routers[0].interfaces[0]',
        'projects[0].instances[0].nics[0].fixedIp: fixed IP 10.0.0.1 of subnet "sub-a" is already the gateway (projects[0].networks[0].subnets[0].gatewayIp)',
        'projects[0].instances[2].nics[0].fixedIp: fixed IP 10.0.1.7 of subnet "sub-b" is already used at projects[0].instances[1].nics[0].fixedIp'
      ])
    })
  )

  it.effect("names the target keeps unique: projects, flavors, keypairs", () =>
    Effect.gen(function* () {
      const doc = valid()
      const p = doc.projects[0]!
      const found = yield* problems({
        ...doc,
        projects: [
          { ...p, flavors: [...p.flavors, { ...p.flavors[0]!, id: "f2" }] },
          { id: "q", name: "p", keypairs: [{ ...p.keypairs[0]!, id: "k2" }] }
        ]
      })
      assert.sameMembers(found, [
        'projects[1].name: project name "p" is also at projects[0]: the target keeps it unique',
        'projects[0].flavors[1].name: flavor name "f" is also at projects[0].flavors[0]: the target keeps it unique',
        'projects[1].keypairs[0].name: keypair name "k" is also at projects[0].keypairs[0]: the target keeps it unique'
      ])
    })
  )

  it.effect("unknown flavor, keypair, timeout kind", () =>
    Effect.gen(function* () {
      const doc = withProject((p) => ({
        ...p,
        instances: [{ ...p.instances[0]!, flavor: "huge", keypair: "nokey" }, p.instances[1]!, p.instances[2]!]
      }))
      const found = yield* problems({ ...doc, options: { timeoutsMs: { "instance.boot": 1000 } } })
      assert.include(found, 'projects[0].instances[0].flavor: unknown flavor "huge"')
      assert.include(found, 'projects[0].instances[0].keypair: unknown keypair "nokey"')
      assert.isTrue(
        found.some((p) => p.startsWith('options.timeoutsMs.instance.boot: unknown task kind "instance.boot"'))
      )
    })
  )
})

describe("Addresses", () => {
  it("parses IPv4 and IPv6 addresses and networks", () => {
    assert.deepStrictEqual(Addresses.parseAddress("10.0.0.1"), { version: 4, value: 0x0a000001n })
    assert.isUndefined(Addresses.parseAddress("10.0.0.256"))
    assert.isUndefined(Addresses.parseAddress("10.0.0"))
    assert.strictEqual(Addresses.parseAddress("::1")?.value, 1n)
    assert.strictEqual(Addresses.parseAddress("fe80::")?.value, 0xfe80n << 112n)
    assert.strictEqual(Addresses.parseAddress("::ffff:10.0.0.1")?.value, (0xffffn << 32n) | 0x0a000001n)
    assert.isUndefined(Addresses.parseAddress("1::2::3"))
    assert.isUndefined(Addresses.parseAddress("1:2:3:4:5:6:7"))
    const net = Addresses.parseCidr("2001:db8::/32")
    assert.isTrue(typeof net !== "string" && Addresses.contains(net, Addresses.parseAddress("2001:db8:1::5")!))
    assert.isString(Addresses.parseCidr("10.0.0.0/33"))
    assert.isString(Addresses.parseCidr("10.0.0.0"))
    const a = Addresses.parseCidr("10.0.0.0/16") as Addresses.Cidr
    const b = Addresses.parseCidr("10.0.5.0/24") as Addresses.Cidr
    const c = Addresses.parseCidr("10.1.0.0/24") as Addresses.Cidr
    assert.isTrue(Addresses.overlaps(a, b) && Addresses.overlaps(b, a))
    assert.isFalse(Addresses.overlaps(a, c))
    assert.strictEqual(Addresses.formatAddress({ version: 6, value: 1n }), "0:0:0:0:0:0:0:1")
  })
})
