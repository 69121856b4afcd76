/**
 * Browser code: the DAG view of one phase. Zoom (wheel, buttons) and pan
 * (drag); full labels and reasons on hover; search that highlights matches
 * and steps through them; grouping by resource kind or by project, where a
 * collapsed group is one node with its task count and state counts and
 * expands on click; "next failed" that opens the failed task's group,
 * centres it and selects it. Jobs over 500 tasks open grouped by kind.
 *
 * Test hooks: task nodes are `g.node[data-task][data-phase][data-state]`,
 * group nodes `g.group[data-group][data-count][data-failed]`.
 *
 * @since 0.1.0
 */
export const js = String.raw`
function kindOf(t) {
  var name = t.type.slice(t.type.indexOf("/") + 1);
  var dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(0, dot) : name;
}
function isProjectTask(t) { return /tenant\.create$|project\.create$/.test(t.type) || t.id.indexOf("project:") === 0; }
/** The project a task belongs to: the project task among its ancestors (a clear task: that of the run task it undoes). */
function projectsOf(tasks, runTasks) {
  var byId = {}, memo = {};
  tasks.forEach(function (t) { byId[t.id] = t; });
  var runById = {};
  (runTasks || []).forEach(function (t) { runById[t.id] = t; });
  var runMemo = runTasks ? projectsOf(runTasks) : null;
  function of(id, depth) {
    if (memo[id] !== undefined) return memo[id];
    var t = byId[id];
    var p = "";
    if (!t || depth > 200) return "";
    if (isProjectTask(t)) p = t.id.replace(/^project:/, "");
    else if (t.undoes && runMemo && runMemo[t.undoes] !== undefined) p = runMemo[t.undoes];
    else for (var i = 0; i < t.dependencies.length && !p; i++) p = of(t.dependencies[i], depth + 1);
    memo[id] = p;
    return p;
  }
  tasks.forEach(function (t) { of(t.id, 0); });
  return memo;
}

function GraphView(host, phase, tasks, opts) {
  var byId = {}; tasks.forEach(function (t) { byId[t.id] = t; });
  var projects = null;
  var grouping = tasks.length > 500 ? "kind" : "none", expanded = {}, query = "", matchIndex = -1, failedIndex = -1;
  var selected = null, nodes = {}, groups = {}, lay = null;
  var view = { x: 0, y: 0, k: 1 };

  var phaseSelect = opts.phaseSelect;
  var groupSelect = el("select", { id: "graph-group", title: "group tasks" }, [
    el("option", { value: "none", text: "no grouping" }), el("option", { value: "kind", text: "group by resource kind" }),
    el("option", { value: "project", text: "group by project" })]);
  groupSelect.value = grouping;
  var search = el("input", { id: "graph-search", type: "search", placeholder: "search tasks (Enter: next)" });
  var searchCount = el("span", { "class": "muted", id: "search-count" });
  var nextFailed = el("button", { id: "next-failed", type: "button" });
  var chips = el("span", { id: "expanded-groups" });
  var toolbar = el("div", { "class": "toolbar" }, [phaseSelect, groupSelect, search, searchCount, nextFailed,
    el("button", { type: "button", id: "zoom-in", title: "zoom in", text: "+", onclick: function () { zoomAt(1.25); } }),
    el("button", { type: "button", id: "zoom-out", title: "zoom out", text: "−", onclick: function () { zoomAt(0.8); } }),
    el("button", { type: "button", id: "zoom-fit", title: "fit the graph", text: "fit", onclick: function () { fit(); } }),
    chips]);
  var box = el("div", { "class": "graph-view", id: "graph-view" });
  var root = svg("svg", { "class": "dag", "data-phase": phase });
  var viewport = svg("g", { "class": "viewport" });
  root.appendChild(viewport);
  box.appendChild(root);
  clear(host);
  host.appendChild(toolbar);
  host.appendChild(box);

  function groupOf(t) {
    if (grouping === "kind") return kindOf(t);
    if (grouping === "project") { projects = projects || projectsOf(tasks, opts.runTasks); return projects[t.id] || "(no project)"; }
    return null;
  }
  function repOf(t) { var g = groupOf(t); return g !== null && !expanded[g] ? "group:" + g : t.id; }
  function matches(t) {
    if (!query) return false;
    return t.id.toLowerCase().indexOf(query) >= 0 || t.type.toLowerCase().indexOf(query) >= 0;
  }
  function failedTasks() { return tasks.filter(function (t) { return taskState(t) === "failed"; }); }

  // ---- drawing -----------------------------------------------------------------
  function render() {
    clear(viewport); nodes = {}; groups = {};
    var members = {}, list = [], edges = [], edgeSeen = {};
    tasks.forEach(function (t) {
      var r = repOf(t);
      if (!members[r]) {
        members[r] = [];
        var label = r.indexOf("group:") === 0 ? r.slice(6) : t.id;
        list.push({ id: r, w: r.indexOf("group:") === 0 ? Math.max(200, labelWidth(label)) : labelWidth(label), h: r.indexOf("group:") === 0 ? 54 : NODE_H });
      }
      members[r].push(t);
    });
    tasks.forEach(function (t) {
      var to = repOf(t);
      t.dependencies.forEach(function (d) {
        if (!byId[d]) return;
        var from = repOf(byId[d]), k = from + "\u0000" + to;
        if (from === to) return;
        if (edgeSeen[k]) { edgeSeen[k][2]++; return; }
        edgeSeen[k] = [from, to, 1]; edges.push(edgeSeen[k]);
      });
    });
    lay = layered(list, edges);
    var paths = svg("g", { "class": "edges" });
    edges.forEach(function (e) {
      var a = lay.pos[e[0]], b = lay.pos[e[1]];
      var x1 = a.x + a.w, y1 = a.y + a.h / 2, x2 = b.x, y2 = b.y + b.h / 2, mx = (x1 + x2) / 2;
      var p = svg("path", { "class": "edge", d: "M" + x1 + "," + y1 + " C" + mx + "," + y1 + " " + mx + "," + y2 + " " + x2 + "," + y2 });
      if (e[2] > 1) p.setAttribute("stroke-width", String(Math.min(6, 1.2 + Math.log(e[2]))));
      paths.appendChild(p);
    });
    viewport.appendChild(paths);
    list.forEach(function (n) {
      if (n.id.indexOf("group:") === 0) drawGroup(n.id.slice(6), members[n.id], lay.pos[n.id]);
      else drawTask(byId[n.id], lay.pos[n.id]);
    });
    renderChips(); renderSearch(); renderFailed();
    if (selected) highlight();
  }
  function drawTask(t, p) {
    var g = svg("g", { "class": "node", "data-task": t.id, "data-phase": phase, transform: "translate(" + p.x + "," + p.y + ")" });
    var rect = svg("rect", { width: p.w, height: p.h, rx: 5 });
    var title = svg("text", { x: 8, y: 15 }); title.textContent = fitLabel(t.id, p.w);
    var sub = svg("text", { x: 8, y: 29, fill: "#374151" });
    g.appendChild(rect); g.appendChild(title); g.appendChild(sub);
    g.addEventListener("click", function (e) { e.stopPropagation(); select(t.id); });
    g.addEventListener("mousemove", function (e) { tooltip(describe(t), e); });
    g.addEventListener("mouseleave", function (e) { tooltip(null, e); });
    viewport.appendChild(g);
    nodes[t.id] = { g: g, rect: rect, sub: sub };
    paint(t);
  }
  function describe(t) {
    var s = taskState(t);
    return t.id + "\n" + t.type + " · " + s + (t.attempt > 1 ? " · attempt " + t.attempt : "") +
      (t.reason ? "\n" + t.reason.code + ": " + t.reason.message : "") +
      (t.waitingFor ? "\nwaiting: " + t.waitingFor : "");
  }
  function drawGroup(name, list, p) {
    var g = svg("g", { "class": "group", "data-group": name, transform: "translate(" + p.x + "," + p.y + ")" });
    g.appendChild(svg("rect", { "class": "box", width: p.w, height: p.h, rx: 8, fill: "#f8fafc" }));
    var title = svg("text", { x: 8, y: 16, "font-weight": "600" }); title.textContent = fitLabel(name, p.w);
    var sub = svg("text", { x: 8, y: 31, fill: "#374151" });
    var bar = svg("g", { transform: "translate(8,39)" });
    g.appendChild(title); g.appendChild(sub); g.appendChild(bar);
    g.addEventListener("click", function (e) { e.stopPropagation(); expanded[name] = true; render(); });
    g.addEventListener("mousemove", function (e) { tooltip(name + ": " + sub.textContent + "\n(click to expand)", e); });
    g.addEventListener("mouseleave", function (e) { tooltip(null, e); });
    viewport.appendChild(g);
    groups[name] = { g: g, sub: sub, bar: bar, tasks: list, w: p.w };
    paintGroup(name);
  }
  function paintGroup(name) {
    var gr = groups[name];
    var counts = {};
    gr.tasks.forEach(function (t) { var s = taskState(t); counts[s] = (counts[s] || 0) + 1; });
    gr.g.setAttribute("data-count", String(gr.tasks.length));
    gr.g.setAttribute("data-failed", String(counts.failed || 0));
    gr.sub.textContent = gr.tasks.length + " tasks" + Object.keys(counts).sort().map(function (s) { return " · " + counts[s] + " " + s; }).join("");
    clear(gr.bar);
    var x = 0, width = gr.w - 16;
    ["success", "done", "skipped", "running", "waiting", "canceled", "ignored", "failed"].forEach(function (s) {
      if (!counts[s]) return;
      var w = width * counts[s] / gr.tasks.length;
      gr.bar.appendChild(svg("rect", { x: x, y: 0, width: w, height: 7, fill: TASK_COLORS[s] }));
      x += w;
    });
  }
  function paint(t) {
    var n = nodes[t.id];
    if (!n) { var g = groupOf(t); if (g !== null && groups[g]) paintGroup(g); return; }
    var s = taskState(t);
    n.g.setAttribute("data-state", s);
    n.rect.setAttribute("fill", TASK_COLORS[s] || "#e5e7eb");
    n.sub.textContent = s + (t.attempt > 1 ? " · attempt " + t.attempt : "") + " · " + kindOf(t);
  }

  // ---- zoom and pan ------------------------------------------------------------
  function apply() {
    viewport.setAttribute("transform", "translate(" + view.x + "," + view.y + ") scale(" + view.k + ")");
    root.classList.toggle("far", view.k < 0.35);
    box.setAttribute("data-zoom", view.k.toFixed(3));
  }
  function fit() {
    var w = box.clientWidth || 800, h = box.clientHeight || 500;
    view.k = Math.min(1.5, Math.min(w / lay.width, h / lay.height));
    view.x = (w - lay.width * view.k) / 2; view.y = Math.max(0, (h - lay.height * view.k) / 2);
    apply();
  }
  function zoomAt(factor, cx, cy) {
    var w = box.clientWidth, h = box.clientHeight;
    if (cx === undefined) { cx = w / 2; cy = h / 2; }
    var k = Math.max(0.02, Math.min(4, view.k * factor));
    view.x = cx - (cx - view.x) * k / view.k; view.y = cy - (cy - view.y) * k / view.k; view.k = k;
    apply();
  }
  function centreOn(id) {
    var p = lay.pos[id];
    if (!p) return;
    view.k = Math.max(view.k, 0.9);
    view.x = box.clientWidth / 2 - (p.x + p.w / 2) * view.k; view.y = box.clientHeight / 2 - (p.y + p.h / 2) * view.k;
    apply();
  }
  box.addEventListener("wheel", function (e) {
    e.preventDefault();
    var r = box.getBoundingClientRect();
    zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - r.left, e.clientY - r.top);
  }, { passive: false });
  var drag = null;
  box.addEventListener("mousedown", function (e) { drag = { x: e.clientX, y: e.clientY, vx: view.x, vy: view.y }; box.classList.add("dragging"); });
  window.addEventListener("mousemove", function (e) {
    if (!drag) return;
    view.x = drag.vx + e.clientX - drag.x; view.y = drag.vy + e.clientY - drag.y; apply();
  });
  window.addEventListener("mouseup", function () { drag = null; box.classList.remove("dragging"); });

  // ---- search, groups, failures ------------------------------------------------
  function reveal(t) {
    var g = groupOf(t);
    if (g !== null && !expanded[g]) { expanded[g] = true; render(); }
  }
  function renderSearch() {
    var hits = tasks.filter(matches);
    for (var id in nodes) {
      var m = matches(byId[id]);
      nodes[id].g.classList.toggle("match", m);
      nodes[id].g.classList.toggle("dim", !!query && !m);
    }
    for (var name in groups) {
      var n = groups[name].tasks.filter(matches).length;
      groups[name].g.classList.toggle("match", n > 0);
      groups[name].g.classList.toggle("dim", !!query && n === 0);
      groups[name].g.setAttribute("data-matches", String(n));
    }
    searchCount.textContent = query ? hits.length + (hits.length === 1 ? " match" : " matches") : "";
    searchCount.setAttribute("data-count", String(hits.length));
    return hits;
  }
  function renderFailed() {
    var f = failedTasks();
    nextFailed.disabled = f.length === 0;
    nextFailed.textContent = f.length === 0 ? "no failed tasks" : "next failed (" + (failedIndex >= 0 ? (failedIndex % f.length) + 1 + "/" : "") + f.length + ")";
  }
  function renderChips() {
    clear(chips);
    Object.keys(expanded).forEach(function (name) {
      chips.appendChild(el("button", { type: "button", "class": "label", "data-collapse": name, title: "collapse this group",
        text: name + " ×", onclick: function () { delete expanded[name]; render(); } }));
    });
  }
  function goTo(t) { reveal(t); centreOn(t.id); select(t.id); }
  search.addEventListener("input", function () { query = search.value.trim().toLowerCase(); matchIndex = -1; renderSearch(); });
  search.addEventListener("keydown", function (e) {
    if (e.key !== "Enter") return;
    var hits = tasks.filter(matches);
    if (!hits.length) return;
    matchIndex = (matchIndex + 1) % hits.length;
    goTo(hits[matchIndex]);
  });
  nextFailed.addEventListener("click", function () {
    var f = failedTasks();
    if (!f.length) return;
    failedIndex = (failedIndex + 1) % f.length;
    goTo(f[failedIndex]);
    renderFailed();
  });
  groupSelect.addEventListener("change", function () { grouping = groupSelect.value; expanded = {}; render(); fit(); });

  function highlight() { for (var id in nodes) nodes[id].g.classList.toggle("selected", selected === id); }
  function select(id) { selected = id; highlight(); opts.onSelect(phase, id); }

  render();
  fit();
  return {
    update: function (t) { paint(t); renderFailed(); },
    select: function (id) { var t = byId[id]; if (t) goTo(t); },
    fit: fit
  };
}
`
