/**
 * The cloud a handler test runs against: the simulator by default, or a real
 * OpenStack when `OS_AUTH_URL` (and the other openrc variables of an admin
 * user) are set, as `scripts/test-openstack.sh` does. The same test suite runs
 * on both. Fault-injection tests need `sim` and live in their own files, which
 * run on the simulator alone.
 *
 * Besides the admin client, `Cloud` names what the start state of both clouds
 * offers: the external network (`public`, 172.24.4.0/24), a bootable image,
 * the Cinder backend for manage-existing, the volume type, the availability
 * zone and its compute hosts. On the real cloud these come from the
 * `OSCI_*` variables that `tools/openstack-ci/up.sh` writes next to the
 * openrc ones, and are looked up through the API once per `cloud`.
 */
import { TaskContext } from "@migrator/core"
import { OpenStackSimulator } from "@migrator/openstack-simulator"
import { Clouds, OpenStackClient, type OpenStackError } from "@migrator/tasks-openstack"
import { ConfigProvider, Effect, Layer, Random, Schema, type Scope } from "effect"
import { FetchHttpClient, HttpClient } from "effect/http"

export interface Cloud {
  readonly kind: "simulator" | "real"
  /** An admin client scoped to the admin project. */
  readonly client: OpenStackClient.Client
  /** The configuration of `client` (e.g. to build another client for the same cloud). */
  readonly clientConfig: OpenStackClient.ClientConfig
  /** Present on the simulator only: fault injection and inventory. */
  readonly sim: OpenStackSimulator.Simulator | undefined
  /** The cluster name handlers see as their job's target. */
  readonly target: string
  /** The admin user and its project. */
  readonly admin: { readonly userId: string; readonly projectId: string }
  /** The shared external network (flat, `router:external`), with its subnet's CIDR. */
  readonly externalNetwork: { readonly id: string; readonly name: string; readonly cidr: string }
  /** A public image servers and volumes can be created from. */
  readonly image: { readonly id: string; readonly name: string }
  /** The Cinder backend (`host@backend#pool`) manage-existing accepts. */
  readonly volumeBackend: string
  /** The default volume type's name. */
  readonly volumeType: string
  /** The availability zone of servers and volumes, and its compute hosts. */
  readonly availabilityZone: string
  readonly computeHosts: ReadonlyArray<string>
}

/** Whether this run targets a real OpenStack (read once, at import). */
export const realCloud: boolean = (process.env.OS_AUTH_URL ?? "") !== ""

const fastRetry = { baseDelay: "5 millis", maxDelay: "200 millis" } as const

const env = (name: string, fallback: string): string => {
  const value = process.env[name]
  return value === undefined || value === "" ? fallback : value
}

const Named = Schema.Struct({ id: Schema.String, name: Schema.String })

const findOne = (
  client: OpenStackClient.Client,
  what: string,
  service: OpenStackClient.Service,
  path: string,
  key: string,
  query: OpenStackClient.Query
) =>
  client
    .list(service, path, key, query)
    .pipe(
      Effect.flatMap((items) =>
        items.length === 1
          ? Schema.decodeUnknownEffect(Named)(items[0]).pipe(Effect.orDie)
          : Effect.die(
              new Error(
                `the real cloud has ${items.length} ${what} matching ${JSON.stringify(query)}; is tools/openstack-ci/up.sh's set-up complete?`
              )
            )
      )
    )

const real: Effect.Effect<Cloud, OpenStackError.OpenStackError, Scope.Scope> = Effect.gen(function* () {
  const config = yield* OpenStackClient.openRcConfig.pipe(
    Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv()),
    Effect.orDie
  )
  const clientConfig: OpenStackClient.ClientConfig = {
    ...config,
    // the simulator's client configuration uses these; without them (no
    // OS_COMPUTE_API_VERSION / OS_VOLUME_API_VERSION) Nova would answer as 2.1
    computeMicroversion: config.computeMicroversion ?? "2.79",
    volumeMicroversion: config.volumeMicroversion ?? "3.59",
    retry: { baseDelay: "100 millis", maxDelay: "2 seconds" }
  }
  const client = yield* OpenStackClient.make(clientConfig).pipe(Effect.provide(FetchHttpClient.layer))
  const session = yield* client.session
  const externalName = env("OSCI_EXTERNAL_NETWORK", "public")
  const external = yield* findOne(client, "external networks", "network", "/networks", "networks", {
    name: externalName,
    "router:external": "true"
  })
  const subnets = yield* client.list("network", "/subnets", "subnets", { network_id: external.id, ip_version: 4 })
  const image = yield* findOne(client, "images", "image", "/images", "images", { name: env("OSCI_IMAGE", "osci-tiny") })
  return {
    kind: "real",
    client,
    clientConfig,
    sim: undefined,
    target: "recovery",
    admin: { userId: session.userId ?? "", projectId: session.projectId ?? "" },
    externalNetwork: { ...external, cidr: (subnets[0] as { cidr?: string } | undefined)?.cidr ?? "" },
    image,
    volumeBackend: env("OSCI_VOLUME_BACKEND", "osci-cinder@fake#fake"),
    volumeType: env("OSCI_VOLUME_TYPE", "__DEFAULT__"),
    availabilityZone: env("OSCI_AVAILABILITY_ZONE", "nova"),
    computeHosts: [env("OSCI_COMPUTE_HOST", "osci-compute")]
  } as const
})

