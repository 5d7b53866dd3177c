// The playground page: calls the C library compiled to WebAssembly
// (web/playground.c) and shows its JSON.  No derivative is computed here:
// the graph, the backward pass (explain mode's events) and the gradient
// check all come from the library.
"use strict";

const $ = (id) => document.getElementById(id);
let M = null; // the WebAssembly module
const state = { graph: null, output: null, vars: null, bw: null, steps: null, at: 0,
  grads: new Map(), active: null, activeInput: null, example: null, seedRows: null };

// Calls a C entry point returning a JSON text, frees it, parses it.
function callC(name, types, args) {
  const p = M.ccall(name, "number", types || [], args || []);
  if (!p) throw new Error(name + ": out of memory");
  const text = M.UTF8ToString(p);
  M.ccall("pg_free", null, ["number"], [p]);
  return JSON.parse(text);
}

function guarded(fn) {
  return () => {
    try {
      fn();
    } catch (e) {
      showError({ box: "page", line: 0, col: 0, error: "internal error: " + e.message });
    }
  };
}

function showError(r) {
  const el = $("error");
  if (!r) {
    el.hidden = true;
    el.textContent = "";
    return;
  }
  let text = (r.box === "variables" ? "Variables" : r.box === "page" ? "Page" : "Formula");
  if (r.line > 0) text += `, line ${r.line}, column ${r.col}`;
  text += ": " + r.error;
  const box = r.box === "variables" ? $("vars") : $("formula");
  if (r.line > 0 && (r.box === "formula" || r.box === "variables")) {
    const line = box.value.split("\n")[r.line - 1] || "";
    text += "\n  " + line + "\n  " + " ".repeat(Math.max(0, r.col - 1)) + "^";
    let offset = 0;
    box.value.split("\n").slice(0, r.line - 1).forEach((l) => (offset += l.length + 1));
    box.setSelectionRange(offset + r.col - 1, offset + r.col);
  }
  el.textContent = text;
  el.hidden = false;
}

function tensorText(t) {
  return valueLines(t.shape, t.values).join("\n");
}

// The user value ref of each variable (the graph names them).
function varRef(name) {
  const v = state.graph.values.find((x) => x.kind === "user" && x.name === name);
  return v ? v.ref : null;
}

function redraw() {
  drawGraph($("graph"), state.graph, state.grads, state.active, state.activeInput);
}

function evaluate() {
  showError(null);
  const r = callC("pg_evaluate", ["string", "string"], [$("formula").value, $("vars").value]);
  state.steps = null;
  state.bw = null;
  state.grads = new Map();
  state.active = state.activeInput = null;
  $("checks").hidden = true;
  if (!r.ok) {
    showError(r);
    return false;
  }
  state.graph = r.graph;
  state.output = r.output;
  state.vars = r.vars;
  $("output").textContent = "output = " + tensorText(r.output);
  $("explain").innerHTML = "<p>Press <b>Step</b> to run the backward pass one node at a time.</p>";
  $("progress").textContent = "";
  fillGrads();
  redraw();
  return true;
}

// Explain events grouped in steps: the begin, one per node with its
// contributions, the end.
function groupSteps(events) {
  const steps = [];
  for (const e of events) {
    if (e.event === "contrib" && steps.length && steps[steps.length - 1].kind === "node")
      steps[steps.length - 1].contribs.push(e);
    else steps.push({ kind: e.event, ev: e, contribs: [] });
  }
  return steps;
}

function startBackward() {
  if (!state.graph && !evaluate()) return false;
  if (state.steps) return true;
  const bw = callC("pg_backward");
  if (!bw.ok) {
    showError(bw);
    return false;
  }
  state.bw = bw;
  state.steps = groupSteps(bw.events);
  state.at = 0;
  state.grads = new Map();
  return true;
}

function esc(s) {
  return String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
}

function refLabel(ref) {
  const v = state.graph.values.find((x) => x.ref === ref);
  return v && v.name ? `${v.name} (${ref})` : ref;
}

function valueOf(ref) {
  return state.graph.values.find((x) => x.ref === ref);
}

