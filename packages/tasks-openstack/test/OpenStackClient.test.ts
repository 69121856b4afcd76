import { assert, describe, it } from "@effect/vitest"
import { OpenStackSimulator } from "@migrator/openstack-simulator"
import { OpenStackClient, OpenStackError } from "@migrator/tasks-openstack"
import { Clock, ConfigProvider, Effect, Exit, Layer, Redacted, Schema, Stream } from "effect"
import { FetchHttpClient } from "effect/http"
import { captureLogs, setup } from "./utils/index.ts"

const authCalls = (requests: ReadonlyArray<OpenStackSimulator.RequestRecord>) =>
  requests.filter((r) => r.service === "identity" && r.route === "/auth/tokens" && r.method === "POST")

const failure = <A>(exit: Exit.Exit<A, OpenStackError.OpenStackError>): OpenStackError.OpenStackError => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure")
  const found = exit.cause.reasons.find((r) => r._tag === "Fail")
  if (found === undefined || found._tag !== "Fail") throw new Error("expected a typed failure")
  return found.error
}

const flavor = (name: string, ram = 64) => ({ flavor: { name, ram, vcpus: 1, disk: 1 } })

describe("OpenStackClient: authentication", () => {
  it.live("password auth with project scope; the session names the project", () =>
    Effect.gen(function* () {
      const { sim, client } = yield* setup()
      const session = yield* client.session
      assert.strictEqual(session.projectId, sim.admin.projectId)
      assert.strictEqual(session.userId, sim.admin.userId)
      const networks = yield* client.list("network", "/networks", "networks")
      assert.deepStrictEqual(
        networks.map((n) => (n as { name: string }).name),
        ["public"]
      )
      assert.lengthOf(authCalls(yield* sim.requests), 1)
    }).pipe(Effect.scoped)
  )

  it.live("application-credential auth", () =>
    Effect.gen(function* () {
      const { sim, client } = yield* setup({}, { authType: "application-credential" })
      const session = yield* client.session
      assert.strictEqual(session.projectId, sim.admin.projectId)
      const images = yield* client.list("image", "/images", "images")
      assert.deepStrictEqual(
        images.map((i) => (i as { name: string }).name),
        ["sim-tiny"]
      )
    }).pipe(Effect.scoped)
  )

  it.live("a wrong password is Unauthorized, not retried, and the password is nowhere in the error", () =>
    Effect.gen(function* () {
      const { sim, client } = yield* setup(
        {},
        {
          auth: {
            type: "password",
            username: "admin",
            password: Redacted.make("wrong-secret-pw"),
            projectName: "admin"
          }
        }
      )
      const error = failure(yield* Effect.exit(client.request("compute", "GET", "/flavors")))
      assert.strictEqual(error.reason._tag, "Unauthorized")
      assert.strictEqual(error.service, "identity")
      assert.strictEqual(error.status, 401)
      assert.isFalse(error.retryable)
      assert.notInclude(error.message, "wrong-secret-pw")
      assert.notInclude(JSON.stringify(error), "wrong-secret-pw")
      assert.lengthOf(authCalls(yield* sim.requests), 1)
    }).pipe(Effect.scoped)
  )

  it.live("one authentication serves many concurrent requests", () =>
    Effect.gen(function* () {
      const { sim, client } = yield* setup()
      yield* Effect.all(
        Array.from({ length: 12 }, () => client.request("network", "GET", "/networks")),
        { concurrency: "unbounded" }
      )
      yield* client.request("compute", "GET", "/flavors")
      const requests = yield* sim.requests
      assert.lengthOf(authCalls(requests), 1)
      assert.lengthOf(
        requests.filter((r) => r.service !== "identity"),
        13
      )
    }).pipe(Effect.scoped)
  )

  it.live("a short-lived token is refreshed before it expires (no 401 on the way)", () =>
    Effect.gen(function* () {
      // refreshed once half of the 2 s lifetime has passed
      const { sim, client } = yield* setup({ tokenTtl: "2 seconds" })
      const first = yield* client.session
      yield* client.request("network", "GET", "/networks")
      yield* Effect.sleep("300 millis")
      yield* client.request("network", "GET", "/networks")
      assert.lengthOf(authCalls(yield* sim.requests), 1, "still within the first half of the lifetime")
      yield* Effect.sleep("900 millis")
      const again = yield* client.session
      yield* client.request("network", "GET", "/networks")
      const requests = yield* sim.requests
      assert.lengthOf(authCalls(requests), 2, "refreshed after half the lifetime")
      assert.isTrue(again.expiresAt > first.expiresAt)
      assert.isFalse(requests.some((r) => r.status === 401))
    }).pipe(Effect.scoped)
  )

  it.live("a revoked token (401) is replaced once and the request succeeds", () =>
    Effect.gen(function* () {
      const { sim, client } = yield* setup()
      yield* client.request("network", "GET", "/networks")
      yield* sim.faults.revokeTokens
      yield* client.request("network", "GET", "/networks")
      const requests = yield* sim.requests
      assert.lengthOf(authCalls(requests), 2)
      assert.deepStrictEqual(
        requests.filter((r) => r.service === "network").map((r) => r.status),
        [200, 401, 200]
      )
    }).pipe(Effect.scoped)
  )

  it.live("forProject: a token scoped to another project; application credentials refuse", () =>
    Effect.gen(function* () {
      const { sim, client } = yield* setup()
      const created = (yield* client.request("identity", "POST", "/projects", {
        body: { project: { name: "tenant-a", domain_id: "default" } },
        schema: Schema.Struct({ project: Schema.Struct({ id: Schema.String }) })
      })).project
      // like Keystone, a project-scoped token needs a role on the project
      const denied = failure(yield* Effect.exit(client.forProject(created.id).session))
      assert.strictEqual(denied.reason._tag, "Unauthorized")
      const admin = yield* client.session
      const roles = (yield* client.request("identity", "GET", "/roles", {
        query: { name: "admin" },
        schema: Schema.Struct({ roles: Schema.Array(Schema.Struct({ id: Schema.String })) })
      })).roles
      yield* client.request("identity", "PUT", `/projects/${created.id}/users/${admin.userId}/roles/${roles[0]!.id}`)
      const scoped = client.forProject(created.id)
      assert.strictEqual((yield* scoped.session).projectId, created.id)
      yield* scoped.request("network", "POST", "/networks", { body: { network: { name: "in-tenant-a" } } })
      const inventory = yield* sim.inventory
      assert.strictEqual(inventory.networks.find((n) => n.name === "in-tenant-a")?.project_id, created.id)
      assert.strictEqual(scoped.forProject(created.id), scoped.forProject(created.id))

      const app = yield* setup({}, { authType: "application-credential" })
      const error = failure(yield* Effect.exit(app.client.forProject(created.id).session))
      assert.strictEqual(error.reason._tag, "Forbidden")
    }).pipe(Effect.scoped)
  )
})