// The simulator's answers come from its own fields: no request is sent, so
// tests that count the simulator's requests see only their own.
const simulated: Effect.Effect<Cloud, never, Scope.Scope> = Effect.gen(function* () {
  const sim = yield* OpenStackSimulator.make({ stepDelay: "20 millis" })
  const clientConfig = sim.clientConfig({ retry: fastRetry })
  const client = yield* OpenStackClient.make(clientConfig).pipe(Effect.provide(FetchHttpClient.layer))
  const inventory = yield* sim.inventory
  const external = inventory.networks.find((n) => n.id === sim.externalNetworkId)
  const subnet = inventory.subnets.find((s) => s.network_id === sim.externalNetworkId)
  const image = inventory.images[0]
  return {
    kind: "simulator",
    client,
    clientConfig,
    sim,
    target: "recovery",
    admin: { userId: sim.admin.userId, projectId: sim.admin.projectId },
    externalNetwork: { id: external?.id ?? "", name: external?.name ?? "", cidr: subnet?.cidr ?? "" },
    image: { id: image?.id ?? "", name: image?.name ?? "" },
    volumeBackend: sim.volumeBackend,
    volumeType: "__DEFAULT__",
    availabilityZone: "nova",
    computeHosts: ["sim-compute-1", "sim-compute-2"]
  } as const
})

export const cloud: Effect.Effect<Cloud, never, Scope.Scope> = realCloud ? Effect.orDie(real) : simulated

/** The services a handler's `run` needs, as if the engine ran task `taskId` of job `jobId`. */
export const taskLayer = (
  c: Cloud,
  task: { readonly jobId: string; readonly taskId: string; readonly attempt?: number; readonly phase?: "run" | "clear" }
): Layer.Layer<Clouds.Clouds | TaskContext.TaskContext> =>
  Layer.mergeAll(
    Clouds.layerClients({ [c.target]: c.client }),
    Layer.succeed(TaskContext.TaskContext, {
      jobId: task.jobId,
      taskId: task.taskId,
      phase: task.phase ?? "run",
      type: "openstack/test",
      attempt: task.attempt ?? 1,
      fencingToken: 1,
      target: c.target,
      runnerId: "test-runner",
      shared: undefined,
      idempotencyKey: `${task.jobId}:${task.taskId}`
    })
  )

/** A fresh id per test run, so runs on a shared real cloud never see each other's resources. */
export const uniqueJobId = (prefix: string): Effect.Effect<string> =>
  Effect.map(Random.nextIntBetween(0, 1e9, { halfOpen: true }), (n) => `${prefix}-${n.toString(36)}`)

/** One HTTP exchange as the client sent it (no headers, no body, no query). */
export interface Call {
  readonly method: string
  readonly path: string
  readonly query: string
  readonly status: number
  /** The `OpenStack-API-Version` header sent. */
  readonly apiVersion: string | undefined
}

/**
 * Another client for the same cloud (by default with the same configuration),
 * recording every HTTP exchange it makes. It works on both clouds, so a test
 * can count authentications or pages without the simulator's request log.
 */
export const recordingClient = (
  c: Cloud,
  overrides: Partial<OpenStackClient.ClientConfig> = {}
): Effect.Effect<{ readonly client: OpenStackClient.Client; readonly calls: () => ReadonlyArray<Call> }> =>
  Effect.gen(function* () {
    const calls: Array<Call> = []
    const http = (yield* HttpClient.HttpClient).pipe(
      HttpClient.tap((response) =>
        Effect.sync(() => {
          const url = new URL(response.request.url)
          calls.push({
            method: response.request.method,
            path: url.pathname,
            query: url.search,
            status: response.status,
            apiVersion: response.request.headers["openstack-api-version"]
          })
        })
      )
    )
    const client = yield* OpenStackClient.make({ ...c.clientConfig, ...overrides }).pipe(
      Effect.provideService(HttpClient.HttpClient, http)
    )
    return { client, calls: () => [...calls] }
  }).pipe(Effect.provide(FetchHttpClient.layer))

/**
 * A project of its own for the current scope: created with a unique name, the
 * admin user gets the `admin` role in it, and it is deleted when the scope
 * closes (its resources are the test's to delete). Returns the project's id
 * and an admin client scoped to it.
 */
export const scratchProject = (
  c: Cloud,
  prefix = "migrator-test"
): Effect.Effect<
  { readonly projectId: string; readonly client: OpenStackClient.Client },
  OpenStackError.OpenStackError,
  Scope.Scope
> =>
  Effect.gen(function* () {
    const name = yield* uniqueJobId(prefix)
    const project = yield* Effect.acquireRelease(
      c.client
        .request("identity", "POST", "/projects", {
          body: { project: { name, domain_id: "default", description: "scratch project of a test run" } },
          schema: Schema.Struct({ project: Schema.Struct({ id: Schema.String }) })
        })
        .pipe(Effect.map((r) => r.project)),
      (p) => c.client.request("identity", "DELETE", `/projects/${p.id}`).pipe(Effect.ignore)
    )
    const roles = yield* c.client.list("identity", "/roles", "roles", { name: "admin" })
    const role = (roles[0] as { id: string } | undefined)?.id
    if (role !== undefined) {
      yield* c.client.request("identity", "PUT", `/projects/${project.id}/users/${c.admin.userId}/roles/${role}`)
    }
    return { projectId: project.id, client: c.client.forProject(project.id) }
  })
