// gittrack ui: plain JavaScript over the JSON API (charts.js, loaded first, draws the curves). Every value from a run is put on the page as
// text (textContent), never as markup; the only HTML inserted is the server's Markdown rendering
// of promotion reports, made with raw HTML disabled.
"use strict";

const WRITE = document.body.dataset.write === "1";
const REFRESH_MS = 5000;

// -- helpers ------------------------------------------------------------------------------------
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

async function api(path, params, options) {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(params || {})) {
    if (Array.isArray(value)) value.forEach((v) => url.searchParams.append(key, v));
    else if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  const response = await fetch(url, options);
  const data = await response.json().catch(() => ({ error: `${response.status} ${response.statusText}` }));
  if (!response.ok) {
    const error = new Error(data.error || response.statusText);
    error.data = data;
    throw error;
  }
  return data;
}

async function post(path, body) {
  return api(path, {}, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Gittrack-Write": "1" },
    body: JSON.stringify(body || {}),
  });
}

function fmt(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") {
    if (Number.isInteger(value)) return String(value);
    const abs = Math.abs(value);
    return abs !== 0 && (abs < 1e-4 || abs >= 1e7) ? value.toExponential(4) : String(Number(value.toPrecision(6)));
  }
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function fmtTime(ms) {
  if (ms === null || ms === undefined) return "";
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19);
}

function fmtDuration(ms) {
  if (ms === null || ms === undefined) return "";
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

function fmtSize(bytes) {
  if (bytes === null || bytes === undefined) return "";
  const units = ["B", "KB", "MB", "GB"];
  let i = 0;
  while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i += 1; }
  return `${i ? bytes.toFixed(1) : bytes} ${units[i]}`;
}

function badge(status) {
  return el("span", { class: `badge status-${String(status).toLowerCase()}`, text: status });
}

function showError(where, error) {
  where.replaceChildren(el("p", { class: "error", text: error.message || String(error) }));
}

// a column whose cells are numbers (or empty) has its header right-aligned over its values
function table(headers, rows, options) {
  const numeric = headers.map((_, i) => rows.some((r) => typeof r[i] === "number") && rows.every((r) => typeof r[i] === "number" || r[i] === null || r[i] === undefined || r[i] === ""));
  const head = el("tr", {}, headers.map((h, i) => el("th", { class: numeric[i] ? "num" : null, text: h })));
  const body = rows.map((row) => el("tr", { class: options && options.rowClass ? options.rowClass(row) : null },
    row.map((cell) => (cell instanceof Node ? el("td", {}, cell) : el("td", { class: typeof cell === "number" ? "num" : null, text: fmt(cell) })))));
  return el("table", { class: (options && options.class) || "" }, options && options.noHead ? null : el("thead", {}, head), el("tbody", {}, body));
}

function card(title, content, cls) {
  return el("div", { class: cls ? `card ${cls}` : "card" }, el("h3", { text: title }), content);
}

// a table, or a friendly line when there is nothing to list
function tableOr(empty, headers, rows, options) {
  return rows.length ? table(headers, rows, options) : el("p", { class: "muted empty", text: empty });
}

// a mark that needs no emoji font: a small inline SVG tick or cross and a word
function mark(ok) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 12 12");
  svg.setAttribute("width", "12");
  svg.setAttribute("height", "12");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", ok ? "M2 6.5 5 9.5 10 3" : "M3 3 9 9M9 3 3 9");
  path.setAttribute("fill", "none");
  path.setAttribute("stroke", "currentColor");
  path.setAttribute("stroke-width", "2");
  svg.append(path);
  return el("span", { class: ok ? "mark ok" : "mark bad" }, svg, ok ? " yes" : " no");
}

// charts' y range controls, shared by the run, compare and runs pages: {outliers, ymin, ymax}
function rangeControls(state, redraw) {
  const box = el("span", { class: "range-controls" });
  const outliers = el("input", { type: "checkbox", class: "outliers", onchange: (e) => { state.outliers = e.target.checked; redraw(); } });
  const input = (name) => el("input", { type: "number", step: "any", class: `y${name}`, placeholder: `y ${name}`, size: 6, oninput: (e) => { state[`y${name}`] = e.target.value; redraw(); } });
  box.append(el("label", { title: "y axis from the 5th to the 95th percentile of the values" }, outliers, " ignore outliers"), " ", input("min"), input("max"));
  return box;
}

// metric keys grouped by prefix: "system/cpu" under "system/", "training_loss" under "training_"
// (when another key shares it), the rest under "metrics"
function groupKeys(keys) {
  const prefix = (key) => {
    const slash = key.indexOf("/");
    if (slash > 0) return key.slice(0, slash + 1);
    const under = key.indexOf("_");
    if (under > 0 && keys.filter((k) => k.startsWith(key.slice(0, under + 1))).length > 1) return key.slice(0, under + 1);
    return "";
  };
  const groups = new Map();
  for (const key of keys) {
    const p = prefix(key);
    if (!groups.has(p)) groups.set(p, []);
    groups.get(p).push(key);
  }
  return [...groups.entries()].sort((a, b) => (b[0] === "") - (a[0] === "") || a[0].localeCompare(b[0]));
}

