/**
 * Keystone v3 subset: tokens (password and application credential, project
 * and domain scope, a catalog pointing back at the simulator), projects with
 * tags, domains, roles and role assignments. As in Keystone, a password token
 * scoped to a project needs a role on it (the user's default project counts as
 * assigned, like the bootstrap admin's); deleting a project drops its
 * assignments.
 */
import {
  dispatch,
  empty,
  isRecord,
  json,
  member,
  queryValues,
  route,
  type SimRequest,
  str,
  strings,
  tagFilter
} from "./http.ts"
import type * as M from "./model.ts"
import { badRequest, conflict, isoMicros, notFound, SimFailure, type State, tokenValue, uuid } from "./state.ts"

const unauthorized = () => new SimFailure(401, "The request you have made requires authentication.", "Unauthorized")

// Role assignments on projects, kept beside the state (`project user role`).
const assignmentsByState = new WeakMap<State, Set<string>>()

const assignments = (state: State): Set<string> => {
  let set = assignmentsByState.get(state)
  if (set === undefined) {
    set = new Set()
    assignmentsByState.set(state, set)
  }
  return set
}

const assignmentKey = (project: string, user: string, role: string) => `${project} ${user} ${role}`

const parseAssignment = (key: string) => {
  const [project, user, role] = key.split(" ") as [string, string, string]
  return { project, user, role }
}

/** Whether `user` may scope a token to `project`: a role on it, or it is the user's default project. */
export const hasRoleOn = (state: State, user: M.User, project: string): boolean =>
  user.default_project_id === project ||
  [...assignments(state)].some((k) => {
    const a = parseAssignment(k)
    return a.project === project && a.user === user.id
  })

/** Catalog endpoints: `public` of the first region at the root, the others under `/_/<region>/<interface>`. */
export const catalog = (state: State, projectId: string | undefined) => {
  const services: ReadonlyArray<readonly [string, string, string]> = [
    ["identity", "keystone", "/identity"],
    ["compute", "nova", "/compute/v2.1"],
    ["network", "neutron", "/network"],
    ["volumev3", "cinderv3", projectId === undefined ? "/volume/v3" : `/volume/v3/${projectId}`],
    ["image", "glance", "/image"]
  ]
  const first = state.settings.regions[0]
  return services.map(([type, name, path], i) => ({
    id: `svc-${i}`,
    type,
    name,
    endpoints: state.settings.regions.flatMap((region, r) =>
      (["public", "internal", "admin"] as const).map((iface) => ({
        id: `ep-${i}-${r}-${iface}`,
        interface: iface,
        region,
        region_id: region,
        url:
          region === first && iface === "public"
            ? `${state.baseUrl}${path}`
            : `${state.baseUrl}/_/${encodeURIComponent(region)}/${iface}${path}`
      }))
    )
  }))
}

const findDomain = (state: State, ref: unknown): M.Domain | undefined => {
  if (!isRecord(ref)) return state.domains.get("default")
  if (typeof ref.id === "string") return state.domains.get(ref.id)
  if (typeof ref.name === "string") return [...state.domains.values()].find((d) => d.name === ref.name)
  return undefined
}

const findUser = (state: State, ref: unknown): M.User | undefined => {
  if (!isRecord(ref)) return undefined
  if (typeof ref.id === "string") return state.users.get(ref.id)
  if (typeof ref.name !== "string") return undefined
  const domain = findDomain(state, ref.domain)
  return [...state.users.values()].find((u) => u.name === ref.name && u.domain_id === domain?.id)
}

const renderToken = (state: State, token: M.Token) => {
  const user = state.users.get(token.userId)!
  const userDomain = state.domains.get(user.domain_id)!
  const project = token.projectId === undefined ? undefined : state.projects.get(token.projectId)
  const domain = token.domainId === undefined ? undefined : state.domains.get(token.domainId)
  const scoped = project !== undefined || domain !== undefined
  const credential =
    token.applicationCredentialId === undefined
      ? undefined
      : state.applicationCredentials.get(token.applicationCredentialId)
  return {
    token: {
      methods: token.methods,
      user: {
        id: user.id,
        name: user.name,
        domain: { id: userDomain.id, name: userDomain.name },
        password_expires_at: null
      },
      audit_ids: [token.value.slice(-22)],
      expires_at: isoMicros(token.expiresAt),
      issued_at: isoMicros(token.issuedAt),
      ...(project === undefined
        ? {}
        : {
            project: {
              id: project.id,
              name: project.name,
              domain: { id: project.domain_id, name: state.domains.get(project.domain_id)?.name ?? "" }
            },
            is_domain: false
          }),
      ...(domain === undefined ? {} : { domain: { id: domain.id, name: domain.name } }),
      ...(scoped
        ? {
            roles: [...state.roles.values()].map((r) => ({ id: r.id, name: r.name })),
            catalog: catalog(state, project?.id)
          }
        : {}),
      ...(credential === undefined
        ? {}
        : { application_credential: { id: credential.id, name: credential.name, restricted: true } })
    }
  }
}

