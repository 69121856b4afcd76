/**
 * Nova's and Cinder's `os-quota-sets` (per-project limits an admin sets on a
 * recovery project). Values are recorded and shown as the real services show
 * them; the simulator enforces only its global volume quotas and Neutron's.
 */

import { empty, json, member, type Route, route } from "./http.ts"
import { badRequest, type State } from "./state.ts"

type Service = "compute" | "volume"

const DEFAULTS: Record<Service, Readonly<Record<string, number>>> = {
  compute: {
    instances: 10,
    cores: 20,
    ram: 51200,
    key_pairs: 100,
    metadata_items: 128,
    server_groups: 10,
    server_group_members: 10,
    injected_files: 5,
    injected_file_content_bytes: 10240,
    injected_file_path_bytes: 255
  },
  volume: {
    volumes: 10,
    gigabytes: 1000,
    snapshots: 10,
    backups: 10,
    backup_gigabytes: 1000,
    per_volume_gigabytes: -1,
    groups: 10
  }
}

const byState = new WeakMap<State, Map<string, Record<string, number>>>()
const overrides = (state: State): Map<string, Record<string, number>> => {
  let all = byState.get(state)
  if (all === undefined) {
    all = new Map()
    byState.set(state, all)
  }
  return all
}
const keyOf = (service: Service, project: string) => `${service}/${project}`

const quotaSet = (state: State, service: Service, project: string) => ({
  id: project,
  ...DEFAULTS[service],
  ...overrides(state).get(keyOf(service, project))
})

export const routes = (service: Service): Array<Route> => [
  route("GET", "/os-quota-sets/:project", (state, _req, { project }) =>
    json(200, { quota_set: quotaSet(state, service, project!) })
  ),
  route("GET", "/os-quota-sets/:project/defaults", (_state, _req, { project }) =>
    json(200, { quota_set: { id: project, ...DEFAULTS[service] } })
  ),
  route("PUT", "/os-quota-sets/:project", (state, req, { project }) => {
    const body = member(req, "quota_set")
    const changes: Record<string, number> = {}
    for (const [key, value] of Object.entries(body)) {
      if (!(key in DEFAULTS[service])) {
        throw badRequest(`Bad key(s) ${key} in quota_set`)
      }
      if (typeof value !== "number" || !Number.isInteger(value) || value < -1) {
        throw badRequest(`Invalid input for field/attribute ${key}. Value: ${JSON.stringify(value)}.`)
      }
      changes[key] = value
    }
    const at = keyOf(service, project!)
    overrides(state).set(at, { ...overrides(state).get(at), ...changes })
    const { id: _id, ...shown } = quotaSet(state, service, project!)
    return json(200, { quota_set: shown })
  }),
  route("DELETE", "/os-quota-sets/:project", (state, _req, { project }) => {
    overrides(state).delete(keyOf(service, project!))
    return empty(service === "compute" ? 202 : 200)
  })
]
