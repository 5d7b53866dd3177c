// Draws the tape's graph (tg_tape_write_json) as SVG: one box per variable
// or constant, one per node (its op and its output value), left to right by
// the longest path from the variables.  grads maps a value's ref to the
// gradient known so far; active is the ref of the node being stepped.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

function fmtNum(v) {
  if (typeof v !== "number") return String(v);
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-4) return v.toExponential(3);
  return String(Number(v.toPrecision(5)));
}

// Lines of text for a tensor's values: a matrix row per line (at most 4).
function valueLines(shape, values) {
  if (!values || (values.length === 0 && shape.length > 0)) return ["[" + shape.join("x") + "]"];
  if (shape.length === 0) return [fmtNum(values[0])];
  if (shape.length === 2) {
    const rows = [], cols = shape[1];
    for (let r = 0; r < shape[0] && r < 4; r++)
      rows.push("[" + values.slice(r * cols, (r + 1) * cols).map(fmtNum).join(", ") + "]");
    if (shape[0] > 4) rows.push("...");
    return rows;
  }
  const shown = values.slice(0, 6).map(fmtNum).join(", ");
  return ["[" + shown + (values.length > 6 ? ", ..." : "") + "]"];
}

function svgEl(tag, attrs, text) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}

// Boxes and edges of the graph: {boxes: [{ref, kind, title, lines, layer}], edges}
function graphModel(graph) {
  const byRef = new Map();
  for (const v of graph.values) byRef.set(v.ref, v);
  const layer = new Map(), boxes = [], edges = [];
  for (const v of graph.values) {
    if (v.kind === "user" || v.kind === "const") {
      layer.set(v.ref, 0);
      boxes.push({ ref: v.ref, kind: v.kind, value: v, title: v.name || v.ref, op: null });
    }
  }
  for (const n of graph.nodes) {
    let l = 0;
    for (const r of n.inputs) l = Math.max(l, (layer.get(r) || 0) + 1);
    layer.set(n.out, l);
    const v = byRef.get(n.out) || { ref: n.out, shape: [], values: [] };
    const title = (v.name ? v.name + " = " : "") + n.op + (n.attrs ? "(" + n.attrs + ")" : "");
    boxes.push({ ref: n.out, kind: "node", value: v, title: title, op: n });
    n.inputs.forEach((r, k) => edges.push({ from: r, to: n.out, k: k }));
  }
  for (const b of boxes) b.layer = layer.get(b.ref) || 0;
  return { boxes, edges, byRef };
}

function drawGraph(svg, graph, grads, active, activeInput) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const { boxes, edges } = graphModel(graph);
  const W = 165, GAP_X = 44, GAP_Y = 14, LINE = 15;
  const columns = [];
  for (const b of boxes) (columns[b.layer] = columns[b.layer] || []).push(b);
  const pos = new Map();
  let height = 0;
  columns.forEach((col, li) => {
    let y = 10;
    for (const b of col) {
      const vl = valueLines(b.value.shape || [], b.value.values);
      const g = grads.get(b.ref);
      const gl = g ? valueLines(g.shape, g.values) : [];
      b.lines = vl;
      b.glines = gl;
      const h = 24 + LINE * (vl.length + (gl.length ? gl.length : 0)) + 8;
      pos.set(b.ref, { x: 10 + li * (W + GAP_X), y: y, w: W, h: h });
      y += h + GAP_Y;
    }
    height = Math.max(height, y);
  });
  const width = 20 + columns.length * (W + GAP_X) - GAP_X;
  svg.setAttribute("width", width);
  svg.setAttribute("height", height);
  svg.setAttribute("viewBox", "0 0 " + width + " " + height);
  // Fit the panel, but never below 3/4 size (text stays readable on a
  // projector): a wider graph scrolls.
  const room = svg.parentNode ? svg.parentNode.clientWidth - 2 : width;
  svg.style.width = Math.round(Math.min(width, Math.max(room, 0.75 * width))) + "px";
  const defs = svgEl("defs", {});
  const marker = svgEl("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5,
    markerWidth: 7, markerHeight: 7, orient: "auto" });
  marker.appendChild(svgEl("path", { d: "M0,0 L10,5 L0,10 z", fill: "#667" }));
  defs.appendChild(marker);
  svg.appendChild(defs);
  for (const e of edges) {
    const a = pos.get(e.from), b = pos.get(e.to);
    if (!a || !b) continue;
    const x1 = a.x + a.w, y1 = a.y + a.h / 2, x2 = b.x, y2 = b.y + 12 + e.k * 10;
    const hot = e.to === active && e.from === activeInput;
    svg.appendChild(svgEl("path", {
      d: `M${x1},${y1} C${x1 + 30},${y1} ${x2 - 30},${y2} ${x2},${y2}`,
      class: "edge" + (e.to === active ? " edge-active" : "") + (hot ? " edge-hot" : ""),
      "marker-end": "url(#arrow)",
    }));
  }
  for (const b of boxes) {
    const p = pos.get(b.ref);
    const g = svgEl("g", { class: "box box-" + b.kind + (b.ref === active ? " box-active" : ""),
      "data-ref": b.ref, transform: `translate(${p.x},${p.y})` });
    g.appendChild(svgEl("rect", { width: p.w, height: p.h, rx: b.kind === "node" ? 4 : 12 }));
    g.appendChild(svgEl("text", { x: 8, y: 16, class: "box-title" }, b.title));
    g.appendChild(svgEl("text", { x: p.w - 6, y: 16, class: "box-ref" }, b.ref));
    let y = 16 + LINE;
    for (const l of b.lines) {
      g.appendChild(svgEl("text", { x: 8, y: y, class: "box-value" }, l));
      y += LINE;
    }
    b.glines.forEach((l, i) => {
      g.appendChild(svgEl("text", { x: 8, y: y, class: "box-grad" }, (i ? "   " : "g: ") + l));
      y += LINE;
    });
    const tip = svgEl("title", {}, b.op && b.op.formula ? "rule: " + b.op.formula : b.title);
    g.appendChild(tip);
    svg.appendChild(g);
  }
}
