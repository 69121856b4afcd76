import { readFileSync } from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { JobBuilder } from "@migrator/core"
import { Reference } from "@migrator/resolver"
import * as Plan from "@migrator/tasks-openstack/plan/Plan"
import * as PlanBuilder from "@migrator/tasks-openstack/plan/PlanBuilder"
import * as PlanHandlers from "@migrator/tasks-openstack/plan/PlanHandlers"
import { Effect, Schema } from "effect"

const example = (file: string) => readFileSync(new URL(`../../examples/plans/${file}`, import.meta.url), "utf8")

const twoProjects = Plan.parse(example("two-projects.json"))

type Task = JobBuilder.TaskEntry & { readonly undoes?: string }
const allTasks = (doc: JobBuilder.JobDocument): ReadonlyArray<Task> => [...doc.tasks, ...(doc.clearTasks ?? [])]
const byId = (doc: JobBuilder.JobDocument) => new Map(allTasks(doc).map((t) => [t.id, t]))

/** Every `$ref` in a JSON value, with the value where each one stands replaced by `replace`. */
const replaceRefs = (value: unknown, replace: (taskId: string, tokens: ReadonlyArray<string>) => unknown): unknown => {
  if (Reference.isReference(value)) {
    const parsed = Reference.parse(value.$ref)
    if (typeof parsed === "string") throw new Error(parsed)
    return replace(parsed.taskId, parsed.tokens)
  }
  if (Array.isArray(value)) return value.map((v) => replaceRefs(v, replace))
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, replaceRefs(v, replace)]))
  }
  return value
}

const definition = (type: string) => {
  const found = PlanHandlers.definitions.find((d) => d.type === type)
  if (found === undefined) throw new Error(`no handler for ${type}`)
  return found
}

/** A value of the right shape for the field of a handler output a reference points at. */
const placeholder = (_taskId: string, tokens: ReadonlyArray<string>) => {
  const field = tokens[tokens.length - 1] ?? ""
  return field === "portIds" || field === "volumeIds" ? ["placeholder"] : `placeholder-${field}`
}

/** Checks every task's input against its handler's Input Schema, references replaced by placeholders. */
const decodesEverywhere = (doc: JobBuilder.JobDocument) =>
  Effect.gen(function* () {
    for (const task of allTasks(doc)) {
      const input = replaceRefs(task.input, placeholder)
      const decoded = yield* Effect.result(Schema.decodeUnknownEffect(definition(task.type).input)(input))
      assert.isTrue(
        decoded._tag === "Success",
        `${task.id}: ${decoded._tag === "Failure" ? decoded.failure.message : ""}`
      )
    }
  })

const edges = (doc: JobBuilder.JobDocument, task: string) => byId(doc).get(task)?.dependencies ?? []
const hasEdge = (doc: JobBuilder.JobDocument, task: string, dependency: string) =>
  assert.include(edges(doc, task), dependency, `${task} depends on ${dependency}`)

