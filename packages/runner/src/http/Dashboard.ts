/**
 * The dashboard: one self-contained page (no build step, no external
 * resources) served at `/` (the job list) and `/jobs/<id>` (one job), and as
 * the not-found page of every other path. Its browser code lives in
 * `dashboard/*`, one view per module, concatenated into one script here.
 *
 * The page reads the job API with the token the operator signs in with (kept
 * in `sessionStorage`, sent as `Authorization: Bearer`); without one it tries
 * anonymously, which a runner with no tokens allows from loopback.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import * as client from "./dashboard/client.ts"
import * as graph from "./dashboard/graph.ts"
import * as jobPage from "./dashboard/jobPage.ts"
import * as layout from "./dashboard/layout.ts"
import * as listPage from "./dashboard/listPage.ts"
import * as planCheck from "./dashboard/planCheck.ts"
import * as style from "./dashboard/style.ts"
import * as taskTable from "./dashboard/taskTable.ts"
import * as timeline from "./dashboard/timeline.ts"

const router = String.raw`
(function start() {
  watchHealth();
  var header = document.getElementById("session");
  if (token()) header.appendChild(el("button", { type: "button", id: "sign-out", text: "sign out", onclick: function () {
    sessionStorage.removeItem(TOKEN_KEY); location.href = "/";
  } }));
  loadWhoami();
  var match = /^\/jobs\/([^/]+)\/?$/.exec(location.pathname);
  if (match) jobPage(decodeURIComponent(match[1]));
  else if (location.pathname === "/") listPage();
  else notFoundPage("There is no page at " + location.pathname + ".");
})();
`

/** The dashboard page. */
export const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>migrator</title>
<style>${style.css}</style>
</head>
<body>
<header><a href="/">migrator</a><span>disaster-recovery jobs</span><span class="conn" id="conn">connecting…</span><span id="who"></span><span id="session"></span></header>
<div id="banner" role="alert"></div>
<main id="root"></main>
<div id="tooltip"></div>
<script>
"use strict";
(function () {
${client.js}
${layout.js}
${graph.js}
${timeline.js}
${taskTable.js}
${listPage.js}
${planCheck.js}
${jobPage.js}
${router}
})();
</script>
</body>
</html>
`

const page = (status: number) =>
  HttpServerResponse.text(html, {
    status,
    contentType: "text/html; charset=utf-8",
    headers: { "cache-control": "no-store" }
  })

/** `/` and `/jobs/:id` serve the page; any other GET gets it with status 404 (it then shows "not found"). */
export const routes = [
  HttpRouter.route("GET", "/", Effect.succeed(page(200))),
  HttpRouter.route("GET", "/jobs/:id", Effect.succeed(page(200))),
  HttpRouter.route("GET", "/*", Effect.succeed(page(404)))
] as const
