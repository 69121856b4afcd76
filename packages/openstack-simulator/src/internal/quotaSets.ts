/**
 * Nova's and Cinder's `os-quota-sets` (per-project limits an admin sets on a
 * recovery project), with the usage the real services show (Nova's
 * `/detail`, Cinder's `?usage=True`). The defaults of instances, cores, RAM,
 * volumes and gigabytes are the simulator's quota settings, and what Nova and
 * Cinder enforce is the project's limit (`limitOf`).
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

/** The defaults: the constants above, with the simulator's quota settings where it has one. */
const defaults = (state: State, service: Service): Record<string, number> => {
  const q = state.settings.quotas
  return service === "compute"
    ? { ...DEFAULTS.compute, instances: q.instances, cores: q.cores, ram: q.ram }
    : { ...DEFAULTS.volume, volumes: q.volumes, gigabytes: q.gigabytes }
}

const quotaSet = (state: State, service: Service, project: string) => ({
  id: project,
  ...defaults(state, service),
  ...overrides(state).get(keyOf(service, project))
})

/** The limit of `key` for `project` (-1: unlimited). */
export const limitOf = (state: State, service: Service, project: string, key: string): number =>
  ({ ...defaults(state, service), ...overrides(state).get(keyOf(service, project)) })[key] ?? -1

/** What a project uses, by quota key (for the usage views). */
export type Usage = (state: State, project: string) => Readonly<Record<string, number>>

const withUsage = (state: State, service: Service, project: string, usage: Usage) => {
  const used = usage(state, project)
  const { id, ...limits } = quotaSet(state, service, project)
  return {
    id,
    ...Object.fromEntries(
      Object.entries(limits).map(([key, limit]) => [key, { limit, in_use: used[key] ?? 0, reserved: 0 }])
    )
  }
}

export const routes = (service: Service, usage: Usage): Array<Route> => [
  route("GET", "/os-quota-sets/:project", (state, req, { project }) =>
    json(200, {
      quota_set:
        // Cinder shows usage with ?usage=True (Nova has /detail instead)
        service === "volume" && /^true$/i.test(req.query.get("usage") ?? "")
          ? withUsage(state, service, project!, usage)
          : quotaSet(state, service, project!)
    })
  ),
  route("GET", "/os-quota-sets/:project/defaults", (state, _req, { project }) =>
    json(200, { quota_set: { id: project, ...defaults(state, service) } })
  ),
  ...(service === "compute"
    ? [
        route("GET", "/os-quota-sets/:project/detail", (state, _req, { project }) =>
          json(200, { quota_set: withUsage(state, service, project!, usage) })
        )
      ]
    : []),
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
