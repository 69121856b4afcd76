/**
 * The simulator's initial world (the `Default` domain, an admin user with a
 * project and an application credential, roles, an external network, an
 * image) and snapshots of it for tests.
 */
import * as keystone from "./keystone.ts"
import type * as M from "./model.ts"
import * as neutron from "./neutron.ts"
import { isoSeconds, nextSeq, prng, type Settings, type State, uuid } from "./state.ts"

export interface Seed {
  readonly settings: Settings
  readonly stepDelayMillis: number
  readonly seed: number
  readonly now: number
  readonly adminPassword: string
  readonly applicationCredentialSecret: string
  readonly externalNetwork: { readonly name: string; readonly cidr: string } | undefined
  readonly images: ReadonlyArray<{ readonly name: string; readonly id?: string | undefined }>
}

export interface Identities {
  readonly adminUserId: string
  readonly adminProjectId: string
  readonly applicationCredentialId: string
  readonly externalNetworkId: string | undefined
}

export const make = (seed: Seed): { readonly state: State; readonly identities: Identities } => {
  const state: State = {
    settings: seed.settings,
    baseUrl: "",
    stepDelayMillis: seed.stepDelayMillis,
    initialStepDelayMillis: seed.stepDelayMillis,
    now: seed.now,
    random: prng(seed.seed),
    seq: 0,
    domains: new Map([["default", { id: "default", name: "Default", enabled: true }]]),
    projects: new Map(),
    users: new Map(),
    applicationCredentials: new Map(),
    roles: new Map(),
    tokens: new Map(),
    servers: new Map(),
    flavors: new Map(),
    keypairs: new Map(),
    networks: new Map(),
    subnets: new Map(),
    ports: new Map(),
    routers: new Map(),
    floatingips: new Map(),
    securityGroups: new Map(),
    securityGroupRules: new Map(),
    volumes: new Map(),
    snapshots: new Map(),
    images: new Map(),
    pending: [],
    requests: [],
    failRules: [],
    sideEffectRules: [],
    delayRules: [],
    serverFailRules: [],
    volumeFailRules: []
  }
  for (const name of ["admin", "member", "reader"]) {
    const id = uuid(state).replace(/-/g, "")
    state.roles.set(id, { id, name })
  }
  const project = keystone.addProject(state, { name: "admin", description: "Bootstrap project" })
  const userId = uuid(state).replace(/-/g, "")
  state.users.set(userId, {
    id: userId,
    name: "admin",
    domain_id: "default",
    password: seed.adminPassword,
    default_project_id: project.id
  })
  const credentialId = uuid(state).replace(/-/g, "")
  state.applicationCredentials.set(credentialId, {
    id: credentialId,
    name: "migrator",
    secret: seed.applicationCredentialSecret,
    user_id: userId,
    project_id: project.id
  })
  const external =
    seed.externalNetwork === undefined
      ? undefined
      : neutron.addExternalNetwork(state, project.id, seed.externalNetwork.name, seed.externalNetwork.cidr)
  for (const image of seed.images) {
    const id = image.id ?? uuid(state)
    state.images.set(id, {
      id,
      name: image.name,
      status: "active",
      visibility: "public",
      owner: project.id,
      size: 1024,
      disk_format: "raw",
      container_format: "bare",
      min_disk: 0,
      min_ram: 0,
      tags: [],
      created_at: isoSeconds(seed.now),
      updated_at: isoSeconds(seed.now),
      sim_seq: nextSeq(state)
    })
  }
  return {
    state,
    identities: {
      adminUserId: userId,
      adminProjectId: project.id,
      applicationCredentialId: credentialId,
      externalNetworkId: external?.id
    }
  }
}

export interface Inventory {
  readonly projects: ReadonlyArray<M.Project>
  readonly servers: ReadonlyArray<M.Server>
  readonly flavors: ReadonlyArray<M.Flavor>
  readonly keypairs: ReadonlyArray<M.Keypair>
  readonly networks: ReadonlyArray<M.Network>
  readonly subnets: ReadonlyArray<M.Subnet>
  readonly ports: ReadonlyArray<M.Port>
  readonly routers: ReadonlyArray<M.Router>
  readonly floatingips: ReadonlyArray<M.FloatingIp>
  readonly securityGroups: ReadonlyArray<M.SecurityGroup>
  readonly securityGroupRules: ReadonlyArray<M.SecurityGroupRule>
  readonly volumes: ReadonlyArray<M.Volume>
  readonly snapshots: ReadonlyArray<M.Snapshot>
  readonly images: ReadonlyArray<M.Image>
}

const copy = <T>(m: Map<string, T>): ReadonlyArray<T> => [...m.values()].map((v) => structuredClone(v))

export const inventory = (state: State): Inventory => ({
  projects: copy(state.projects),
  servers: copy(state.servers),
  flavors: copy(state.flavors),
  keypairs: copy(state.keypairs),
  networks: copy(state.networks),
  subnets: copy(state.subnets),
  ports: copy(state.ports),
  routers: copy(state.routers),
  floatingips: copy(state.floatingips),
  securityGroups: copy(state.securityGroups),
  securityGroupRules: copy(state.securityGroupRules),
  volumes: copy(state.volumes),
  snapshots: copy(state.snapshots),
  images: copy(state.images)
})