function quoteKey(key) {
  return /^[A-Za-z0-9_.\-:/]+$/.test(key) ? key : "`" + key.replace(/`/g, "``") + "`";
}

// -- charts (plotly, served by this server from the plotly package) ------------------------------
// the figures themselves: lineFigure and drawLines in charts.js (shared with the HTML report)
// pages with charts at once load plotly.js with the page; the runs page only when its chart view
// is opened, so that the table is not kept waiting for 4.8 MB of script
let plotlyLoading = null;
function whenPlotly() {
  if (window.Plotly) return Promise.resolve();
  if (plotlyLoading) return plotlyLoading;
  if (document.querySelector("script[src='/static/plotly.min.js']")) {
    return new Promise((resolve) => {
      if (window.Plotly) resolve();
      else window.addEventListener("load", () => resolve());
    });
  }
  plotlyLoading = plotlyLoading || new Promise((resolve, reject) => {
    document.head.append(el("script", { src: "/static/plotly.min.js", onload: () => resolve(), onerror: () => reject(new Error("plotly.js did not load")) }));
  });
  return plotlyLoading;
}

// -- runs page --------------------------------------------------------------------------------
const ATTRIBUTE_COLUMNS = ["run_id", "user", "source_commit", "source_branch", "dirty", "host", "end_time", "parent_run_id"];
const FIXED_COLUMNS = ["run_name", "run_id", "experiment", "status", "start_time", "duration"];
const AGGREGATES = {
  mean: (v) => v.reduce((a, b) => a + b, 0) / v.length,
  min: (v) => Math.min(...v),
  max: (v) => Math.max(...v),
  median: (v) => { const s = [...v].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; },
};
const MAX_OVERLAID = 20;

// Everything that makes a view is in the URL (experiment, filter, order, columns, grouping, the
// chart view and its metric), so a link shows the same view to whoever opens it.
function runsPage() {
  const root = document.getElementById("runs-page");
  const query = new URLSearchParams(location.search);
  const state = {
    experiment: query.get("experiment") || root.dataset.experiment || "",
    filter: query.get("filter") || "",
    order: query.get("order") || "",
    view: query.get("view") || "active",
    offset: Number(query.get("offset") || 0),
    columns: query.getAll("col"),
    group: query.get("group") || "",
    agg: query.get("agg") || "mean",
    charts: query.get("charts") === "1",
    metric: query.get("metric") || "",
    selected: new Set(),
    collapsed: new Set(),
    rows: [],
    more: false,
  };
  const chartState = { axis: "step", smoothing: 0, log: false, outliers: false, ymin: "", ymax: "" };
  const filterInput = document.getElementById("filter");
  const filterError = document.getElementById("filter-error");
  const experimentSelect = document.getElementById("experiment");
  const viewSelect = document.getElementById("view");
  const groupSelect = document.getElementById("group");
  const aggSelect = document.getElementById("agg");
  const chartsButton = document.getElementById("chart-view");
  const metricSelect = document.getElementById("chart-metric");
  filterInput.value = state.filter;
  viewSelect.value = state.view;
  aggSelect.value = state.agg in AGGREGATES ? state.agg : "mean";
  let timer = null;

  const storageKey = () => `gittrack.columns.${state.experiment || "*"}`;
  const chosen = () => (state.columns.length ? state.columns : JSON.parse(localStorage.getItem(storageKey()) || "null"));
  // grouping and the chart view summarise the runs loaded: a larger page then
  const pageSize = () => (state.group || state.charts ? 1000 : 100);

  api("/api/experiments").then((data) => {
    for (const name of data.experiments) experimentSelect.append(el("option", { value: name, text: name }));
    experimentSelect.value = state.experiment;
  });

  function syncUrl() {
    const q = new URLSearchParams();
    if (state.experiment) q.set("experiment", state.experiment);
    if (state.filter) q.set("filter", state.filter);
    if (state.order) q.set("order", state.order);
    if (state.view !== "active") q.set("view", state.view);
    if (state.offset) q.set("offset", state.offset);
    for (const column of state.columns) q.append("col", column);
    if (state.group) q.set("group", state.group);
    if (state.group && state.agg !== "mean") q.set("agg", state.agg);
    if (state.charts) q.set("charts", "1");
    if (state.charts && state.metric) q.set("metric", state.metric);
    history.replaceState(null, "", q.toString() ? `?${q}` : location.pathname);
  }

  function params() {
    return { experiment: state.experiment, filter: state.filter, order: state.order, view: state.view };
  }

  async function load(quiet) {
    clearTimeout(timer);
    let data;
    try {
      data = await api("/api/runs", { ...params(), offset: state.offset, limit: pageSize() });
    } catch (error) {
      if (error.data && error.data.position !== undefined && error.data.position !== null) {
        const pos = error.data.position;
        filterError.textContent = `${state.filter}\n${" ".repeat(pos)}^\n${error.message}`;
      } else {
        filterError.textContent = error.message;
      }
      filterError.hidden = false;
      filterInput.setAttribute("aria-invalid", "true");
      return;
    }
    filterError.hidden = true;
    filterInput.removeAttribute("aria-invalid");
    state.rows = data.runs;
    state.more = data.more;
    render();
    const problems = document.getElementById("problems");
    problems.hidden = !data.problems.length;
    problems.textContent = data.problems.length ? `skipped unreadable runs: ${data.problems.join("; ")}` : "";
    if (!quiet) {
      document.getElementById("range").textContent = rangeText(null);
      api("/api/runs/count", params()).then((c) => { document.getElementById("range").textContent = rangeText(c.count); }).catch(() => {});
    }
    if (state.rows.some((r) => r.status === "RUNNING")) timer = setTimeout(() => load(true), REFRESH_MS);
  }

  function rangeText(count) {
    if (!state.rows.length) return state.offset ? "no more runs" : "no runs match";
    const to = state.offset + state.rows.length;
    return `runs ${state.offset + 1}–${to}` + (count === null ? (state.more ? " of more" : "") : ` of ${count}`);
  }

  // keys of the rows loaded, most used first (worked out once per page of rows)
  let availableFor = null;
  let availableKeys = null;
  function available() {
    if (availableFor === state.rows) return availableKeys;
    availableFor = state.rows;
    availableKeys = rankKeys();
    return availableKeys;
  }

  function rankKeys() {
    const keys = { params: new Map(), metrics: new Map(), tags: new Map() };
    for (const row of state.rows) for (const kind of Object.keys(keys)) Object.keys(row[kind]).forEach((k) => keys[kind].set(k, (keys[kind].get(k) || 0) + 1));
    // system metrics (system/cpu...) come after the model's own
    const system = (k) => (k.startsWith("system/") ? 1 : 0);
    const ranked = (map) => [...map.entries()].sort((a, b) => b[1] - a[1] || system(a[0]) - system(b[0]) || a[0].localeCompare(b[0])).map(([k]) => k);
    return { params: ranked(keys.params), metrics: ranked(keys.metrics), tags: ranked(keys.tags).filter((k) => !k.startsWith("mlflow.")) };
  }

  // by default: the run's name and id, experiment, status, times, then the most used params,
  // metrics and tags of the runs shown
  function columns() {
    const saved = chosen();
    if (saved) return saved;
    const keys = available();
    return [...FIXED_COLUMNS, ...keys.params.slice(0, 4).map((k) => `params.${k}`), ...keys.metrics.slice(0, 3).map((k) => `metrics.${k}`),
      ...keys.tags.slice(0, 2).map((k) => `tags.${k}`)];
  }

  function setColumns(cols) {
    state.columns = cols;
    if (cols.length) localStorage.setItem(storageKey(), JSON.stringify(cols)); else localStorage.removeItem(storageKey());
    syncUrl();
    render();
  }

  function cell(row, column) {
    const [kind, ...rest] = column.split(".");
    const key = rest.join(".");
    if (kind === "params" || kind === "metrics" || kind === "tags") return rest.length ? row[kind][key] : undefined;
    if (column === "start_time" || column === "end_time") return fmtTime(row[column]);
    if (column === "duration") return fmtDuration(row.duration);
    return row[column];
  }

  function orderColumn(column) {
    const [kind, ...rest] = column.split(".");
    if (["params", "metrics", "tags"].includes(kind)) return `${kind}.${quoteKey(rest.join("."))}`;
    return `attributes.${column === "duration" ? "end_time" : column}`;
  }

  function groupValue(row) {
    if (!state.group) return "";
    const value = cell(row, state.group);
    return value === undefined || value === null ? "(none)" : fmt(value);
  }

  // the rows in groups (in the order each group first appears), or one group of every row
  function groups() {
    if (!state.group) return [["", state.rows]];
    const found = new Map();
    for (const row of state.rows) {
      const value = groupValue(row);
      if (!found.has(value)) found.set(value, []);
      found.get(value).push(row);
    }
    return [...found.entries()];
  }

  function aggregate(rows, column) {
    if (!column.startsWith("metrics.") && !column.startsWith("params.")) return undefined;
    const values = rows.map((r) => cell(r, column)).filter((v) => typeof v === "number" && Number.isFinite(v));
    if (!values.length) return undefined;
    if (column.startsWith("params.") && new Set(values).size === 1) return values[0];
    return column.startsWith("metrics.") ? AGGREGATES[state.agg](values) : undefined;
  }

  function runRow(row, cols) {
    const tr = el("tr", { class: state.selected.has(row.run_id) ? "selected" : null, dataset: { run: row.run_id, group: groupValue(row) } });
    tr.append(el("td", {}, el("input", { type: "checkbox", "aria-label": "select run", checked: state.selected.has(row.run_id), onchange: (e) => {
      if (e.target.checked) state.selected.add(row.run_id); else state.selected.delete(row.run_id);
      tr.classList.toggle("selected", e.target.checked);
      updateCompare();
      if (state.charts) drawCharts();
    } })));
    for (const column of cols) {
      const value = cell(row, column);
      if (column === "run_name" && WRITE && String(row.ref).startsWith("refs/runs-deleted/")) {
        // a deleted run has no page; with --allow-write it can be restored from its row
        tr.append(el("td", {}, el("span", { text: row.run_name || row.run_id.slice(0, 12) }), " ", el("button", { class: "restore", text: "Restore", onclick: async (e) => {
          e.target.disabled = true;
          try { await post(`/api/runs/${row.run_id}/restore`); location.href = `/runs/${row.run_id}`; } catch (error) { e.target.after(el("span", { class: "form-error", text: ` ${error.message}` })); }
        } })));
      } else if (column === "run_name") tr.append(el("td", {}, el("a", { href: `/runs/${row.run_id}`, text: row.run_name || row.run_id.slice(0, 12) })));
      else if (column === "run_id") tr.append(el("td", { class: "mono", title: row.run_id, text: row.run_id }));
      else if (column === "status") tr.append(el("td", {}, badge(row.status)));
      else tr.append(el("td", { class: typeof value === "number" ? "num" : null, text: fmt(value), title: fmt(value) }));
    }
    return tr;
  }

  function groupRow(value, rows, cols) {
    const open = !state.collapsed.has(value);
    const tr = el("tr", { class: "group-row", dataset: { group: value }, "aria-expanded": open ? "true" : "false" });
    tr.append(el("td", {}, el("button", { class: "fold", title: open ? "fold the group" : "unfold the group", "aria-label": "fold", onclick: () => {
      if (open) state.collapsed.add(value); else state.collapsed.delete(value);
      render();
    } }, el("span", { class: open ? "arrow open" : "arrow", text: "▸" }))));
    cols.forEach((column, i) => {
      if (i === 0) {
        tr.append(el("td", { class: "group-label" }, el("strong", { text: `${state.group.replace(/^(params|tags)\./, "")} = ${value}` }),
          el("span", { class: "small", text: ` · ${rows.length} run${rows.length === 1 ? "" : "s"}` })));
        return;
      }
      const agg = aggregate(rows, column);
      tr.append(el("td", { class: typeof agg === "number" ? "num agg" : null, text: agg === undefined ? "" : fmt(agg),
        title: agg === undefined ? null : column.startsWith("metrics.") ? `${state.agg} of ${rows.length} run(s)` : null }));
    });
    return tr;
  }

  function render() {
    const cols = columns();
    const thead = document.querySelector("#runs thead");
    const tbody = document.querySelector("#runs tbody");
    const [sortedCol, sortedDir] = state.order ? state.order.split(/ (?=ASC$|DESC$)/i) : ["", ""];
    const headRow = el("tr", {}, el("th", {}, el("input", { type: "checkbox", title: "select all on this page", "aria-label": "select all", onchange: (e) => {
      for (const row of state.rows) e.target.checked ? state.selected.add(row.run_id) : state.selected.delete(row.run_id);
      render();
    } })));
    for (const column of cols) {
      const oc = orderColumn(column);
      const numeric = column.startsWith("metrics.") || state.rows.some((r) => typeof cell(r, column) === "number");
      // the key, under a small "param", "metric" or "tag" label
      const [kind, ...rest] = column.split(".");
      const label = { params: "param", metrics: "metric", tags: "tag" }[kind];
      const th = el("th", { class: "sortable" + (numeric ? " num" : "") + (oc === sortedCol ? ` sorted-${(sortedDir || "ASC").toLowerCase()}` : ""),
        title: `sort by ${oc}`, dataset: { column } }, label ? [el("span", { class: "kind", text: label }), rest.join(".")] : column);
      th.addEventListener("click", () => {
        const dir = oc === sortedCol && (sortedDir || "ASC").toUpperCase() === "ASC" ? "DESC" : "ASC";
        state.order = `${oc} ${dir}`;
        state.offset = 0;
        syncUrl();
        load();
      });
      headRow.append(th);
    }
    thead.replaceChildren(headRow);
    const body = [];
    for (const [value, rows] of groups()) {
      if (state.group) body.push(groupRow(value, rows, cols));
      if (!state.group || !state.collapsed.has(value)) body.push(...rows.map((row) => runRow(row, cols)));
    }
    tbody.replaceChildren(...body);
    document.getElementById("prev").disabled = state.offset === 0;
    document.getElementById("next").disabled = !state.more;
    renderChooser(cols);
    renderGroupChoices();
    updateCompare();
    if (state.charts) drawCharts();
    root.dataset.ready = "1";
  }

  function renderChooser(cols) {
    const list = document.getElementById("column-list");
    const keys = available();
    const groups = [["attributes", [...FIXED_COLUMNS, ...ATTRIBUTE_COLUMNS.filter((c) => !FIXED_COLUMNS.includes(c))]],
      ...["params", "metrics", "tags"].map((kind) => [kind, [...keys[kind]].sort().map((k) => `${kind}.${k}`)])];
    const seen = new Set(groups.flatMap(([, names]) => names));
    const extra = cols.filter((c) => !seen.has(c));
    if (extra.length) groups.push(["chosen earlier", extra]);
    list.replaceChildren(...groups.flatMap(([title, names]) => [el("h4", { text: title }), ...names.map((name) =>
      el("label", {}, el("input", { type: "checkbox", value: name, checked: cols.includes(name), onchange: (e) => {
        const now = columns().filter((c) => c !== name);
        if (e.target.checked) now.push(name);
        setColumns(now);
      } }), " ", name.replace(/^(params|metrics|tags)\./, ""))),
    ]), el("button", { text: "reset to the default columns", onclick: () => setColumns([]) }));
  }

  function renderGroupChoices() {
    const keys = available();
    const options = [["", "no grouping"], ...keys.params.map((k) => [`params.${k}`, `param ${k}`]), ...keys.tags.map((k) => [`tags.${k}`, `tag ${k}`])];
    if (state.group && !options.some(([v]) => v === state.group)) options.push([state.group, state.group]);
    const current = [...groupSelect.options].map((o) => o.value).join("\n");
    if (current !== options.map(([v]) => v).join("\n")) groupSelect.replaceChildren(...options.map(([value, text]) => el("option", { value, text })));
    groupSelect.value = state.group;
    aggSelect.hidden = !state.group;
  }

  function updateCompare() {
    const button = document.getElementById("compare");
    const n = state.selected.size;
    button.textContent = n ? `Compare ${n}` : "Compare";
    button.disabled = n < 2 || n > 20;
    button.title = n > 20 ? "compare takes at most 20 runs" : "select 2 to 20 runs";
  }

  // -- the chart view: the chosen metric of every run loaded as bars (by group when grouped),
  // and the histories of the selected runs (or of the first five) overlaid
  const histories = new Map();
  function historyOf(runId, key) {
    const id = `${runId}\n${key}`;
    if (!histories.has(id)) histories.set(id, api(`/api/runs/${runId}/metric`, { key, points: 1000 }).catch(() => null));
    return histories.get(id);
  }

  async function drawCharts() {
    const panel = document.getElementById("chart-panel");
    panel.hidden = !state.charts;
    chartsButton.classList.toggle("on", state.charts);
    chartsButton.setAttribute("aria-pressed", state.charts ? "true" : "false");
    if (!state.charts) return;
    const metrics = available().metrics;
    const options = metrics.map((k) => el("option", { value: k, text: k }));
    if (metricSelect.options.length !== options.length || [...metricSelect.options].some((o, i) => o.value !== metrics[i])) metricSelect.replaceChildren(...options);
    if (!metrics.includes(state.metric)) state.metric = metrics[0] || "";
    metricSelect.value = state.metric;
    const bars = document.getElementById("bar-chart");
    const lines = document.getElementById("history-chart");
    const note = document.getElementById("history-note");
    if (!state.metric) {
      bars.replaceChildren(el("p", { class: "muted empty", text: "No metric logged by the runs shown." }));
      lines.replaceChildren();
      return;
    }
    await whenPlotly();
    const key = state.metric;
    const withValue = state.rows.filter((r) => typeof r.metrics[key] === "number");
    // run names, with the end of the id where two runs share a name (ids start with their time)
    const names = new Map();
    state.rows.forEach((r) => names.set(r.run_name, (names.get(r.run_name) || 0) + 1));
    const label = (r) => (r.run_name && names.get(r.run_name) === 1 ? r.run_name : `${r.run_name || "run"} …${r.run_id.slice(-6)}`);
    let traces;
    if (state.group) {
      const grouped = groups().map(([value, rows]) => [value, rows.map((r) => r.metrics[key]).filter((v) => typeof v === "number" && Number.isFinite(v))]).filter(([, v]) => v.length);
      traces = [{ type: "bar", x: grouped.map(([v]) => v), y: grouped.map(([, v]) => AGGREGATES[state.agg](v)),
        marker: { color: grouped.map((_, i) => COLORS[i % COLORS.length]) },
        error_y: { type: "data", symmetric: false, array: grouped.map(([, v]) => Math.max(...v) - AGGREGATES[state.agg](v)),
          arrayminus: grouped.map(([, v]) => AGGREGATES[state.agg](v) - Math.min(...v)), color: "#5b6478" },
        text: grouped.map(([, v]) => `${v.length} run(s)`), textposition: "none", hovertemplate: "%{x}: %{y} (%{text}; bar: min to max)<extra></extra>" }];
    } else {
      traces = [{ type: "bar", x: withValue.map(label), y: withValue.map((r) => r.metrics[key]),
        marker: { color: withValue.map((r) => (state.selected.has(r.run_id) ? "#d62728" : "#1f77b4")) }, hovertemplate: "%{x}: %{y}<extra></extra>" }];
    }
    Plotly.react(bars, traces, {
      margin: { l: 54, r: 14, t: 34, b: 20 }, title: { text: state.group ? `${key}: ${state.agg} per ${state.group} (bar: min to max)` : `${key}, last value per run`, font: { size: 13 }, x: 0, xanchor: "left", y: 1, yref: "container", yanchor: "top", pad: { t: 8 } },
      xaxis: { automargin: true, tickangle: withValue.length > 8 && !state.group ? -40 : 0, type: "category" }, yaxis: { automargin: true }, showlegend: false,
    }, { displaylogo: false, responsive: true });
    bars.dataset.bars = String(traces[0].x.length);
    // histories
    const chosenRuns = state.rows.filter((r) => state.selected.has(r.run_id)).slice(0, MAX_OVERLAID);
    const shown = (chosenRuns.length ? chosenRuns : withValue.slice(0, 5)).filter((r) => key in r.metrics);
    note.textContent = chosenRuns.length ? `histories of the ${shown.length} selected run(s)` + (state.selected.size > MAX_OVERLAID ? ` (the first ${MAX_OVERLAID})` : "")
      : `histories of the first ${shown.length} run(s) shown: tick runs in the table to choose`;
    const series = await Promise.all(shown.map((r) => historyOf(r.run_id, key)));
    if (key !== state.metric) return; // another metric was chosen meanwhile
    const drawn = shown.map((r, i) => (series[i] ? { name: label(r), series: series[i], start: r.start_time, color: COLORS[i % COLORS.length] } : null)).filter(Boolean);
    drawLines(lines, drawn, { ...chartState, title: `${key} history` });
    lines.dataset.traces = String(drawn.length);
  }

  document.getElementById("chart-range-slot").replaceWith(rangeControls(chartState, () => drawCharts()));
  document.getElementById("chart-xaxis").addEventListener("change", (e) => { chartState.axis = e.target.value; drawCharts(); });
  document.getElementById("chart-smoothing").addEventListener("input", (e) => { chartState.smoothing = Number(e.target.value); drawCharts(); });
  metricSelect.addEventListener("change", () => { state.metric = metricSelect.value; syncUrl(); drawCharts(); });
  chartsButton.addEventListener("click", () => {
    const reload = !state.charts && !state.group && state.more;
    state.charts = !state.charts;
    syncUrl();
    if (reload) load(); else drawCharts();
  });
  groupSelect.addEventListener("change", () => {
    const reload = !state.group && !state.charts && state.more;
    state.group = groupSelect.value;
    state.collapsed.clear();
    syncUrl();
    if (reload) load(); else render();
  });
  aggSelect.addEventListener("change", () => { state.agg = aggSelect.value; syncUrl(); render(); });
  document.getElementById("share").addEventListener("click", async (e) => {
    syncUrl();
    try { await navigator.clipboard.writeText(location.href); e.target.textContent = "link copied"; } catch (error) { e.target.textContent = "copy the address bar"; }
    setTimeout(() => { e.target.textContent = "Copy link to this view"; }, 2000);
  });
  document.getElementById("compare").addEventListener("click", () => {
    location.href = `/compare?runs=${[...state.selected].join(",")}`;
  });
  // the column chooser closes on Escape or a click elsewhere, as a menu does
  const chooser = document.getElementById("columns");
  document.addEventListener("click", (e) => { if (chooser.open && !chooser.contains(e.target)) chooser.open = false; });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && chooser.open) { chooser.open = false; chooser.querySelector("summary").focus(); } });
  document.getElementById("apply").addEventListener("click", () => { state.filter = filterInput.value; state.offset = 0; syncUrl(); load(); });
  filterInput.addEventListener("keydown", (e) => { if (e.key === "Enter") { state.filter = filterInput.value; state.offset = 0; syncUrl(); load(); } });
  experimentSelect.addEventListener("change", () => { state.experiment = experimentSelect.value; state.offset = 0; state.selected.clear(); syncUrl(); load(); });
  viewSelect.addEventListener("change", () => { state.view = viewSelect.value; state.offset = 0; syncUrl(); load(); });
  document.getElementById("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - pageSize()); syncUrl(); load(); });
  document.getElementById("next").addEventListener("click", () => { state.offset += pageSize(); syncUrl(); load(); });
  load();
}

