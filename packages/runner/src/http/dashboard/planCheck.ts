/**
 * Browser code of the "check plan" control: a dialog where an operator
 * pastes a recovery plan (JSON or YAML), optionally names the cluster, and
 * sees the pre-flight report of `POST /api/plans/check`: one row per check
 * (status, check, field path, what was found, what is needed), failures
 * first, or the plan's problems with their field paths.
 *
 * @since 0.1.0
 */
export const js = `
var CHECK_COLORS = { pass: "#16a34a", warn: "#d97706", fail: "#dc2626" };

function planCheckDialog() {
  var dialog = el("dialog", { id: "plan-check-dialog" });
  var text = el("textarea", { id: "plan-check-text", rows: "14", cols: "90", placeholder: "paste a recovery plan (JSON or YAML)" });
  var cluster = el("input", { type: "text", id: "plan-check-cluster", placeholder: "cluster (default: the plan's target)" });
  var result = el("div", { id: "plan-check-result" });
  var go = el("button", { id: "plan-check-go", type: "button", text: "Check" });
  var close = el("button", { type: "button", text: "Close" });
  dialog.appendChild(el("h2", { text: "Check a recovery plan against its recovery cloud" }));
  dialog.appendChild(el("p", { "class": "muted", text: "Read-only: quotas, what the plan names, clashes, capacity." }));
  dialog.appendChild(el("p", {}, [text]));
  dialog.appendChild(el("p", {}, [cluster]));
  dialog.appendChild(el("div", { style: "display:flex;gap:8px;justify-content:flex-end" }, [close, go]));
  dialog.appendChild(result);
  close.addEventListener("click", function () { dialog.close(); dialog.remove(); });
  dialog.addEventListener("cancel", function () { dialog.remove(); });
  go.addEventListener("click", function () {
    go.disabled = true;
    result.removeAttribute("data-outcome");
    clear(result).appendChild(el("p", { "class": "muted", text: "checking…" }));
    var body = { plan: text.value };
    if (cluster.value.trim()) body.cluster = cluster.value.trim();
    request("POST", "/api/plans/check", body).then(function (r) {
      go.disabled = false;
      clear(result);
      if (r.status === 200) return showPlanReport(result, r.body);
      result.setAttribute("data-outcome", "error");
      result.appendChild(el("p", { "class": "rto-missed", id: "plan-check-error", text: errorText(r) }));
      (r.body && r.body.problems || []).forEach(function (p) {
        result.appendChild(el("div", { "data-problem": p.path, text: (p.path || "plan") + ": " + p.message }));
      });
    }, function () {
      go.disabled = false;
      clear(result).appendChild(el("p", { "class": "rto-missed", text: "the runner did not answer" }));
    });
  });
  document.body.appendChild(dialog);
  dialog.showModal();
  text.focus();
  return dialog;
}

function showPlanReport(into, report) {
  var s = report.summary;
  into.setAttribute("data-outcome", report.ok ? "pass" : "fail");
  into.appendChild(el("p", { id: "plan-check-summary", "class": report.ok ? "rto-met" : "rto-missed",
    text: (report.plan ? "plan " + report.plan : "plan") + " on " + report.cluster + ": " + s.pass + " pass, " + s.warn + " warn, " + s.fail + " fail" }));
  var rank = { fail: 0, warn: 1, pass: 2 };
  var rows = report.checks.slice().sort(function (a, b) { return rank[a.status] - rank[b.status]; }).map(function (c) {
    var badge = el("span", { "class": "badge", text: c.status });
    badge.style.background = CHECK_COLORS[c.status];
    return el("tr", { "data-check": c.check, "data-status": c.status, "data-path": c.path }, [
      el("td", {}, [badge]), el("td", { text: c.check }), el("td", { text: c.path }), el("td", { text: c.found }), el("td", { text: c.needed })
    ]);
  });
  into.appendChild(el("table", { id: "plan-check-table" }, [
    el("thead", {}, [el("tr", {}, ["", "check", "plan field", "found", "needed"].map(function (h) { return el("th", { text: h }); }))]),
    el("tbody", {}, rows)
  ]));
}
`