describe("OpenStackClient: catalog and microversions", () => {
  it.live("picks the endpoint of the configured region and interface", () =>
    Effect.gen(function* () {
      const { sim, client } = yield* setup(
        { regions: ["RegionOne", "RegionTwo"] },
        { region: "RegionTwo", interface: "internal" }
      )
      yield* client.request("compute", "GET", "/flavors")
      yield* client.request("volumev3", "GET", "/volumes")
      const served = (yield* sim.requests).filter((r) => r.service !== "identity")
      assert.deepStrictEqual(
        served.map((r) => [r.service, r.region, r.interface]),
        [
          ["compute", "RegionTwo", "internal"],
          ["volumev3", "RegionTwo", "internal"]
        ]
      )
      assert.match(yield* client.endpoint("network"), /\/_\/RegionTwo\/internal\/network\/v2\.0$/)
      assert.match(yield* client.endpoint("volumev3"), new RegExp(`/volume/v3/${sim.admin.projectId}$`))
    }).pipe(Effect.scoped)
  )

  it.live("an unknown region is EndpointNotFound (never NotFound)", () =>
    Effect.gen(function* () {
      const { client } = yield* setup({}, { region: "Atlantis" })
      const error = failure(yield* Effect.exit(client.request("compute", "GET", "/servers")))
      assert.strictEqual(error.reason._tag, "EndpointNotFound")
      assert.isFalse(OpenStackError.isNotFound(error))
      assert.include(error.message, "region Atlantis")
    }).pipe(Effect.scoped)
  )

  it.live("without configured microversions, the ones the handlers are written for are sent", () =>
    Effect.gen(function* () {
      const { sim, client } = yield* setup({}, { computeMicroversion: undefined, volumeMicroversion: undefined })
      yield* client.request("compute", "GET", "/flavors")
      yield* client.request("volumev3", "GET", "/volumes")
      const served = (yield* sim.requests).filter((r) => r.service !== "identity")
      assert.deepStrictEqual(
        served.map((r) => r.apiVersionHeader),
        [
          `compute ${OpenStackClient.DEFAULT_COMPUTE_MICROVERSION}`,
          `volume ${OpenStackClient.DEFAULT_VOLUME_MICROVERSION}`
        ]
      )
    }).pipe(Effect.scoped)
  )

  it.live("sends the compute and volume microversion headers; a request may override them", () =>
    Effect.gen(function* () {
      const { sim, client } = yield* setup()
      yield* client.request("compute", "GET", "/flavors")
      yield* client.request("compute", "GET", "/flavors", { microversion: "2.93" })
      yield* client.request("volumev3", "GET", "/volumes")
      yield* client.request("network", "GET", "/networks")
      const served = (yield* sim.requests).filter((r) => r.service !== "identity")
      assert.deepStrictEqual(
        served.map((r) => [r.apiVersionHeader, r.novaApiVersionHeader]),
        [
          ["compute 2.79", "2.79"],
          ["compute 2.93", "2.93"],
          ["volume 3.59", undefined],
          [undefined, undefined]
        ]
      )
      const error = failure(yield* Effect.exit(client.request("compute", "GET", "/flavors", { microversion: "2.999" })))
      assert.strictEqual(error.status, 406)
      assert.include(error.message, "maximum is 2.93")
    }).pipe(Effect.scoped)
  )
})