// -- run page ---------------------------------------------------------------------------------
function runPage() {
  const root = document.getElementById("run-page");
  const runId = root.dataset.run;
  let run = null;
  let timer = null;
  const loaded = {};
  const chartState = { axis: "step", smoothing: 0, log: false, outliers: false, ymin: "", ymax: "", search: "", series: {} };
  const TABS = ["overview", "charts", "artifacts", "code", "logs"];

  document.querySelectorAll(".tabs button").forEach((button) => button.addEventListener("click", () => showTab(button.dataset.tab)));
  // a link or the back button changing only the hash (#artifacts -> #code) switches the tab too
  window.addEventListener("hashchange", () => {
    const name = location.hash.slice(1);
    if (run && TABS.includes(name)) showTab(name);
  });

  function showTab(name) {
    document.querySelectorAll(".tabs button").forEach((b) => b.classList.toggle("on", b.dataset.tab === name));
    document.querySelectorAll(".tab").forEach((t) => { t.hidden = t.id !== `tab-${name}`; });
    if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
    if (!loaded[name]) {
      loaded[name] = true;
      ({ charts: loadCharts, artifacts: loadArtifacts, code: loadCode, logs: renderLogs, overview: () => {} })[name]();
    }
    if (name === "charts") window.dispatchEvent(new Event("resize"));
    if (name === "overview" && run && !registered) registeredModels();
  }

  async function load() {
    clearTimeout(timer);
    try {
      run = await api(`/api/runs/${runId}`);
    } catch (error) {
      showError(document.getElementById("tab-overview"), error);
      return;
    }
    document.getElementById("run-name").textContent = run.run_name;
    document.getElementById("run-status").replaceWith(Object.assign(badge(run.status), { id: "run-status" }));
    renderOverview();
    renderWriteBar();
    if (loaded.logs) renderLogs();
    if (run.status === "RUNNING") {
      timer = setTimeout(async () => {
        await load();
        if (loaded.charts) loadCharts(true);
      }, REFRESH_MS);
    }
  }

  function renderOverview() {
    const where = document.getElementById("tab-overview");
    const summaries = run.metric_summaries;
    const params = Object.keys(run.params).sort().map((k) => [k, run.params[k], run.param_types[k] || ""]);
    const metrics = Object.keys(summaries).sort().map((k) => [k, summaries[k].last, summaries[k].min, summaries[k].max, summaries[k].step, summaries[k].count]);
    const tags = Object.keys(run.tags).sort().map((k) => [k, run.tags[k]]);
    const inputs = (run.inputs || []).map((i) => [i.path, i.md5 || i.hash || "", fmtSize(i.size), i.nfiles || ""]);
    const source = run.source || {};
    const info = [
      ["status", badge(run.status)], ["name", run.run_name], ["experiment", run.experiment], ["run id", run.run_id], ["started", fmtTime(run.start_ms) + " UTC"],
      ["ended", run.end_ms ? fmtTime(run.end_ms) + " UTC" : "(running)"], ["duration", fmtDuration(run.end_ms ? run.end_ms - run.start_ms : null)],
      ["user", `${run.user} <${run.user_email}>`], ["host", `${run.host} (pid ${run.pid})`],
      ["source", `${source.commit || "(no commit)"} on ${source.branch || "(detached)"}${source.dirty ? " (dirty)" : ""}`],
      ["parent run", run.parent_run_id || ""], ["ref", run.ref], ["commit", run.commit],
    ];
    const env = run.environment || {};
    const command = run.command || {};
    const cards = [
      card("Run", table(["", ""], info, { class: "info", noHead: true }), "run-card"),
      card("Metrics", tableOr("No metrics logged yet.", ["key", "last", "min", "max", "step", "points"], metrics), "metrics-card"),
      card("Params", tableOr("No params logged.", ["key", "value", "type"], params), "params-card"),
      card("Tags", tableOr("No tags set.", ["key", "value"], tags), "tags-card"),
      card("Registered models", el("p", { class: "muted", text: "looking in the registry…" }), "models-card"),
      card("Data inputs", tableOr("No data inputs logged.", ["path", "DVC hash (md5)", "size", "files"], inputs, { class: "hashes" })),
      card("Command", el("div", {}, el("pre", { text: (command.argv || []).join(" ") || "(none)" }),
        el("p", { class: "small", text: `launcher ${command.launcher || "?"}, entry point ${command.entry_point || "none"}, cwd ${command.cwd || ""}` }))),
      card("Environment", table(["", ""], Object.entries(env).filter(([, v]) => typeof v !== "object").map(([k, v]) => [k, v]), { class: "info", noHead: true })),
    ];
    if (run.description) cards.unshift(card("Description", el("pre", { text: run.description })));
    if (run.error) cards.unshift(errorCard());
    where.replaceChildren(el("div", { class: "kv" }, cards));
    const tab = location.hash.slice(1);
    if (!TABS.includes(tab) || tab === "overview") registeredModels();
  }

  // the model versions registered from this run: asked for once the overview shows, as the
  // registry is checked against every run (slower than the run itself in a large repository)
  let registered = null;
  async function registeredModels() {
    const where = () => document.querySelector("#tab-overview .models-card");
    try {
      registered = registered || (await api(`/api/runs/${runId}/models`)).registered;
    } catch (error) {
      if (where()) showError(where(), error);
      return;
    }
    const rows = registered.map((v) => [el("a", { href: `/models?model=${encodeURIComponent(v.model)}`, text: v.model }),
      v.version, v.stages.join(", "), fmtTime(v.registered_at * 1000)]);
    if (where()) where().replaceChildren(el("h3", { text: "Registered models" }),
      tableOr("No model version was registered from this run.", ["model", "version", "stages", "registered (UTC)"], rows));
  }

  // the error, with its traceback; a command that failed (ExitCode) has none, so the card shows
  // the last lines of its stderr, where the traceback went
  function errorCard() {
    const lines = [el("p", { class: "error", text: `${run.error.type || ""}: ${run.error.message || ""}` })];
    if (run.error.traceback) lines.push(el("pre", { class: "error traceback", text: run.error.traceback }));
    else {
      const output = run.logs_text.stderr || run.logs_text.stdout;
      if (output) {
        const tail = output.replace(/\s+$/, "").split("\n").slice(-30).join("\n");
        lines.push(el("p", { class: "small" }, `last lines of ${run.logs_text.stderr ? "stderr" : "stdout"} (all of it under `,
          el("a", { href: "#logs", text: "Output" }), ")"), el("pre", { class: "error traceback", text: tail }));
      }
    }
    return card("Error", el("div", {}, lines), "error-card");
  }

  function renderLogs() {
    const where = document.getElementById("tab-logs");
    const parts = [];
    for (const name of ["stdout", "stderr"]) {
      const text = run.logs_text[name];
      parts.push(card(name, text === null ? el("p", { class: "muted", text: "not captured (runs started with gittrack run keep their output)" }) : el("pre", { id: `log-${name}`, text })));
    }
    where.replaceChildren(...parts);
  }

  // charts
  const seriesRequests = {};
  function fetchSeries(key) {
    seriesRequests[key] = seriesRequests[key] || api(`/api/runs/${runId}/metric`, { key });
    return seriesRequests[key];
  }

  async function loadCharts(refresh) {
    if (refresh) Object.keys(seriesRequests).forEach((key) => delete seriesRequests[key]);
    const keys = Object.keys(run.metric_summaries).sort();
    keys.forEach(fetchSeries);
    await whenPlotly();
    const where = document.getElementById("charts");
    if (!keys.length) { where.replaceChildren(el("p", { class: "muted empty", text: "No metrics logged yet: charts appear here once the run logs one." })); return; }
    if (!refresh) {
      const box = (key) => el("div", { class: "chart-box", dataset: { key } },
        el("div", { class: "chart", id: `chart-${CSS.escape(key)}`, dataset: { key } }),
        el("div", { class: "meta" }, el("span", { class: "points", text: "" }), el("button", { class: "full", text: "all points", hidden: true,
          onclick: async (e) => { e.target.disabled = true; chartState.series[key] = await api(`/api/runs/${runId}/metric`, { key, points: "all" }); drawChart(key); } })));
      const groups = groupKeys(keys);
      where.replaceChildren(...groups.map(([prefix, members]) => el("details", { class: "chart-group", open: true, dataset: { prefix } },
        el("summary", {}, el("strong", { text: prefix || "metrics" }), el("span", { class: "small", text: ` ${members.length} chart(s)` })),
        el("div", { class: "charts" }, members.map(box)))));
      filterCharts();
    }
    await Promise.all(keys.map(async (key) => {
      try {
        chartState.series[key] = await fetchSeries(key);
      } catch (error) {
        showError(chartBox(key).querySelector(".chart"), error);
        return;
      }
      drawChart(key);
    }));
    where.dataset.drawn = String(keys.length);
  }

  function chartBox(key) {
    return [...document.querySelectorAll(".chart-box")].find((b) => b.dataset.key === key);
  }

  // the search box: charts whose key contains every word typed; groups left empty are hidden
  function filterCharts() {
    const words = chartState.search.toLowerCase().split(/\s+/).filter(Boolean);
    for (const b of document.querySelectorAll("#charts .chart-box")) b.hidden = !words.every((w) => b.dataset.key.toLowerCase().includes(w));
    for (const g of document.querySelectorAll("#charts .chart-group")) {
      const boxes = [...g.querySelectorAll(".chart-box")];
      const shown = boxes.filter((b) => !b.hidden).length;
      g.hidden = !shown;
      g.querySelector("summary .small").textContent = shown === boxes.length ? ` ${boxes.length} chart(s)` : ` ${shown} of ${boxes.length} charts`;
    }
    window.dispatchEvent(new Event("resize"));
  }

  function drawChart(key) {
    const series = chartState.series[key];
    const box = chartBox(key);
    const div = box.querySelector(".chart");
    drawLines(div, [{ name: key, series, start: run.start_ms }], { ...chartState, title: key });
    div.dataset.points = String(series.value.length);
    div.dataset.total = String(series.total);
    box.querySelector(".meta .points").textContent = series.downsampled ? `${series.value.length} of ${series.total} points (min/max per bucket)` : `${series.total} points`;
    box.querySelector(".meta .full").hidden = !series.downsampled;
  }

  function redrawAll() { Object.keys(chartState.series).forEach(drawChart); }
  document.getElementById("xaxis").addEventListener("change", (e) => { chartState.axis = e.target.value; redrawAll(); });
  document.getElementById("smoothing").addEventListener("input", (e) => {
    chartState.smoothing = Number(e.target.value);
    document.getElementById("smoothing-value").textContent = e.target.value;
    redrawAll();
  });
  document.getElementById("logscale").addEventListener("change", (e) => { chartState.log = e.target.checked; redrawAll(); });
  document.getElementById("range-slot").replaceWith(rangeControls(chartState, redrawAll));
  document.getElementById("metric-search").addEventListener("input", (e) => { chartState.search = e.target.value; filterCharts(); });

  // artifacts
  const IMAGE = /\.(png|jpe?g|gif|webp)$/i;
  const MAX_GALLERY = 60;
  const rawUrl = (path) => `/api/runs/${runId}/artifact/raw?path=${encodeURIComponent(path)}`;

  async function loadArtifacts() {
    const list = document.getElementById("artifact-list");
    const view = document.getElementById("artifact-view");
    let data;
    try { data = await api(`/api/runs/${runId}/artifacts`); } catch (error) { showError(view, error); return; }
    if (!data.artifacts.length) {
      list.replaceChildren(el("li", { class: "muted", text: "no artifacts" }));
      view.replaceChildren(el("p", { class: "muted empty", text: "This run logged no artifacts (gittrack.log_artifact, log_model, log_image...)." }));
      return;
    }
    list.replaceChildren(...data.artifacts.map((a) => {
      const folder = a.nfiles || String(a.md5 || "").endsWith(".dir");
      const li = el("li", { class: folder ? "dir" : null, title: `${a.path} (${a.kind}, md5 ${a.md5})`, dataset: { path: a.path } },
        a.path, el("span", { class: "size", text: fmtSize(a.size) }));
      li.addEventListener("click", () => (folder ? toggleFolder(li, a.path) : preview(a.path, li)));
      return li;
    }));
    // before anything is chosen: a hint, and every image of the run as a gallery
    view.replaceChildren(el("p", { class: "muted hint", text: "Select a file in the list to preview it." }), el("div", { id: "gallery" }));
    const images = data.artifacts.filter((a) => !(a.nfiles || String(a.md5 || "").endsWith(".dir")) && IMAGE.test(a.path)).map((a) => a.path);
    for (const a of data.artifacts.filter((x) => (x.nfiles || String(x.md5 || "").endsWith(".dir")) && x.kind !== "model").slice(0, 20)) {
      if (images.length >= MAX_GALLERY) break;
      try {
        const inside = await api(`/api/runs/${runId}/artifacts`, { path: a.path });
        images.push(...inside.files.map((f) => f.path).filter((p) => IMAGE.test(p)));
      } catch (error) { /* a folder that cannot be listed is left out of the gallery */ }
    }
    renderGallery(images.slice(0, MAX_GALLERY));
  }

  function renderGallery(images) {
    const gallery = document.getElementById("gallery");
    if (!gallery) return;
    if (!images.length) { gallery.remove(); return; }
    gallery.className = "gallery";
    gallery.replaceChildren(el("h3", { text: `Images (${images.length})` }), el("div", { class: "gallery-grid" }, images.map((path) =>
      el("figure", { dataset: { path }, title: path, onclick: () => {
        const li = document.querySelector(`#artifact-list li[data-path="${CSS.escape(path)}"]`);
        preview(path, li);
      } }, el("img", { src: rawUrl(path), alt: path, loading: "lazy" }), el("figcaption", { text: path })))));
  }

  // a folder's files are listed under it on the first click; later clicks fold and unfold them
  async function toggleFolder(li, path) {
    if (li.dataset.open === "1" || li.dataset.open === "0") {
      const open = li.dataset.open === "0";
      li.dataset.open = open ? "1" : "0";
      document.querySelectorAll("#artifact-list li").forEach((x) => { if (x.dataset.parent === path) x.hidden = !open; });
      return;
    }
    li.dataset.open = "1";
    const view = document.getElementById("artifact-view");
    let data;
    try { data = await api(`/api/runs/${runId}/artifacts`, { path }); } catch (error) { showError(view, error); return; }
    const items = data.files.map((f) => {
      const child = el("li", { class: "child", dataset: { path: f.path, parent: path }, title: f.path }, f.path.slice(path.length + 1), el("span", { class: "size", text: fmtSize(f.size) }));
      child.addEventListener("click", (e) => { e.stopPropagation(); preview(f.path, child); });
      return child;
    });
    li.after(...items);
    const yaml = data.files.find((f) => f.path.endsWith("/model.yaml"));
    if (yaml) preview(yaml.path, items[data.files.indexOf(yaml)]);
  }

  async function preview(path, li) {
    document.querySelectorAll("#artifact-list li").forEach((x) => x.classList.toggle("on", x === li));
    const view = document.getElementById("artifact-view");
    view.replaceChildren(el("p", { class: "muted", text: "loading…" }));
    let data;
    try { data = await api(`/api/runs/${runId}/artifact`, { path }); } catch (error) { showError(view, error); return; }
    const raw = rawUrl(path);
    const head = el("p", { class: "small" }, el("strong", { text: path }), ` · ${fmtSize(data.size)} · md5 ${data.md5} · `,
      el("a", { href: `${raw}&download=1`, class: "download", text: "download" }), data.truncated ? " · preview truncated" : "");
    let body;
    if (data.kind === "image") body = el("img", { src: raw, alt: path, class: "preview-image" });
    else if (data.kind === "csv") body = table(data.rows[0] || [], data.rows.slice(1), { class: "grid preview-csv" });
    else if (data.kind === "json") body = el("pre", { class: "preview-json", text: JSON.stringify(data.json, null, 2) });
    else if (data.kind === "binary") body = el("p", { class: "muted", text: "binary file: download it to look inside" });
    else body = el("pre", { class: `preview-${data.kind}`, text: data.text });
    view.replaceChildren(head, body);
  }

  // code
  async function loadCode() {
    document.getElementById("show-files").addEventListener("click", () => { toggleCode("files"); });
    document.getElementById("show-diff").addEventListener("click", () => { toggleCode("diff"); });
    codeHint();
    openDir("", null);
  }

  function toggleCode(which) {
    document.getElementById("show-files").classList.toggle("on", which === "files");
    document.getElementById("show-diff").classList.toggle("on", which === "diff");
    document.getElementById("file-list").hidden = which === "diff";
    if (which === "diff") showDiff(); else codeHint();
  }

  function codeHint() {
    document.getElementById("file-view").replaceChildren(el("p", { class: "muted hint", text: "Select a file in the list to show it as it was at the run's commit." }));
  }

  async function openDir(path, li) {
    const list = document.getElementById("file-list");
    let data;
    try { data = await api(`/api/runs/${runId}/files`, { path }); } catch (error) { showError(document.getElementById("file-view"), error); return; }
    const depth = path ? path.split("/").length : 0;
    const items = data.files.map((f) => {
      const item = el("li", { class: f.type === "dir" ? "dir" : null, style: `padding-left:${6 + depth * 14}px`, dataset: { path: f.path, parent: path } },
        f.name, f.size !== null ? el("span", { class: "size", text: fmtSize(f.size) }) : null);
      item.addEventListener("click", () => {
        if (f.type !== "dir") { showFile(f.path, item); return; }
        if (!item.dataset.open) { item.dataset.open = "1"; openDir(f.path, item); return; }
        const open = item.dataset.open === "0";
        item.dataset.open = open ? "1" : "0";
        // folding hides everything below the folder; unfolding shows its direct children again
        document.querySelectorAll("#file-list li").forEach((x) => {
          if (x.dataset.path.startsWith(`${f.path}/`)) {
            if (!open) x.hidden = true;
            else if (x.dataset.parent === f.path) x.hidden = false;
            if (open && x.dataset.parent !== f.path) x.hidden = true;
            if (x.dataset.open === "1" && !open) x.dataset.open = "0";
          }
        });
      });
      return item;
    });
    if (li) li.after(...items); else list.replaceChildren(...items);
  }

  async function showFile(path, li) {
    document.querySelectorAll("#file-list li").forEach((x) => x.classList.toggle("on", x === li));
    const view = document.getElementById("file-view");
    let data;
    try { data = await api(`/api/runs/${runId}/file`, { path }); } catch (error) { showError(view, error); return; }
    view.replaceChildren(el("p", { class: "small" }, el("strong", { text: path }), data.truncated ? " · truncated" : ""),
      data.text === null ? el("p", { class: "muted", text: "binary file" }) : el("pre", { class: "code", text: data.text }));
  }

  async function showDiff() {
    const view = document.getElementById("file-view");
    let data;
    try { data = await api(`/api/runs/${runId}/source-diff`); } catch (error) { showError(view, error); return; }
    view.replaceChildren(el("p", { class: "small", text: `against source commit ${data.source_commit || "(none)"}: ${data.files.length} file(s) changed` }),
      data.files.length ? table(["file", "status", "+", "-"], data.files.map((f) => [f.path, f.status, f.additions, f.deletions]), { class: "grid" }) : el("p", { class: "muted", text: "the snapshot is the source commit exactly" }),
      patchView(data.patch));
  }

  // writes (only with --allow-write): forms on the page, checked before they are sent, with the
  // server's refusal shown beside the form (no prompt() or confirm() dialogs)
  const TAG_KEY = /^[\p{L}\p{N}_\-./: ]+$/u;

  function tagKeyProblem(key) {
    if (!key) return "a tag key is needed";
    if (key.length > 250) return "a tag key has at most 250 characters";
    if (!TAG_KEY.test(key)) return "a tag key has only letters, digits, '_ - . / :' and spaces";
    if (key.startsWith("/") || key.split("/").some((part) => part === "." || part === "..")) return "a tag key must not start with '/' or contain '.' or '..' segments";
    return "";
  }

  // check() gives the problem with what was typed ("" when none), in the field it names
  function writeForm(id, fields, label, check, send) {
    const message = el("p", { class: "form-error", role: "alert", hidden: true });
    const form = el("form", { id, class: "edit-form", novalidate: true }, fields, el("button", { type: "submit", text: label }), message);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const [problem, field] = check();
      message.hidden = !problem;
      message.textContent = problem || "";
      form.querySelectorAll("input, textarea").forEach((x) => x.setAttribute("aria-invalid", problem && x === field ? "true" : "false"));
      if (problem && field) field.focus();
      if (problem) return;
      form.querySelector("button[type=submit]").disabled = true;
      try {
        await send();
        location.reload();
      } catch (error) {
        message.hidden = false;
        message.textContent = error.message;
        form.querySelector("button[type=submit]").disabled = false;
      }
    });
    return form;
  }

  function renderWriteBar() {
    const bar = document.getElementById("write-bar");
    if (!WRITE) return;
    bar.hidden = false;
    const deleted = run.ref.startsWith("refs/runs-deleted/");
    const edit = (body) => post(`/api/runs/${runId}/edit`, body);
    const name = el("input", { id: "edit-name", name: "name", value: run.run_name, maxlength: 250, required: true, "aria-label": "run name" });
    const tagKey = el("input", { id: "edit-tag-key", name: "key", placeholder: "key", maxlength: 250, list: "tag-keys", "aria-label": "tag key" });
    const tagValue = el("input", { id: "edit-tag-value", name: "value", placeholder: "value (empty removes the tag)", maxlength: 5000, "aria-label": "tag value" });
    const keys = el("datalist", { id: "tag-keys" }, Object.keys(run.tags).filter((k) => !k.startsWith("mlflow.")).map((k) => el("option", { value: k })));
    tagKey.addEventListener("change", () => { if (tagKey.value in run.tags) tagValue.value = run.tags[tagKey.value]; });
    const description = el("textarea", { id: "edit-description", name: "description", rows: 3, maxlength: 20000, "aria-label": "description" });
    description.value = run.description || "";
    const confirmBox = el("span", { class: "confirm", hidden: true }, "Delete this run? It can be restored. ",
      el("button", { id: "confirm-delete", class: "danger", text: "Delete", onclick: async () => {
        // a deleted run has no page: show it in the experiment's deleted runs
        try { await post(`/api/runs/${runId}/delete`); location.href = `/?experiment=${encodeURIComponent(run.experiment)}&view=deleted`; } catch (error) { confirmBox.replaceChildren(el("span", { class: "form-error", text: error.message })); }
      } }), " ", el("button", { text: "Cancel", onclick: () => { confirmBox.hidden = true; } }));
    bar.replaceChildren(
      el("details", { class: "edit", id: "edit" }, el("summary", { text: "Edit run" }), el("div", { class: "edit-forms" },
        writeForm("rename-form", el("label", {}, "name ", name), "Rename",
          () => [name.value.trim() ? (name.value.length > 250 ? "a run name has at most 250 characters" : "") : "the name cannot be empty", name],
          () => edit({ name: name.value.trim() })),
        writeForm("tag-form", [el("label", {}, "tag ", tagKey), " = ", tagValue, keys], "Set tag",
          () => [tagKeyProblem(tagKey.value.trim()), tagKey],
          () => edit({ tags: { [tagKey.value.trim()]: tagValue.value === "" ? null : tagValue.value } })),
        writeForm("description-form", el("label", {}, "description ", description), "Save description", () => ["", null],
          () => edit({ description: description.value })))),
      deleted ? el("button", { id: "restore", text: "Restore run", onclick: async (e) => {
        try { await post(`/api/runs/${runId}/restore`); location.reload(); } catch (error) { e.target.after(el("span", { class: "form-error", text: ` ${error.message}` })); }
      } }) : el("span", {}, el("button", { id: "delete", class: "danger", text: "Delete run", onclick: () => { confirmBox.hidden = false; } }), " ", confirmBox),
    );
  }

  // opened on its charts: ask for the histories at once (the keys come with the page), while
  // the run's details and plotly.js load
  if (location.hash === "#charts") {
    for (const key of JSON.parse(root.dataset.metrics || "[]")) fetchSeries(key);
  }
  load().then(() => showTab((location.hash || "#overview").slice(1)));
}