describe("PlanBuilder: the two-projects example", () => {
  it.effect("an existing flavor is neither created nor deleted: instance.create takes it by name", () =>
    Effect.gen(function* () {
      const plan = yield* twoProjects
      const withExisting = {
        ...plan,
        projects: plan.projects.map((p) => ({
          ...p,
          flavors: (p.flavors ?? []).map((f) => ({ ...f, existing: true }))
        }))
      }
      const built = yield* PlanBuilder.buildJob(withExisting, { jobId: "j", types: PlanHandlers.inputs })
      const tasks = allTasks(yield* PlanBuilder.build(withExisting, { jobId: "j" }))
      assert.isFalse(tasks.some((t) => t.type === "openstack/flavor.create" || t.type === "openstack/flavor.delete"))
      const flavor = plan.projects.flatMap((p) => p.flavors ?? [])[0]!
      const instances = tasks.filter((t) => t.type === "openstack/instance.create")
      assert.isAbove(instances.length, 0)
      for (const t of instances) {
        assert.strictEqual((t.input as { flavorId: unknown }).flavorId, flavor.name)
        assert.notInclude(t.dependencies ?? [], PlanBuilder.taskIds.flavor(flavor.id))
      }
      assert.isAbove(built.tasks.length, 0)
    })
  )

  it.effect("builds a job that core's JobBuilder accepts with every handler's input Schema", () =>
    Effect.gen(function* () {
      const plan = yield* twoProjects
      const doc = yield* PlanBuilder.build(plan, { jobId: "two-projects-1" })
      const built = yield* JobBuilder.build(doc, { types: PlanHandlers.inputs })
      assert.strictEqual(built.spec.id, "two-projects-1")
      assert.strictEqual(built.spec.target, "recovery-1")
      assert.deepStrictEqual(built.spec.labels, { plan: "two-projects", target: "recovery-1", source: "protected-1" })
      assert.strictEqual(built.spec.runTasks, doc.tasks.length)
      // tenant, 2+1 groups, 1 remote-group rule, 3+1 networks, 3+1 subnets, 2 routers, 1 FIP, keypair, flavor,
      // 3 volumes, 3 instances
      assert.strictEqual(doc.tasks.length, 2 + 3 + 1 + 4 + 4 + 2 + 1 + 1 + 1 + 3 + 3)
      const counts = new Map<string, number>()
      for (const t of allTasks(doc)) counts.set(t.type, (counts.get(t.type) ?? 0) + 1)
      assert.strictEqual(counts.get("openstack/instance.create"), 3)
      assert.strictEqual(counts.get("openstack/volume.copy"), 3)
      assert.strictEqual(counts.get("openstack/instance.stop"), undefined)
    })
  )

  it.effect("every task input decodes with its handler's Input once references are resolved", () =>
    Effect.gen(function* () {
      yield* decodesEverywhere(yield* PlanBuilder.build(yield* twoProjects))
    })
  )

  it.effect("every reference names a dependency (or, for clear tasks, a run task) and a field of its output", () =>
    Effect.gen(function* () {
      const doc = yield* PlanBuilder.build(yield* twoProjects)
      const tasks = byId(doc)
      const runIds = new Set(doc.tasks.map((t) => t.id))
      for (const task of allTasks(doc)) {
        replaceRefs(task.input, (taskId, tokens) => {
          const target = tasks.get(taskId)
          assert.isDefined(target, `${task.id} refers to ${taskId}`)
          const clear = task.undoes !== undefined
          assert.isTrue(
            clear ? runIds.has(taskId) : (task.dependencies ?? []).includes(taskId),
            `${task.id} refers to ${taskId}`
          )
          const output = definition(target!.type).output as unknown as { readonly fields?: Record<string, unknown> }
          assert.property(output.fields ?? {}, tokens[0] ?? "", `${task.id} reads ${taskId}#/${tokens.join("/")}`)
          return null
        })
      }
    })
  )

  it.effect(
    "run DAG: tenant, groups, rules, networks, subnets, routers, floating IPs, then instances in boot order",
    () =>
      Effect.gen(function* () {
        const doc = yield* PlanBuilder.build(yield* twoProjects)
        assert.deepStrictEqual(edges(doc, "project:web"), [])
        hasEdge(doc, "sg:sg-web", "project:web")
        // the remote-group rule waits for both groups
        assert.sameMembers([...edges(doc, "rule:sg-db:0")], ["sg:sg-db", "sg:sg-web"])
        hasEdge(doc, "network:net-front", "project:web")
        hasEdge(doc, "subnet:sub-back-b", "network:net-back")
        assert.sameMembers(
          [...edges(doc, "router:router-edge")],
          ["project:web", "subnet:sub-front", "subnet:sub-back-a"]
        )
        hasEdge(doc, "fip:fip-web", "router:router-edge")
        assert.deepStrictEqual(edges(doc, "keypair:kp-admin"), [])
        assert.deepStrictEqual(edges(doc, "flavor:small"), [])
        assert.deepStrictEqual(edges(doc, "volume:vol-web"), ["project:web"])
        assert.sameMembers(
          [...edges(doc, "instance:web-1")],
          [
            "project:web",
            "flavor:small",
            "keypair:kp-admin",
            "sg:sg-web",
            "network:net-front",
            "subnet:sub-front",
            "router:router-edge",
            "fip:fip-web",
            "volume:vol-web",
            "instance:db-1"
          ]
        )
        hasEdge(doc, "instance:db-1", "rule:sg-db:0")
        // a flavor of another project (flavors are not project resources)
        hasEdge(doc, "instance:ops-1", "flavor:small")
        assert.notInclude(edges(doc, "instance:ops-1"), "keypair:kp-admin")
        // a network without subnets is recovered as such, a router without gateway too
        assert.isDefined(byId(doc).get("network:net-spare"))
        const internal = byId(doc).get("router:router-internal")!.input as { externalGateway?: unknown }
        assert.isUndefined(internal.externalGateway)
      })
  )

  it.effect("inputs: references to the outputs that make each resource, inline rules, copies", () =>
    Effect.gen(function* () {
      const doc = yield* PlanBuilder.build(yield* twoProjects)
      const tasks = byId(doc)
      const input = (id: string) => tasks.get(id)!.input as Record<string, unknown>
      assert.deepStrictEqual(input("sg:sg-db").rules, [
        { direction: "ingress", remoteGroup: "self" },
        { direction: "egress", ethertype: "IPv4" }
      ])
      assert.deepStrictEqual(input("rule:sg-db:0"), {
        securityGroupId: { $ref: "sg:sg-db#/securityGroupId" },
        direction: "ingress",
        protocol: "tcp",
        portRangeMin: 5432,
        portRangeMax: 5432,
        remoteGroupId: { $ref: "sg:sg-web#/securityGroupId" }
      })
      const base = small()
      const withSource = yield* PlanBuilder.build({
        ...base,
        projects: [{ ...base.projects[0]!, volumes: [{ ...base.projects[0]!.volumes![0]!, sourceId: "disk-7" }] }]
      })
      assert.deepStrictEqual((byId(withSource).get("volume:v")!.input as { metadata: unknown }).metadata, {
        "source-volume": "disk-7"
      })
      assert.deepStrictEqual(input("volume:vol-web"), {
        projectId: { $ref: "project:web#/projectId" },
        name: "web-boot",
        bootable: true,
        sourceVolumeId: "source-volume-web",
        sizeGiB: 1
      })
      const web = input("instance:web-1")
      assert.deepStrictEqual(web.interfaces, [
        {
          networkId: { $ref: "network:net-front#/networkId" },
          subnetId: { $ref: "subnet:sub-front#/subnetId" },
          fixedIp: "10.10.1.10",
          floatingIpId: { $ref: "fip:fip-web#/floatingIpId" }
        }
      ])
      assert.deepStrictEqual(web.volumes, [{ volumeId: { $ref: "volume:vol-web#/volumeId" }, bootIndex: 0 }])
      assert.deepStrictEqual(web.diagnosis, { requirePortsActive: false })
      assert.deepStrictEqual(input("router:router-edge").externalGateway, { networkId: "public" })
    })
  )

  it.effect("clear DAG: each task undoes its run task; instances first (dependants first), the tenant last", () =>
    Effect.gen(function* () {
      const doc = yield* PlanBuilder.build(yield* twoProjects)
      const clear = doc.clearTasks ?? []
      for (const t of clear)
        assert.isTrue(
          doc.tasks.some((r) => r.id === t.undoes),
          `${t.id} undoes ${t.undoes}`
        )
      hasEdge(doc, "undo:instance:db-1", "undo:instance:web-1")
      hasEdge(doc, "undo:volume:vol-web", "undo:instance:web-1")
      hasEdge(doc, "undo:fip:fip-web", "undo:instance:web-1")
      hasEdge(doc, "undo:router:router-edge", "undo:fip:fip-web")
      hasEdge(doc, "undo:router:router-edge", "undo:instance:db-1")
      assert.sameMembers(
        [...edges(doc, "undo:network:net-back")],
        ["undo:router:router-edge", "undo:router:router-internal", "undo:instance:db-1"]
      )
      hasEdge(doc, "undo:sg:sg-web", "undo:instance:web-1")
      hasEdge(doc, "undo:flavor:small", "undo:instance:ops-1")
      hasEdge(doc, "undo:keypair:kp-admin", "undo:instance:web-1")
      // the tenant waits for every other clear task of its project
      const web = clear.filter((t) => t.id !== "undo:project:web" && !t.id.includes("ops")).map((t) => t.id)
      assert.sameMembers([...edges(doc, "undo:project:web")], web)
      assert.deepStrictEqual(byId(doc).get("undo:project:web")!.input, {
        projectId: { $ref: "project:web#/projectId" },
        createdBy: "project:web"
      })
      // subnets and rules go with their network and group: no delete of their own
      assert.isFalse(clear.some((t) => t.undoes?.startsWith("rule:")))
      const release = byId(doc).get("undo:subnet:sub-front")!
      assert.strictEqual(release.type, "openstack/network.delete")
      assert.deepStrictEqual(release.dependencies, ["undo:network:net-front"])
      assert.deepStrictEqual(release.input, {
        projectId: { $ref: "project:web#/projectId" },
        createdBy: "subnet:sub-front"
      })
      // volumes copied are deleted, imports unmanaged; no stop without leaveInstancesStopped
      assert.strictEqual(byId(doc).get("undo:volume:vol-web")!.type, "openstack/volume.delete-copy")
      // on confirm, only what no recovered instance depends on is deleted
      const onConfirm = clear.filter((t) => t.runOnConfirm === true).map((t) => t.id)
      assert.sameMembers(onConfirm, ["undo:network:net-spare", "undo:router:router-internal"])
      // the clear order has no cycle and only clear-phase dependencies (JobBuilder checks both)
      yield* JobBuilder.build(doc, { generateId: Effect.succeed("j") })
    })
  )

  it.effect(
    "shared keys: target, kind and source id, nested under the parent; clear tasks carry their run task's",
    () =>
      Effect.gen(function* () {
        const doc = yield* PlanBuilder.build(yield* twoProjects)
        const tasks = byId(doc)
        const key = (id: string) => tasks.get(id)?.shared
        const project = "openstack:recovery-1/source:protected-1/project:src-project-web"
        assert.strictEqual(key("project:web"), project)
        assert.strictEqual(key("sg:sg-web"), `${project}/security-group:src-sg-web`)
        assert.strictEqual(key("network:net-front"), `${project}/network:src-net-front`)
        assert.strictEqual(key("subnet:sub-front"), `${project}/network:src-net-front/subnet:src-sub-front`)
        assert.strictEqual(key("router:router-edge"), `${project}/router:src-router-edge`)
        assert.strictEqual(key("keypair:kp-admin"), "openstack:recovery-1/source:protected-1/keypair:src-kp-admin")
        assert.strictEqual(key("flavor:small"), "openstack:recovery-1/source:protected-1/flavor:src-flavor-small")
        for (const own of ["fip:fip-web", "volume:vol-web", "instance:web-1", "rule:sg-db:0"]) {
          assert.isUndefined(key(own), own)
        }
        for (const t of doc.clearTasks ?? []) assert.strictEqual(t.shared, key(t.undoes), t.id)
      })
  )

  it.effect("the YAML and the JSON example build the same job", () =>
    Effect.gen(function* () {
      const fromJson = yield* PlanBuilder.build(yield* Plan.parse(example("two-projects.json")), { jobId: "j" })
      const fromYaml = yield* PlanBuilder.build(yield* Plan.parse(example("two-projects.yaml")), { jobId: "j" })
      assert.deepStrictEqual(fromYaml, fromJson)
      // and the format can be forced
      const forced = yield* PlanBuilder.build(yield* Plan.parse(example("two-projects.json"), "yaml"), { jobId: "j" })
      assert.deepStrictEqual(forced, fromJson)
    })
  )
})

