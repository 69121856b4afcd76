/**
 * The dashboard's stylesheet. Outcome colours are CSS variables so every view
 * (badges, graph nodes, timeline bars, progress bars) uses the same ones:
 * failed red, partial amber, succeeded green; waiting, ignored and skipped
 * each get their own.
 *
 * @since 0.1.0
 */
export const css = `
:root {
  --bg:#f7f8fa; --fg:#1f2430; --muted:#6b7280; --line:#d6dae1; --card:#fff;
  --ok:#16a34a; --bad:#dc2626; --warn:#d97706; --run:#2563eb;
}
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--fg); }
header { display:flex; align-items:center; gap:16px; padding:10px 20px; background:#1f2430; color:#fff; }
header a { color:#fff; text-decoration:none; font-weight:600; }
header .conn { margin-left:auto; font-size:12px; opacity:.85; }
header button { background:transparent; color:#fff; border:1px solid #6b7280; border-radius:4px; padding:2px 8px; cursor:pointer; }
#banner { display:none; padding:10px 20px; background:#fef2f2; color:#991b1b; border-bottom:2px solid var(--bad); font-weight:600; }
#banner.shown { display:block; }
#banner[data-kind="runner-unreachable"] { background:#fffbeb; color:#92400e; border-color:var(--warn); }
main { padding:16px 20px; }
a { color:#1d4ed8; }
table { border-collapse:collapse; width:100%; background:var(--card); }
th, td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-weight:600; color:var(--muted); font-size:12px; text-transform:uppercase; }
tr.job:hover { background:#eef2ff; cursor:pointer; }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; color:#fff; background:#9ca3af; white-space:nowrap; }
.label { display:inline-block; margin:0 4px 2px 0; padding:0 6px; border:1px solid var(--line); border-radius:4px; font-size:12px; }
.filters, .toolbar { display:flex; flex-wrap:wrap; gap:8px; align-items:center; margin-bottom:12px; }
.filters input, .filters select, .toolbar input, .toolbar select { padding:4px 6px; }
.toolbar [data-slot] { display:flex; gap:6px; align-items:center; }
.card { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:12px; margin-bottom:16px; }
.card h2 { margin:0 0 8px; font-size:15px; }
.muted { color:var(--muted); }
.empty { padding:24px; text-align:center; color:var(--muted); }
.bar { display:flex; width:160px; height:10px; background:#e5e7eb; border-radius:5px; overflow:hidden; }
.bar span { display:block; height:100%; }
.rto-met { color:var(--ok); font-weight:600; }
.rto-missed { color:var(--bad); font-weight:600; }
.tabs { display:flex; gap:4px; border-bottom:1px solid var(--line); margin-bottom:10px; }
.tabs button { border:0; background:transparent; padding:6px 12px; cursor:pointer; border-bottom:2px solid transparent; font-size:14px; }
.tabs button[aria-selected="true"] { border-color:var(--run); font-weight:600; }
.layout { display:grid; grid-template-columns: minmax(0,1fr) 380px; gap:16px; }
.ops button { margin:0 6px 6px 0; padding:4px 12px; }
.ops button:disabled { opacity:.45; cursor:not-allowed; }
.graph-view { position:relative; height:calc(100vh - 330px); min-height:420px; border:1px solid var(--line); border-radius:4px; overflow:hidden; background:#fcfcfd; cursor:grab; }
.graph-view.dragging { cursor:grabbing; }
.graph-view svg { width:100%; height:100%; display:block; user-select:none; }
.graph-view svg.far text { display:none; }
svg text { font-size:12px; pointer-events:none; }
g.node, g.group { cursor:pointer; }
g.node rect, g.group rect.box { stroke:#374151; stroke-width:1; }
g.node[data-state="waiting"] rect { stroke-dasharray:4 3; stroke:#9ca3af; }
g.node.match rect, g.group.match rect.box { stroke:#f59e0b; stroke-width:4; }
g.node.selected rect { stroke:#111827; stroke-width:3; }
g.node.dim, g.group.dim { opacity:.3; }
path.edge { fill:none; stroke:#9ca3af; stroke-width:1.2; }
#tooltip { position:fixed; z-index:20; pointer-events:none; display:none; max-width:520px; background:#111827; color:#fff; padding:6px 8px; border-radius:4px; font-size:12px; white-space:pre-wrap; word-break:break-all; }
pre { background:#f3f4f6; padding:8px; overflow:auto; max-height:240px; margin:4px 0 8px; font-size:12px; white-space:pre-wrap; word-break:break-word; }
.events { max-height:360px; overflow:auto; font-size:12px; }
.events div { padding:2px 0; border-bottom:1px dotted var(--line); }
.legend { margin-bottom:6px; }
.legend span { margin-right:10px; font-size:12px; white-space:nowrap; }
.legend i { display:inline-block; width:10px; height:10px; margin-right:4px; border:1px solid #374151; vertical-align:middle; }
.failure { border-left:4px solid var(--bad); padding:8px 10px; margin-bottom:10px; background:#fff; }
.failure h3 { margin:0 0 4px; font-size:14px; word-break:break-all; }
.failure .reason { white-space:pre-wrap; word-break:break-word; }
.timeline-wrap { height:calc(100vh - 330px); min-height:420px; overflow:auto; border:1px solid var(--line); border-radius:4px; background:#fff; }
.timeline-wrap svg text { font-size:11px; }
dialog { border:1px solid var(--line); border-radius:8px; padding:16px 20px; max-width:720px; width:90vw; }
dialog::backdrop { background:rgba(17,24,39,.45); }
dialog h2 { margin-top:0; }
dialog .list { max-height:40vh; overflow:auto; font-size:13px; }
dialog .danger { background:var(--bad); color:#fff; border:0; padding:6px 14px; border-radius:4px; }
dialog .danger:disabled { opacity:.5; }
dialog input[type=text] { width:100%; padding:4px 6px; }
.signin { max-width:420px; margin:60px auto; }
.signin input { width:100%; padding:6px; margin:8px 0; }
`