describe("OpenStackClient: pagination", () => {
  it.live("follows Nova's next links across pages", () =>
    Effect.gen(function* () {
      const { sim, client } = yield* setup()
      for (let i = 0; i < 5; i++) yield* client.request("compute", "POST", "/flavors", { body: flavor(`f-${i}`) })
      yield* sim.clearRequests
      const flavors = yield* client.list("compute", "/flavors/detail", "flavors", undefined, { pageSize: 2 })
      assert.deepStrictEqual(flavors.map((f) => (f as { name: string }).name).sort(), [
        "f-0",
        "f-1",
        "f-2",
        "f-3",
        "f-4"
      ])
      const pages = (yield* sim.requests).filter((r) => r.route === "/flavors/detail")
      assert.lengthOf(pages, 3)
      assert.include(pages[1]!.query, "marker=")
    }).pipe(Effect.scoped)
  )

  it.live("follows links the server adds when it caps the page size", () =>
    Effect.gen(function* () {
      const { sim, client } = yield* setup({ maxPageSize: 2 })
      for (let i = 0; i < 5; i++) {
        yield* client.request("volumev3", "POST", "/volumes", { body: { volume: { size: 1, name: `v-${i}` } } })
      }
      const volumes = yield* client.list("volumev3", "/volumes/detail", "volumes")
      assert.lengthOf(volumes, 5)
      // 2 + 2 + 1: the last page is short, so there is no further link
      assert.lengthOf(
        (yield* sim.requests).filter((r) => r.route === "/volumes/detail"),
        3
      )
    }).pipe(Effect.scoped)
  )

  it.live("Neutron pages (with a filter kept across pages), Keystone and Glance collections", () =>
    Effect.gen(function* () {
      const { sim, client } = yield* setup()
      for (let i = 0; i < 4; i++) {
        yield* client.request("network", "POST", "/networks", { body: { network: { name: "same", mtu: 1400 } } })
      }
      const same = yield* client.list("network", "/networks", "networks", { name: "same" }, { pageSize: 3 })
      assert.lengthOf(same, 4)
      const pages = (yield* sim.requests).filter((r) => r.route === "/networks" && r.method === "GET")
      assert.lengthOf(pages, 2)
      assert.include(pages[1]!.query, "name=same")
      const projects = yield* client.list("identity", "/projects", "projects")
      assert.deepStrictEqual(
        projects.map((p) => (p as { name: string }).name),
        ["admin"]
      )
      const images = yield* client.list("image", "/images", "images", undefined, { pageSize: 1 })
      assert.lengthOf(images, 1)
    }).pipe(Effect.scoped)
  )

  it.live("the stream fetches only the pages it needs", () =>
    Effect.gen(function* () {
      const { sim, client } = yield* setup()
      for (let i = 0; i < 6; i++) yield* client.request("compute", "POST", "/flavors", { body: flavor(`s-${i}`) })
      yield* sim.clearRequests
      const flavors = client.stream("compute", "/flavors", "flavors", undefined, { pageSize: 2 })
      const firstThree = yield* flavors.pipe(Stream.take(3), Stream.runCollect)
      assert.lengthOf(firstThree, 3)
      assert.lengthOf(
        (yield* sim.requests).filter((r) => r.route === "/flavors"),
        2
      )
      // the same stream value can be run again
      assert.lengthOf(yield* Stream.runCollect(flavors), 6)
    }).pipe(Effect.scoped)
  )
})