/** A minimal valid plan to vary. */
export const small = (): Plan.Plan => ({
  target: "recovery-1",
  projects: [
    {
      id: "p",
      sourceId: "src-p",
      name: "p",
      networks: [{ id: "n", sourceId: "src-n", name: "n", subnets: [{ id: "s", cidr: "192.168.0.0/24" }] }],
      flavors: [{ id: "f", name: "f", vcpus: 1, ramMb: 64, diskGb: 0 }],
      volumes: [
        { id: "v", name: "v", size: 1, source: { import: { host: "cinder@ceph#rbd", sourceName: "volume-1" } } }
      ],
      instances: [
        { id: "i", name: "i", flavor: "f", nics: [{ network: "n" }], volumes: [{ volume: "v", bootIndex: 0 }] }
      ]
    }
  ]
})

describe("PlanBuilder: options and variants", () => {
  it.effect("leaveInstancesStopped adds instance.stop after each instance; timeouts apply per kind", () =>
    Effect.gen(function* () {
      const plan: Plan.Plan = {
        ...small(),
        options: {
          leaveInstancesStopped: true,
          timeoutsMs: { "instance.create": 1_800_000, "volume.import": 600_000 },
          autoRollbackAfterMs: 3_600_000,
          rtoMs: 900_000
        }
      }
      const doc = yield* PlanBuilder.build(plan, { jobId: "j", labels: { drill: "yes" } })
      const stop = byId(doc).get("stop:i")!
      assert.strictEqual(stop.type, "openstack/instance.stop")
      assert.sameMembers([...(stop.dependencies ?? [])], ["instance:i", "project:p"])
      assert.deepStrictEqual(stop.input, {
        projectId: { $ref: "project:p#/projectId" },
        serverId: { $ref: "instance:i#/serverId" }
      })
      assert.strictEqual(byId(doc).get("instance:i")!.timeoutMs, 1_800_000)
      assert.strictEqual(byId(doc).get("volume:v")!.timeoutMs, 600_000)
      assert.isUndefined(byId(doc).get("network:n")!.timeoutMs)
      assert.strictEqual(doc.autoRollbackAfterMs, 3_600_000)
      assert.strictEqual(doc.rtoMs, 900_000)
      assert.strictEqual(doc.labels?.drill, "yes")
      yield* JobBuilder.build(doc, { types: PlanHandlers.inputs })

      // per instance: stopped without the plan option, or kept running despite it
      const base = small()
      const instance = base.projects[0]!.instances![0]!
      const one = (leaveStopped: boolean, option: boolean) =>
        PlanBuilder.build({
          ...base,
          options: { leaveInstancesStopped: option },
          projects: [{ ...base.projects[0]!, instances: [{ ...instance, leaveStopped }] }]
        }).pipe(Effect.map((d) => byId(d).has("stop:i")))
      assert.isTrue(yield* one(true, false))
      assert.isFalse(yield* one(false, true))
    })
  )

  it.effect("every optional feature of a plan reaches its handler in a shape its Input accepts", () =>
    Effect.gen(function* () {
      const rich: Plan.Plan = {
        name: "rich",
        target: "recovery-1",
        labels: { team: "dr" },
        options: { leaveInstancesStopped: true, requirePortsActive: true, bootTimeoutSeconds: 600 },
        projects: [
          {
            id: "p",
            sourceId: "src-p",
            name: "p",
            description: "everything",
            quotas: { compute: { instances: 10 }, network: { port: -1 }, volume: { gigabytes: 100 } },
            networks: [
              {
                id: "n",
                sourceId: "src-n",
                name: "n",
                description: "d",
                mtu: 1400,
                adminStateUp: true,
                portSecurityEnabled: true,
                subnets: [
                  {
                    id: "s4",
                    sourceId: "src-s4",
                    name: "s4",
                    description: "v4",
                    cidr: "10.0.0.0/24",
                    gatewayIp: "10.0.0.1",
                    enableDhcp: true,
                    allocationPools: [{ start: "10.0.0.10", end: "10.0.0.99" }],
                    dnsNameservers: ["10.0.0.2"],
                    hostRoutes: [{ destination: "10.8.0.0/16", nexthop: "10.0.0.254" }]
                  },
                  { id: "s6", cidr: "fd00:1::/64", gatewayIp: null, enableDhcp: false }
                ]
              }
            ],
            routers: [
              {
                id: "r",
                sourceId: "src-r",
                name: "r",
                description: "edge",
                externalGateway: { network: "ext-net-id", enableSnat: false },
                interfaces: [{ subnet: "s4" }, { subnet: "s6", ipAddress: "fd00:1::1" }],
                routes: [{ destination: "10.9.0.0/16", nexthop: "10.0.0.253" }]
              }
            ],
            securityGroups: [
              {
                id: "g",
                sourceId: "src-g",
                name: "g",
                description: "all kinds",
                rules: [
                  {
                    direction: "ingress",
                    protocol: "icmp",
                    portRangeMin: 8,
                    portRangeMax: 0,
                    remoteIpPrefix: "0.0.0.0/0"
                  },
                  { direction: "ingress", ethertype: "IPv6", protocol: 58 },
                  { direction: "egress", protocol: "udp", portRangeMin: 53, portRangeMax: 53, description: "dns" },
                  { direction: "ingress", remoteGroup: "g" },
                  { direction: "ingress", protocol: "tcp", portRangeMin: 1, portRangeMax: 65535, remoteGroup: "h" }
                ]
              },
              { id: "h", name: "h" }
            ],
            keypairs: [{ id: "k", name: "k", publicKey: "ssh-ed25519 AAAA", type: "ssh" }],
            flavors: [
              {
                id: "f",
                sourceId: "src-f",
                name: "f",
                description: "private",
                vcpus: 2,
                ramMb: 1024,
                diskGb: 0,
                ephemeralGb: 1,
                swapMb: 512,
                isPublic: false,
                extraSpecs: { "hw:cpu_policy": "dedicated" }
              }
            ],
            floatingIps: [{ id: "fip", network: "ext-net-id", address: "172.24.4.77", description: "web" }],
            volumes: [
              {
                id: "boot",
                sourceId: "src-boot",
                name: "boot",
                description: "b",
                size: 2,
                volumeType: "__DEFAULT__",
                bootable: true,
                availabilityZone: "nova",
                source: { copy: { snapshotId: "snap-1" } }
              },
              { id: "data", name: "data", source: { import: { host: "cinder@ceph#rbd", sourceId: "rbd-7" } } }
            ],
            instances: [
              {
                id: "i",
                name: "i",
                description: "all options",
                flavor: "f",
                keypair: "k",
                availabilityZone: "nova",
                hypervisor: "compute-1",
                nics: [
                  { network: "n", subnet: "s4", fixedIp: "10.0.0.20", securityGroups: ["g", "h"], floatingIp: "fip" },
                  { network: "n", subnet: "s6", securityGroups: ["h", "g"] }
                ],
                volumes: [
                  { volume: "boot", bootIndex: 0, deviceName: "/dev/vda" },
                  { volume: "data", deviceName: "/dev/vdb" }
                ],
                consoleLog: { pattern: "login:", timeoutSeconds: 120 },
                metadata: { role: "web" },
                userData: "I2Nsb3VkLWNvbmZpZw=="
              }
            ]
          }
        ]
      }
      const doc = yield* PlanBuilder.build(rich, { jobId: "rich" })
      yield* decodesEverywhere(doc)
      yield* JobBuilder.build(doc, { types: PlanHandlers.inputs })
      const instance = byId(doc).get("instance:i")!.input as Record<string, unknown>
      assert.deepStrictEqual(instance.diagnosis, {
        requirePortsActive: true,
        consoleLogPattern: "login:",
        timeoutSeconds: 120
      })
      assert.strictEqual(instance.bootTimeoutSeconds, 600)
      assert.deepStrictEqual(instance.securityGroupIds, [
        { $ref: "sg:g#/securityGroupId" },
        { $ref: "sg:h#/securityGroupId" }
      ])
      assert.strictEqual((byId(doc).get("subnet:s6")!.input as { ipVersion: number }).ipVersion, 6)
      assert.deepStrictEqual((byId(doc).get("volume:data")!.input as { reference: unknown }).reference, {
        "source-id": "rbd-7"
      })
      // the rule to another group waits for it; the rule to its own group is part of the group
      assert.sameMembers([...edges(doc, "rule:g:4")], ["sg:g", "sg:h"])
      assert.deepStrictEqual((byId(doc).get("sg:g")!.input as { rules: ReadonlyArray<unknown> }).rules.at(-1), {
        direction: "ingress",
        remoteGroup: "self"
      })
    })
  )

  it.effect("an imported volume is unmanaged on rollback; its reference names the backend volume", () =>
    Effect.gen(function* () {
      const doc = yield* PlanBuilder.build(small())
      const tasks = byId(doc)
      assert.strictEqual(tasks.get("volume:v")!.type, "openstack/volume.import")
      assert.deepStrictEqual((tasks.get("volume:v")!.input as { reference: unknown }).reference, {
        "source-name": "volume-1"
      })
      assert.strictEqual(tasks.get("undo:volume:v")!.type, "openstack/volume.unmanage")
      // a subnet without sourceId in a shared network is identified by its CIDR
      assert.strictEqual(
        tasks.get("subnet:s")!.shared,
        "openstack:recovery-1/project:src-p/network:src-n/subnet:192.168.0.0%2F24"
      )
      // a NIC without subnet waits for every subnet of its network
      assert.include(tasks.get("instance:i")!.dependencies ?? [], "subnet:s")
    })
  )

  it.effect("resources are shared only inside shared parents; the reason is given otherwise", () =>
    Effect.gen(function* () {
      const base = small()
      const project = base.projects[0]!
      const plan: Plan.Plan = {
        ...base,
        projects: [
          {
            ...project,
            networks: [
              ...(project.networks ?? []),
              { id: "own", name: "own", subnets: [{ id: "own-s", cidr: "192.168.1.0/24" }] }
            ],
            routers: [
              { id: "r", sourceId: "src-r", name: "r", interfaces: [{ subnet: "s" }, { subnet: "own-s" }] },
              { id: "r2", sourceId: "src-r2", name: "r2", interfaces: [{ subnet: "s", ipAddress: "192.168.0.254" }] }
            ]
          }
        ]
      }
      const built = yield* PlanBuilder.plan(plan)
      const step = (id: string) => built.steps.find((s) => s.task.id === id)!
      assert.isUndefined(step("network:own").task.shared)
      assert.strictEqual(step("network:own").notShared, "the network has no sourceId")
      assert.strictEqual(step("subnet:own-s").notShared, 'its network "own" is not shared')
      assert.isUndefined(step("router:r").task.shared)
      assert.include(step("router:r").notShared ?? "", '"own"')
      assert.isDefined(step("router:r2").task.shared)
      // no release task for a subnet that is not shared
      assert.isUndefined(built.steps.find((s) => s.task.id === "undo:subnet:own-s"))

      const { sourceId: _, ...bare } = project
      const alone = yield* PlanBuilder.plan({ ...base, projects: [bare] })
      for (const s of alone.steps) assert.isUndefined(s.task.shared, s.task.id)
      assert.strictEqual(alone.steps.find((s) => s.task.id === "network:n")!.notShared, 'its project "p" is not shared')
    })
  )

  it.effect("a private flavor belongs to its project; a public one to the cluster", () =>
    Effect.gen(function* () {
      const base = small()
      const project = base.projects[0]!
      const plan: Plan.Plan = {
        ...base,
        projects: [
          {
            ...project,
            flavors: [{ id: "f", sourceId: "src-f", name: "f", vcpus: 1, ramMb: 64, diskGb: 0, isPublic: false }]
          }
        ]
      }
      const doc = yield* PlanBuilder.build(plan)
      const flavor = byId(doc).get("flavor:f")!
      assert.deepStrictEqual(flavor.dependencies, ["project:p"])
      assert.strictEqual(flavor.shared, "openstack:recovery-1/project:src-p/flavor:src-f")
      assert.deepStrictEqual((flavor.input as { projectId: unknown }).projectId, { $ref: "project:p#/projectId" })
    })
  )

  it.effect("a long boot chain builds; closing it into a cycle is one problem", () =>
    Effect.gen(function* () {
      const base = small()
      const n = 2000
      const chain = (cycle: boolean): Plan.Plan => ({
        ...base,
        projects: [
          {
            ...base.projects[0]!,
            volumes: Array.from({ length: n }, (_, i) => ({
              id: `v${i}`,
              name: `v${i}`,
              source: { copy: { volumeId: `src-${i}` } }
            })),
            instances: Array.from({ length: n }, (_, i) => ({
              id: `i${i}`,
              name: `i${i}`,
              flavor: "f",
              volumes: [{ volume: `v${i}`, bootIndex: 0 }],
              ...(i > 0 ? { dependsOn: [`i${i - 1}`] } : cycle ? { dependsOn: [`i${n - 1}`] } : {})
            }))
          }
        ]
      })
      const doc = yield* PlanBuilder.build(chain(false), { jobId: "chain" })
      assert.deepStrictEqual(edges(doc, "undo:instance:i0"), ["undo:instance:i1"])
      yield* JobBuilder.build(doc, { types: PlanHandlers.inputs })
      const error = yield* Effect.flip(PlanBuilder.build(chain(true)))
      assert.strictEqual(error.problems.length, 1)
      assert.include(error.problems[0]!.message, "instance dependency cycle: i0 -> i1999 -> i1998")
    })
  )

  it.effect("build refuses an invalid plan with the problems", () =>
    Effect.gen(function* () {
      const base = small()
      const error = yield* Effect.flip(
        PlanBuilder.build({ ...base, projects: [{ ...base.projects[0]!, instances: [] }, base.projects[0]!] })
      )
      assert.instanceOf(error, Plan.PlanError)
      assert.include(error.message, 'projects[1].id: duplicate project id "p" (also at projects[0])')
    })
  )
})
