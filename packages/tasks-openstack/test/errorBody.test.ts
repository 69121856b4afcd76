import { assert, describe, it } from "@effect/vitest"
import { reasonFor, serverMessage } from "../src/internal/errorBody.ts"
import { readPage } from "../src/internal/pagination.ts"

describe("server messages", () => {
  it("reads every OpenStack error body shape", () => {
    const cases: ReadonlyArray<readonly [string, string, string | undefined]> = [
      [
        '{"badRequest": {"message": "Invalid key_name provided.", "code": 400}}',
        "Invalid key_name provided.",
        "badRequest"
      ],
      [
        '{"itemNotFound": {"message": "Instance x could not be found.", "code": 404}}',
        "Instance x could not be found.",
        "itemNotFound"
      ],
      [
        '{"NeutronError": {"type": "NetworkNotFound", "message": "Network x could not be found.", "detail": ""}}',
        "Network x could not be found.",
        "NetworkNotFound"
      ],
      [
        '{"error": {"code": 409, "title": "Conflict", "message": "Conflict occurred attempting to store project"}}',
        "Conflict occurred attempting to store project",
        "Conflict"
      ],
      [
        '{"errors": [{"status": 409, "title": "Conflict", "detail": "There was a conflict", "code": "placement.concurrent_update"}]}',
        "There was a conflict",
        "placement.concurrent_update"
      ],
      ['{"error_message": "{\\"faultstring\\": \\"Node busy\\"}"}', "Node busy", undefined],
      [
        '{"message": "No image found with ID x", "code": "404 Not Found", "title": "Not Found"}',
        "No image found with ID x",
        "Not Found"
      ],
      [
        "<html><head><title>503 Service Unavailable</title></head><body><h1>503 Service Unavailable</h1>No server is available to handle this request.</body></html>",
        "503 Service Unavailable No server is available to handle this request.",
        undefined
      ],
      ["", "HTTP 502", undefined]
    ]
    for (const [body, message, errorType] of cases) {
      const found = serverMessage(body.length === 0 ? 502 : 400, body)
      assert.strictEqual(found.message, message, body)
      assert.strictEqual(found.errorType, errorType, body)
    }
  })

  it("maps statuses to reasons, quota by message", () => {
    const tag = (status: number, message: string, errorType?: string) =>
      reasonFor(status, { message, errorType }, undefined)._tag
    assert.strictEqual(
      tag(403, "Quota exceeded for cores: Requested 2, but already used 20 of 20 cores"),
      "QuotaExceeded"
    )
    assert.strictEqual(tag(403, "Policy doesn't allow os_compute_api:servers:create"), "Forbidden")
    assert.strictEqual(tag(409, "Quota exceeded for resources: ['network'].", "OverQuota"), "QuotaExceeded")
    assert.strictEqual(tag(409, "Port x is still in use."), "Conflict")
    assert.strictEqual(
      tag(413, "VolumeLimitExceeded: Maximum number of volumes allowed (10) exceeded"),
      "QuotaExceeded"
    )
    assert.strictEqual(tag(413, "Request Entity Too Large"), "BadRequest")
    assert.strictEqual(tag(422, "Unprocessable"), "BadRequest")
    const unavailable = reasonFor(503, { message: "busy" }, 2000)
    assert.deepStrictEqual(
      unavailable._tag === "Unavailable" && [unavailable.maybeApplied, unavailable.retryAfterMillis],
      [false, 2000]
    )
    const internal = reasonFor(500, { message: "boom" }, undefined)
    assert.isTrue(internal._tag === "Unavailable" && internal.maybeApplied)
  })
})

describe("pagination", () => {
  it("finds the next page in each service's convention", () => {
    const nova = readPage(
      {
        servers: [{ id: "a" }],
        servers_links: [{ rel: "next", href: "http://elsewhere:8774/v2.1/servers?limit=1&marker=a" }]
      },
      "servers",
      { limit: 1 }
    )
    assert.deepStrictEqual(typeof nova === "object" && nova.next, { limit: "1", marker: "a" })
    const keystone = readPage(
      { projects: [{ id: "p" }], links: { self: "x", next: null, previous: null } },
      "projects",
      {}
    )
    assert.isTrue(typeof keystone === "object" && keystone.next === undefined)
    const glance = readPage({ images: [{ id: "i" }], next: "/v2/images?marker=i&limit=1" }, "images", {})
    assert.deepStrictEqual(typeof glance === "object" && glance.next, { marker: "i", limit: "1" })
    const neutronMarker = readPage({ networks: [{ id: "n1" }, { id: "n2" }] }, "networks", { limit: 2, name: "x" })
    assert.deepStrictEqual(typeof neutronMarker === "object" && neutronMarker.next, {
      limit: 2,
      name: "x",
      marker: "n2"
    })
    const shortPage = readPage({ networks: [{ id: "n1" }] }, "networks", { limit: 2 })
    assert.isTrue(typeof shortPage === "object" && shortPage.next === undefined)
    assert.isString(readPage({ other: [] }, "networks", {}))
  })
})
