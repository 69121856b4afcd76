/**
 * `migrator job graph`: a job's two DAGs as Mermaid (`flowchart`) or
 * Graphviz DOT. Nodes show the task id, type and status (the result once
 * done); edges go from a dependency to its dependent; the clear phase is a
 * subgraph (Mermaid) or cluster (DOT) of its own, with dashed "undoes"
 * edges to the run tasks it reverses.
 *
 * @since 0.1.0
 */
import type { Jobs } from "@migrator/core"

export type Format = "mermaid" | "dot"

export interface Node {
  readonly id: string
  readonly type: string
  readonly phase: "run" | "clear"
  readonly dependencies: ReadonlyArray<string>
  readonly undoes: string | undefined
  /** `waiting`, `running` or, once done, the result. */
  readonly status: string
}

export const nodesOf = (tasks: ReadonlyArray<Jobs.TaskView>): ReadonlyArray<Node> =>
  tasks
    .map((t) => ({
      id: t.spec.id,
      type: t.spec.type,
      phase: t.spec.phase,
      dependencies: t.spec.dependencies,
      undoes: t.spec.undoes,
      status: t.result?.result ?? t.status?.status ?? "waiting"
    }))
    .sort((a, b) => (a.phase === b.phase ? (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) : a.phase === "run" ? -1 : 1))

/** Fill and stroke colours per status. */
const colours: Record<string, readonly [string, string]> = {
  waiting: ["#f5f5f5", "#9e9e9e"],
  running: ["#fff3cd", "#f0ad4e"],
  success: ["#d4edda", "#28a745"],
  failed: ["#f8d7da", "#dc3545"],
  ignored: ["#e2e3e5", "#6c757d"],
  canceled: ["#e2e3e5", "#343a40"],
  skipped: ["#d1ecf1", "#17a2b8"],
  done: ["#d4edda", "#28a745"]
}

interface Indexed {
  readonly run: ReadonlyArray<Node>
  readonly clear: ReadonlyArray<Node>
  /** Graph-safe node name per phase and task id. */
  readonly name: (phase: "run" | "clear", task: string) => string | undefined
}

const index = (nodes: ReadonlyArray<Node>): Indexed => {
  const run = nodes.filter((n) => n.phase === "run")
  const clear = nodes.filter((n) => n.phase === "clear")
  const names = new Map<string, string>()
  for (const [i, n] of run.entries()) names.set(`run/${n.id}`, `r${i}`)
  for (const [i, n] of clear.entries()) names.set(`clear/${n.id}`, `c${i}`)
  return { run, clear, name: (phase, task) => names.get(`${phase}/${task}`) }
}

const edges = (g: Indexed) => {
  const out: Array<{ readonly from: string; readonly to: string; readonly undoes: boolean }> = []
  for (const n of [...g.run, ...g.clear]) {
    const to = g.name(n.phase, n.id)!
    for (const d of n.dependencies) {
      const from = g.name(n.phase, d)
      if (from !== undefined) out.push({ from, to, undoes: false })
    }
    if (n.undoes !== undefined) {
      const target = g.name("run", n.undoes)
      if (target !== undefined) out.push({ from: to, to: target, undoes: true })
    }
  }
  return out
}

/** Mermaid's default `maxEdges`: larger flowcharts are refused unless it is raised. */
export const MERMAID_MAX_EDGES = 500

const mermaidText = (s: string) => s.replace(/"/g, "#quot;").replace(/</g, "#lt;").replace(/>/g, "#gt;")

/** A Mermaid `flowchart`. */
export const mermaid = (nodes: ReadonlyArray<Node>): string => {
  const g = index(nodes)
  const lines = ["flowchart TB"]
  const phase = (label: "run" | "clear", list: ReadonlyArray<Node>) => {
    if (list.length === 0) return
    lines.push(`  subgraph ${label}_phase["${label} phase"]`)
    for (const n of list) {
      lines.push(
        `    ${g.name(label, n.id)}["${mermaidText(n.id)}<br/>${mermaidText(n.type)}<br/>${mermaidText(n.status)}"]`
      )
    }
    lines.push("  end")
  }
  phase("run", g.run)
  phase("clear", g.clear)
  for (const e of edges(g)) lines.push(e.undoes ? `  ${e.from} -.->|undoes| ${e.to}` : `  ${e.from} --> ${e.to}`)
  const byStatus = new Map<string, Array<string>>()
  for (const n of nodes) {
    const list = byStatus.get(n.status) ?? []
    list.push(g.name(n.phase, n.id)!)
    byStatus.set(n.status, list)
  }
  for (const [status, names] of byStatus) {
    const [fill, stroke] = colours[status] ?? colours.waiting!
    lines.push(`  classDef ${status} fill:${fill},stroke:${stroke}`)
    lines.push(`  class ${names.join(",")} ${status}`)
  }
  return lines.join("\n")
}

const dotText = (s: string) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')

/** A Graphviz `digraph`. */
export const dot = (jobId: string, nodes: ReadonlyArray<Node>): string => {
  const g = index(nodes)
  const lines = [
    `digraph "${dotText(jobId)}" {`,
    "  rankdir=TB;",
    '  node [shape=box, style="rounded,filled", fontname="Helvetica"];'
  ]
  const phase = (label: "run" | "clear", list: ReadonlyArray<Node>) => {
    if (list.length === 0) return
    lines.push(`  subgraph cluster_${label} {`, `    label="${label} phase";`)
    if (label === "clear") lines.push("    style=dashed;")
    for (const n of list) {
      const [fill, stroke] = colours[n.status] ?? colours.waiting!
      lines.push(
        `    ${g.name(label, n.id)} [label="${dotText(n.id)}\\n${dotText(n.type)}\\n${dotText(n.status)}", fillcolor="${fill}", color="${stroke}"];`
      )
    }
    lines.push("  }")
  }
  phase("run", g.run)
  phase("clear", g.clear)
  for (const e of edges(g)) {
    lines.push(
      // an undoes edge is laid out from the run task down to its clear task, the arrow pointing back up
      e.undoes ? `  ${e.to} -> ${e.from} [style=dashed, dir=back, label="undoes"];` : `  ${e.from} -> ${e.to};`
    )
  }
  lines.push("}")
  return lines.join("\n")
}
