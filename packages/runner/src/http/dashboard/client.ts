/**
 * Browser code shared by every dashboard view: DOM helpers, colours, the
 * API client (the token is kept in `sessionStorage`, so for this tab's session
 * only, and sent as `Authorization: Bearer`), Server-Sent Events read through
 * `fetch` (an `EventSource` can send no header and hides the HTTP status), the
 * store/runner health banner, the sign-in and not-found pages and the
 * confirmation dialog.
 *
 * @since 0.1.0
 */
export const js = String.raw`
var TASK_COLORS = { waiting:"#f3f4f6", running:"#60a5fa", success:"#4ade80", failed:"#f87171", ignored:"#c4b5fd",
  canceled:"#fdba74", skipped:"#cbd5e1", done:"#a7f3d0" };
var OUTCOME_COLORS = { succeeded:"#16a34a", partial:"#d97706", failed:"#dc2626" };
var STATE_COLORS = { pending:"#6b7280", running:"#2563eb", paused:"#7c3aed", canceling:"#b45309", canceled:"#92400e",
  completed:"#16a34a", clearing:"#0891b2", cleared:"#0e7490", "clear-failed":"#dc2626" };
var TOKEN_KEY = "migrator.token";
var REQUEST_TIMEOUT_MS = 8000;

function el(tag, attrs, children) {
  var e = document.createElement(tag);
  for (var k in (attrs || {})) {
    var v = attrs[k];
    if (v === undefined || v === null || v === false) continue;
    if (k === "text") e.textContent = v;
    else if (k.slice(0, 2) === "on") e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  (children || []).forEach(function (c) { if (c != null) e.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
  return e;
}
function svg(tag, attrs) {
  var e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (var k in (attrs || {})) e.setAttribute(k, attrs[k]);
  return e;
}
function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

/** The colour family of a job: its outcome once it has one, else its state. */
function jobTone(job) {
  if (job.state === "clear-failed") return "failed";
  return job.outcome || job.state;
}
function badge(job) {
  var tone = jobTone(job);
  var b = el("span", { "class": "badge", "data-tone": tone, text: job.state + (job.outcome ? " (" + job.outcome + ")" : "") });
  b.style.background = OUTCOME_COLORS[tone] || STATE_COLORS[job.state] || "#9ca3af";
  return b;
}
function taskState(t) { return t.result || (t.status === "done" ? "done" : t.status) || "waiting"; }
function when(ms) { return ms ? new Date(ms).toLocaleString() : ""; }
function clock(ms) { return ms ? new Date(ms).toLocaleTimeString() : ""; }
function duration(ms) {
  if (ms === null || ms === undefined || isNaN(ms)) return "—";
  if (ms < 1000) return Math.round(ms) + " ms";
  var s = Math.floor(ms / 1000);
  if (s < 60) return (ms / 1000).toFixed(1) + " s";
  var m = Math.floor(s / 60), h = Math.floor(m / 60);
  if (h > 0) return h + "h " + String(m % 60).padStart(2, "0") + "m";
  return m + "m " + String(s % 60).padStart(2, "0") + "s";
}
function pretty(v) { return v === null || v === undefined ? "—" : JSON.stringify(v, null, 2); }
function jobUrl(id) { return "/jobs/" + encodeURIComponent(id); }
function apiJob(id) { return "/api/jobs/" + encodeURIComponent(id); }

// ---- connection state and the banner ------------------------------------------
function setConn(text) { document.getElementById("conn").textContent = text; }
var health = { store: "ok", runner: "ok", since: null };
function renderBanner() {
  var b = document.getElementById("banner");
  var kind = health.runner !== "ok" ? "runner-unreachable" : health.store !== "ok" ? "store-unreachable" : "";
  b.className = kind ? "shown" : "";
  b.setAttribute("data-kind", kind);
  b.textContent = kind === "store-unreachable"
    ? "The job store (etcd) is unreachable" + (health.since ? " since " + clock(health.since) : "") +
      ": what you see is the last known state and may be out of date. Operations are disabled until it is back."
    : kind === "runner-unreachable"
    ? "This runner's HTTP service does not answer" + (health.since ? " since " + clock(health.since) : "") +
      ": what you see may be out of date."
    : "";
  document.body.setAttribute("data-store", health.store);
  document.dispatchEvent(new CustomEvent("health"));
}
function markHealth(part, value) {
  if (health[part] === value) return;
  health[part] = value;
  if (value !== "ok" && !health.since) health.since = Date.now();
  if (health.store === "ok" && health.runner === "ok") health.since = null;
  renderBanner();
}
function storeDown() { return health.store !== "ok" || health.runner !== "ok"; }
/** Polls the runner's readiness, whose "store" field says whether etcd answers. */
function watchHealth() {
  function poll() {
    var ctrl = new AbortController(), timer = setTimeout(function () { ctrl.abort(); }, REQUEST_TIMEOUT_MS);
    fetch("/readyz", { cache: "no-store", signal: ctrl.signal }).then(function (r) { return r.json(); }).then(function (b) {
      markHealth("runner", "ok");
      markHealth("store", b.store === "reachable" ? "ok" : "down");
    }).catch(function () { markHealth("runner", "down"); }).then(function () { clearTimeout(timer); setTimeout(poll, 3000); });
  }
  poll();
}

// ---- API ------------------------------------------------------------------------
function token() { return sessionStorage.getItem(TOKEN_KEY); }
function headers(extra) {
  var h = extra || {};
  var t = token();
  if (t) h["authorization"] = "Bearer " + t;
  return h;
}
/** Resolves to { status, body }; rejects only when the runner does not answer (network error, timeout). */
function request(method, path, body) {
  var ctrl = new AbortController(), timer = setTimeout(function () { ctrl.abort(); }, REQUEST_TIMEOUT_MS);
  var init = { method: method, cache: "no-store", signal: ctrl.signal,
    headers: headers(body === undefined ? {} : { "content-type": "application/json" }) };
  if (body !== undefined) init.body = JSON.stringify(body);
  return fetch(path, init).then(function (r) {
    clearTimeout(timer);
    return r.text().then(function (text) {
      var parsed = null;
      try { parsed = text ? JSON.parse(text) : null; } catch (e) { parsed = { error: "bad-response", message: text.slice(0, 200) }; }
      markHealth("runner", "ok");
      if (r.status === 503) markHealth("store", "down");
      else if (r.ok) markHealth("store", "ok");
      if (r.status === 401) signInPage(parsed && parsed.error);
      if (r.status === 403 && parsed && parsed.reason === "NoTokensConfigured") refusedPage(parsed.error);
      return { status: r.status, body: parsed };
    });
  }, function (e) {
    clearTimeout(timer);
    markHealth("runner", "down");
    throw e;
  });
}
/** The API's errors are { error: "<one line for a human>", reason: "<Code>", … } (API.md). */
function errorText(r) {
  var b = r.body || {};
  return b.error || b.message || ("HTTP " + r.status);
}
/** The caller's name and role (GET /api/whoami), fetched once. */
var whoami = null;
function loadWhoami() {
  if (whoami) return whoami;
  whoami = request("GET", "/api/whoami").then(function (r) {
    if (r.status !== 200) return null;
    var who = document.getElementById("who");
    who.textContent = r.body.name + " (" + r.body.role + ")";
    who.setAttribute("data-role", r.body.role);
    return r.body;
  }, function () { whoami = null; return null; });
  return whoami;
}
var ROLE_RANK = { viewer: 0, operator: 1, admin: 2 };
var OPERATION_ROLE = { cancel: "operator", pause: "operator", resume: "operator", retry: "operator", rollback: "admin", confirm: "admin" };

/** Server-Sent Events over fetch, reconnecting with back-off; onFailure(status, body) returns false to stop. */
function eventStream(path, on, onFailure) {
  var stopped = false, delay = 1000, ctrl = null, idle = null;
  function retry() { if (!stopped) { setConn("reconnecting…"); setTimeout(connect, delay); delay = Math.min(delay * 2, 10000); } }
  function dispatch(chunk) {
    var event = "message", data = [];
    chunk.split("\n").forEach(function (line) {
      if (line.indexOf("event:") === 0) event = line.slice(6).trim();
      else if (line.indexOf("data:") === 0) data.push(line.slice(5).replace(/^ /, ""));
    });
    if (data.length && on[event]) on[event](JSON.parse(data.join("\n")));
  }
  function connect() {
    if (stopped) return;
    ctrl = new AbortController();
    fetch(path, { cache: "no-store", signal: ctrl.signal, headers: headers({ accept: "text/event-stream" }) }).then(function (r) {
      markHealth("runner", "ok");
      if (!r.ok) {
        return r.json().catch(function () { return {}; }).then(function (b) {
          if (r.status === 503) markHealth("store", "down");
          if (r.status === 401) { stopped = true; signInPage(b.error); return; }
          if (onFailure && onFailure(r.status, b) === false) { stopped = true; return; }
          retry();
        });
      }
      delay = 1000;
      setConn("live");
      var reader = r.body.getReader(), decoder = new TextDecoder(), buffer = "";
      function pump() {
        // the server sends a keep-alive every 15 s: a silent stream is a dead one
        clearTimeout(idle);
        idle = setTimeout(function () { ctrl.abort(); }, 40000);
        return reader.read().then(function (x) {
          if (x.done) throw new Error("stream ended");
          buffer += decoder.decode(x.value, { stream: true });
          var i;
          while ((i = buffer.indexOf("\n\n")) >= 0) { dispatch(buffer.slice(0, i)); buffer = buffer.slice(i + 2); }
          return pump();
        });
      }
      return pump();
    }).catch(function () { clearTimeout(idle); if (!stopped) { if (on.lost) on.lost(); retry(); } });
  }
  connect();
  return { close: function () { stopped = true; clearTimeout(idle); if (ctrl) ctrl.abort(); } };
}

// ---- pages that replace the view --------------------------------------------------
function page(name) {
  document.body.setAttribute("data-page", name);
  return clear(document.getElementById("root"));
}
function signInPage(message) {
  if (document.body.getAttribute("data-page") === "sign-in") return;
  var root = page("sign-in");
  var input = el("input", { id: "token-input", type: "password", autocomplete: "off", placeholder: "API token" });
  var error = el("p", { id: "sign-in-error", "class": "rto-missed", text: message && token() ? "Token refused: " + message : "" });
  // the token is checked before it is kept, so a typo is answered here and not by a page of errors
  var form = el("form", { id: "sign-in", onsubmit: function (e) {
    e.preventDefault();
    var candidate = input.value.trim();
    if (!candidate) return;
    fetch("/api/whoami", { cache: "no-store", headers: { authorization: "Bearer " + candidate } }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (b) {
        if (r.status === 200) { sessionStorage.setItem(TOKEN_KEY, candidate); location.reload(); }
        else error.textContent = "Token refused: " + (b.error || "HTTP " + r.status);
      });
    }, function () { error.textContent = "The runner does not answer."; });
  } }, [input, el("button", { type: "submit", text: "Sign in" })]);
  root.appendChild(el("div", { "class": "card signin" }, [
    el("h2", { text: "Sign in" }),
    el("p", { text: "This runner requires an API token (role viewer, operator or admin). It is kept for this browser tab's session only." }),
    error,
    form
  ]));
  input.focus();
}
function refusedPage(message) {
  if (document.body.getAttribute("data-page") === "refused") return;
  page("refused").appendChild(el("div", { "class": "card signin", id: "refused" }, [el("h2", { text: "Not allowed from here" }), el("p", { text: message })]));
}
function notFoundPage(what) {
  var root = page("not-found");
  document.title = "migrator · not found";
  root.appendChild(el("div", { "class": "card", id: "not-found" }, [
    el("h2", { text: "Not found" }), el("p", { text: what }), el("a", { href: "/", text: "← all jobs" })
  ]));
}

/**
 * A modal confirmation: { title, body (nodes), action, danger, typeToConfirm, run(reason) → Promise<{ok, message}> }.
 * The action button stays disabled until dialog.allow(true) and, when given, typeToConfirm is typed.
 */
function confirmDialog(o) {
  var dialog = el("dialog", { id: "confirm-dialog", "data-op": o.op });
  var reason = el("input", { type: "text", id: "confirm-reason", placeholder: "reason (recorded in the job's event log)" });
  var typed = o.typeToConfirm ? el("input", { type: "text", id: "confirm-typed", placeholder: o.typeToConfirm }) : null;
  var error = el("div", { id: "confirm-error", "class": "rto-missed" });
  var go = el("button", { id: "confirm-go", "class": o.danger ? "danger" : "", text: o.action, disabled: true });
  var cancel = el("button", { id: "confirm-cancel", type: "button", text: "Cancel" });
  var allowed = false;
  function update() { go.disabled = !allowed || (typed !== null && typed.value !== o.typeToConfirm); }
  if (typed) typed.addEventListener("input", update);
  dialog.appendChild(el("h2", { text: o.title }));
  (o.body || []).forEach(function (n) { dialog.appendChild(n); });
  dialog.appendChild(el("p", {}, [el("label", { "for": "confirm-reason", text: "Reason (optional)" }), reason]));
  if (typed) dialog.appendChild(el("p", {}, [el("label", { "for": "confirm-typed", text: "Type " + o.typeToConfirm + " to confirm" }), typed]));
  dialog.appendChild(error);
  dialog.appendChild(el("div", { style: "display:flex;gap:8px;justify-content:flex-end;margin-top:12px" }, [cancel, go]));
  function close() { dialog.close(); dialog.remove(); }
  cancel.addEventListener("click", close);
  dialog.addEventListener("cancel", function () { dialog.remove(); });
  go.addEventListener("click", function () {
    go.disabled = true;
    o.run(reason.value.trim()).then(function (r) {
      if (r.ok) close();
      else { error.textContent = r.message; update(); }
    });
  });
  document.body.appendChild(dialog);
  dialog.showModal();
  /** Enables the action once what it will do is known and allowed. */
  dialog.allow = function (yes) { allowed = yes; if (typed) typed.disabled = !yes; update(); };
  return dialog;
}

// the tooltip for full labels on hover (graph nodes, timeline bars)
function tooltip(text, event) {
  var t = document.getElementById("tooltip");
  if (!text) { t.style.display = "none"; return; }
  t.textContent = text;
  t.style.display = "block";
  t.style.left = Math.min(event.clientX + 14, window.innerWidth - 540) + "px";
  t.style.top = (event.clientY + 14) + "px";
}
`