function patchView(patch) {
  const pre = el("pre", { class: "diff" });
  for (const line of (patch || "").split("\n")) {
    const cls = line.startsWith("+") && !line.startsWith("+++") ? "add" : line.startsWith("-") && !line.startsWith("---") ? "del" : line.startsWith("@@") ? "hunk" : null;
    pre.append(cls ? el("span", { class: cls, text: line }) : document.createTextNode(line + "\n"));
  }
  return pre;
}

// -- compare page -------------------------------------------------------------------------------
async function comparePage() {
  const root = document.getElementById("compare-page");
  const ids = root.dataset.runs.split(",").filter(Boolean);
  let data;
  try { data = await api("/api/compare", { runs: ids.join(",") }); } catch (error) { showError(root, error); return; }
  const runs = data.runs;
  const names = runs.map((r) => r.run_name || r.run_id.slice(0, 12));
  const color = (i) => COLORS[i % COLORS.length];
  document.getElementById("compare-runs").replaceChildren(...runs.map((r, i) => el("span", {}, el("span", { class: "swatch", style: `background:${color(i)}` }),
    el("a", { href: `/runs/${r.run_id}`, text: names[i] }), " ", badge(r.status))));

  // tables
  const renderParams = () => {
    const diffOnly = document.getElementById("diff-only").checked;
    const rows = Object.entries(data.params).filter(([, values]) => !diffOnly || new Set(values.map(String)).size > 1);
    document.getElementById("params").replaceWith(Object.assign(table(["param", ...names], rows.map(([k, v]) => [k, ...v]), {
      class: "grid", rowClass: (row) => (new Set(row.slice(1).map(String)).size > 1 ? "differs" : null) }), { id: "params" }));
  };
  document.getElementById("diff-only").addEventListener("change", renderParams);
  renderParams();
  const metricRows = Object.entries(data.metrics).map(([k, values]) => [k, ...values]);
  const metricsTable = table(["metric", ...names], metricRows, { class: "grid" });
  metricsTable.id = "metrics";
  Object.keys(data.metrics).forEach((key, r) => {
    const best = data.best[key];
    const i = runs.findIndex((x) => x.run_id === best);
    if (i >= 0) metricsTable.tBodies[0].rows[r].cells[i + 1].classList.add("best");
  });
  document.getElementById("metrics").replaceWith(metricsTable);

  await whenPlotly();
  // overlaid curves
  const keys = Object.keys(data.metrics);
  const state = { axis: "step", smoothing: 0, log: false, outliers: false, ymin: "", ymax: "", series: {} };
  const chartsDiv = document.getElementById("charts");
  chartsDiv.replaceChildren(...keys.map((key) => el("div", { class: "chart", dataset: { key } })));
  const starts = {};
  const detail = await Promise.all(runs.map((r) => api(`/api/runs/${r.run_id}`)));
  detail.forEach((d) => { starts[d.run_id] = d.start_ms; });
  await Promise.all(keys.map(async (key) => {
    state.series[key] = await Promise.all(runs.map((r) => (r.run_id in starts && detail.find((d) => d.run_id === r.run_id).metric_summaries[key]
      ? api(`/api/runs/${r.run_id}/metric`, { key, points: 1000 }) : Promise.resolve(null))));
  }));
  const draw = () => {
    for (const key of keys) {
      const div = [...chartsDiv.children].find((c) => c.dataset.key === key);
      const lines = state.series[key].map((s, i) => (s ? { name: names[i], series: s, start: starts[runs[i].run_id], color: color(i) } : null)).filter(Boolean);
      drawLines(div, lines, { ...state, title: key });
      div.dataset.traces = String(lines.length);
    }
  };
  document.getElementById("range-slot").replaceWith(rangeControls(state, draw));
  document.getElementById("xaxis").addEventListener("change", (e) => { state.axis = e.target.value; draw(); });
  document.getElementById("smoothing").addEventListener("input", (e) => { state.smoothing = Number(e.target.value); draw(); });
  document.getElementById("logscale").addEventListener("change", (e) => { state.log = e.target.checked; draw(); });
  draw();

  // parallel coordinates and scatter
  const numeric = (v) => (v === null || v === undefined || v === "" ? NaN : Number(v));
  const columns = {};
  for (const [k, v] of Object.entries(data.params)) columns[`params.${k}`] = v;
  for (const [k, v] of Object.entries(data.metrics)) columns[`metrics.${k}`] = v;
  const pcSelect = document.getElementById("pc-metric");
  const sx = document.getElementById("sc-x");
  const sy = document.getElementById("sc-y");
  for (const k of keys) pcSelect.append(el("option", { value: k, text: k }));
  for (const name of Object.keys(columns)) { sx.append(el("option", { value: name, text: name })); sy.append(el("option", { value: name, text: name })); }
  // x: the first param whose value differs between the runs (a constant one stacks every point)
  const varies = (name) => new Set(columns[name].map(String)).size > 1;
  const params = Object.keys(columns).filter((c) => c.startsWith("params."));
  sx.value = params.find(varies) || Object.keys(columns).find(varies) || params[0] || Object.keys(columns)[0];
  const metricColumns = keys.map((k) => `metrics.${k}`);
  sy.value = metricColumns.find(varies) || metricColumns[0] || Object.keys(columns).find((c) => c !== sx.value) || Object.keys(columns)[0];

  // parallel coordinates drawn as SVG lines (plotly's parcoords needs WebGL, which not every machine has)
  const drawParallel = () => {
    const metric = pcSelect.value;
    const dims = Object.entries(data.params).map(([k, values]) => {
      const nums = values.map(numeric);
      if (nums.every((n) => !Number.isNaN(n))) return { label: k, values: nums };
      const labels = [...new Set(values.map(String))].sort();
      return { label: k, values: values.map((v) => labels.indexOf(String(v))), text: labels };
    });
    if (metric) dims.push({ label: metric, values: data.metrics[metric].map(numeric) });
    const scaled = dims.map((d) => {
      const finite = d.values.filter((v) => Number.isFinite(v));
      const lo = Math.min(...finite);
      const hi = Math.max(...finite);
      return { ...d, lo, hi, y: d.values.map((v) => (Number.isFinite(v) ? (hi > lo ? (v - lo) / (hi - lo) : 0.5) : null)) };
    });
    // each run keeps its own colour (as in the legend above and the curves): runs with equal
    // metrics stay apart, where a colour scale by metric gave them one colour
    const traces = runs.map((r, i) => ({ type: "scatter", mode: "lines+markers", x: scaled.map((_, j) => j), y: scaled.map((d) => d.y[i]),
      name: names[i], line: { color: color(i), width: 2.5 }, marker: { size: 8, color: color(i) },
      text: scaled.map((d) => `${d.label} = ${d.text ? d.text[d.values[i]] : fmt(d.values[i])}`), hoverinfo: "text+name" }));
    const notes = scaled.flatMap((d, j) => [
      { x: j, y: 1.06, text: `<b>${d.label.replace(/[<>&]/g, "")}</b>`, showarrow: false, yanchor: "bottom", font: { size: 13 } },
      { x: j, y: 1, text: fmt(d.text ? d.text[d.hi] : d.hi).replace(/[<>&]/g, ""), showarrow: false, xanchor: "right", xshift: -5, font: { size: 12.5 } },
      { x: j, y: 0, text: fmt(d.text ? d.text[d.lo] : d.lo).replace(/[<>&]/g, ""), showarrow: false, xanchor: "right", xshift: -5, font: { size: 12.5 } },
    ]);
    const shapes = scaled.map((_, j) => ({ type: "line", x0: j, x1: j, y0: 0, y1: 1, line: { color: "#7a8399", width: 1 } }));
    Plotly.react("parallel", traces, { margin: { l: 70, r: 30, t: 50, b: 20 }, annotations: notes, shapes, showlegend: true, font: { size: 12.5 },
      xaxis: { visible: false, range: [-0.3, scaled.length - 0.7] }, yaxis: { visible: false, range: [-0.05, 1.12] } },
    { displaylogo: false, responsive: true });
    document.getElementById("parallel").dataset.axes = String(scaled.length);
  };
  const drawScatter = () => {
    const x = columns[sx.value] || [];
    const y = columns[sy.value] || [];
    Plotly.react("scatter", [{ type: "scatter", mode: "markers+text", x: x.map((v) => (Number.isNaN(numeric(v)) ? v : numeric(v))),
      y: y.map((v) => (Number.isNaN(numeric(v)) ? v : numeric(v))), text: names, textposition: "top center",
      marker: { size: 11, color: runs.map((_, i) => color(i)) } }],
    { margin: { l: 60, r: 20, t: 20, b: 50 }, xaxis: { title: { text: sx.value } }, yaxis: { title: { text: sy.value } } }, { displaylogo: false, responsive: true });
  };
  pcSelect.addEventListener("change", drawParallel);
  sx.addEventListener("change", drawScatter);
  sy.addEventListener("change", drawScatter);
  drawParallel();
  drawScatter();

  // the runs diff, for two runs
  if (runs.length === 2) {
    const section = document.getElementById("diff-section");
    section.hidden = false;
    const d = await api("/api/diff", { a: runs[0].run_id, b: runs[1].run_id });
    const pairs = (title, values) => card(title, Object.keys(values).length ? table(["", names[0], names[1]], Object.entries(values).map(([k, [a, b]]) => [k, a, b])) : el("p", { class: "muted", text: "same" }));
    document.getElementById("diff").replaceChildren(el("div", { class: "kv" }, pairs("Params", d.params), pairs("Metrics", d.metrics), pairs("Data inputs", d.inputs),
      pairs("Packages", d.packages), card("Python", el("p", { text: `${d.python[0]} → ${d.python[1]}` }))),
    card("Code", el("div", {}, d.files.length ? table(["file", "status", "+", "-"], d.files.map((f) => [f.path, f.status, f.additions, f.deletions])) : el("p", { class: "muted", text: "identical snapshots" }), patchView(d.patch))));
  }
  root.dataset.ready = "1";
}

