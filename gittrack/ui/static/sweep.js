// gittrack ui: the sweeps pages (loaded before app.js, whose helpers el, api, fmt, table and badge
// they use when called). Values are put on the page as text only.
"use strict";

async function sweepsPage() {
  const root = document.getElementById("sweeps-page");
  const target = document.getElementById("sweeps");
  try {
    const data = await api("/api/sweeps");
    const rows = data.sweeps.map((s) => [
      el("a", { href: `/sweeps/${encodeURIComponent(s.sweep_id)}`, text: s.sweep_id.slice(0, 12) }),
      s.experiment || "", s.metric || "", s.problem ? s.problem : `${s.finished} / ${s.trials}`,
      s.best_value === null || s.best_value === undefined ? "" : s.best_value, s.storage,
    ]);
    target.replaceWith(table(["sweep", "experiment", "metric", "trials", "best", "storage"], rows, { class: "grid" }));
  } catch (error) { showError(target, error); }
  root.dataset.ready = "1";
}

// a colour from dark blue (best) to yellow (worst) for a value scaled to [0, 1] (0 = best)
function objectiveColor(t) {
  const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const x = Math.max(0, Math.min(1, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const c = stops[i].map((v, k) => Math.round(v + f * (stops[i + 1][k] - v)));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

// parallel coordinates as plotly lines (parcoords needs WebGL): trials are binned into ten colour
// groups by objective, one trace per group, so that 1,000 trials stay ten traces
function sweepParallel(data) {
  const names = Object.keys(data.space);
  const rows = data.rows.filter((r) => r.value !== null && r.value !== undefined);
  const axes = names.map((name) => {
    const spec = data.space[name];
    if (spec.type === "categorical") {
      const labels = spec.choices.map(String);
      return { name, lo: 0, hi: Math.max(1, labels.length - 1), pos: (v) => labels.indexOf(String(v)), labels, log: false };
    }
    const log = !!spec.log;
    const f = (v) => (log ? Math.log10(v) : v);
    return { name, lo: f(spec.low), hi: f(spec.high), pos: f, log };
  });
  const values = rows.map((r) => r.value);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  axes.push({ name: data.metric, lo, hi, pos: (v) => v, log: false });
  const better = data.direction === "minimize" ? (v) => (hi > lo ? (v - lo) / (hi - lo) : 0) : (v) => (hi > lo ? (hi - v) / (hi - lo) : 0);
  const groups = Array.from({ length: 10 }, () => ({ x: [], y: [], text: [] }));
  rows.forEach((r) => {
    const g = groups[Math.min(9, Math.floor(better(r.value) * 10))];
    axes.forEach((a, j) => {
      const raw = j === axes.length - 1 ? r.value : r.params[a.name];
      const p = a.pos(raw);
      g.x.push(j);
      g.y.push(a.hi > a.lo ? (p - a.lo) / (a.hi - a.lo) : 0.5);
      g.text.push(`trial ${r.number}: ${a.name} = ${fmt(raw)}`);
    });
    g.x.push(null); g.y.push(null); g.text.push("");
  });
  const traces = groups.map((g, i) => ({ type: "scatter", mode: "lines", x: g.x, y: g.y, text: g.text, hoverinfo: "text",
    line: { color: objectiveColor((i + 0.5) / 10), width: 1.5 }, opacity: 0.7, showlegend: false, connectgaps: false }));
  const clean = (s) => String(s).replace(/[<>&]/g, "");
  const label = (a, which) => (a.labels ? a.labels[which === "hi" ? a.labels.length - 1 : 0] : fmt(a.log ? 10 ** a[which] : a[which]));
  const notes = axes.flatMap((a, j) => [
    { x: j, y: 1.06, text: `<b>${clean(a.name)}</b>`, showarrow: false, yanchor: "bottom" },
    { x: j, y: 1, text: clean(label(a, "hi")), showarrow: false, xanchor: "right", xshift: -4, font: { size: 10 } },
    { x: j, y: 0, text: clean(label(a, "lo")), showarrow: false, xanchor: "right", xshift: -4, font: { size: 10 } },
  ]);
  const shapes = axes.map((_, j) => ({ type: "line", x0: j, x1: j, y0: 0, y1: 1, line: { color: "#7a8399", width: 1 } }));
  return { traces, layout: { margin: { l: 60, r: 30, t: 50, b: 20 }, annotations: notes, shapes,
    xaxis: { visible: false, range: [-0.3, axes.length - 0.7] }, yaxis: { visible: false, range: [-0.05, 1.12] } }, axes: axes.length };
}

async function sweepPage() {
  const root = document.getElementById("sweep-page");
  const id = root.dataset.sweep;
  let data;
  try {
    data = await api(`/api/sweeps/${encodeURIComponent(id)}`);
  } catch (error) { showError(root, error); root.dataset.ready = "1"; return; }
  document.getElementById("sweep-id").textContent = data.sweep_id.slice(0, 12);
  const counts = Object.entries(data.counts).filter(([s]) => s !== "SKIPPED").map(([s, n]) => `${n} ${s.toLowerCase()}`).join(", ");
  const parent = el("a", { href: `/runs/${encodeURIComponent(data.parent_run_id)}`, text: data.parent_run_id.slice(0, 12) });
  const best = data.best_run_id ? el("a", { href: `/runs/${encodeURIComponent(data.best_run_id)}`, text: `${fmt(data.best_value)} (trial ${data.best_trial})` }) : "none yet";
  document.getElementById("summary").replaceChildren(table(["", ""], [
    ["experiment", data.experiment], ["objective", `${data.direction} ${data.metric}`],
    ["trials", `${data.finished} of ${data.trials} finished (${counts})${data.stopped ? ", stopped" : ""}`],
    ["best", best], ["parent run", parent], ["sampler", `${data.sampler} (seed ${data.seed === null ? "none" : data.seed}), pruner ${data.pruner}`],
    ["study", `${data.study_name} in ${data.storage}`],
  ]));
  const rows = data.rows.map((r) => [r.number, badge(r.state), r.value === null ? "" : r.value,
    r.run_id ? el("a", { href: `/runs/${encodeURIComponent(r.run_id)}`, text: r.run_id.slice(0, 12) }) : "",
    ...Object.keys(data.space).map((k) => (r.params[k] === undefined ? "" : r.params[k]))]);
  document.getElementById("trials").replaceWith(table(["trial", "state", data.metric, "run", ...Object.keys(data.space)], rows, { class: "grid" }));
  await whenPlotly();
  const config = { displaylogo: false, responsive: true };
  const points = data.curve.filter((c) => c.value !== null);
  Plotly.react("best-curve", [
    { type: "scatter", mode: "markers", x: points.map((c) => c.n), y: points.map((c) => c.value), name: "trial", marker: { size: 5, color: "#9aa4b8" },
      text: points.map((c) => `trial ${c.trial}`) },
    { type: "scatter", mode: "lines", line: { shape: "hv", color: "#1f77b4", width: 2 }, x: data.curve.map((c) => c.n), y: data.curve.map((c) => c.best), name: `best ${data.metric}` },
  ], { margin: { l: 50, r: 10, t: 10, b: 40 }, xaxis: { title: { text: "trials finished" } }, yaxis: { title: { text: data.metric } } }, config);
  const pc = sweepParallel(data);
  Plotly.react("sweep-parallel", pc.traces, pc.layout, config);
  document.getElementById("sweep-parallel").dataset.axes = String(pc.axes);
  try {
    const found = (await api(`/api/sweeps/${encodeURIComponent(id)}/importance`)).importance;
    const names = Object.keys(found).reverse();
    Plotly.react("importance", [{ type: "bar", orientation: "h", y: names, x: names.map((n) => found[n]) }],
      { margin: { l: 120, r: 10, t: 10, b: 40 }, xaxis: { title: { text: "importance" } } }, config);
    document.getElementById("importance").dataset.params = String(names.length);
  } catch (error) { showError(document.getElementById("importance"), error); }
  root.dataset.ready = "1";
}
