/**
 * The pre-flight check against `cloud`: the simulator, or the real OpenStack
 * when `OS_AUTH_URL` is set. A plan made of what the cloud offers passes; a
 * plan with one defect per check fails each of them, on its field path,
 * with a project that exists already (quotas and usage of its own), one that
 * migrator did not make, and resources made outside migrator in the way.
 */
import { assert, describe, it } from "@effect/vitest"
import * as PlanCheck from "@migrator/tasks-openstack/check/PlanCheck"
import * as TenantCreate from "@migrator/tasks-openstack/handlers/TenantCreate"
import * as TenantDelete from "@migrator/tasks-openstack/handlers/TenantDelete"
import * as Plan from "@migrator/tasks-openstack/plan/Plan"
import { Effect, Schedule, Schema } from "effect"
import { type Cloud, cloud, realCloud, taskLayer, uniqueJobId } from "../support/cloud.ts"

const timeout = realCloud ? 300_000 : 60_000

const Id = (member: string) => Schema.Struct({ [member]: Schema.Struct({ id: Schema.String }) })
const VolumeStatus = Schema.Struct({ volume: Schema.Struct({ status: Schema.String }) })

/** Makes something with a POST and removes it when the test ends. */
const made = (c: Cloud, service: "compute" | "network" | "volumev3", path: string, member: string, body: object) =>
  Effect.gen(function* () {
    const created = yield* c.client.request(service, "POST", path, { body: { [member]: body }, schema: Id(member) })
    const id = created[member]!.id
    yield* Effect.addFinalizer(() =>
      c.client.request(service, "DELETE", `${path}/${encodeURIComponent(id)}`).pipe(Effect.ignore)
    )
    return id
  })

const awaitAvailable = (client: Cloud["client"], id: string) =>
  client
    .request("volumev3", "GET", `/volumes/${id}`, { schema: VolumeStatus })
    .pipe(
      Effect.repeat({ until: (v) => v.volume.status === "available", schedule: Schedule.spaced("200 millis") }),
      Effect.timeout("60 seconds")
    )

/** A source volume of 1 GiB, as replication would leave it on the recovery cloud. */
const sourceVolume = (c: Cloud, name: string) =>
  Effect.gen(function* () {
    const id = yield* made(c, "volumev3", "/volumes", "volume", { size: 1, name })
    yield* awaitAvailable(c.client, id)
    return id
  })

const tenant = (c: Cloud, jobId: string, name: string) =>
  TenantCreate.run({ name }).pipe(
    Effect.provide(taskLayer(c, { jobId, taskId: "t1" })),
    Effect.tap((out) =>
      Effect.addFinalizer(() =>
        TenantDelete.run({ projectId: out.projectId, force: true }).pipe(
          Effect.provide(taskLayer(c, { jobId, taskId: "t1-undo", phase: "clear" })),
          Effect.ignore
        )
      )
    )
  )

const decode = (document: unknown) => Plan.decode(document).pipe(Effect.orDie)

const statusOf = (report: PlanCheck.Report, path: string, check: string) =>
  report.checks.filter((r) => r.path === path && r.check === check).map((r) => r.status)