function applyStep(s) {
  const ev = s.ev;
  let html = "";
  if (s.kind === "begin") {
    const g = { shape: state.output.shape, values: ev.seed };
    state.grads.set(ev.y, g);
    state.active = ev.y;
    html = `<p>Backward pass from <b>${esc(refLabel(ev.y))}</b>: its gradient starts as the seed ` +
      `<code>${esc(tensorText(g))}</code>.</p>`;
  } else if (s.kind === "node") {
    state.active = ev.out;
    state.activeInput = s.contribs.length ? s.contribs[s.contribs.length - 1].in : null;
    const out = valueOf(ev.out);
    html = `<p class="step-head">Node ${ev.node}: <b>${esc(ev.op)}</b>` +
      `${ev.attrs ? "(" + esc(ev.attrs) + ")" : ""} &rarr; ${esc(refLabel(ev.out))}</p>`;
    html += `<p class="rule">rule: <code>${esc(ev.formula || ev.op + " backward")}</code></p><table class="nums">`;
    html += `<tr><td>g</td><td>gradient at ${esc(refLabel(ev.out))}</td><td><pre>${esc(tensorText(ev.g))}</pre></td></tr>`;
    if (out) html += `<tr><td>y</td><td>output value</td><td><pre>${esc(tensorText(out))}</pre></td></tr>`;
    ev.inputs.forEach((r, k) => {
      const v = valueOf(r);
      if (v) html += `<tr><td>in ${k}</td><td>${esc(refLabel(r))}</td><td><pre>${esc(tensorText(v))}</pre></td></tr>`;
    });
    html += "</table><table class=\"nums contribs\">";
    for (const c of s.contribs) {
      const total = c.total || c.contrib;
      state.grads.set(c.in, total);
      html += `<tr><td>&rarr; ${esc(refLabel(c.in))}</td><td>contribution<pre>${esc(tensorText(c.contrib))}</pre></td>` +
        `<td>${c.total ? "running total<pre>" + esc(tensorText(c.total)) + "</pre>" : "(first contribution)"}</td></tr>`;
    }
    html += "</table>";
  } else if (s.kind === "end") {
    state.active = state.activeInput = null;
    html = `<p>Done: ${ev.steps} node(s), status <b>${esc(ev.status)}</b>.</p>`;
  }
  $("explain").innerHTML = html;
  $("progress").textContent = `step ${state.at} of ${state.steps.length}`;
}

function step() {
  showError(null);
  if (!startBackward()) return;
  if (state.at >= state.steps.length) {
    state.at = 0;
    state.grads = new Map();
  }
  applyStep(state.steps[state.at++]);
  fillGrads();
  redraw();
}

function runAll() {
  showError(null);
  if (!startBackward()) return;
  while (state.at < state.steps.length) applyStep(state.steps[state.at++]);
  fillGrads();
  redraw();
}

// The variables' gradients known so far (from the stepped events); at the
// end, each is compared with the .grad tg_backward wrote.
function fillGrads() {
  const body = $("grads").querySelector("tbody");
  body.innerHTML = "";
  const done = state.steps && state.at >= state.steps.length;
  for (const v of state.vars || []) {
    const g = state.grads.get(varRef(v.name));
    const tr = document.createElement("tr");
    tr.dataset.var = v.name;
    let cls = "";
    if (done && state.bw) {
      const fin = state.bw.vars.find((x) => x.name === v.name);
      const same = fin && fin.grad && g && JSON.stringify(fin.grad.values) === JSON.stringify(g.values);
      cls = same ? "agrees" : fin && fin.grad ? "differs" : "";
    }
    tr.className = cls;
    tr.innerHTML = `<td>${esc(v.name)}</td><td><pre>${esc(tensorText(v.value))}</pre></td>` +
      `<td class="grad" data-values='${g ? JSON.stringify(g.values) : "null"}'><pre>${g ? esc(tensorText(g)) : "-"}</pre></td>`;
    body.appendChild(tr);
  }
  showErratum();
}

function gradcheck() {
  showError(null);
  if (!state.graph && !evaluate()) return;
  const r = callC("pg_gradcheck");
  if (!r.ok) {
    showError(r);
    return;
  }
  const body = $("checks").querySelector("tbody");
  body.innerHTML = "";
  for (const row of r.rows) {
    const tr = document.createElement("tr");
    tr.className = typeof row.rel_err === "number" && row.rel_err < 1e-6 ? "agrees" : "differs";
    tr.innerHTML = `<td>${esc(row.var)}[${row.index}]</td><td>${fmtNum(row.autodiff)}</td>` +
      `<td>${fmtNum(row.numeric)}</td><td>${typeof row.rel_err === "number" ? row.rel_err.toExponential(1) : row.rel_err}</td>`;
    body.appendChild(tr);
  }
  const gc = r.gradcheck;
  $("verdict").textContent = gc.status === "ok"
    ? "tg_gradcheck: every element agrees (both backward rules of every op, and central differences)."
    : `tg_gradcheck: ${gc.status} ${gc.message}`;
  $("checks").hidden = false;
}