describe("OpenStackClient: errors and retries", () => {
  it.live("retries 503 and 429, honouring Retry-After, then succeeds", () =>
    Effect.gen(function* () {
      const { sim, client } = yield* setup()
      yield* client.session
      yield* sim.faults.failNext({ service: "network", method: "GET", path: "/networks", status: 503, retryAfter: 1 })
      yield* sim.faults.failNext({ service: "network", method: "GET", path: "/networks", status: 429 })
      const start = yield* Clock.currentTimeMillis
      yield* client.request("network", "GET", "/networks")
      const elapsed = (yield* Clock.currentTimeMillis) - start
      assert.isAtLeast(elapsed, 950, "waited for Retry-After")
      assert.deepStrictEqual(
        (yield* sim.requests).filter((r) => r.service === "network").map((r) => r.status),
        [503, 429, 200]
      )
    }).pipe(Effect.scoped)
  )

  it.live("gives up after the configured number of retries, logging each retry", () =>
    Effect.gen(function* () {
      const { sim, client } = yield* setup({}, { retry: { times: 2, baseDelay: "1 millis" } })
      yield* client.session
      yield* sim.faults.failNext({ service: "network", path: "/networks", status: 503, times: 10 })
      const { exit, lines } = yield* captureLogs(client.request("network", "GET", "/networks"))
      const error = failure(exit)
      assert.strictEqual(error.reason._tag, "Unavailable")
      assert.strictEqual(error.status, 503)
      assert.lengthOf(
        (yield* sim.requests).filter((r) => r.service === "network"),
        3
      )
      const retries = lines.filter((l) => l.startsWith("timestamp") && l.includes("retrying"))
      assert.lengthOf(retries, 2)
      assert.include(retries[0]!, "reason=Unavailable")
    }).pipe(Effect.scoped)
  )

  it.live("a POST is retried after 503 (not served) but not after 500 (outcome unknown)", () =>
    Effect.gen(function* () {
      const { sim, client } = yield* setup()
      yield* sim.faults.failNext({ service: "compute", method: "POST", path: "/flavors", status: 503 })
      yield* client.request("compute", "POST", "/flavors", { body: flavor("after-503") })
      yield* sim.faults.failNext({ service: "compute", method: "POST", path: "/flavors", status: 500 })
      const error = failure(
        yield* Effect.exit(client.request("compute", "POST", "/flavors", { body: flavor("after-500") }))
      )
      assert.strictEqual(error.reason._tag, "Unavailable")
      assert.isTrue(error.reason._tag === "Unavailable" && error.reason.maybeApplied)
      assert.isTrue(error.retryable)
      // a GET after 500 is repeated
      yield* sim.faults.failNext({ service: "compute", method: "GET", path: "/flavors/*", status: 500 })
      const list = yield* client.request("compute", "GET", "/flavors/detail")
      assert.isDefined(list)
      const posts = (yield* sim.requests).filter((r) => r.method === "POST" && r.route === "/flavors")
      assert.deepStrictEqual(
        posts.map((r) => r.status),
        [503, 200, 500]
      )
    }).pipe(Effect.scoped)
  )

  it.live("409 is retried only when the caller says it is transient", () =>
    Effect.gen(function* () {
      const { sim, client } = yield* setup()
      yield* sim.faults.failNext({ service: "network", method: "PUT", path: "/networks/*", status: 409, times: 2 })
      const network = (yield* client.request("network", "POST", "/networks", {
        body: { network: { name: "n" } },
        schema: Schema.Struct({ network: Schema.Struct({ id: Schema.String }) })
      })).network
      const error = failure(
        yield* Effect.exit(
          client.request("network", "PUT", `/networks/${network.id}`, { body: { network: { name: "m" } } })
        )
      )
      assert.strictEqual(error.reason._tag, "Conflict")
      yield* client.request("network", "PUT", `/networks/${network.id}`, {
        body: { network: { name: "m" } },
        retryOnConflict: true
      })
      assert.deepStrictEqual(
        (yield* sim.requests).filter((r) => r.method === "PUT").map((r) => r.status),
        [409, 409, 200]
      )
    }).pipe(Effect.scoped)
  )

  it.live("400 is not retried and carries the server's message", () =>
    Effect.gen(function* () {
      const { sim, client } = yield* setup()
      const error = failure(
        yield* Effect.exit(client.request("compute", "POST", "/flavors", { body: flavor("bad", 0) }))
      )
      assert.strictEqual(error.reason._tag, "BadRequest")
      assert.include(error.reason.message, "ram")
      assert.strictEqual(error.errorType, "badRequest")
      assert.lengthOf(
        (yield* sim.requests).filter((r) => r.route === "/flavors"),
        1
      )
      const neutron = failure(
        yield* Effect.exit(
          client.request("network", "POST", "/subnets", {
            body: { subnet: { network_id: sim.externalNetworkId, ip_version: 4, cidr: "10.0.0.0/33" } }
          })
        )
      )
      assert.strictEqual(neutron.reason._tag, "BadRequest")
      assert.include(neutron.reason.message, "is not a valid IP subnet")
    }).pipe(Effect.scoped)
  )

  it.live("404 is NotFound with the request id of the response", () =>
    Effect.gen(function* () {
      const { sim, client } = yield* setup()
      const error = failure(yield* Effect.exit(client.request("compute", "GET", "/servers/nope")))
      assert.isTrue(OpenStackError.isNotFound(error))
      assert.strictEqual(error.errorType, "itemNotFound")
      assert.strictEqual(error.path, "/compute/v2.1/servers/nope")
      const logged = (yield* sim.requests).find((r) => r.route === "/servers/nope")
      assert.strictEqual(error.requestId, logged?.requestId)
      assert.include(error.message, logged!.requestId)
      assert.include(error.message, "Instance nope could not be found.")
      const gone = yield* client
        .request("network", "DELETE", "/networks/nope")
        .pipe(OpenStackError.catchNotFound(() => "already gone"))
      assert.strictEqual(gone, "already gone")
      const viaReason = yield* client
        .request("network", "DELETE", "/networks/nope")
        .pipe(Effect.catchReason("OpenStackError", "NotFound", (reason) => Effect.succeed(reason.message)))
      assert.include(viaReason, "could not be found")
    }).pipe(Effect.scoped)
  )

  it.live("quota errors of Nova (403), Cinder (413) and Neutron (409) are QuotaExceeded", () =>
    Effect.gen(function* () {
      const { client } = yield* setup({ quotas: { instances: 0, volumes: 0, networks: 0 } })
      yield* client.request("compute", "POST", "/flavors", {
        body: { flavor: { name: "q", ram: 64, vcpus: 1, disk: 1, id: "q" } }
      })
      const nova = failure(
        yield* Effect.exit(
          client.request("compute", "POST", "/servers", {
            body: { server: { name: "s", flavorRef: "q", imageRef: "x", networks: "none" } }
          })
        )
      )
      const images = yield* client.list("image", "/images", "images")
      const nova2 = failure(
        yield* Effect.exit(
          client.request("compute", "POST", "/servers", {
            body: {
              server: { name: "s", flavorRef: "q", imageRef: (images[0] as { id: string }).id, networks: "none" }
            }
          })
        )
      )
      const cinder = failure(
        yield* Effect.exit(client.request("volumev3", "POST", "/volumes", { body: { volume: { size: 1 } } }))
      )
      const neutron = failure(
        yield* Effect.exit(client.request("network", "POST", "/networks", { body: { network: { name: "n" } } }))
      )
      assert.strictEqual(nova.reason._tag, "BadRequest", "an invalid image is checked before the quota")
      assert.deepStrictEqual(
        [nova2, cinder, neutron].map((e) => [e.reason._tag, e.status]),
        [
          ["QuotaExceeded", 403],
          ["QuotaExceeded", 413],
          ["QuotaExceeded", 409]
        ]
      )
      assert.strictEqual(neutron.errorType, "OverQuota")
    }).pipe(Effect.scoped)
  )

  it.live("a timeout after the side effect surfaces as Timeout; the POST is not repeated", () =>
    Effect.gen(function* () {
      const { sim, client } = yield* setup({}, { requestTimeout: "300 millis" })
      yield* client.session
      yield* sim.faults.timeoutAfterSideEffect({ service: "compute", method: "POST", path: "/flavors" })
      const error = failure(
        yield* Effect.exit(client.request("compute", "POST", "/flavors", { body: flavor("maybe-created") }))
      )
      assert.strictEqual(error.reason._tag, "Timeout")
      assert.isTrue(error.retryable)
      const posts = (yield* sim.requests).filter((r) => r.method === "POST" && r.route === "/flavors")
      assert.deepStrictEqual(
        posts.map((r) => [r.status, r.fault]),
        [[0, "timeout-after-side-effect"]]
      )
      const inventory = yield* sim.inventory
      assert.isTrue(
        inventory.flavors.some((f) => f.name === "maybe-created"),
        "the flavor exists although the client saw no answer"
      )
      // an idempotent request is repeated after a timeout
      yield* sim.faults.timeoutAfterSideEffect({ service: "compute", method: "GET", path: "/flavors" })
      yield* client.request("compute", "GET", "/flavors")
    }).pipe(Effect.scoped)
  )

  it.live("a dropped connection after the side effect is Unavailable with an unknown outcome", () =>
    Effect.gen(function* () {
      const { sim, client } = yield* setup()
      yield* client.session
      yield* sim.faults.timeoutAfterSideEffect({ service: "network", method: "POST", path: "/networks", mode: "close" })
      const error = failure(
        yield* Effect.exit(client.request("network", "POST", "/networks", { body: { network: { name: "x" } } }))
      )
      assert.strictEqual(error.reason._tag, "Unavailable")
      assert.isTrue(error.reason._tag === "Unavailable" && error.reason.maybeApplied)
      assert.isTrue((yield* sim.inventory).networks.some((n) => n.name === "x"))
    }).pipe(Effect.scoped)
  )

  it.live("a refused connection is Unavailable, not applied, retried then reported", () =>
    Effect.gen(function* () {
      // a port that was just free: nothing listens there any more
      const closed = yield* Effect.scoped(Effect.map(OpenStackSimulator.make(), (s) => s.url))
      const { sim, client } = yield* setup(
        {},
        { endpointOverrides: { compute: `${closed}/compute/v2.1` }, retry: { times: 2, baseDelay: "1 millis" } }
      )
      const error = failure(yield* Effect.exit(client.request("compute", "POST", "/flavors", { body: flavor("x") })))
      assert.strictEqual(error.reason._tag, "Unavailable")
      assert.isTrue(error.reason._tag === "Unavailable" && !error.reason.maybeApplied)
      assert.isUndefined(error.status)
      assert.match(error.message, /ECONNREFUSED|connection refused/i)
      assert.notInclude(error.message, "?", "no query string, even where the runtime names the URL")
      assert.lengthOf(
        (yield* sim.requests).filter((r) => r.service === "compute"),
        0
      )
    }).pipe(Effect.scoped)
  )

  it.live("a response that does not match the caller's schema is InvalidResponse", () =>
    Effect.gen(function* () {
      const { client } = yield* setup()
      const error = failure(
        yield* Effect.exit(
          client.request("network", "GET", "/networks", {
            schema: Schema.Struct({ servers: Schema.Array(Schema.Any) })
          })
        )
      )
      assert.strictEqual(error.reason._tag, "InvalidResponse")
    }).pipe(Effect.scoped)
  )
})

