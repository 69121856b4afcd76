/**
 * Browser code of a large job's task table: its tasks a page at a time from
 * `GET /api/jobs/:id/tasks` (a filter, the first page, the next), instead of
 * a graph of every task, which a job of 100,000 tasks cannot be drawn as.
 *
 * @since 0.3.0
 */
export const js = `
/** A paged table of job id's tasks in container; onSelect(task) when a row is clicked. */
function TaskTable(container, id, onSelect) {
  var PAGE = 100;
  var filter = "", cursors = [null], at = 0, rows = [], next = null;
  var select = el("select", { id: "task-filter" }, [["", "all tasks"], ["problems", "failed, ignored, canceled"], ["failed", "failed"],
    ["running", "running"], ["waiting", "waiting"], ["success", "succeeded"]].map(function (f) { return el("option", { value: f[0], text: f[1] }); }));
  var status = el("span", { "class": "muted", id: "task-page" });
  var first = el("button", { type: "button", id: "task-first", text: "first page", onclick: function () { at = 0; load(); } });
  var prev = el("button", { type: "button", id: "task-prev", text: "previous", onclick: function () { if (at > 0) { at--; load(); } } });
  var more = el("button", { type: "button", id: "task-next", text: "next", onclick: function () { if (next) { at++; cursors[at] = next; load(); } } });
  var body = el("tbody", {});
  select.onchange = function () { filter = select.value; cursors = [null]; at = 0; load(); };
  clear(container);
  container.appendChild(el("div", { "class": "toolbar" }, [select, first, prev, more, status]));
  container.appendChild(el("table", { id: "task-table" }, [
    el("thead", {}, [el("tr", {}, ["task", "type", "phase", "state", "attempt", "runner", "reason"].map(function (h) { return el("th", { text: h }); }))]),
    body]));
  function load() {
    var q = "?limit=" + PAGE + (filter ? "&filter=" + filter : "") + (cursors[at] ? "&after=" + encodeURIComponent(cursors[at]) : "");
    status.textContent = "loading…";
    return request("GET", apiJob(id) + "/tasks" + q).then(function (r) {
      if (r.status !== 200) { status.textContent = "cannot read the tasks: " + errorText(r); return; }
      rows = r.body.tasks; next = r.body.next;
      clear(body);
      rows.forEach(function (t) {
        body.appendChild(el("tr", { "data-task": t.id, "data-phase": t.phase, onclick: function () { onSelect(t); } }, [
          el("td", { text: t.id }), el("td", { text: t.type }), el("td", { text: t.phase }),
          el("td", { "data-field": "state", text: taskState(t) }), el("td", { text: String(t.attempt) }),
          el("td", { text: t.runner || "" }), el("td", { text: t.reason ? t.reason.code + ": " + t.reason.message : "" })]));
      });
      if (rows.length === 0) body.appendChild(el("tr", {}, [el("td", { colspan: "7", "class": "empty", text: "no task" })]));
      status.textContent = "page " + (at + 1) + " · " + rows.length + " tasks" + (next ? "" : " · last page");
      status.setAttribute("data-page", String(at + 1));
      prev.disabled = at === 0; first.disabled = at === 0; more.disabled = !next;
    }, function () { status.textContent = "the runner does not answer"; });
  }
  load();
  return { reload: load, find: function (p, tid) { return rows.filter(function (t) { return t.phase === p && t.id === tid; })[0]; } };
}
`
