/**
 * Shared keys (SPEC §4.5): which resources of a plan are shared between
 * jobs, under which key, and why the others are not (see `PlanBuilder.ts`).
 *
 * @since 0.1.0
 */
import type * as Plan from "../Plan.ts"
import { taskIds } from "./Steps.ts"

const segment = (kind: string, id: string) => `${kind}:${encodeURIComponent(id)}`

export interface Sharing {
  readonly key?: string
  readonly notShared?: string
}

const shared = (key: string): Sharing => ({ key })
const notShared = (why: string): Sharing => ({ notShared: why })

/** Decides which resources are shared and under which key. */
export const sharing = (plan: Plan.Plan, idx: Plan.Index) => {
  const root = `openstack:${encodeURIComponent(plan.target)}${plan.source === undefined ? "" : `/${segment("source", plan.source)}`}`
  const memo = new Map<string, Sharing>()
  const once = (id: string, f: () => Sharing) => {
    const found = memo.get(id)
    if (found !== undefined) return found
    const s = f()
    memo.set(id, s)
    return s
  }
  const project = (p: Plan.Project): Sharing =>
    once(taskIds.project(p.id), () =>
      p.sourceId === undefined
        ? notShared("the project has no sourceId")
        : shared(`${root}/${segment("project", p.sourceId)}`)
    )
  const inProject = (p: Plan.Project, kind: string, sourceId: string | undefined): Sharing => {
    if (sourceId === undefined) return notShared(`the ${kind} has no sourceId`)
    const parent = project(p)
    return parent.key === undefined
      ? notShared(`its project "${p.id}" is not shared`)
      : shared(`${parent.key}/${segment(kind, sourceId)}`)
  }
  const securityGroup = (g: Plan.Located<Plan.SecurityGroup>) =>
    once(taskIds.securityGroup(g.value.id), () => inProject(g.project, "security-group", g.value.sourceId))
  const network = (n: Plan.Located<Plan.Network>) =>
    once(taskIds.network(n.value.id), () => inProject(n.project, "network", n.value.sourceId))
  return {
    project,
    securityGroup,
    network,
    subnet: (s: Plan.LocatedSubnet): Sharing => {
      const parent = network(idx.networks.get(s.network.id)!)
      return parent.key === undefined
        ? notShared(`its network "${s.network.id}" is not shared`)
        : shared(`${parent.key}/${segment("subnet", s.value.sourceId ?? s.value.cidr)}`)
    },
    router: (r: Plan.Located<Plan.Router>): Sharing => {
      const own = inProject(r.project, "router", r.value.sourceId)
      if (own.key === undefined) return own
      for (const itf of r.value.interfaces ?? []) {
        const subnet = idx.subnets.get(itf.subnet)!
        if (network(idx.networks.get(subnet.network.id)!).key === undefined) {
          return notShared(`the network "${subnet.network.id}" of its interface on "${itf.subnet}" is not shared`)
        }
      }
      return own
    },
    keypair: (k: Plan.Keypair): Sharing =>
      k.sourceId === undefined
        ? notShared("the keypair has no sourceId")
        : shared(`${root}/${segment("keypair", k.sourceId)}`),
    flavor: (f: Plan.Located<Plan.Flavor>): Sharing => {
      if (f.value.sourceId === undefined) return notShared("the flavor has no sourceId")
      // a private flavor belongs to its project
      return f.value.isPublic === false
        ? inProject(f.project, "flavor", f.value.sourceId)
        : shared(`${root}/${segment("flavor", f.value.sourceId)}`)
    }
  }
}

export type Shares = ReturnType<typeof sharing>