// -- models page --------------------------------------------------------------------------------
async function modelsPage() {
  const root = document.getElementById("models-page");
  const list = document.getElementById("model-list");
  const view = document.getElementById("model-view");
  let data;
  try { data = await api("/api/models"); } catch (error) { showError(view, error); return; }
  if (!data.models.length) view.replaceChildren(el("p", { class: "muted", text: "no models yet: gittrack models register MODEL --run RUN" }));
  list.replaceChildren(...data.models.map((m) => {
    const li = el("li", { dataset: { model: m.model } }, m.model, el("span", { class: "size", text: `${m.versions} version(s)${m.deprecated ? ", deprecated" : ""}` }));
    li.addEventListener("click", () => openModel(m.model));
    return li;
  }));

  async function openModel(name) {
    list.querySelectorAll("li").forEach((li) => li.classList.toggle("on", li.dataset.model === name));
    history.replaceState(null, "", `?model=${encodeURIComponent(name)}`);
    let m;
    try { m = await api(`/api/models/${encodeURIComponent(name)}`); } catch (error) { showError(view, error); return; }
    const model = m.model;
    const holders = Object.entries(model.stages).map(([stage, versions]) => [stage, versions[0], versions.slice(1).join(", ")]);
    const versions = model.versions.map((v) => {
      const runLink = v.run && v.run.available ? el("a", { href: `/runs/${v.run.run_id}`, text: v.run.run_name || v.run_id }) : `${v.run_id || "?"} (not here)`;
      const metrics = Object.entries((v.run && v.run.metrics) || {}).slice(0, 3).map(([k, x]) => `${k}=${fmt(x)}`).join(", ");
      const lineage = el("button", { class: "lineage", text: "lineage", onclick: () => showLineage(`${name}@${v.version}`) });
      const state = el("span", {}, v.version, v.active ? null : el("span", { class: "muted", text: " deprecated" }),
        el("span", { class: "valid", title: v.valid ? "the tag's artifact pointer checks out" : "INVALID: the tag does not match the run's artifact" }, " ", mark(v.valid)));
      return [state, Object.keys(v.stages).join(", "), fmtTime(v.registered_at * 1000), v.registered_by, runLink, metrics, lineage];
    });
    const events = el("ul", { class: "timeline", id: "timeline" }, m.history.map((e) => el("li", { class: e.event },
      el("strong", { text: e.event }), ` ${e.version || ""}${e.stage ? ` → ${e.stage}` : ""} · ${fmtTime(e.time * 1000)} UTC · ${e.author} · `, el("code", { text: e.tag }))));
    view.replaceChildren(
      el("h1", { text: model.model }), el("p", { class: "sub", text: `latest ${model.latest || "-"}${model.deprecated ? " · deprecated" : ""}` }),
      el("div", { class: "kv" },
        card("Stages (current holder first)", holders.length ? table(["stage", "holder", "earlier holders"], holders) : el("p", { class: "muted", text: "no stage assigned" })),
        card("Event timeline", events)),
      card("Versions", el("div", { class: "table-fit" }, table(["version (valid)", "stages", "registered (UTC)", "by", "run", "metrics", ""], versions, { class: "grid fit" })), "versions-card"),
      usageCard(model),
      el("div", { id: "lineage" }),
    );
  }

  // "how to load this model", as MLflow shows it: Python, the MLflow-compatible API and the CLI,
  // for the version chosen (the production holder, else the latest, at first)
  function usageCard(model) {
    const versions = model.versions.map((v) => v.version);
    if (!versions.length) return el("div");
    const held = model.stages.production && model.stages.production[0];
    const select = el("select", { id: "usage-version", "aria-label": "version" },
      [...Object.entries(model.stages).map(([stage, holders]) => el("option", { value: stage, text: `${stage} (${holders[0]})` })),
        ...versions.slice().reverse().map((v) => el("option", { value: v, text: v }))]);
    select.value = held ? "production" : (model.latest || versions[versions.length - 1]);
    const snippets = el("div", { id: "usage" });
    const render = () => {
      const which = select.value;
      const spec = `${model.model}@${which}`;
      const uri = `models:/${model.model}/${which}`;
      const blocks = [
        ["Python", `import gittrack\n\nmodel = gittrack.load_model("${spec}")\npredictions = model.predict(data)`],
        ["gittrack.mlflow (MLflow's API)", `import gittrack.mlflow as mlflow\n\nmodel = mlflow.pyfunc.load_model("${uri}")\npredictions = model.predict(data)`],
        ["CLI", `gittrack models get ${spec} -o model/\ngittrack models lineage ${spec}`],
      ];
      snippets.replaceChildren(...blocks.map(([title, code]) => el("div", { class: "snippet", dataset: { lang: title.split(" ")[0] } },
        el("div", { class: "snippet-head" }, el("strong", { text: title }), el("button", { class: "copy", text: "copy", onclick: async (e) => {
          try { await navigator.clipboard.writeText(code); e.target.textContent = "copied"; } catch (error) { e.target.textContent = "select and copy"; }
        } })), el("pre", { text: code }))));
    };
    select.addEventListener("change", render);
    render();
    return card("How to load this model", el("div", {}, el("label", {}, "version ", select), snippets), "usage-card");
  }

  async function showLineage(spec) {
    const where = document.getElementById("lineage");
    let l;
    try { l = await api("/api/lineage", { spec }); } catch (error) { showError(where, error); return; }
    const here = (ok) => (ok ? "available here" : "NOT available here");
    const run = l.run;
    const rows = [
      ["version", `${l.version.model} ${l.version.version}`, `tag ${l.version.tag}, commit ${l.version.commit.slice(0, 12)}`],
      ["run", run.run_id ? el("a", { href: `/runs/${run.run_id}`, text: `${run.run_name || ""} (${run.run_id})` }) : "?", here(run.available)],
      ["source", `${l.source.commit || "(none)"}${l.source.dirty ? " (dirty)" : ""}`, here(l.source.available)],
      ...l.inputs.map((i) => ["data", `${i.path} md5 ${i.md5}`, i.in_cache ? "in the DVC cache" : i.in_git ? "in git, the run's snapshot" : "not in the local DVC cache"]),
    ];
    where.replaceChildren(card(`Lineage of ${spec}`, table(["", "", ""], rows, { class: "lineage-table" })));
  }

  // promotion requests
  const requests = document.getElementById("requests");
  try {
    const r = await api("/api/promotions");
    requests.replaceChildren(...(r.requests.length ? r.requests.map((q) => {
      const report = el("div", { class: "report" });
      if (q.report_html) report.innerHTML = q.report_html; // rendered by markdown-it with raw HTML disabled
      else report.append(el("p", { class: "error", text: q.problem || "no report" }));
      return el("details", { class: "card request", open: true }, el("summary", {}, el("strong", { text: q.branch }), ` · ${q.author} · ${fmtTime(q.time * 1000)} UTC`), report);
    }) : [el("p", { class: "muted", text: "none: request one with gittrack models promote MODEL VERSION STAGE --request" })]));
  } catch (error) { showError(requests, error); }
  const wanted = root.dataset.model || (data.models[0] && data.models[0].model);
  if (wanted) await openModel(wanted);
  root.dataset.ready = "1";
}

// -- start ----------------------------------------------------------------------------------------
({ runs: runsPage, run: runPage, compare: comparePage, models: modelsPage, sweeps: sweepsPage, sweep: sweepPage }[document.body.dataset.page] || (() => {}))();