describe("OpenStackClient: secrets", () => {
  it.live("passwords, secrets and tokens appear in no log line and no error", () =>
    Effect.gen(function* () {
      const sim = yield* OpenStackSimulator.make({
        adminPassword: "pw-3f9c2a71",
        applicationCredentialSecret: "ac-8d41e6b2",
        stepDelay: "10 millis"
      })
      const errors: Array<string> = []
      const program = (secret: string) =>
        Effect.gen(function* () {
          const client = yield* OpenStackClient.OpenStackClient
          yield* client.request("network", "GET", "/networks")
          yield* sim.faults.revokeTokens
          yield* client.request("network", "GET", "/networks")
          // a server that echoes the secret back in its error message
          yield* sim.faults.failNext({
            service: "compute",
            path: "/flavors",
            status: 400,
            message: `Invalid input: credential ${secret} is wrong`
          })
          const echoed = yield* Effect.flip(client.request("compute", "GET", "/flavors"))
          errors.push(echoed.message, JSON.stringify(echoed), String(echoed))
          yield* sim.faults.failNext({ service: "network", path: "/networks", status: 503, times: 2 })
          yield* client.request("network", "GET", "/networks")
          const missing = yield* Effect.flip(client.request("compute", "GET", "/servers/missing"))
          errors.push(missing.message, JSON.stringify(missing))
          yield* Effect.logError("handler failed", missing)
          yield* Effect.fail(missing)
        })
      const tokens: Array<string> = []
      for (const authType of ["password", "application-credential"] as const) {
        errors.length = 0
        const secret = authType === "password" ? "pw-3f9c2a71" : "ac-8d41e6b2"
        const { exit, lines } = yield* captureLogs(
          program(secret).pipe(
            Effect.provide(OpenStackClient.layer(sim.clientConfig({ authType, retry: { baseDelay: "1 millis" } })))
          )
        )
        assert.isTrue(Exit.isFailure(exit))
        assert.isTrue(lines.length > 5, "logs were captured")
        assert.isTrue(
          lines.some((l) => l.includes("openstack request failed, retrying")),
          "retries are logged"
        )
        const text = [...lines, ...errors].join("\n")
        assert.notInclude(text, "pw-3f9c2a71")
        assert.notInclude(text, "ac-8d41e6b2")
        assert.notInclude(text, "gAAAAA")
        assert.include(errors.join("\n"), "<redacted>")
      }
      for (const r of yield* sim.requests) tokens.push(r.query)
      assert.notInclude(tokens.join(""), "gAAAAA")
    }).pipe(Effect.scoped)
  )
})