const issueToken = (state: State, req: SimRequest) => {
  const auth = isRecord(req.body) ? req.body.auth : undefined
  if (!isRecord(auth) || !isRecord(auth.identity)) throw badRequest("Expecting to find identity in auth.")
  const identity = auth.identity
  const methods = Array.isArray(identity.methods) ? identity.methods : []
  let user: M.User | undefined
  let projectId: string | undefined
  let domainId: string | undefined
  let credentialId: string | undefined
  if (methods.includes("application_credential")) {
    const ref = identity.application_credential
    if (!isRecord(ref) || typeof ref.secret !== "string") throw unauthorized()
    const credential =
      typeof ref.id === "string"
        ? state.applicationCredentials.get(ref.id)
        : [...state.applicationCredentials.values()].find(
            (c) => c.name === ref.name && c.user_id === findUser(state, ref.user)?.id
          )
    if (credential === undefined || credential.secret !== ref.secret) throw unauthorized()
    if (auth.scope !== undefined) throw unauthorized()
    user = state.users.get(credential.user_id)
    projectId = credential.project_id
    credentialId = credential.id
  } else if (methods.includes("password")) {
    const password = identity.password
    if (!isRecord(password)) throw unauthorized()
    const userRef = password.user
    user = findUser(state, userRef)
    if (user === undefined || !isRecord(userRef) || userRef.password !== user.password) throw unauthorized()
    const scope = auth.scope
    if (isRecord(scope) && isRecord(scope.project)) {
      const p = scope.project
      const project =
        typeof p.id === "string"
          ? state.projects.get(p.id)
          : [...state.projects.values()].find(
              (x) => x.name === p.name && x.domain_id === findDomain(state, p.domain)?.id
            )
      if (project === undefined || !project.enabled || !hasRoleOn(state, user, project.id)) {
        throw unauthorized()
      }
      projectId = project.id
    } else if (isRecord(scope) && isRecord(scope.domain)) {
      const domain = findDomain(state, scope.domain)
      if (domain === undefined) throw unauthorized()
      domainId = domain.id
    } else if (scope === undefined && user.default_project_id !== "") {
      // like Keystone: no scope means the user's default project
      projectId = user.default_project_id
    }
  } else {
    throw unauthorized()
  }
  if (user === undefined) throw unauthorized()
  const token: M.Token = {
    value: tokenValue(state),
    userId: user.id,
    projectId,
    domainId,
    methods: credentialId === undefined ? ["password"] : ["application_credential"],
    applicationCredentialId: credentialId,
    issuedAt: state.now,
    expiresAt: state.now + state.settings.tokenTtlMillis
  }
  state.tokens.set(token.value, token)
  return json(201, renderToken(state, token), { "X-Subject-Token": token.value })
}

/** The token of `X-Auth-Token`, if it is known and not expired. */
export const validToken = (state: State, value: string | undefined): M.Token | undefined => {
  if (value === undefined) return undefined
  const token = state.tokens.get(value)
  if (token === undefined || token.expiresAt <= state.now) return undefined
  return token
}

const subjectToken = (state: State, req: SimRequest): M.Token => {
  const token = validToken(state, req.headers["x-subject-token"])
  if (token === undefined) throw notFound("Could not find token.")
  return token
}

const renderProject = (state: State, p: M.Project) => ({
  ...p,
  tags: [...p.tags],
  options: {},
  links: { self: `${state.baseUrl}/identity/v3/projects/${p.id}` }
})

const getProject = (state: State, id: string): M.Project => {
  const p = state.projects.get(id)
  if (p === undefined) throw notFound(`Could not find project: ${id}.`, "Not Found")
  return p
}

const checkTag = (tag: string) => {
  if (tag.length === 0 || tag.length > 255 || tag.includes(",") || tag.includes("/")) {
    throw badRequest(`Invalid input for field 'tags': '${tag}' is not a valid tag.`)
  }
}

/** Creates a project; shared with the simulator's set-up. */
export const addProject = (
  state: State,
  fields: {
    readonly name: string
    readonly domainId?: string
    readonly description?: string
    readonly tags?: ReadonlyArray<string>
  }
): M.Project => {
  const domainId = fields.domainId ?? "default"
  if (!state.domains.has(domainId)) throw badRequest(`Could not find domain: ${domainId}.`)
  if ([...state.projects.values()].some((p) => p.name === fields.name && p.domain_id === domainId)) {
    throw conflict(
      `Conflict occurred attempting to store project - it is not permitted to have two projects with the same name in the same domain : ${fields.name}.`,
      "Conflict"
    )
  }
  for (const t of fields.tags ?? []) checkTag(t)
  const project: M.Project = {
    id: uuid(state).replace(/-/g, ""),
    name: fields.name,
    domain_id: domainId,
    description: fields.description ?? "",
    enabled: true,
    is_domain: false,
    parent_id: domainId,
    tags: [...(fields.tags ?? [])]
  }
  state.projects.set(project.id, project)
  return project
}

