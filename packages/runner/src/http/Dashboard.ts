/**
 * The dashboard: one self-contained page (no build step, no external
 * resources) served at `/` (the job list) and `/jobs/<id>` (one job). It
 * draws the job's DAG per phase in SVG with a layered layout computed in
 * the page, colours tasks by state and follows the job live through the
 * Server-Sent Events of `/api/jobs/<id>/stream`. Clicking a task shows its
 * input, output, reason and attempts; the job's event log is listed below.
 *
 * Test hooks: every task node is `g.node[data-task][data-phase][data-state]`.
 *
 * @since 0.1.0
 */

const style = `
:root { --bg:#f7f8fa; --fg:#1f2430; --muted:#6b7280; --line:#d6dae1; --card:#fff; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background:var(--bg); color:var(--fg); }
header { display:flex; align-items:center; gap:16px; padding:10px 20px; background:#1f2430; color:#fff; }
header a { color:#fff; text-decoration:none; font-weight:600; }
header .conn { margin-left:auto; font-size:12px; opacity:.8; }
main { padding:16px 20px; }
table { border-collapse:collapse; width:100%; background:var(--card); }
th, td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-weight:600; color:var(--muted); font-size:12px; text-transform:uppercase; }
tr.job:hover { background:#eef2ff; cursor:pointer; }
.badge { display:inline-block; padding:1px 8px; border-radius:10px; font-size:12px; color:#fff; background:#9ca3af; }
.label { display:inline-block; margin:0 4px 2px 0; padding:0 6px; border:1px solid var(--line); border-radius:4px; font-size:12px; }
.filters { display:flex; gap:8px; margin-bottom:12px; }
.filters input, .filters select { padding:4px 6px; }
.layout { display:grid; grid-template-columns: minmax(0,1fr) 360px; gap:16px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:12px; margin-bottom:16px; }
.card h2 { margin:0 0 8px; font-size:15px; }
.graph { overflow:auto; max-height:70vh; }
svg text { font-size:12px; pointer-events:none; }
g.node { cursor:pointer; }
g.node rect { stroke:#374151; stroke-width:1; }
g.node.selected rect { stroke:#111827; stroke-width:3; }
path.edge { fill:none; stroke:#9ca3af; stroke-width:1.2; }
pre { background:#f3f4f6; padding:8px; overflow:auto; max-height:240px; margin:4px 0 8px; font-size:12px; }
.ops button { margin:0 6px 6px 0; }
.events { max-height:320px; overflow:auto; font-size:12px; }
.events div { padding:2px 0; border-bottom:1px dotted var(--line); }
.muted { color:var(--muted); }
.legend span { margin-right:10px; font-size:12px; }
.legend i { display:inline-block; width:10px; height:10px; margin-right:4px; border:1px solid #374151; }
`

