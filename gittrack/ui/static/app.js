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

function table(headers, rows, options) {
  const head = el("tr", {}, headers.map((h) => el("th", { text: h })));
  const body = rows.map((row) => el("tr", { class: options && options.rowClass ? options.rowClass(row) : null },
    row.map((cell) => (cell instanceof Node ? el("td", {}, cell) : el("td", { class: typeof cell === "number" ? "num" : null, text: fmt(cell) })))));
  return el("table", { class: (options && options.class) || "" }, el("thead", {}, head), el("tbody", {}, body));
}

function card(title, content) {
  return el("div", { class: "card" }, el("h3", { text: title }), content);
}

function quoteKey(key) {
  return /^[A-Za-z0-9_.\-:/]+$/.test(key) ? key : "`" + key.replace(/`/g, "``") + "`";
}

// -- charts (plotly, served by this server from the plotly package) ------------------------------
// the figures themselves: lineFigure and drawLines in charts.js (shared with the HTML report)
function whenPlotly() {
  return new Promise((resolve) => {
    if (window.Plotly) resolve();
    else window.addEventListener("load", () => resolve());
  });
}

// -- runs page --------------------------------------------------------------------------------
const ATTRIBUTE_COLUMNS = ["run_id", "user", "source_commit", "source_branch", "dirty", "host", "end_time", "parent_run_id"];
const DEFAULT_COLUMNS = ["run_name", "experiment", "status", "start_time", "duration"];

function runsPage() {
  const root = document.getElementById("runs-page");
  const query = new URLSearchParams(location.search);
  const state = {
    experiment: query.get("experiment") || root.dataset.experiment || "",
    filter: query.get("filter") || "",
    order: query.get("order") || "",
    view: query.get("view") || "active",
    offset: Number(query.get("offset") || 0),
    limit: 100,
    selected: new Set(),
    rows: [],
    more: false,
  };
  const filterInput = document.getElementById("filter");
  const filterError = document.getElementById("filter-error");
  const experimentSelect = document.getElementById("experiment");
  const viewSelect = document.getElementById("view");
  filterInput.value = state.filter;
  viewSelect.value = state.view;
  let timer = null;

  const storageKey = () => `gittrack.columns.${state.experiment || "*"}`;
  const chosen = () => JSON.parse(localStorage.getItem(storageKey()) || "null");

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
    history.replaceState(null, "", q.toString() ? `?${q}` : location.pathname);
  }

  function params() {
    return { experiment: state.experiment, filter: state.filter, order: state.order, view: state.view };
  }

  async function load(quiet) {
    clearTimeout(timer);
    let data;
    try {
      data = await api("/api/runs", { ...params(), offset: state.offset, limit: state.limit });
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

  function available() {
    const keys = { params: new Set(), metrics: new Set(), tags: new Set() };
    for (const row of state.rows) for (const kind of Object.keys(keys)) Object.keys(row[kind]).forEach((k) => keys[kind].add(k));
    return keys;
  }

  function columns() {
    const saved = chosen();
    if (saved) return saved;
    const counts = new Map();
    for (const row of state.rows) for (const key of Object.keys(row.metrics)) counts.set(key, (counts.get(key) || 0) + 1);
    const metrics = [...counts.entries()].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([k]) => `metrics.${k}`);
    return [...DEFAULT_COLUMNS, ...metrics];
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

  function render() {
    const cols = columns();
    const thead = document.querySelector("#runs thead");
    const tbody = document.querySelector("#runs tbody");
    const [sortedCol, sortedDir] = state.order ? state.order.split(/ (?=ASC$|DESC$)/i) : ["", ""];
    const headRow = el("tr", {}, el("th", {}, el("input", { type: "checkbox", title: "select all on this page", onchange: (e) => {
      for (const row of state.rows) e.target.checked ? state.selected.add(row.run_id) : state.selected.delete(row.run_id);
      render();
    } })));
    for (const column of cols) {
      const oc = orderColumn(column);
      const th = el("th", { class: "sortable" + (oc === sortedCol ? ` sorted-${(sortedDir || "ASC").toLowerCase()}` : ""),
        text: column.replace(/^attributes\./, ""), title: `sort by ${oc}`, dataset: { column } });
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
    tbody.replaceChildren(...state.rows.map((row) => {
      const tr = el("tr", { class: state.selected.has(row.run_id) ? "selected" : null, dataset: { run: row.run_id } });
      tr.append(el("td", {}, el("input", { type: "checkbox", checked: state.selected.has(row.run_id), onchange: (e) => {
        if (e.target.checked) state.selected.add(row.run_id); else state.selected.delete(row.run_id);
        tr.classList.toggle("selected", e.target.checked);
        updateCompare();
      } })));
      for (const column of cols) {
        const value = cell(row, column);
        if (column === "run_name") tr.append(el("td", {}, el("a", { href: `/runs/${row.run_id}`, text: row.run_name || row.run_id.slice(0, 12) })));
        else if (column === "status") tr.append(el("td", {}, badge(row.status)));
        else tr.append(el("td", { class: typeof value === "number" ? "num" : null, text: fmt(value), title: fmt(value) }));
      }
      return tr;
    }));
    document.getElementById("prev").disabled = state.offset === 0;
    document.getElementById("next").disabled = !state.more;
    renderChooser(cols);
    updateCompare();
  }

  function renderChooser(cols) {
    const list = document.getElementById("column-list");
    const keys = available();
    const groups = [["attributes", [...DEFAULT_COLUMNS, ...ATTRIBUTE_COLUMNS]], ...["params", "metrics", "tags"].map((kind) =>
      [kind, [...keys[kind]].sort().map((k) => `${kind}.${k}`)])];
    const seen = new Set(groups.flatMap(([, names]) => names));
    const extra = cols.filter((c) => !seen.has(c));
    if (extra.length) groups.push(["chosen earlier", extra]);
    list.replaceChildren(...groups.flatMap(([title, names]) => [el("h4", { text: title }), ...names.map((name) =>
      el("label", {}, el("input", { type: "checkbox", value: name, checked: cols.includes(name), onchange: (e) => {
        const now = columns().filter((c) => c !== name);
        if (e.target.checked) now.push(name);
        localStorage.setItem(storageKey(), JSON.stringify(now));
        render();
      } }), " ", name.replace(/^(params|metrics|tags)\./, ""))),
    ]), el("button", { text: "reset", onclick: () => { localStorage.removeItem(storageKey()); render(); } }));
  }

  function updateCompare() {
    const button = document.getElementById("compare");
    const n = state.selected.size;
    button.textContent = n ? `Compare ${n}` : "Compare";
    button.disabled = n < 2 || n > 20;
    button.title = n > 20 ? "compare takes at most 20 runs" : "select 2 to 20 runs";
  }

  document.getElementById("compare").addEventListener("click", () => {
    location.href = `/compare?runs=${[...state.selected].join(",")}`;
  });
  document.getElementById("apply").addEventListener("click", () => { state.filter = filterInput.value; state.offset = 0; syncUrl(); load(); });
  filterInput.addEventListener("keydown", (e) => { if (e.key === "Enter") { state.filter = filterInput.value; state.offset = 0; syncUrl(); load(); } });
  experimentSelect.addEventListener("change", () => { state.experiment = experimentSelect.value; state.offset = 0; state.selected.clear(); syncUrl(); load(); });
  viewSelect.addEventListener("change", () => { state.view = viewSelect.value; state.offset = 0; syncUrl(); load(); });
  document.getElementById("prev").addEventListener("click", () => { state.offset = Math.max(0, state.offset - state.limit); syncUrl(); load(); });
  document.getElementById("next").addEventListener("click", () => { state.offset += state.limit; syncUrl(); load(); });
  load();
}

// -- run page ---------------------------------------------------------------------------------
function runPage() {
  const root = document.getElementById("run-page");
  const runId = root.dataset.run;
  let run = null;
  let timer = null;
  const loaded = {};
  const chartState = { axis: "step", smoothing: 0, log: false, series: {} };

  document.querySelectorAll(".tabs button").forEach((button) => button.addEventListener("click", () => showTab(button.dataset.tab)));

  function showTab(name) {
    document.querySelectorAll(".tabs button").forEach((b) => b.classList.toggle("on", b.dataset.tab === name));
    document.querySelectorAll(".tab").forEach((t) => { t.hidden = t.id !== `tab-${name}`; });
    if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
    if (!loaded[name]) {
      loaded[name] = true;
      ({ charts: loadCharts, artifacts: loadArtifacts, code: loadCode, logs: renderLogs, overview: () => {} })[name]();
    }
    if (name === "charts") window.dispatchEvent(new Event("resize"));
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
      ["status", badge(run.status)], ["experiment", run.experiment], ["run id", run.run_id], ["started", fmtTime(run.start_ms) + " UTC"],
      ["ended", run.end_ms ? fmtTime(run.end_ms) + " UTC" : "(running)"], ["duration", fmtDuration(run.end_ms ? run.end_ms - run.start_ms : null)],
      ["user", `${run.user} <${run.user_email}>`], ["host", `${run.host} (pid ${run.pid})`],
      ["source", `${source.commit || "(no commit)"} on ${source.branch || "(detached)"}${source.dirty ? " (dirty)" : ""}`],
      ["parent run", run.parent_run_id || ""], ["ref", run.ref], ["commit", run.commit],
    ];
    const env = run.environment || {};
    const command = run.command || {};
    const cards = [
      card("Run", table(["", ""], info)),
      card("Metrics", table(["key", "last", "min", "max", "step", "points"], metrics)),
      card("Params", table(["key", "value", "type"], params)),
      card("Tags", table(["key", "value"], tags)),
      card("Data inputs", inputs.length ? table(["path", "DVC hash (md5)", "size", "files"], inputs) : el("p", { class: "muted", text: "none" })),
      card("Command", el("div", {}, el("pre", { text: (command.argv || []).join(" ") || "(none)" }),
        el("p", { class: "small", text: `launcher ${command.launcher || "?"}, entry point ${command.entry_point || "none"}, cwd ${command.cwd || ""}` }))),
      card("Environment", table(["", ""], Object.entries(env).filter(([, v]) => typeof v !== "object").map(([k, v]) => [k, v]))),
    ];
    if (run.description) cards.unshift(card("Description", el("pre", { text: run.description })));
    if (run.error) cards.unshift(card("Error", el("div", {}, el("p", { class: "error", text: `${run.error.type || ""}: ${run.error.message || ""}` }),
      run.error.traceback ? el("pre", { class: "error", text: run.error.traceback }) : null)));
    where.replaceChildren(el("div", { class: "kv" }, cards));
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
    if (!keys.length) { where.replaceChildren(el("p", { class: "muted", text: "no metrics logged" })); return; }
    if (!refresh) {
      where.replaceChildren(...keys.map((key) => el("div", { class: "chart-box" },
        el("div", { class: "chart", id: `chart-${CSS.escape(key)}`, dataset: { key } }),
        el("div", { class: "meta" }, el("span", { class: "points", text: "" }), el("button", { class: "full", text: "all points", hidden: true,
          onclick: async (e) => { e.target.disabled = true; chartState.series[key] = await api(`/api/runs/${runId}/metric`, { key, points: "all" }); drawChart(key); } })))));
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
    return [...document.querySelectorAll(".chart-box")].find((b) => b.querySelector(".chart").dataset.key === key);
  }

  function drawChart(key) {
    const series = chartState.series[key];
    const box = chartBox(key);
    const div = box.querySelector(".chart");
    drawLines(div, [{ name: key, series, start: run.start_ms }], { title: key, axis: chartState.axis, smoothing: chartState.smoothing, log: chartState.log });
    div.dataset.points = String(series.value.length);
    div.dataset.total = String(series.total);
    box.querySelector(".points").textContent = series.downsampled ? `${series.value.length} of ${series.total} points (min/max per bucket)` : `${series.total} points`;
    box.querySelector(".full").hidden = !series.downsampled;
  }

  function redrawAll() { Object.keys(chartState.series).forEach(drawChart); }
  document.getElementById("xaxis").addEventListener("change", (e) => { chartState.axis = e.target.value; redrawAll(); });
  document.getElementById("smoothing").addEventListener("input", (e) => {
    chartState.smoothing = Number(e.target.value);
    document.getElementById("smoothing-value").textContent = e.target.value;
    redrawAll();
  });
  document.getElementById("logscale").addEventListener("change", (e) => { chartState.log = e.target.checked; redrawAll(); });

  // artifacts
  async function loadArtifacts() {
    const list = document.getElementById("artifact-list");
    const view = document.getElementById("artifact-view");
    let data;
    try { data = await api(`/api/runs/${runId}/artifacts`); } catch (error) { showError(view, error); return; }
    if (!data.artifacts.length) { list.replaceChildren(el("li", { class: "muted", text: "no artifacts" })); return; }
    list.replaceChildren(...data.artifacts.map((a) => {
      const folder = a.nfiles || String(a.md5 || "").endsWith(".dir");
      const li = el("li", { class: folder ? "dir" : null, title: `${a.path} (${a.kind}, md5 ${a.md5})`, dataset: { path: a.path } },
        a.path, el("span", { class: "size", text: fmtSize(a.size) }));
      li.addEventListener("click", () => (folder ? openFolder(li, a.path) : preview(a.path, li)));
      return li;
    }));
  }

  async function openFolder(li, path) {
    if (li.dataset.open) return;
    li.dataset.open = "1";
    const view = document.getElementById("artifact-view");
    let data;
    try { data = await api(`/api/runs/${runId}/artifacts`, { path }); } catch (error) { showError(view, error); return; }
    const items = data.files.map((f) => {
      const child = el("li", { style: "padding-left:18px", dataset: { path: f.path }, title: f.path }, f.path.slice(path.length + 1), el("span", { class: "size", text: fmtSize(f.size) }));
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
    const raw = `/api/runs/${runId}/artifact/raw?path=${encodeURIComponent(path)}`;
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
    openDir("", null);
  }

  function toggleCode(which) {
    document.getElementById("show-files").classList.toggle("on", which === "files");
    document.getElementById("show-diff").classList.toggle("on", which === "diff");
    document.getElementById("file-list").hidden = which === "diff";
    if (which === "diff") showDiff(); else document.getElementById("file-view").replaceChildren();
  }

  async function openDir(path, li) {
    const list = document.getElementById("file-list");
    let data;
    try { data = await api(`/api/runs/${runId}/files`, { path }); } catch (error) { showError(document.getElementById("file-view"), error); return; }
    const depth = path ? path.split("/").length : 0;
    const items = data.files.map((f) => {
      const item = el("li", { class: f.type === "dir" ? "dir" : null, style: `padding-left:${6 + depth * 14}px`, dataset: { path: f.path } },
        f.name, f.size !== null ? el("span", { class: "size", text: fmtSize(f.size) }) : null);
      item.addEventListener("click", () => {
        if (f.type === "dir") { if (!item.dataset.open) { item.dataset.open = "1"; openDir(f.path, item); } } else showFile(f.path, item);
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

  // writes (only with --allow-write)
  function renderWriteBar() {
    const bar = document.getElementById("write-bar");
    if (!WRITE) return;
    bar.hidden = false;
    const deleted = run.ref.startsWith("refs/runs-deleted/");
    const act = async (fn) => { try { await fn(); location.reload(); } catch (error) { alert(error.message); } };
    bar.replaceChildren(
      deleted ? el("button", { id: "restore", text: "Restore run", onclick: () => act(() => post(`/api/runs/${runId}/restore`)) })
        : el("button", { id: "delete", text: "Delete run", onclick: () => confirm("Delete this run? It can be restored.") && act(() => post(`/api/runs/${runId}/delete`)) }),
      el("button", { id: "rename", text: "Rename", onclick: () => { const name = prompt("New name", run.run_name); if (name) act(() => post(`/api/runs/${runId}/edit`, { name })); } }),
      el("button", { id: "describe", text: "Edit description", onclick: () => { const text = prompt("Description", run.description); if (text !== null) act(() => post(`/api/runs/${runId}/edit`, { description: text })); } }),
      el("button", { id: "add-tag", text: "Set tag", onclick: () => { const key = prompt("Tag key"); if (!key) return; const value = prompt(`Value of ${key}`, run.tags[key] || ""); if (value !== null) act(() => post(`/api/runs/${runId}/edit`, { tags: { [key]: value } })); } }),
      el("button", { id: "delete-tag", text: "Remove tag", onclick: () => { const key = prompt("Tag to remove"); if (key) act(() => post(`/api/runs/${runId}/edit`, { tags: { [key]: null } })); } }),
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
  const state = { axis: "step", smoothing: 0, log: false, series: {} };
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
      drawLines(div, lines, { title: key, axis: state.axis, smoothing: state.smoothing, log: state.log });
      div.dataset.traces = String(lines.length);
    }
  };
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
  const firstParam = Object.keys(columns).find((c) => c.startsWith("params."));
  sx.value = firstParam || Object.keys(columns)[0];
  sy.value = keys.length ? `metrics.${keys[0]}` : Object.keys(columns)[0];

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
    const target = metric ? scaled[scaled.length - 1] : null;
    const shade = (i) => {
      if (!target || target.y[i] === null) return color(i);
      const t = target.y[i];
      return `rgb(${Math.round(68 + t * 185)},${Math.round(1 + t * 230)},${Math.round(84 + t * (37 - 84))})`;
    };
    const traces = runs.map((r, i) => ({ type: "scatter", mode: "lines+markers", x: scaled.map((_, j) => j), y: scaled.map((d) => d.y[i]),
      name: names[i], line: { color: shade(i), width: 2 }, marker: { size: 6 },
      text: scaled.map((d) => `${d.label} = ${d.text ? d.text[d.values[i]] : fmt(d.values[i])}`), hoverinfo: "text+name" }));
    const notes = scaled.flatMap((d, j) => [
      { x: j, y: 1.06, text: `<b>${d.label.replace(/[<>&]/g, "")}</b>`, showarrow: false, yanchor: "bottom" },
      { x: j, y: 1, text: fmt(d.text ? d.text[d.hi] : d.hi).replace(/[<>&]/g, ""), showarrow: false, xanchor: "right", xshift: -4, font: { size: 10 } },
      { x: j, y: 0, text: fmt(d.text ? d.text[d.lo] : d.lo).replace(/[<>&]/g, ""), showarrow: false, xanchor: "right", xshift: -4, font: { size: 10 } },
    ]);
    const shapes = scaled.map((_, j) => ({ type: "line", x0: j, x1: j, y0: 0, y1: 1, line: { color: "#7a8399", width: 1 } }));
    Plotly.react("parallel", traces, { margin: { l: 60, r: 30, t: 50, b: 20 }, annotations: notes, shapes, showlegend: true,
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
      return [v.version + (v.active ? "" : " (deprecated)") + (v.valid ? "" : " (INVALID)"), Object.keys(v.stages).join(", "),
        fmtTime(v.registered_at * 1000), v.registered_by, runLink, metrics, lineage];
    });
    const events = el("ul", { class: "timeline", id: "timeline" }, m.history.map((e) => el("li", { class: e.event },
      el("strong", { text: e.event }), ` ${e.version || ""}${e.stage ? ` → ${e.stage}` : ""} · ${fmtTime(e.time * 1000)} UTC · ${e.author} · `, el("code", { text: e.tag }))));
    view.replaceChildren(
      el("h1", { text: model.model }), el("p", { class: "sub", text: `latest ${model.latest || "-"}${model.deprecated ? " · deprecated" : ""}` }),
      el("div", { class: "kv" },
        card("Stages (current holder first)", holders.length ? table(["stage", "holder", "earlier holders"], holders) : el("p", { class: "muted", text: "no stage assigned" })),
        card("Event timeline", events)),
      card("Versions", table(["version", "stages", "registered (UTC)", "by", "run", "metrics", ""], versions, { class: "grid" })),
      el("div", { id: "lineage" }),
    );
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
({ runs: runsPage, run: runPage, compare: comparePage, models: modelsPage }[document.body.dataset.page] || (() => {}))();
