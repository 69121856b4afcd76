/**
 * Browser code of one job's page: the header (state and outcome, elapsed
 * time, RTO, counts), a toolbar (with a slot for other controls), the
 * operations, the DAG / timeline / failures tabs, the selected task's details
 * and the event log. Follows the job live through its event stream; a job
 * that does not exist gets a not-found page, not an endless "reconnecting".
 *
 * @since 0.1.0
 */
export const js = String.raw`
function jobPage(id) {
  var root = page("job");
  document.title = "migrator · " + id;
  var job = null, selected = null, graph = null, tab = "graph", phase = "run";
  var head = el("div", { "class": "card", id: "job-head" }, [el("div", { "class": "muted", text: "loading " + id + "…" })]);
  var toolbar = el("div", { "class": "toolbar", id: "job-toolbar" }, [el("span", { "data-slot": "plan-check" })]);
  var ops = el("div", { "class": "ops", id: "ops" });
  var tabs = el("div", { "class": "tabs", role: "tablist" });
  var panes = { graph: el("div", { id: "pane-graph" }), timeline: el("div", { id: "pane-timeline" }), failures: el("div", { id: "failures" }) };
  var details = el("div", { "class": "card", id: "details" }, [el("h2", { text: "Task" }), el("div", { "class": "muted", text: "click a task" })]);
  var events = el("div", { "class": "events", id: "events" });
  head.appendChild(toolbar);
  root.appendChild(head);
  root.appendChild(el("div", { "class": "layout" }, [
    el("div", {}, [el("div", { "class": "card" }, [tabs, panes.graph, panes.timeline, panes.failures])]),
    el("div", {}, [details, el("div", { "class": "card" }, [el("h2", { text: "Events" }), events])])
  ]));

  function tasksOf(p) { return job.tasks.filter(function (t) { return t.phase === p; }); }
  // a large job's document holds its counts and first pages: its tasks are shown as a paged table
  function large() { return !!(job && job.tasksPage && job.tasksPage.complete === false); }
  var table = null;
  var byKey = {};
  function find(p, tid) { return byKey[p + "/" + tid]; }

  // ---- header and operations -------------------------------------------------------
  // what the state machine allows (Jobs.ts); the job document's "operations" says the same when present
  var VALID = {
    cancel: function (j) { return ["pending", "running", "paused"].indexOf(j.state) >= 0; },
    pause: function (j) { return j.state === "running"; },
    resume: function (j) { return j.state === "paused"; },
    retry: function (j) { return (j.state === "completed" && j.outcome !== "succeeded") || j.state === "clear-failed"; },
    rollback: function (j) { return j.state === "completed" || j.state === "canceled"; },
    confirm: function (j) { return j.state === "completed"; }
  };
  var role = null;
  loadWhoami().then(function (w) { if (w) { role = w.role; if (job) renderHead(); } });
  function why(op) {
    if (storeDown()) return "the job store is unreachable";
    var valid = job.operations ? job.operations.indexOf(op) >= 0 : VALID[op](job);
    if (!valid) return op + " is not possible in state " + job.state + (job.outcome ? " (" + job.outcome + ")" : "");
    if (role && ROLE_RANK[role] < ROLE_RANK[OPERATION_ROLE[op]]) return op + " needs the " + OPERATION_ROLE[op] + " role (you are " + role + ")";
    return "";
  }
  function renderHead() {
    clear(head);
    var counts = {};
    if (large()) ["run", "clear"].forEach(function (p) {
      Object.keys(job.counts[p]).forEach(function (s) { if (s !== "total" && job.counts[p][s]) counts[s] = (counts[s] || 0) + job.counts[p][s]; });
    });
    else job.tasks.forEach(function (t) { var s = taskState(t); counts[s] = (counts[s] || 0) + 1; });
    var rtoMs = job.rtoMs;
    var elapsed = job.elapsedMs !== undefined && job.elapsedMs !== null ? job.elapsedMs : job.startedAt ? (job.completedAt || Date.now()) - job.startedAt : null;
    var rto = job.rtoMet === true ? el("span", { "class": "rto-met", "data-rto": "met", text: "RTO met" })
      : job.rtoMet === false || (rtoMs && elapsed !== null && elapsed > rtoMs) ? el("span", { "class": "rto-missed", "data-rto": "missed", text: "RTO missed" })
      : rtoMs ? el("span", { "data-rto": "pending", text: "RTO " + duration(rtoMs) }) : null;
    head.appendChild(el("h2", {}, ["Job " + job.id + " ", badge(job)]));
    head.appendChild(el("div", {}, Object.keys(job.labels).map(function (k) { return el("span", { "class": "label", text: k + "=" + job.labels[k] }); })));
    head.appendChild(el("div", { "class": "muted", id: "job-summary" }, [
      (job.target ? "target " + job.target + " · " : "") + "created " + when(job.createdAt) +
      " · elapsed " + duration(elapsed) + " · " + Object.keys(counts).sort().map(function (s) { return counts[s] + " " + s; }).join(", ") + " ",
      rto]));
    if (job.reason) head.appendChild(el("div", { id: "job-reason", text: job.reason.code + ": " + job.reason.message }));
    if (job.pending) head.appendChild(el("div", { "class": "muted", text: job.pending.operation + " requested at " + clock(job.pending.requestedAt) + ", not yet carried out" }));
    clear(ops);
    Object.keys(VALID).forEach(function (op) {
      var no = why(op);
      ops.appendChild(el("button", { type: "button", "data-op": op, text: op, disabled: !!no, title: no,
        onclick: function () { operate(op); } }));
    });
    head.appendChild(el("div", { "class": "toolbar" }, [ops, toolbar]));
    renderTabs();
  }

  function itemList(title, items, attr) {
    if (!items.length) return null;
    return el("div", { "data-list": attr }, [el("h3", { text: title + " (" + items.length + ")" }),
      el("div", { "class": "list" }, [el("ul", {}, items.map(function (i) { return el("li", { text: i }); }))])]);
  }
  /** The confirmation of an operation, with the server's preview of what it will do. */
  function operate(op) {
    var loading = el("p", { id: "preview-loading", "class": "muted", text: "asking the runner what " + op + " would do…" });
    var dialog = confirmDialog({
      op: op, title: op.charAt(0).toUpperCase() + op.slice(1) + " job " + job.id + "?", action: op,
      danger: op === "rollback" || op === "cancel", typeToConfirm: op === "rollback" ? job.id : null,
      body: [loading], run: send
    });
    request("GET", apiJob(job.id) + "/preview/" + op).then(function (r) {
      var box = el("div", { id: "preview" });
      if (r.status !== 200) { box.appendChild(el("p", { "class": "rto-missed", text: "No preview: " + errorText(r) })); loading.replaceWith(box); return; }
      var p = r.body;
      box.setAttribute("data-allowed", String(p.allowed));
      box.appendChild(el("p", { id: "preview-message", "class": p.allowed ? "" : "rto-missed", text: p.message }));
      if (p.clear) {
        var by = function (a) { return p.clear.filter(function (i) { return i.action === a; }); };
        [["delete", "Deleted", function (i) { return i.task + " — " + i.type + (i.undoes ? " (undoes " + i.undoes + ")" : ""); }],
         ["keep", "Kept", function (i) { return i.task + " — " + i.why; }],
         ["skip", "Skipped", function (i) { return i.task + " — " + i.why; }]].forEach(function (g) {
          var list = itemList(g[1], by(g[0]).map(g[2]), g[0]);
          if (list) box.appendChild(list);
        });
      }
      if (p.tasks) { var list = itemList(op === "cancel" ? "Interrupted" : "Run again", p.tasks, "tasks"); if (list) box.appendChild(list); }
      loading.replaceWith(box);
      dialog.allow(p.allowed);
    }, function () { loading.textContent = "No preview: the runner does not answer."; });
    return dialog;
    function send(reason) {
      return request("POST", apiJob(job.id) + "/" + op, reason ? { reason: reason } : {}).then(function (r) {
        return r.status >= 200 && r.status < 300 ? { ok: true } : { ok: false, message: errorText(r) };
      }, function () { return { ok: false, message: "the runner does not answer" }; });
    }
  }

  // ---- tabs ---------------------------------------------------------------------------
  function renderTabs() {
    var failed = large() ? job.counts.run.failed + job.counts.clear.failed : job.tasks.filter(function (t) { return t.result === "failed"; }).length;
    clear(tabs);
    (large() ? [["graph", "Tasks (" + (job.counts.run.total + job.counts.clear.total) + ")"], ["failures", "Failures (" + failed + ")"]]
      : [["graph", "Graph"], ["timeline", "Timeline"], ["failures", "Failures (" + failed + ")"]]).forEach(function (x) {
      tabs.appendChild(el("button", { type: "button", role: "tab", id: "tab-" + x[0], "aria-selected": String(tab === x[0]),
        "data-failed": x[0] === "failures" ? String(failed) : null, text: x[1], onclick: function () { show(x[0]); } }));
    });
    for (var k in panes) panes[k].style.display = k === tab ? "" : "none";
  }
  function show(name) {
    tab = name;
    renderTabs();
    if (name === "graph" && graph) graph.fit();
    if (name === "timeline") renderTimeline();
    if (name === "failures") renderFailures();
  }
  function phaseSelect() {
    var s = el("select", { id: "graph-phase" }, ["run", "clear"].map(function (p) {
      return el("option", { value: p, text: p + " phase (" + tasksOf(p).length + ")", disabled: tasksOf(p).length === 0 });
    }));
    s.value = phase;
    s.onchange = function () { phase = s.value; renderGraph(); renderTimeline(); };
    return s;
  }
  function renderGraph() {
    if (large()) {
      graph = null;
      table = TaskTable(panes.graph, id, function (t) { byKey[t.phase + "/" + t.id] = t; select(t.phase, t.id); });
      return;
    }
    graph = GraphView(panes.graph, phase, tasksOf(phase), { phaseSelect: phaseSelect(), runTasks: tasksOf("run"), onSelect: select });
  }
  function renderTimeline() {
    if (tab !== "timeline" || large()) return;
    TimelineView(panes.timeline, phase, tasksOf(phase), function () { return job.events; });
  }
  function renderFailures() {
    var attempts = attemptsOf(job.events);
    var failed = job.tasks.filter(function (t) { return t.result === "failed"; });
    var ignored = job.tasks.filter(function (t) { return t.result === "ignored"; });
    clear(panes.failures);
    if (failed.length === 0) { panes.failures.appendChild(el("div", { "class": "empty", text: "no failed tasks" })); return; }
    failed.forEach(function (t) {
      var a = attempts[t.phase + "/" + t.id] || [], last = a[a.length - 1];
      var first = a[0];
      panes.failures.appendChild(el("div", { "class": "failure", "data-task": t.id, "data-phase": t.phase }, [
        el("h3", {}, [el("a", { href: "#", text: t.id, onclick: function (e) { e.preventDefault(); phase = t.phase; show("graph"); renderGraph(); graph.select(t.id); } })]),
        el("div", { "class": "muted", text: t.type + " · " + t.phase + " phase" }),
        el("div", { "class": "reason", "data-field": "reason", text: t.reason ? t.reason.code + ": " + t.reason.message : "(no reason recorded)" }),
        t.reason && t.reason.details ? el("pre", { text: pretty(t.reason.details) }) : null,
        el("div", { "data-field": "facts", text: "attempts " + t.attempt + " · runner " + (last ? last.runner : "—") +
          " · last attempt " + (last && last.end ? duration(last.end - last.start) : "—") +
          " · total " + (first && t.finishedAt ? duration(t.finishedAt - first.start) : "—") + " · finished " + when(t.finishedAt) })
      ]));
    });
    if (ignored.length) panes.failures.appendChild(el("details", { id: "ignored" }, [
      el("summary", { text: ignored.length + " task(s) did not run because a dependency failed" }),
      el("ul", {}, ignored.map(function (t) { return el("li", { text: t.id + (t.reason ? ": " + t.reason.message : "") }); }))]));
  }

  // ---- task details and events -------------------------------------------------------
  function select(p, tid) { selected = { phase: p, id: tid }; renderDetails(); }
  function renderDetails() {
    if (!selected) return;
    var t = find(selected.phase, selected.id);
    if (!t) return;
    var a = attemptsOf(job.events)[t.phase + "/" + t.id] || [];
    var last = a[a.length - 1];
    clear(details);
    details.appendChild(el("h2", { text: "Task " + t.id, style: "word-break:break-all" }));
    var rows = [["type", t.type], ["phase", t.phase], ["state", taskState(t)], ["attempts", String(t.attempt)],
      ["runner", t.runner || (last ? last.runner : "")], ["depends on", t.dependencies.join(", ") || "—"]];
    if (t.startedAt) rows.push(["started", when(t.startedAt)]);
    if (t.finishedAt) rows.push(["finished", when(t.finishedAt)]);
    if (last && last.end) rows.push(["duration", duration(last.end - last.start)]);
    if (t.undoes) rows.push(["undoes", t.undoes]);
    if (t.shared) rows.push(["shared", t.shared]);
    if (t.waitingFor) rows.push(["waiting for", t.waitingFor]);
    details.appendChild(el("table", { id: "task-fields" }, rows.map(function (r) { return el("tr", {}, [el("th", { text: r[0] }), el("td", { "data-field": r[0], text: r[1] })]); })));
    if (a.length) details.appendChild(el("ol", { id: "task-attempts" }, a.map(function (x) {
      return el("li", { text: x.outcome + " on " + (x.runner || "?") + " at " + clock(x.start) + (x.end ? " (" + duration(x.end - x.start) + ")" : "") + (x.message ? ": " + x.message : "") });
    })));
    details.appendChild(el("div", { text: "reason" })); details.appendChild(el("pre", { id: "task-reason", text: pretty(t.reason) }));
    details.appendChild(el("div", { text: "input" })); details.appendChild(el("pre", { id: "task-input", text: pretty(t.input) }));
    details.appendChild(el("div", { text: "output" })); details.appendChild(el("pre", { id: "task-output", text: pretty(t.output) }));
  }
  function addEvent(e) {
    events.appendChild(el("div", { "data-type": e.type }, [
      el("span", { "class": "muted", text: clock(e.at) + " " }),
      e.type + (e.taskId ? " " + e.taskId : "") + (e.actor ? " by " + e.actor : "") + ": " + e.message + (e.reason ? " (reason: " + e.reason + ")" : "")]));
  }

  // ---- live updates -------------------------------------------------------------------
  var later = null, drawnAt = 0, timelineLater = null;
  // the timeline redraws every row: at most every 2 s while a large job moves, and surely after the last change
  function timelineSoon() {
    if (timelineLater) return;
    timelineLater = setTimeout(function () { timelineLater = null; drawnAt = Date.now(); renderTimeline(); }, Math.max(0, 2000 - (Date.now() - drawnAt)));
  }
  function soon() {
    if (later) return;
    later = setTimeout(function () {
      later = null;
      renderHead(); renderDetails();
      if (tab === "failures") renderFailures();
      if (tab === "timeline") timelineSoon();
    }, 400);
  }
  document.addEventListener("health", function () { if (job) renderHead(); });
  setInterval(function () { if (job && job.startedAt && !job.completedAt) renderHead(); }, 5000);
  eventStream(apiJob(id) + "/stream", {
    snapshot: function (snapshot) {
      var same = job && job.tasks.length === snapshot.tasks.length;
      job = snapshot;
      byKey = {};
      job.tasks.forEach(function (t) { byKey[t.phase + "/" + t.id] = t; });
      job.events = job.events || [];
      clear(events);
      job.events.forEach(addEvent);
      if (snapshot.eventsComplete === false) events.appendChild(el("div", { "class": "muted", id: "events-more",
        text: "the first " + job.events.length + " entries of a long log (two per task): migrator job events " + id + " prints them all" }));
      events.scrollTop = events.scrollHeight;
      if (phase === "run" && tasksOf("run").length === 0) phase = "clear";
      renderHead();
      if (same && graph) job.tasks.filter(function (t) { return t.phase === phase; }).forEach(graph.update);
      else renderGraph();
      renderDetails(); renderTimeline(); if (tab === "failures") renderFailures();
      document.body.setAttribute("data-loaded", "true");
    },
    state: function (s) {
      if (!job || !s) return;
      ["state", "outcome", "reason", "pending", "updatedAt", "startedAt", "completedAt", "clearMode", "elapsedMs", "rtoMet"].forEach(function (k) { job[k] = s[k]; });
      // the stream's state record does not say which operations are valid now: the state machine does
      delete job.operations;
      soon();
    },
    counts: function (c) { if (!job || !c) return; job.counts = c; soon(); },
    log: function (e) { if (!job || !e) return; job.events.push(e); addEvent(e); events.scrollTop = events.scrollHeight; soon(); },
    task: function (c) {
      var t = find(c.phase, c.id);
      if (!t) return;
      var v = c.value;
      if (c.record === "status" && v) { t.status = v.status; t.attempt = v.attempt; t.runner = v.runner || null; t.startedAt = v.startedAt || null; if (v.status !== "waiting") t.waitingFor = null; }
      if (c.record === "result") {
        t.result = v ? v.result : null; t.output = v && v.output !== undefined ? v.output : null;
        t.reason = v && v.reason ? v.reason : null; t.finishedAt = v ? v.finishedAt : null;
      }
      if (c.record === "claim") t.claim = v;
      if (graph && t.phase === phase) graph.update(t);
      soon();
    }
  }, function (status, body) {
    if (status === 404) { notFoundPage("There is no job \u201c" + id + "\u201d. It may have been deleted, or the link is wrong."); return false; }
    if (!job) {
      clear(head);
      head.appendChild(el("div", { "class": "empty", id: "job-unavailable", text: status === 503
        ? "The job store is unreachable: the job cannot be read yet. Retrying…" : "The job cannot be read: " + (body.message || body.error || status) + ". Retrying…" }));
    }
    return true;
  });
}
`
