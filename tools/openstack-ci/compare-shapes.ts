/**
 * Creates the same resources on the simulator and on the real cloud (openrc
 * variables in the environment), reads each back through the client, and
 * prints where the two answers differ: keys only one side has, and keys whose
 * JSON types differ. A tool for finding simulator discrepancies, not a test.
 *
 *   set -a; . "$OSCI_DIR/openrc"; set +a
 *   pnpm exec tsx tools/openstack-ci/compare-shapes.ts
 */
import { ConfigProvider, Effect, Schedule, Schema } from "effect"
import { FetchHttpClient } from "effect/http"
import { OpenStackSimulator } from "../../packages/openstack-simulator/src/index.ts"
import { OpenStackClient } from "../../packages/tasks-openstack/src/index.ts"

type Json = Record<string, unknown>
type Shapes = Record<string, Json>

const kind = (v: unknown): string => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v)

const Id = Schema.Struct({ id: Schema.String })

const collect = (client: OpenStackClient.Client, external: { id: string }, image: { id: string }, tag: string) =>
  Effect.gen(function* () {
    const out: Shapes = {}
    const cleanup: Array<Effect.Effect<unknown, unknown>> = []
    const get = (service: OpenStackClient.Service, path: string, key: string) =>
      Effect.map(client.request(service, "GET", path), (r) => (r as Json)[key] as Json)
    const post = (service: OpenStackClient.Service, path: string, key: string, body: unknown) =>
      Effect.map(
        client.request(service, "POST", path, { body, schema: Schema.Struct({ [key]: Id }) }),
        (r) => (r as Record<string, { id: string }>)[key]!
      )
    const until = (service: OpenStackClient.Service, path: string, key: string, done: (o: Json) => boolean) =>
      get(service, path, key).pipe(
        Effect.repeat({ schedule: Schedule.spaced("500 millis"), until: done }),
        Effect.timeout("120 seconds")
      )

    const net = yield* post("network", "/networks", "network", { network: { name: `${tag}-net` } })
    cleanup.unshift(client.request("network", "DELETE", `/networks/${net.id}`))
    out.network = yield* get("network", `/networks/${net.id}`, "network")
    const sub = yield* post("network", "/subnets", "subnet", {
      subnet: { network_id: net.id, ip_version: 4, cidr: "10.91.0.0/24", name: `${tag}-sub` }
    })
    out.subnet = yield* get("network", `/subnets/${sub.id}`, "subnet")
    const router = yield* post("network", "/routers", "router", {
      router: { name: `${tag}-r`, external_gateway_info: { network_id: external.id } }
    })
    cleanup.unshift(client.request("network", "DELETE", `/routers/${router.id}`))
    yield* client.request("network", "PUT", `/routers/${router.id}/add_router_interface`, {
      body: { subnet_id: sub.id }
    })
    cleanup.unshift(
      client.request("network", "PUT", `/routers/${router.id}/remove_router_interface`, { body: { subnet_id: sub.id } })
    )
    out.router = yield* get("network", `/routers/${router.id}`, "router")
    const sg = yield* post("network", "/security-groups", "security_group", { security_group: { name: `${tag}-sg` } })
    cleanup.unshift(client.request("network", "DELETE", `/security-groups/${sg.id}`))
    out.security_group = yield* get("network", `/security-groups/${sg.id}`, "security_group")
    const rule = yield* post("network", "/security-group-rules", "security_group_rule", {
      security_group_rule: {
        security_group_id: sg.id,
        direction: "ingress",
        protocol: "tcp",
        port_range_min: 22,
        port_range_max: 22
      }
    })
    out.security_group_rule = yield* get("network", `/security-group-rules/${rule.id}`, "security_group_rule")
    const port = yield* post("network", "/ports", "port", { port: { network_id: net.id, name: `${tag}-port` } })
    cleanup.unshift(client.request("network", "DELETE", `/ports/${port.id}`))
    out.port_unbound = yield* get("network", `/ports/${port.id}`, "port")
    const fip = yield* post("network", "/floatingips", "floatingip", {
      floatingip: { floating_network_id: external.id, port_id: port.id }
    })
    cleanup.unshift(client.request("network", "DELETE", `/floatingips/${fip.id}`))
    out.floatingip = yield* get("network", `/floatingips/${fip.id}`, "floatingip")

    const flavor = yield* post("compute", "/flavors", "flavor", {
      flavor: { name: `${tag}-f`, ram: 64, vcpus: 1, disk: 1 }
    })
    cleanup.unshift(client.request("compute", "DELETE", `/flavors/${flavor.id}`))
    out.flavor = yield* get("compute", `/flavors/${flavor.id}`, "flavor")
    yield* client.request("compute", "POST", "/os-keypairs", { body: { keypair: { name: `${tag}-kp` } } })
    cleanup.unshift(client.request("compute", "DELETE", `/os-keypairs/${tag}-kp`))
    out.keypair = yield* get("compute", `/os-keypairs/${tag}-kp`, "keypair")

    const vol = yield* post("volumev3", "/volumes", "volume", { volume: { size: 1, name: `${tag}-vol` } })
    cleanup.unshift(client.request("volumev3", "DELETE", `/volumes/${vol.id}`))
    out.volume_available = yield* until("volumev3", `/volumes/${vol.id}`, "volume", (v) => v.status === "available")

    const server = yield* post("compute", "/servers", "server", {
      server: { name: `${tag}-vm`, flavorRef: flavor.id, imageRef: image.id, networks: [{ port: port.id }] }
    })
    cleanup.unshift(
      client.request("compute", "DELETE", `/servers/${server.id}`).pipe(Effect.andThen(Effect.sleep("5 seconds")))
    )
    out.server_active = yield* until("compute", `/servers/${server.id}`, "server", (s) => s.status === "ACTIVE")
    out.port_bound = yield* get("network", `/ports/${port.id}`, "port")
    // (attaching a volume to a running server: the simulator has no POST os-volume_attachments)
    out.image = yield* get("image", `/images/${image.id}`, "id").pipe(
      Effect.flatMap(() => client.request("image", "GET", `/images/${image.id}`)),
      Effect.map((r) => r as Json)
    )
    out.token_session = (yield* client.session) as unknown as Json
    return { out, cleanup }
  })