const checkAssignment = (state: State, project: string, user: string, role: string) => {
  getProject(state, project)
  if (!state.users.has(user)) throw notFound(`Could not find user: ${user}.`)
  if (!state.roles.has(role)) throw notFound(`Could not find role: ${role}.`)
}

const assignmentNotFound = (role: string, user: string, project: string) =>
  notFound(
    `Could not find role assignment with role: ${role}, user or group: ${user}, project, domain, or system: ${project}.`
  )

const routes = [
  route("POST", "/auth/tokens", (state, req) => issueToken(state, req)),
  route("GET", "/auth/tokens", (state, req) => json(200, renderToken(state, subjectToken(state, req)))),
  route("HEAD", "/auth/tokens", (state, req) => {
    subjectToken(state, req)
    return empty(200)
  }),
  route("DELETE", "/auth/tokens", (state, req) => {
    state.tokens.delete(subjectToken(state, req).value)
    return empty(204)
  }),

  route("GET", "/projects", (state, req) => {
    const tagged = tagFilter(req.query)
    const names = queryValues(req.query, "name")
    const domains = queryValues(req.query, "domain_id")
    const enabled = req.query.get("enabled")
    const projects = [...state.projects.values()].filter(
      (p) =>
        tagged(p.tags) &&
        (names.length === 0 || names.includes(p.name)) &&
        (domains.length === 0 || domains.includes(p.domain_id)) &&
        (enabled === null || String(p.enabled) === enabled.toLowerCase())
    )
    return json(200, {
      projects: projects.map((p) => renderProject(state, p)),
      links: { self: `${state.baseUrl}/identity/v3/projects`, previous: null, next: null }
    })
  }),
  route("POST", "/projects", (state, req) => {
    const body = member(req, "project")
    const name = str(body, "name")
    if (name === undefined || name.length === 0) throw badRequest("Invalid input for field 'name': required.")
    const project = addProject(state, {
      name,
      domainId: str(body, "domain_id") ?? "default",
      description: str(body, "description") ?? "",
      tags: strings(body, "tags") ?? []
    })
    if (body.enabled === false) project.enabled = false
    return json(201, { project: renderProject(state, project) })
  }),
  route("GET", "/projects/:id", (state, _req, { id }) =>
    json(200, { project: renderProject(state, getProject(state, id!)) })
  ),
  route("PATCH", "/projects/:id", (state, req, { id }) => {
    const project = getProject(state, id!)
    const body = member(req, "project")
    const name = str(body, "name")
    if (name !== undefined && name !== project.name) {
      if ([...state.projects.values()].some((p) => p.name === name && p.domain_id === project.domain_id)) {
        throw conflict(`Conflict occurred attempting to store project - duplicate name ${name}.`, "Conflict")
      }
      project.name = name
    }
    const description = str(body, "description")
    if (description !== undefined) project.description = description
    if (typeof body.enabled === "boolean") project.enabled = body.enabled
    const tags = strings(body, "tags")
    if (tags !== undefined) {
      for (const t of tags) checkTag(t)
      project.tags = [...tags]
    }
    return json(200, { project: renderProject(state, project) })
  }),
  route("DELETE", "/projects/:id", (state, _req, { id }) => {
    getProject(state, id!)
    state.projects.delete(id!)
    const set = assignments(state)
    for (const k of [...set]) if (parseAssignment(k).project === id) set.delete(k)
    return empty(204)
  }),
  route("GET", "/projects/:id/tags", (state, _req, { id }) => json(200, { tags: [...getProject(state, id!).tags] })),
  route("PUT", "/projects/:id/tags", (state, req, { id }) => {
    const project = getProject(state, id!)
    const tags = isRecord(req.body) ? strings(req.body, "tags") : undefined
    if (tags === undefined) throw badRequest("Expecting to find tags in request body.")
    for (const t of tags) checkTag(t)
    project.tags = [...new Set(tags)]
    return json(200, { tags: [...project.tags] })
  }),
  route("DELETE", "/projects/:id/tags", (state, _req, { id }) => {
    getProject(state, id!).tags = []
    return empty(204)
  }),
  route("GET", "/projects/:id/tags/:tag", (state, _req, { id, tag }) => {
    if (!getProject(state, id!).tags.includes(tag!)) throw notFound(`Could not find tag: ${tag}.`)
    return empty(204)
  }),
  route("PUT", "/projects/:id/tags/:tag", (state, _req, { id, tag }) => {
    const project = getProject(state, id!)
    checkTag(tag!)
    if (!project.tags.includes(tag!)) project.tags.push(tag!)
    return empty(201)
  }),
  route("DELETE", "/projects/:id/tags/:tag", (state, _req, { id, tag }) => {
    const project = getProject(state, id!)
    if (!project.tags.includes(tag!)) throw notFound(`Could not find tag: ${tag}.`)
    project.tags = project.tags.filter((t) => t !== tag)
    return empty(204)
  }),
  route("GET", "/projects/:id/users/:user/roles", (state, req, { id, user }) => {
    getProject(state, id!)
    if (!state.users.has(user!)) throw notFound(`Could not find user: ${user}.`)
    const roles = [...assignments(state)]
      .map(parseAssignment)
      .filter((a) => a.project === id && a.user === user)
      .map((a) => state.roles.get(a.role))
      .filter((r): r is M.Role => r !== undefined)
    return json(200, {
      roles: roles.map((r) => ({ ...r, links: { self: `${state.baseUrl}/identity/v3/roles/${r.id}` } })),
      links: { self: `${req.root}${req.route}`, previous: null, next: null }
    })
  }),
  route("PUT", "/projects/:id/users/:user/roles/:role", (state, _req, { id, user, role }) => {
    checkAssignment(state, id!, user!, role!)
    assignments(state).add(assignmentKey(id!, user!, role!))
    return empty(204)
  }),
  route("HEAD", "/projects/:id/users/:user/roles/:role", (state, _req, { id, user, role }) => {
    checkAssignment(state, id!, user!, role!)
    if (!assignments(state).has(assignmentKey(id!, user!, role!))) throw assignmentNotFound(role!, user!, id!)
    return empty(204)
  }),
  route("GET", "/projects/:id/users/:user/roles/:role", (state, _req, { id, user, role }) => {
    checkAssignment(state, id!, user!, role!)
    if (!assignments(state).has(assignmentKey(id!, user!, role!))) throw assignmentNotFound(role!, user!, id!)
    return empty(204)
  }),
  route("DELETE", "/projects/:id/users/:user/roles/:role", (state, _req, { id, user, role }) => {
    checkAssignment(state, id!, user!, role!)
    if (!assignments(state).delete(assignmentKey(id!, user!, role!))) throw assignmentNotFound(role!, user!, id!)
    return empty(204)
  }),
  route("GET", "/role_assignments", (state, req) => {
    const users = queryValues(req.query, "user.id")
    const projects = queryValues(req.query, "scope.project.id")
    const roles = queryValues(req.query, "role.id")
    const found = [...assignments(state)]
      .map(parseAssignment)
      .filter(
        (a) =>
          (users.length === 0 || users.includes(a.user)) &&
          (projects.length === 0 || projects.includes(a.project)) &&
          (roles.length === 0 || roles.includes(a.role))
      )
    return json(200, {
      role_assignments: found.map((a) => ({
        role: { id: a.role },
        user: { id: a.user },
        scope: { project: { id: a.project } },
        links: {
          assignment: `${state.baseUrl}/identity/v3/projects/${a.project}/users/${a.user}/roles/${a.role}`
        }
      })),
      links: { self: `${req.root}${req.route}`, previous: null, next: null }
    })
  }),

  route("GET", "/domains", (state, req) => {
    const names = queryValues(req.query, "name")
    return json(200, {
      domains: [...state.domains.values()]
        .filter((d) => names.length === 0 || names.includes(d.name))
        .map((d) => ({ ...d, description: "", links: { self: `${state.baseUrl}/identity/v3/domains/${d.id}` } })),
      links: { self: `${state.baseUrl}/identity/v3/domains`, previous: null, next: null }
    })
  }),
  route("GET", "/domains/:id", (state, _req, { id }) => {
    const domain = state.domains.get(id!)
    if (domain === undefined) throw notFound(`Could not find domain: ${id}.`)
    return json(200, {
      domain: { ...domain, description: "", links: { self: `${state.baseUrl}/identity/v3/domains/${domain.id}` } }
    })
  }),
  route("GET", "/roles", (state, req) => {
    const names = queryValues(req.query, "name")
    return json(200, {
      roles: [...state.roles.values()]
        .filter((r) => names.length === 0 || names.includes(r.name))
        .map((r) => ({ ...r, links: { self: `${state.baseUrl}/identity/v3/roles/${r.id}` } })),
      links: { self: `${state.baseUrl}/identity/v3/roles`, previous: null, next: null }
    })
  })
]

export const handle = (state: State, req: SimRequest) => dispatch(routes, state, req)