const script = String.raw`
"use strict";
var COLORS = { waiting:"#e5e7eb", running:"#60a5fa", success:"#4ade80", failed:"#f87171", ignored:"#d4d4d8",
  canceled:"#fbbf24", skipped:"#cbd5e1", done:"#a7f3d0" };
var STATE_COLORS = { pending:"#9ca3af", running:"#3b82f6", paused:"#f59e0b", canceling:"#f59e0b", canceled:"#b45309",
  completed:"#16a34a", clearing:"#8b5cf6", cleared:"#6d28d9", "clear-failed":"#dc2626" };
var NODE_W = 170, NODE_H = 34, GAP_X = 60, GAP_Y = 14, PAD = 10;

function el(tag, attrs, children) {
  var e = document.createElement(tag);
  for (var k in (attrs || {})) { if (k === "text") e.textContent = attrs[k]; else if (k === "onclick") e.onclick = attrs[k]; else e.setAttribute(k, attrs[k]); }
  (children || []).forEach(function (c) { if (c != null) e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
  return e;
}
function svg(tag, attrs) {
  var e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (var k in (attrs || {})) e.setAttribute(k, attrs[k]);
  return e;
}
function badge(state, outcome) {
  var b = el("span", { "class": "badge", text: state + (outcome ? " (" + outcome + ")" : "") });
  b.style.background = STATE_COLORS[state] || "#9ca3af";
  return b;
}
function when(ms) { return ms ? new Date(ms).toLocaleString() : ""; }
function json(v) { return v === null || v === undefined ? "—" : JSON.stringify(v, null, 2); }
function setConn(text) { document.getElementById("conn").textContent = text; }
function getJson(url) { return fetch(url).then(function (r) { return r.json().then(function (b) { if (!r.ok) throw new Error(b.error || r.statusText); return b; }); }); }

// ---- job list -------------------------------------------------------------
function listPage(root) {
  var state = el("select", { id: "state-filter" }, [el("option", { value: "", text: "all states" })].concat(
    Object.keys(STATE_COLORS).map(function (s) { return el("option", { value: s, text: s }); })));
  var label = el("input", { id: "label-filter", placeholder: "label: key=value" });
  var body = el("tbody");
  root.appendChild(el("div", { "class": "card" }, [
    el("h2", { text: "Jobs" }), el("div", { "class": "filters" }, [state, label]),
    el("table", {}, [el("thead", {}, [el("tr", {}, ["id", "state", "labels", "target", "tasks", "created"].map(function (h) { return el("th", { text: h }); }))]), body])
  ]));
  var pending = false;
  function load() {
    var q = [];
    if (state.value) q.push("state=" + encodeURIComponent(state.value));
    if (label.value.trim()) q.push("label=" + encodeURIComponent(label.value.trim()));
    getJson("/api/jobs" + (q.length ? "?" + q.join("&") : "")).then(function (jobs) {
      body.textContent = "";
      if (jobs.length === 0) body.appendChild(el("tr", {}, [el("td", { colspan: "6", "class": "muted", text: "no jobs" })]));
      jobs.forEach(function (j) {
        var tr = el("tr", { "class": "job", "data-job": j.id, onclick: function () { location.href = "/jobs/" + encodeURIComponent(j.id); } }, [
          el("td", {}, [el("a", { href: "/jobs/" + encodeURIComponent(j.id), text: j.id })]),
          el("td", {}, [badge(j.state, j.outcome)]),
          el("td", {}, Object.keys(j.labels).map(function (k) { return el("span", { "class": "label", text: k + "=" + j.labels[k] }); })),
          el("td", { text: j.target || "" }),
          el("td", { text: j.runTasks + (j.clearTasks ? " + " + j.clearTasks + " clear" : "") }),
          el("td", { text: when(j.createdAt) })
        ]);
        body.appendChild(tr);
      });
    }).catch(function (e) { setConn("error: " + e.message); });
  }
  function soon() { if (pending) return; pending = true; setTimeout(function () { pending = false; load(); }, 150); }
  state.onchange = load; label.onchange = load;
  load();
  var source = new EventSource("/api/stream");
  source.onopen = function () { setConn("live"); };
  source.onerror = function () { setConn("reconnecting…"); };
  source.addEventListener("hello", load);
  source.addEventListener("job", soon);
}

// ---- one job ----------------------------------------------------------------
function layout(tasks) {
  var byId = {}; tasks.forEach(function (t) { byId[t.id] = t; });
  var layer = {};
  function depth(id, seen) {
    if (layer[id] !== undefined) return layer[id];
    if (seen[id]) return 0;
    seen[id] = true;
    var d = 0;
    byId[id].dependencies.forEach(function (p) { if (byId[p]) d = Math.max(d, depth(p, seen) + 1); });
    layer[id] = d;
    return d;
  }
  tasks.forEach(function (t) { depth(t.id, {}); });
  var columns = [];
  tasks.forEach(function (t) { (columns[layer[t.id]] = columns[layer[t.id]] || []).push(t.id); });
  var pos = {};
  columns.forEach(function (col) { col.sort(); col.forEach(function (id, i) { pos[id] = i; }); });
  // barycenter ordering: each column by the mean position of its parents, two sweeps
  for (var sweep = 0; sweep < 2; sweep++) {
    for (var c = 1; c < columns.length; c++) {
      var col = columns[c];
      var bary = {};
      col.forEach(function (id) {
        var ps = byId[id].dependencies.filter(function (p) { return byId[p]; });
        bary[id] = ps.length ? ps.reduce(function (s, p) { return s + pos[p]; }, 0) / ps.length : pos[id];
      });
      col.sort(function (a, b) { return bary[a] - bary[b] || (a < b ? -1 : 1); });
      col.forEach(function (id, i) { pos[id] = i; });
    }
  }
  var height = 0;
  columns.forEach(function (col) { height = Math.max(height, col.length); });
  var xy = {};
  columns.forEach(function (col, c) {
    var offset = (height - col.length) * (NODE_H + GAP_Y) / 2;
    col.forEach(function (id, i) { xy[id] = { x: PAD + c * (NODE_W + GAP_X), y: PAD + offset + i * (NODE_H + GAP_Y) }; });
  });
  return { xy: xy, width: PAD * 2 + columns.length * (NODE_W + GAP_X) - GAP_X, height: PAD * 2 + height * (NODE_H + GAP_Y) - GAP_Y };
}

function taskState(t) { return t.result || (t.status === "done" ? "done" : t.status) || "waiting"; }

function jobPage(root, id) {
  var job = null, selected = null, nodes = {};
  var head = el("div", { "class": "card", id: "job-head" });
  var graphs = el("div", { id: "graphs" });
  var details = el("div", { "class": "card", id: "details" }, [el("h2", { text: "Task" }), el("div", { "class": "muted", text: "click a task" })]);
  var events = el("div", { "class": "events", id: "events" });
  var legend = el("div", { "class": "legend" }, Object.keys(COLORS).map(function (s) { var i = el("i"); i.style.background = COLORS[s]; return el("span", {}, [i, s]); }));
  root.appendChild(head);
  root.appendChild(el("div", { "class": "layout" }, [
    el("div", {}, [el("div", { "class": "card" }, [el("h2", { text: "Tasks" }), legend, graphs])]),
    el("div", {}, [details, el("div", { "class": "card" }, [el("h2", { text: "Events" }), events])])
  ]));

  function key(phase, tid) { return phase + "/" + tid; }
  function find(phase, tid) { return job && job.tasks.filter(function (t) { return t.phase === phase && t.id === tid; })[0]; }

  function renderHead() {
    head.textContent = "";
    var ops = el("div", { "class": "ops" }, ["cancel", "pause", "resume", "rollback", "confirm", "retry"].map(function (op) {
      return el("button", { "data-op": op, text: op, onclick: function () {
        fetch("/api/jobs/" + encodeURIComponent(id) + "/" + op, { method: "POST" }).then(function (r) { return r.json(); })
          .then(function (b) { if (b.error) alert(b.error); });
      } });
    }));
    var counts = {};
    job.tasks.forEach(function (t) { var s = taskState(t); counts[s] = (counts[s] || 0) + 1; });
    head.appendChild(el("h2", {}, ["Job " + job.id + " ", badge(job.state, job.outcome)]));
    head.appendChild(el("div", {}, Object.keys(job.labels).map(function (k) { return el("span", { "class": "label", text: k + "=" + job.labels[k] }); })));
    head.appendChild(el("div", { "class": "muted", id: "job-summary", text:
      (job.target ? "target " + job.target + " · " : "") + "created " + when(job.createdAt) + " · " +
      Object.keys(counts).sort().map(function (s) { return counts[s] + " " + s; }).join(", ") }));
    if (job.reason) head.appendChild(el("div", { text: job.reason.code + ": " + job.reason.message }));
    head.appendChild(ops);
  }

  function paint(t) {
    var n = nodes[key(t.phase, t.id)];
    if (!n) return;
    var s = taskState(t);
    n.g.setAttribute("data-state", s);
    n.rect.setAttribute("fill", COLORS[s] || "#e5e7eb");
    n.sub.textContent = s + (t.attempt > 1 ? " · attempt " + t.attempt : "");
  }

  function renderGraphs() {
    graphs.textContent = ""; nodes = {};
    ["run", "clear"].forEach(function (phase) {
      var tasks = job.tasks.filter(function (t) { return t.phase === phase; });
      if (tasks.length === 0) return;
      var l = layout(tasks);
      var s = svg("svg", { width: l.width, height: l.height, "class": "dag", "data-phase": phase });
      var defs = svg("defs"), marker = svg("marker", { id: "arrow-" + phase, viewBox: "0 0 10 10", refX: 10, refY: 5,
        markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
      marker.appendChild(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: "#9ca3af" }));
      defs.appendChild(marker); s.appendChild(defs);
      tasks.forEach(function (t) {
        t.dependencies.forEach(function (p) {
          var a = l.xy[p], b = l.xy[t.id];
          if (!a || !b) return;
          var x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2, x2 = b.x, y2 = b.y + NODE_H / 2, mx = (x1 + x2) / 2;
          s.appendChild(svg("path", { "class": "edge", "marker-end": "url(#arrow-" + phase + ")",
            d: "M" + x1 + "," + y1 + " C" + mx + "," + y1 + " " + mx + "," + y2 + " " + x2 + "," + y2 }));
        });
      });
      tasks.forEach(function (t) {
        var p = l.xy[t.id];
        var g = svg("g", { "class": "node", "data-task": t.id, "data-phase": phase, transform: "translate(" + p.x + "," + p.y + ")" });
        var rect = svg("rect", { width: NODE_W, height: NODE_H, rx: 5 });
        var title = svg("text", { x: 8, y: 14 }); title.textContent = t.id.length > 24 ? t.id.slice(0, 23) + "…" : t.id;
        var sub = svg("text", { x: 8, y: 28, fill: "#374151" });
        var tip = svg("title"); tip.textContent = t.id + " (" + t.type + ")";
        g.appendChild(tip); g.appendChild(rect); g.appendChild(title); g.appendChild(sub);
        g.addEventListener("click", function () { select(phase, t.id); });
        s.appendChild(g);
        nodes[key(phase, t.id)] = { g: g, rect: rect, sub: sub };
        paint(t);
      });
      graphs.appendChild(el("h3", { text: phase === "run" ? "Run phase" : "Clear phase" }));
      graphs.appendChild(el("div", { "class": "graph" }, [s]));
    });
    if (selected) highlight();
  }

  function highlight() {
    for (var k in nodes) nodes[k].g.classList.toggle("selected", selected === k);
  }

  function select(phase, tid) { selected = key(phase, tid); highlight(); renderDetails(); }

  function renderDetails() {
    if (!selected) return;
    var parts = selected.split("/"), t = find(parts[0], parts.slice(1).join("/"));
    if (!t) return;
    details.textContent = "";
    details.appendChild(el("h2", { text: "Task " + t.id }));
    var rows = [["type", t.type], ["phase", t.phase], ["state", taskState(t)], ["attempts", String(t.attempt)],
      ["runner", t.runner || (t.claim || "")], ["depends on", t.dependencies.join(", ") || "—"]];
    if (t.startedAt) rows.push(["started", when(t.startedAt)]);
    if (t.finishedAt) rows.push(["finished", when(t.finishedAt)]);
    if (t.undoes) rows.push(["undoes", t.undoes]);
    if (t.shared) rows.push(["shared", t.shared]);
    details.appendChild(el("table", { id: "task-fields" }, rows.map(function (r) { return el("tr", {}, [el("th", { text: r[0] }), el("td", { "data-field": r[0], text: r[1] })]); })));
    details.appendChild(el("div", { text: "input" })); details.appendChild(el("pre", { id: "task-input", text: json(t.input) }));
    details.appendChild(el("div", { text: "output" })); details.appendChild(el("pre", { id: "task-output", text: json(t.output) }));
    details.appendChild(el("div", { text: "reason" })); details.appendChild(el("pre", { id: "task-reason", text: json(t.reason) }));
  }

  function addEvent(e) {
    var line = el("div", { "data-type": e.type }, [
      el("span", { "class": "muted", text: new Date(e.at).toLocaleTimeString() + " " }),
      e.type + (e.taskId ? " " + e.taskId : "") + ": " + e.message]);
    events.appendChild(line);
    events.scrollTop = events.scrollHeight;
  }

  var source = new EventSource("/api/jobs/" + encodeURIComponent(id) + "/stream");
  source.onopen = function () { setConn("live"); };
  source.onerror = function () {
    setConn("reconnecting…");
    if (!job) getJson("/api/jobs/" + encodeURIComponent(id)).catch(function (e) { head.textContent = e.message; source.close(); });
  };
  source.addEventListener("snapshot", function (m) {
    job = JSON.parse(m.data);
    events.textContent = "";
    (job.events || []).forEach(addEvent);
    renderHead(); renderGraphs(); renderDetails();
    document.body.setAttribute("data-loaded", "true");
  });
  source.addEventListener("state", function (m) {
    if (!job) return;
    var s = JSON.parse(m.data);
    if (!s) return;
    ["state", "outcome", "reason", "updatedAt", "startedAt", "completedAt", "clearMode", "elapsedMs", "rtoMet"].forEach(function (k) { job[k] = s[k]; });
    renderHead();
  });
  source.addEventListener("log", function (m) { var e = JSON.parse(m.data); if (e) addEvent(e); });
  source.addEventListener("task", function (m) {
    var c = JSON.parse(m.data), t = find(c.phase, c.id);
    if (!t) return;
    var v = c.value;
    if (c.record === "status" && v) { t.status = v.status; t.attempt = v.attempt; t.runner = v.runner || null; t.startedAt = v.startedAt || null; }
    if (c.record === "result") {
      t.result = v ? v.result : null; t.output = v && v.output !== undefined ? v.output : null;
      t.reason = v && v.reason ? v.reason : null; t.finishedAt = v ? v.finishedAt : null;
    }
    if (c.record === "claim") t.claim = v;
    paint(t);
    if (selected === key(c.phase, c.id)) renderDetails();
    renderHead();
  });
}

var match = /^\/jobs\/(.+)$/.exec(location.pathname);
var rootEl = document.getElementById("root");
if (match) { document.title = "migrator · " + decodeURIComponent(match[1]); jobPage(rootEl, decodeURIComponent(match[1])); }
else listPage(rootEl);
`

/** The dashboard page. */
export const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>migrator</title>
<style>${style}</style>
</head>
<body>
<header><a href="/">migrator</a><span>disaster-recovery jobs</span><span class="conn" id="conn">connecting…</span></header>
<main id="root"></main>
<script>${script}</script>
</body>
</html>
`
