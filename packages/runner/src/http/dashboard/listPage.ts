/**
 * Browser code of the job list: progress bars, elapsed time, RTO met or
 * missed, filters by state, outcome and label, and a search over id, labels
 * and target. Filters live in the page's query string, so a filtered list
 * can be shared. When the store is unreachable the last list stays visible
 * under the banner instead of turning into an empty table.
 *
 * @since 0.1.0
 */
export const js = `
var RESULT_ORDER = ["success", "skipped", "failed", "ignored", "canceled", "running"];

function progressBar(p) {
  var bar = el("div", { "class": "bar", "data-progress": "" });
  var c = p.run;
  if (!c || !c.total) return bar;
  RESULT_ORDER.forEach(function (k) {
    if (!c[k]) return;
    var s = el("span", { "data-part": k, title: c[k] + " " + k });
    s.style.width = (100 * c[k] / c.total) + "%";
    s.style.background = k === "success" ? OUTCOME_COLORS.succeeded : k === "failed" ? OUTCOME_COLORS.failed : TASK_COLORS[k];
    bar.appendChild(s);
  });
  var finished = c.total - c.waiting - c.running;
  bar.title = finished + " of " + c.total + " run tasks finished";
  return bar;
}
function elapsedOf(j) {
  if (j.elapsedMs !== undefined && j.elapsedMs !== null) return j.elapsedMs;
  if (!j.startedAt) return null;
  return (j.completedAt || Date.now()) - j.startedAt;
}
/** "met" / "missed" once recorded; while running, missed as soon as the elapsed time passes the RTO. */
function rtoCell(j, p) {
  var rto = p && p.rtoMs;
  if (j.rtoMet === true) return el("span", { "class": "rto-met", "data-rto": "met", text: "met" + (rto ? " (" + duration(rto) + ")" : "") });
  if (j.rtoMet === false) return el("span", { "class": "rto-missed", "data-rto": "missed", text: "missed" + (rto ? " (" + duration(rto) + ")" : "") });
  if (!rto) return el("span", { "class": "muted", "data-rto": "none", text: "—" });
  var e = elapsedOf(j);
  if (e !== null && e > rto) return el("span", { "class": "rto-missed", "data-rto": "missed", text: "missed (" + duration(rto) + ")" });
  return el("span", { "data-rto": "pending", text: duration(rto - (e || 0)) + " left" });
}

function listPage() {
  var root = page("list");
  var params = new URLSearchParams(location.search);
  var state = el("select", { id: "state-filter" }, [el("option", { value: "", text: "all states" })].concat(
    Object.keys(STATE_COLORS).map(function (s) { return el("option", { value: s, text: s }); })));
  var outcome = el("select", { id: "outcome-filter" }, [el("option", { value: "", text: "all outcomes" })].concat(
    Object.keys(OUTCOME_COLORS).map(function (s) { return el("option", { value: s, text: s }); })));
  var label = el("input", { id: "label-filter", placeholder: "label: key=value" });
  var search = el("input", { id: "search", type: "search", placeholder: "search id, label, target" });
  state.value = params.get("state") || ""; outcome.value = params.get("outcome") || "";
  label.value = params.get("label") || ""; search.value = params.get("q") || "";
  var body = el("tbody", { id: "jobs" });
  var summary = el("span", { "class": "muted", id: "list-summary" });
  root.appendChild(el("div", { "class": "card" }, [
    el("h2", {}, ["Jobs ", el("button", { type: "button", id: "check-plan", text: "check plan", onclick: planCheckDialog })]),
    el("div", { "class": "filters" }, [state, outcome, label, search, summary]),
    el("table", {}, [el("thead", {}, [el("tr", {}, ["job", "state", "progress", "elapsed", "RTO", "labels", "target", "created"]
      .map(function (h) { return el("th", { text: h }); }))]), body])
  ]));

  var jobs = null, progress = {}, loadedAt = null, pending = false, rows = {};
  function matches(j) {
    if (outcome.value && j.outcome !== outcome.value) return false;
    var q = search.value.trim().toLowerCase();
    if (!q) return true;
    var hay = [j.id, j.target || ""].concat(Object.keys(j.labels).map(function (k) { return k + "=" + j.labels[k]; })).join(" ").toLowerCase();
    return hay.indexOf(q) >= 0;
  }
  function render() {
    clear(body);
    if (jobs === null) {
      body.appendChild(el("tr", {}, [el("td", { colspan: "8", "class": "empty", id: "list-empty",
        text: storeDown() ? "No data: the job store is unreachable." : "loading…" })]));
      return;
    }
    var shown = jobs.filter(matches);
    summary.textContent = shown.length + " of " + jobs.length + " jobs" + (storeDown() && loadedAt ? " · as of " + clock(loadedAt) : "");
    if (shown.length === 0) body.appendChild(el("tr", {}, [el("td", { colspan: "8", "class": "empty", id: "list-empty", text: "no jobs match" })]));
    var before = rows;
    rows = {};
    shown.forEach(function (j) {
      var p = progress[j.id];
      var e = elapsedOf(j);
      // a row whose content did not change is kept as it is (no flicker, no lost hover or click)
      var sig = JSON.stringify([j, p, e === null ? null : duration(e)]);
      var tr = before[j.id] && before[j.id].sig === sig ? before[j.id].tr : row(j, p, e);
      rows[j.id] = { sig: sig, tr: tr };
      body.appendChild(tr);
    });
  }
  function row(j, p, e) {
    return el("tr", { "class": "job", "data-job": j.id, "data-tone": jobTone(j), onclick: function (ev) {
      if (ev.target.tagName !== "A") location.href = jobUrl(j.id);
    } }, [
      el("td", {}, [el("a", { href: jobUrl(j.id), text: j.id })]),
      el("td", {}, [badge(j)]),
      el("td", {}, p ? [progressBar(p), el("div", { "class": "muted", text: (p.run.total - p.run.waiting - p.run.running) + "/" + p.run.total +
        (p.run.failed ? " · " + p.run.failed + " failed" : "") })] : []),
      el("td", { "data-elapsed": e === null ? "" : String(e), text: e === null ? "—" : duration(e) }),
      el("td", {}, [rtoCell(j, p)]),
      el("td", {}, Object.keys(j.labels).map(function (k) { return el("span", { "class": "label", text: k + "=" + j.labels[k] }); })),
      el("td", { text: j.target || "" }),
      el("td", { text: when(j.createdAt) })
    ]);
  }
  function loadProgress(ids) {
    var queue = ids.slice(0, 200);
    function next() {
      var id = queue.shift();
      if (id === undefined) return Promise.resolve();
      return request("GET", apiJob(id) + "/progress").then(function (r) {
        if (r.status === 200) { progress[id] = r.body; render(); }
      }, function () {}).then(next);
    }
    return Promise.all([next(), next(), next(), next()]);
  }
  function syncUrl() {
    var q = new URLSearchParams();
    if (state.value) q.set("state", state.value);
    if (outcome.value) q.set("outcome", outcome.value);
    if (label.value.trim()) q.set("label", label.value.trim());
    if (search.value.trim()) q.set("q", search.value.trim());
    history.replaceState(null, "", "/" + (q.toString() ? "?" + q : ""));
  }
  function load(changed) {
    var q = [];
    if (state.value) q.push("state=" + encodeURIComponent(state.value));
    if (label.value.trim()) q.push("label=" + encodeURIComponent(label.value.trim()));
    return request("GET", "/api/jobs" + (q.length ? "?" + q.join("&") : "")).then(function (r) {
      if (r.status !== 200) { render(); return; }
      jobs = r.body; loadedAt = Date.now();
      render();
      document.body.setAttribute("data-loaded", "true");
      return loadProgress(changed || jobs.map(function (j) { return j.id; }));
    }, function () { render(); });
  }
  // a job's change reloads the list and that job's progress; a (re)connection reloads everything
  var dirty = {}, all = false;
  function soon(id) {
    if (id) dirty[id] = true; else all = true;
    if (pending) return;
    pending = true;
    setTimeout(function () { pending = false; var ids = all ? undefined : Object.keys(dirty); dirty = {}; all = false; load(ids); }, 300);
  }
  state.onchange = function () { syncUrl(); load(); };
  label.onchange = function () { syncUrl(); load(); };
  outcome.onchange = function () { syncUrl(); render(); };
  search.oninput = function () { syncUrl(); render(); };
  document.addEventListener("health", render);
  // elapsed time of running jobs keeps moving
  setInterval(function () { if (jobs && jobs.some(function (j) { return !j.completedAt && j.startedAt; })) render(); }, 5000);
  load();
  eventStream("/api/stream", { hello: function () { soon(); }, job: function (m) { soon(m.id); } });
}
`
