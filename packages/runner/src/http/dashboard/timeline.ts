/**
 * Browser code: the timeline (a Gantt chart) of one phase. Each task with at
 * least one attempt is a row; each attempt is a bar from its start event
 * (`task.started`, `task.retried`) to the event that ended it, coloured by
 * how it ended; an attempt still running reaches "now". Built from the job's
 * event log, which records every attempt with its runner.
 *
 * Test hooks: `rect.attempt[data-task][data-attempt][data-outcome]`.
 *
 * @since 0.1.0
 */
export const js = String.raw`
var ATTEMPT_END = { "task.attempt-failed": "retried", "task.failed": "failed", "task.succeeded": "success",
  "task.canceled": "canceled", "task.skipped": "skipped" };
var ATTEMPT_COLORS = { retried: "#fb923c", failed: "#ef4444", success: "#4ade80", canceled: "#fdba74", skipped: "#cbd5e1", running: "#60a5fa" };

/** Attempts per "phase/task" from the event log: [{ n, start, end, runner, outcome, message }]. */
function attemptsOf(events) {
  var open = {}, out = {};
  events.forEach(function (e) {
    if (!e.taskId) return;
    var key = (e.phase || "run") + "/" + e.taskId;
    if (e.type === "task.started" || e.type === "task.retried") {
      var m = /attempt (\d+)/.exec(e.message);
      var a = { n: m ? Number(m[1]) : (out[key] || []).length + 1, start: e.at, end: null, runner: e.runner || "", outcome: "running", message: "" };
      (out[key] = out[key] || []).push(a);
      open[key] = a;
    } else if (ATTEMPT_END[e.type] && open[key]) {
      open[key].end = e.at; open[key].outcome = ATTEMPT_END[e.type]; open[key].message = e.message;
      delete open[key];
    }
  });
  return out;
}

function TimelineView(host, phase, tasks, getEvents) {
  var onlyTrouble = el("input", { type: "checkbox", id: "timeline-trouble" });
  var filter = el("input", { type: "search", id: "timeline-search", placeholder: "filter tasks" });
  var scale = 1;
  var wrap = el("div", { "class": "timeline-wrap", id: "timeline" });
  var legend = el("div", { "class": "legend" }, Object.keys(ATTEMPT_COLORS).map(function (s) {
    var i = el("i"); i.style.background = ATTEMPT_COLORS[s]; return el("span", {}, [i, s]);
  }));
  clear(host);
  host.appendChild(el("div", { "class": "toolbar" }, [
    el("label", {}, [onlyTrouble, " only failed or retried"]), filter,
    el("button", { type: "button", id: "timeline-zoom-in", text: "+", onclick: function () { scale *= 2; render(); } }),
    el("button", { type: "button", id: "timeline-zoom-out", text: "−", onclick: function () { scale = Math.max(1, scale / 2); render(); } }),
    legend]));
  host.appendChild(wrap);
  onlyTrouble.onchange = render; filter.oninput = render;

  function render() {
    var attempts = attemptsOf(getEvents());
    var q = filter.value.trim().toLowerCase();
    var rows = tasks.map(function (t) { return { t: t, a: attempts[phase + "/" + t.id] || [] }; })
      .filter(function (r) { return r.a.length > 0; })
      .filter(function (r) { return !onlyTrouble.checked || r.a.length > 1 || r.a.some(function (a) { return a.outcome === "failed"; }); })
      .filter(function (r) { return !q || r.t.id.toLowerCase().indexOf(q) >= 0; });
    rows.sort(function (a, b) { return a.a[0].start - b.a[0].start || (a.t.id < b.t.id ? -1 : 1); });
    clear(wrap);
    if (rows.length === 0) { wrap.appendChild(el("div", { "class": "empty", text: "no attempts yet" })); return; }
    var now = Date.now(), t0 = Infinity, t1 = 0;
    rows.forEach(function (r) { r.a.forEach(function (a) { t0 = Math.min(t0, a.start); t1 = Math.max(t1, a.end || now); }); });
    var LABEL = 280, ROW = 16, TOP = 24;
    var span = Math.max(1, t1 - t0), plot = Math.max(300, (wrap.clientWidth || 900) - LABEL - 24) * scale;
    var x = function (t) { return LABEL + (t - t0) / span * plot; };
    var s = svg("svg", { width: LABEL + plot + 16, height: TOP + rows.length * ROW + 8, "data-phase": phase });
    // time axis: about 8 ticks at round steps
    var steps = [100, 250, 500, 1000, 2000, 5000, 10000, 15000, 30000, 60000, 120000, 300000, 600000, 900000, 1800000, 3600000, 7200000];
    var step = steps.filter(function (v) { return span / v <= 8 * scale; })[0] || 3600000 * 6;
    for (var t = 0; t <= span; t += step) {
      var tx = x(t0 + t);
      s.appendChild(svg("line", { x1: tx, x2: tx, y1: TOP - 4, y2: TOP + rows.length * ROW, stroke: "#eef0f3" }));
      var label = svg("text", { x: tx + 2, y: 14, fill: "#6b7280" }); label.textContent = "+" + duration(t);
      s.appendChild(label);
    }
    rows.forEach(function (r, i) {
      var y = TOP + i * ROW;
      var name = svg("text", { x: 4, y: y + 11 }); name.textContent = fitLabel(r.t.id, LABEL + 10);
      var hit = svg("rect", { x: 0, y: y, width: LABEL, height: ROW, fill: "transparent" });
      hit.addEventListener("mousemove", function (e) { tooltip(r.t.id + " (" + r.t.type + ")", e); });
      hit.addEventListener("mouseleave", function (e) { tooltip(null, e); });
      s.appendChild(name); s.appendChild(hit);
      r.a.forEach(function (a) {
        var end = a.end || now;
        var bar = svg("rect", { "class": "attempt", "data-task": r.t.id, "data-attempt": String(a.n), "data-outcome": a.outcome,
          x: x(a.start), y: y + 3, width: Math.max(2, x(end) - x(a.start)), height: ROW - 6, rx: 2, fill: ATTEMPT_COLORS[a.outcome] || "#9ca3af" });
        bar.addEventListener("mousemove", function (e) {
          tooltip(r.t.id + "\nattempt " + a.n + " on " + (a.runner || "?") + " · " + a.outcome + " · " + duration(end - a.start) +
            "\n" + clock(a.start) + " → " + (a.end ? clock(a.end) : "running") + (a.message ? "\n" + a.message : ""), e);
        });
        bar.addEventListener("mouseleave", function (e) { tooltip(null, e); });
        s.appendChild(bar);
      });
    });
    wrap.appendChild(s);
  }
  render();
  return { render: render };
}
`