// ---- examples and the seed table -----------------------------------------

function showErratum() {
  const ex = state.example, el = $("erratum");
  if (!ex || !ex.erratum || !state.steps || state.at < state.steps.length) {
    el.hidden = true;
    return;
  }
  const e = ex.erratum, g = state.grads.get(varRef(e.ref));
  if (!g) return;
  const value = e.sign * g.values[0];
  const rel = Math.abs(e.printed - value) / Math.abs(value);
  el.innerHTML = `<b>Erratum</b> (${esc(e.what)}): the document prints <b>${e.printed}</b>; ` +
    `autodiff gives <b>${fmtNum(value)}</b> (relative error ${rel.toExponential(3)}); ` +
    `corrected value ${e.corrected}.`;
  el.hidden = false;
}

function showSeedTable(seed) {
  const wrap = $("seedtable");
  if (seed === undefined) {
    wrap.hidden = true;
    return;
  }
  if (!state.seedRows) {
    const r = callC("pg_seed_table");
    state.seedRows = r.ok === false ? [] : r.rows || [];
  }
  const rows = state.seedRows.filter((r) => Number(r.seed) === seed);
  const body = wrap.querySelector("tbody");
  body.innerHTML = "";
  for (const r of rows) {
    const tr = document.createElement("tr");
    const err = r.verdict === "erratum";
    tr.className = err ? "erratum" : "";
    const num = (v) => (v === null || v === undefined ? "-" : fmtNum(v));
    const where = r.where || r.net;
    tr.innerHTML = `<td>${esc(r.eq)}</td><td>${esc(r.what)}<div class="where">at ${esc(where)}</div></td>` +
      `<td class="n">${num(r.hand)}</td><td class="n">${num(r.autodiff)}</td>` +
      `<td class="n">${typeof r.rel_err === "number" ? r.rel_err.toExponential(2) : esc(r.rel_err)}</td>` +
      `<td>${esc(r.verdict)}${r.correction ? '<div class="correction">correction: ' + esc(r.correction) +
        (r.corrected !== undefined && r.corrected !== null ? " gives " + fmtNum(r.corrected) : "") + "</div>" : ""}</td>`;
    body.appendChild(tr);
  }
  $("seedcount").textContent = rows.length
    ? `${rows.length} formulas of seed ${String(seed).padStart(3, "0")} (the same table as derivations)`
    : "The seed table is not in this build.";
  wrap.hidden = false;
}

function loadExample(id) {
  const ex = EXAMPLES.find((e) => e.id === id);
  if (!ex) return;
  state.example = ex;
  $("formula").value = ex.formula;
  $("vars").value = ex.vars;
  $("note").textContent = ex.note || "";
  evaluate();
  showSeedTable(ex.seed);
}

function init() {
  const sel = $("examples");
  for (const ex of EXAMPLES) {
    const o = document.createElement("option");
    o.value = ex.id;
    o.textContent = ex.title;
    sel.appendChild(o);
  }
  sel.addEventListener("change", guarded(() => loadExample(sel.value)));
  $("evaluate").addEventListener("click", guarded(() => {
    state.example = null;
    $("note").textContent = "";
    showSeedTable(undefined);
    evaluate();
  }));
  $("step").addEventListener("click", guarded(step));
  $("run").addEventListener("click", guarded(runAll));
  $("gradcheck").addEventListener("click", guarded(gradcheck));
  for (const id of ["formula", "vars"])
    $(id).addEventListener("keydown", (e) => {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) $("evaluate").click();
    });
  // The formula changed: the graph shown is the old one until Evaluate.
  for (const id of ["formula", "vars"])
    $(id).addEventListener("input", () => ($("status").textContent = "edited: press Evaluate"));
  $("evaluate").addEventListener("click", () => ($("status").textContent = ""));
  loadExample("neuron");
  document.body.dataset.ready = "1";
}

createTapegrad().then((mod) => {
  M = mod;
  guarded(init)();
}, (e) => showError({ box: "page", line: 0, col: 0, error: "could not load tapegrad.wasm: " + e }));
