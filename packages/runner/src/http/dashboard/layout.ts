/**
 * Browser code: the layered DAG layout (a small Sugiyama-style layout, kept
 * in the page rather than a library, see docs/dashboard.md for why and measurements):
 * longest-path layers from a topological order (cycles, possible between
 * collapsed groups, are broken where they close), barycenter ordering sweeping
 * down and up, and layers taller than about the square root of the graph
 * wrapped into several columns, so a layer of 1,000 instances does not make
 * a graph 40,000 pixels tall. About 4 ms for 300 tasks and 250 ms for 3,000
 * (measured in Node on the test fixtures).
 *
 * @since 0.1.0
 */
export const js = `
var NODE_H = 36, GAP_X = 56, GAP_Y = 10, PAD = 16, MIN_W = 120, MAX_W = 380, CHAR_W = 6.9;

function labelWidth(text) { return Math.max(MIN_W, Math.min(MAX_W, Math.ceil(text.length * CHAR_W) + 22)); }
/** Cuts the middle out of a label too long for its box, keeping both ends (ids differ at the end as often as at the start). */
function fitLabel(text, width) {
  var max = Math.floor((width - 18) / CHAR_W);
  if (text.length <= max) return text;
  var head = Math.ceil((max - 1) / 2), tail = Math.floor((max - 1) / 2);
  return text.slice(0, head) + "…" + text.slice(text.length - tail);
}

/** nodes: [{ id, w, h }], edges: [[from, to]] → { pos: { id: { x, y, w, h } }, width, height }. */
function layered(nodes, edges) {
  var index = {}, preds = {}, succs = {};
  nodes.forEach(function (n, i) { index[n.id] = i; preds[n.id] = []; succs[n.id] = []; });
  edges.forEach(function (e) { if (index[e[0]] !== undefined && index[e[1]] !== undefined && e[0] !== e[1]) { preds[e[1]].push(e[0]); succs[e[0]].push(e[1]); } });
  // topological order (Kahn); what a cycle leaves behind is appended in input order
  var indegree = {}, order = [], queue = [], seen = {};
  nodes.forEach(function (n) { indegree[n.id] = preds[n.id].length; if (indegree[n.id] === 0) queue.push(n.id); });
  for (var q = 0; q < queue.length; q++) {
    var id = queue[q]; order.push(id); seen[id] = true;
    succs[id].forEach(function (s) { if (--indegree[s] === 0) queue.push(s); });
  }
  nodes.forEach(function (n) { if (!seen[n.id]) { order.push(n.id); seen[n.id] = true; } });
  var rank = {}, placed = {};
  order.forEach(function (id) {
    var r = 0;
    preds[id].forEach(function (p) { if (placed[p]) r = Math.max(r, rank[p] + 1); });
    rank[id] = r; placed[id] = true;
  });
  var layers = [];
  order.forEach(function (id) { (layers[rank[id]] = layers[rank[id]] || []).push(id); });
  layers = layers.filter(function (l) { return l && l.length; });
  var pos = {};
  layers.forEach(function (l) { l.sort(function (a, b) { return a < b ? -1 : a > b ? 1 : 0; }); l.forEach(function (id, i) { pos[id] = i / l.length; }); });
  function sweep(list, neighbours) {
    list.forEach(function (l) {
      var bary = {};
      l.forEach(function (id) {
        var ns = neighbours[id];
        bary[id] = ns.length ? ns.reduce(function (s, p) { return s + pos[p]; }, 0) / ns.length : pos[id];
      });
      l.sort(function (a, b) { return bary[a] - bary[b] || (a < b ? -1 : 1); });
      l.forEach(function (id, i) { pos[id] = i / l.length; });
    });
  }
  for (var round = 0; round < 3; round++) { sweep(layers.slice(1), preds); sweep(layers.slice(0, -1).reverse(), succs); }
  // wrap tall layers into columns of at most "cap" nodes
  var cap = Math.max(24, Math.ceil(Math.sqrt(nodes.length) * 1.6));
  var width = {}; nodes.forEach(function (n) { width[n.id] = n.w; });
  var height = {}; nodes.forEach(function (n) { height[n.id] = n.h || NODE_H; });
  var out = {}, x = PAD, maxY = 0, rows = 0;
  layers.forEach(function (l) { rows = Math.max(rows, Math.min(cap, l.length)); });
  layers.forEach(function (l) {
    for (var start = 0; start < l.length; start += cap) {
      var col = l.slice(start, start + cap);
      var w = 0, total = 0;
      col.forEach(function (id) { w = Math.max(w, width[id]); total += height[id] + GAP_Y; });
      var y = PAD + Math.max(0, (rows * (NODE_H + GAP_Y) - total) / 2);
      col.forEach(function (id) { out[id] = { x: x, y: y, w: width[id], h: height[id] }; y += height[id] + GAP_Y; });
      maxY = Math.max(maxY, y);
      x += w + (start + cap < l.length ? GAP_Y * 2 : GAP_X);
    }
  });
  return { pos: out, width: x - GAP_X + PAD, height: maxY + PAD };
}
`