describe("plan check", () => {
  it.live(
    "a plan made of what the cloud offers passes every check",
    () =>
      Effect.gen(function* () {
        const c = yield* cloud
        const id = yield* uniqueJobId("check")
        const source = yield* sourceVolume(c, `${id}-source`)
        yield* made(c, "compute", "/flavors", "flavor", { name: `${id}-house`, vcpus: 2, ram: 512, disk: 1 })
        const plan = yield* decode({
          name: id,
          target: c.target,
          projects: [
            {
              id: "p",
              name: `${id}-p`,
              quotas: { compute: { instances: 4 } },
              networks: [{ id: "n", name: "n", subnets: [{ id: "s", cidr: "10.231.7.0/24" }] }],
              routers: [
                {
                  id: "r",
                  name: "r",
                  externalGateway: { network: c.externalNetwork.name },
                  interfaces: [{ subnet: "s" }]
                }
              ],
              floatingIps: [{ id: "f", network: c.externalNetwork.name }],
              flavors: [
                { id: "small", name: `${id}-small`, vcpus: 1, ramMb: 256, diskGb: 1 },
                { id: "house", name: `${id}-house`, vcpus: 2, ramMb: 512, diskGb: 1, existing: true }
              ],
              keypairs: [{ id: "k", name: `${id}-k`, publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA check" }],
              volumes: [
                {
                  id: "boot",
                  name: "boot",
                  bootable: true,
                  volumeType: c.volumeType,
                  availabilityZone: c.availabilityZone,
                  source: { copy: { volumeId: source } }
                },
                { id: "data", name: "data", source: { import: { host: c.volumeBackend, sourceName: `${id}-data` } } }
              ],
              instances: [
                {
                  id: "i",
                  name: "i",
                  flavor: "small",
                  keypair: "k",
                  availabilityZone: c.availabilityZone,
                  hypervisor: c.computeHosts[0]!,
                  nics: [{ network: "n", subnet: "s", fixedIp: "10.231.7.10", floatingIp: "f" }],
                  volumes: [{ volume: "boot", bootIndex: 0 }, { volume: "data" }]
                }
              ]
            }
          ]
        })
        const report = yield* PlanCheck.check(c.client, plan, c.target)
        const failed = report.checks.filter((r) => r.status !== "pass")
        assert.deepStrictEqual(failed, [], PlanCheck.render(report))
        assert.isTrue(report.ok)
        // quotas of a new project: the plan's own limit, else the cloud's default
        const instances = report.checks.find((r) => r.check === "quota.compute.instances")
        assert.strictEqual(instances?.path, "projects[0].quotas.compute.instances")
        assert.match(instances?.found ?? "", /^limit 4 \(set by the plan\), 0 in use$/)
        assert.match(report.checks.find((r) => r.check === "quota.volume.volumes")?.found ?? "", /the cloud's default/)
        assert.deepStrictEqual(statusOf(report, "projects[0].flavors[1].name", "exists.flavor"), ["pass"])
        for (const check of [
          "exists.external-network",
          "exists.source-volume",
          "exists.volume-type",
          "exists.volume-backend",
          "exists.host",
          "exists.availability-zone",
          "clash.cidr",
          "clash.name",
          "capacity.vcpus",
          "capacity.ram"
        ]) {
          assert.isTrue(
            report.checks.some((r) => r.check === check),
            `no ${check} line in\n${PlanCheck.render(report)}`
          )
        }
      }).pipe(Effect.scoped),
    timeout
  )

  it.live(
    "each check fails on its field path: quota with usage, missing names, clashes, capacity",
    () =>
      Effect.gen(function* () {
        const c = yield* cloud
        const id = yield* uniqueJobId("check")
        // a project migrator made earlier, with a volume quota of 1 and one volume in use
        const existing = yield* tenant(c, id, `${id}-reused`)
        yield* c.client.request("volumev3", "PUT", `/os-quota-sets/${existing.projectId}`, {
          body: { quota_set: { volumes: 1 } }
        })
        const inProject = c.client.forProject(existing.projectId)
        const used = yield* inProject.request("volumev3", "POST", "/volumes", {
          body: { volume: { size: 1, name: `${id}-used` } },
          schema: Id("volume")
        })
        yield* Effect.addFinalizer(() =>
          inProject.request("volumev3", "DELETE", `/volumes/${used.volume.id}`).pipe(Effect.ignore)
        )
        yield* awaitAvailable(inProject, used.volume.id)
        // in it, a network of the plan's name made outside migrator, with a port on the planned fixed IP
        const net = yield* made(c, "network", "/networks", "network", { name: "back", project_id: existing.projectId })
        yield* made(c, "network", "/subnets", "subnet", {
          network_id: net,
          cidr: "10.232.0.0/24",
          ip_version: 4,
          project_id: existing.projectId
        })
        yield* made(c, "network", "/ports", "port", {
          network_id: net,
          project_id: existing.projectId,
          fixed_ips: [{ ip_address: "10.232.0.20" }]
        })
        // a flavor, a key pair and a floating IP made outside migrator
        const flavor = yield* made(c, "compute", "/flavors", "flavor", {
          name: `${id}-taken`,
          vcpus: 1,
          ram: 128,
          disk: 1
        })
        assert.isString(flavor)
        const keypair = yield* c.client.request("compute", "POST", "/os-keypairs", {
          body: { keypair: { name: `${id}-key` } },
          schema: Schema.Struct({ keypair: Schema.Struct({ name: Schema.String }) })
        })
        yield* Effect.addFinalizer(() =>
          c.client.request("compute", "DELETE", `/os-keypairs/${keypair.keypair.name}`).pipe(Effect.ignore)
        )
        const fip = yield* c.client.request("network", "POST", "/floatingips", {
          body: { floatingip: { floating_network_id: c.externalNetwork.id } },
          schema: Schema.Struct({
            floatingip: Schema.Struct({ id: Schema.String, floating_ip_address: Schema.String })
          })
        })
        yield* Effect.addFinalizer(() =>
          c.client.request("network", "DELETE", `/floatingips/${fip.floatingip.id}`).pipe(Effect.ignore)
        )
        const adminProject = (yield* c.client.session).projectName ?? "admin"

        const plan = yield* decode({
          target: c.target,
          projects: [
            {
              id: "new",
              name: `${id}-new`,
              quotas: { compute: { cores: 1 } },
              networks: [{ id: "front", name: "front", subnets: [{ id: "s", cidr: c.externalNetwork.cidr }] }],
              routers: [{ id: "r", name: "r", externalGateway: { network: `${id}-no-such-net` } }],
              floatingIps: [{ id: "f", network: c.externalNetwork.name, address: fip.floatingip.floating_ip_address }],
              flavors: [
                { id: "huge", name: `${id}-taken`, vcpus: 2, ramMb: 256, diskGb: 1 },
                { id: "giant", name: `${id}-giant`, vcpus: 100_000, ramMb: 256, diskGb: 1 },
                { id: "gone", name: `${id}-gone`, vcpus: 1, ramMb: 256, diskGb: 1, existing: true }
              ],
              keypairs: [{ id: "k", name: `${id}-key`, publicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA other" }],
              volumes: [
                {
                  id: "v",
                  name: "v",
                  volumeType: `${id}-no-such-type`,
                  availabilityZone: `${id}-no-such-zone`,
                  source: { copy: { volumeId: "00000000-0000-4000-8000-00000000dead" } }
                },
                { id: "w", name: "w", source: { import: { host: "nohost@none#none", sourceName: "x" } } }
              ],
              instances: [
                {
                  id: "i",
                  name: "i",
                  flavor: "huge",
                  availabilityZone: `${id}-no-such-zone`,
                  hypervisor: `${id}-no-such-host`,
                  nics: [{ network: "front" }],
                  volumes: [{ volume: "v", bootIndex: 0 }]
                },
                { id: "j", name: "j", flavor: "giant", volumes: [{ volume: "w", bootIndex: 0 }] }
              ]
            },
            {
              id: "reused",
              name: `${id}-reused`,
              networks: [{ id: "back", name: "back", subnets: [{ id: "b", cidr: "10.232.0.0/24" }] }],
              volumes: [
                { id: "x", name: "x", size: 1, source: { import: { host: c.volumeBackend, sourceName: "y" } } }
              ],
              instances: [
                {
                  id: "k",
                  name: "k",
                  flavor: "huge",
                  nics: [{ network: "back", subnet: "b", fixedIp: "10.232.0.20" }],
                  volumes: [{ volume: "x", bootIndex: 0 }]
                }
              ]
            },
            { id: "theirs", name: adminProject }
          ]
        })
        const report = yield* PlanCheck.check(c.client, plan, c.target)
        const text = PlanCheck.render(report)
        const expectFail = (path: string, check: string, found?: RegExp) => {
          assert.include(statusOf(report, path, check), "fail", `${check} at ${path} in\n${text}`)
          if (found !== undefined) {
            const line = report.checks.find((r) => r.path === path && r.check === check && r.status === "fail")
            assert.match(line?.found ?? "", found)
          }
        }
        assert.isFalse(report.ok)
        expectFail("projects[0].quotas.compute.cores", "quota.compute.cores", /^limit 1 \(set by the plan\), 0 in use$/)
        expectFail(
          "projects[1].quotas.volume.volumes",
          "quota.volume.volumes",
          /^limit 1 \(the project's quota\), 1 in use$/
        )
        expectFail("projects[0].routers[0].externalGateway.network", "exists.external-network")
        expectFail("projects[0].networks[0].subnets[0].cidr", "clash.cidr", /external network/)
        expectFail("projects[1].networks[0].subnets[0].cidr", "clash.cidr", /network of the project/)
        expectFail("projects[0].volumes[0].source.copy.volumeId", "exists.source-volume", /^no source volume/)
        expectFail("projects[0].volumes[0].volumeType", "exists.volume-type")
        expectFail("projects[0].volumes[0].availabilityZone", "exists.availability-zone")
        expectFail("projects[0].volumes[1].source.import.host", "exists.volume-backend")
        expectFail("projects[0].instances[0].availabilityZone", "exists.availability-zone")
        expectFail("projects[0].instances[0].hypervisor", "exists.host")
        expectFail("projects[0].flavors[0].name", "clash.name", /not made by migrator/)
        expectFail("projects[0].flavors[2].name", "exists.flavor", /^no flavor/)
        expectFail("projects[0].keypairs[0].name", "clash.name", /another public key/)
        expectFail("projects[0].floatingIps[0].address", "clash.floating-ip")
        expectFail("projects[1].instances[0].nics[0].fixedIp", "clash.fixed-ip", /held by port/)
        expectFail("projects[2].name", "clash.name", /not made by migrator/)
        // the reused project is migrator's: its name passes
        assert.deepStrictEqual(statusOf(report, "projects[1].name", "clash.name"), ["pass"])
        // capacity is a warning, never a failure
        assert.deepStrictEqual(statusOf(report, "projects[0].instances[1].flavor", "capacity.host"), ["warn"])
        assert.isFalse(report.checks.some((r) => r.check.startsWith("capacity.") && r.status === "fail"))
      }).pipe(Effect.scoped),
    timeout
  )
})