const shapes = (client: OpenStackClient.Client, tag: string) =>
  Effect.gen(function* () {
    const externals = yield* client.list("network", "/networks", "networks", { "router:external": "true" })
    const images = yield* client.list("image", "/images", "images")
    const { out, cleanup } = yield* collect(client, externals[0] as { id: string }, images[0] as { id: string }, tag)
    for (const step of cleanup) yield* Effect.ignore(step)
    return out
  })

const program = Effect.gen(function* () {
  const tag = `shape-${Date.now().toString(36)}`
  const sim = yield* OpenStackSimulator.make({ stepDelay: "20 millis" })
  const simClient = yield* OpenStackClient.make(sim.clientConfig())
  const config = yield* OpenStackClient.openRcConfig.pipe(
    Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv())
  )
  const realClient = yield* OpenStackClient.make({
    ...config,
    computeMicroversion: config.computeMicroversion ?? "2.79",
    volumeMicroversion: config.volumeMicroversion ?? "3.59"
  })
  const [a, b] = yield* Effect.all([shapes(simClient, tag), shapes(realClient, tag)], { concurrency: 2 })
  for (const name of Object.keys(b)) {
    const s = a[name] ?? {}
    const r = b[name] ?? {}
    const onlyReal = Object.keys(r).filter((k) => !(k in s))
    const onlySim = Object.keys(s).filter((k) => !(k in r))
    const types = Object.keys(r)
      .filter((k) => k in s && kind(r[k]) !== kind(s[k]))
      .map(
        (k) =>
          `${k}: real ${kind(r[k])} ${JSON.stringify(r[k])?.slice(0, 60)}, sim ${kind(s[k])} ${JSON.stringify(s[k])?.slice(0, 60)}`
      )
    const statuses = [
      "status",
      "admin_state_up",
      "binding:vif_type",
      "OS-EXT-STS:vm_state",
      "bootable",
      "attach_status"
    ]
      .filter((k) => k in r && JSON.stringify(r[k]) !== JSON.stringify(s[k]))
      .map((k) => `${k}: real ${JSON.stringify(r[k])}, sim ${JSON.stringify(s[k])}`)
    if (onlyReal.length + onlySim.length + types.length + statuses.length === 0) {
      console.log(`== ${name}: same keys and types`)
      continue
    }
    console.log(`== ${name}`)
    if (onlyReal.length > 0) console.log(`  only on the real cloud: ${onlyReal.join(", ")}`)
    if (onlySim.length > 0) console.log(`  only on the simulator: ${onlySim.join(", ")}`)
    for (const t of types) console.log(`  type differs: ${t}`)
    for (const t of statuses) console.log(`  value differs: ${t}`)
  }
}).pipe(Effect.scoped, Effect.provide(FetchHttpClient.layer))

Effect.runPromise(program).catch((e) => {
  console.error(e)
  process.exit(1)
})
