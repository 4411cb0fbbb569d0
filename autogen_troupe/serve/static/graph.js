// A graph team drawn as SVG, and the path of a run lit on it as its `route` entries arrive.
// Layers top to bottom by distance from the entry nodes; an edge back up (a loop) bends round the right.
// Every text from the scenario or the run is set as textContent: data, never markup.
"use strict";

const GRAPH_NS = "http://www.w3.org/2000/svg";
const NODE_W = 120, NODE_H = 30, GAP_X = 24, GAP_Y = 58, PAD = 12;

function graphEl(tag, attrs, text) {
  const el = document.createElementNS(GRAPH_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

function graphLayers(graph) {
  const depth = new Map(graph.entry.map((n) => [n, 0]));
  const queue = [...graph.entry];
  while (queue.length) {
    const n = queue.shift();
    for (const e of graph.edges) {
      if (e.from === n && !depth.has(e.to)) {
        depth.set(e.to, depth.get(n) + 1);
        queue.push(e.to);
      }
    }
  }
  const layers = [];
  for (const node of graph.nodes) {
    const d = depth.has(node.name) ? depth.get(node.name) : 0;
    (layers[d] = layers[d] || []).push(node);
  }
  return layers.filter(Boolean);
}

function clip(text, n) {
  return text.length > n ? text.slice(0, n - 1) + "…" : text;
}

// The path so far: the nodes started (in order) and the edges that fired, from the run's route entries.
function graphPath(entries) {
  const nodes = [], fired = new Set();
  for (const e of entries) {
    if (e.kind !== "route") continue;
    nodes.push(e.node);
    for (const h of e.via || []) fired.add(h.edge);
  }
  return { nodes, fired };
}

function depthOf(layers, name) {
  return layers.findIndex((layer) => layer.some((n) => n.name === name));
}

function drawGraph(box, graph, entries) {
  box.replaceChildren();
  box.hidden = !graph;
  if (!graph) return;
  const layers = graphLayers(graph);
  const widest = Math.max(...layers.map((l) => l.length));
  // Loops bend round the right of every node (one lane each), their labels to the right of the bend.
  const core = PAD * 2 + widest * NODE_W + (widest - 1) * GAP_X;
  const backs = graph.edges.filter((e) => depthOf(layers, e.to) <= depthOf(layers, e.from));
  const labelRoom = backs.some((e) => e.label) ? 170 : 0;
  const width = core + (backs.length ? 24 + backs.length * 18 : 0) + labelRoom;
  const height = PAD * 2 + layers.length * NODE_H + (layers.length - 1) * GAP_Y;
  box.setAttribute("viewBox", `0 0 ${width} ${height}`);
  box.setAttribute("width", width);
  box.setAttribute("height", height);
  const at = new Map();
  layers.forEach((layer, d) => {
    const left = (core - (layer.length * NODE_W + (layer.length - 1) * GAP_X)) / 2;
    layer.forEach((node, i) => at.set(node.name, { x: left + i * (NODE_W + GAP_X), y: PAD + d * (NODE_H + GAP_Y), d }));
  });
  const defs = graphEl("defs", {});
  const marker = graphEl("marker", { id: box.id + "-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
  marker.append(graphEl("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrowhead" }));
  defs.append(marker);
  box.append(defs);
  const { nodes: path, fired } = graphPath(entries);
  const visits = new Map();
  for (const n of path) visits.set(n, (visits.get(n) || 0) + 1);
  graph.edges.forEach((e, i) => {
    const a = at.get(e.from), b = at.get(e.to);
    if (!a || !b) return;
    let d, lx, ly;
    if (b.d > a.d) {
      const x1 = a.x + NODE_W / 2, y1 = a.y + NODE_H, x2 = b.x + NODE_W / 2, y2 = b.y;
      d = `M ${x1} ${y1} L ${x2} ${y2}`;
      lx = (x1 + x2) / 2 + 4;
      ly = (y1 + y2) / 2;
    } else {  // back up (or across): round the right of every node, in a lane of its own
      const x1 = a.x + NODE_W, y1 = a.y + NODE_H / 2, x2 = b.x + NODE_W, y2 = b.y + NODE_H / 2;
      const bend = core - PAD + 24 + backs.indexOf(e) * 18;
      d = `M ${x1} ${y1} C ${bend} ${y1}, ${bend} ${y2}, ${x2} ${y2}`;
      lx = bend - 6;  // the curve reaches about three quarters of the way to its control points
      ly = (y1 + y2) / 2;
    }
    const g = graphEl("g", { class: "gedge" + (fired.has(i) ? " fired" : ""), "data-edge": i });
    g.append(graphEl("path", { d, "marker-end": `url(#${box.id}-arrow)` }));
    if (e.label) {
      g.append(graphEl("title", {}, e.label));
      g.append(graphEl("text", { x: lx, y: ly }, clip(e.label, 26)));
    }
    box.append(g);
  });
  const current = path.length ? path[path.length - 1] : null;
  for (const node of graph.nodes) {
    const p = at.get(node.name);
    const seen = visits.get(node.name) || 0;
    const cls = "gnode" + (seen ? " visited" : "") + (node.name === current ? " current" : "");
    const g = graphEl("g", { class: cls, "data-node": node.name, "data-visits": seen });
    g.append(graphEl("rect", { x: p.x, y: p.y, width: NODE_W, height: NODE_H, rx: 6 }));
    const text = clip(node.name, 16) + (seen > 1 ? ` ×${seen}` : "");
    g.append(graphEl("text", { x: p.x + NODE_W / 2, y: p.y + NODE_H / 2 + 4, "text-anchor": "middle" }, text));
    g.append(graphEl("title", {}, [node.name, ...node.notes].join(" · ")));
    box.append(g);
  }
}

// One line for a route entry in the message list: where the run went, and why.
function routeText(e) {
  const via = (e.via || []).map((h) => `from ${h.from_node}: ${h.why}`).join("; ");
  return `→ ${e.node}` + (via ? ` (${via})` : " (entry)");
}