describe("OpenStackClient: layers", () => {
  it.live("layer, layerNoDeps, and layerConfig from the openrc variables", () =>
    Effect.gen(function* () {
      const sim = yield* OpenStackSimulator.make({ stepDelay: "10 millis" })
      const session = OpenStackClient.OpenStackClient.pipe(Effect.flatMap((c) => c.session))
      const viaLayer = yield* session.pipe(Effect.provide(OpenStackClient.layer(sim.clientConfig())))
      assert.strictEqual(viaLayer.projectId, sim.admin.projectId)

      const noDeps = OpenStackClient.layerNoDeps(sim.clientConfig()).pipe(Layer.provide(FetchHttpClient.layer))
      assert.strictEqual((yield* session.pipe(Effect.provide(noDeps))).projectId, sim.admin.projectId)

      const openrc = {
        OS_AUTH_URL: sim.authUrl,
        OS_REGION_NAME: sim.region,
        OS_INTERFACE: "publicURL",
        OS_USERNAME: "admin",
        OS_PASSWORD: sim.admin.password,
        OS_USER_DOMAIN_NAME: "Default",
        OS_PROJECT_NAME: "admin",
        OS_PROJECT_DOMAIN_NAME: "Default"
      }
      const fromEnv = (env: Record<string, string>) =>
        OpenStackClient.layerConfig().pipe(Layer.provide(ConfigProvider.layer(ConfigProvider.fromUnknown(env))))
      assert.strictEqual((yield* session.pipe(Effect.provide(fromEnv(openrc)))).projectId, sim.admin.projectId)
      const appCred = yield* session.pipe(
        Effect.provide(
          fromEnv({
            OS_AUTH_URL: sim.authUrl,
            OS_APPLICATION_CREDENTIAL_ID: sim.applicationCredential.id,
            OS_APPLICATION_CREDENTIAL_SECRET: sim.applicationCredential.secret
          })
        )
      )
      assert.strictEqual(appCred.projectId, sim.admin.projectId)
      const missing = yield* Effect.exit(session.pipe(Effect.provide(fromEnv({ OS_AUTH_URL: sim.authUrl }))))
      assert.isTrue(Exit.isFailure(missing), "no password and no application credential")
    }).pipe(Effect.scoped)
  )
})
