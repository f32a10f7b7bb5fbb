// gittrack charts: the plotly figure of metric curves, one code path for the web UI (app.js) and
// the HTML report (report.js). Figures are built by pure functions (tests run them under node).
"use strict";

const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];
// A curve with this few points also shows each point as a marker, as MLflow does: a line through
// one point draws nothing, and a handful of points are easier to read one by one.
const MARKERS_UP_TO = 30;

function curveMode(values) {
  const points = values.filter((v) => v !== null && Number.isFinite(v)).length;
  return points <= MARKERS_UP_TO ? "lines+markers" : "lines";
}

function smooth(values, weight) {
  if (!weight) return values;
  const out = [];
  let last = 0;
  let n = 0;
  for (const v of values) {
    if (v === null || !Number.isFinite(v)) { out.push(v); continue; }
    last = last * weight + (1 - weight) * v;
    n += 1;
    out.push(last / (1 - Math.pow(weight, n)));
  }
  return out;
}

function xValues(series, axis, start) {
  if (axis === "wall") return series.timestamp.map((t) => new Date(t));
  if (axis === "relative") return series.timestamp.map((t) => (t - start) / 1000);
  return series.step;
}

// The y range that "ignore outliers" keeps: the 5th to the 95th percentile of every value drawn,
// widened by a tenth, so a first-step spike no longer squashes the rest of the curves (MLflow's
// control of the same name). Returns null when there is too little to trim.
function robustRange(arrays) {
  const values = arrays.flat().filter((v) => v !== null && Number.isFinite(v)).sort((a, b) => a - b);
  if (values.length < 5) return null;
  const at = (q) => values[Math.min(values.length - 1, Math.max(0, Math.round(q * (values.length - 1))))];
  const lo = at(0.05);
  const hi = at(0.95);
  const pad = (hi - lo) * 0.1 || Math.abs(hi) * 0.1 || 1;
  return [lo - pad, hi + pad];
}

// the y axis range of options {log, outliers, ymin, ymax} (numbers or ""), or undefined for plotly's own
function yRange(arrays, options) {
  const given = (v) => v !== undefined && v !== null && v !== "" && Number.isFinite(Number(v));
  let range = options.outliers ? robustRange(arrays) : null;
  if (given(options.ymin) || given(options.ymax)) {
    const all = arrays.flat().filter((v) => v !== null && Number.isFinite(v));
    range = range || [Math.min(...all), Math.max(...all)];
    range = [given(options.ymin) ? Number(options.ymin) : range[0], given(options.ymax) ? Number(options.ymax) : range[1]];
  }
  if (!range) return undefined;
  if (options.log) {
    const positive = arrays.flat().filter((v) => v > 0);
    const lo = range[0] > 0 ? range[0] : Math.min(...positive);
    if (!(lo > 0) || !(range[1] > 0)) return undefined;
    return [Math.log10(lo), Math.log10(range[1])];
  }
  return range;
}

// lines: [{name, series: {step, value, timestamp}, start, color}];
// options: {title, axis, smoothing, log, outliers, ymin, ymax}
function lineFigure(lines, options) {
  const data = [];
  const drawn = [];
  lines.forEach((line, i) => {
    const color = line.color || COLORS[i % COLORS.length];
    const x = xValues(line.series, options.axis, line.start);
    if (options.smoothing) {
      data.push({ x, y: line.series.value, type: "scatter", mode: "lines", line: { color, width: 1 }, opacity: 0.25,
        hoverinfo: "skip", showlegend: false });
    }
    const y = smooth(line.series.value, options.smoothing);
    drawn.push(y);
    data.push({ x, y, type: "scatter", mode: curveMode(line.series.value),
      name: line.name, line: { color, width: 1.6 }, marker: { color, size: 6 }, connectgaps: false });
  });
  const range = yRange(drawn, options);
  const legend = lines.length > 1;
  const layout = {
    // the title sits left, clear of the modebar (top right, shown on hover); the legend goes at
    // the bottom of the figure, below the x axis title, and the bottom margin grows to hold it
    margin: { l: 54, r: 14, t: 34, b: 40 },
    title: { text: options.title, font: { size: 13 }, x: 0, xref: "paper", xanchor: "left", y: 1, yref: "container", yanchor: "top", pad: { t: 8 } },
    // fixed margins, no automargin: it lays every figure out twice (slower with long histories)
    xaxis: { title: { text: options.axis === "step" ? "step" : options.axis === "wall" ? "time (UTC)" : "seconds", standoff: 4 } },
    yaxis: { type: options.log ? "log" : "linear", range, autorange: range ? false : true },
    showlegend: legend,
    legend: { orientation: "h", x: 0, xanchor: "left", y: 0, yref: "container", yanchor: "bottom", font: { size: 11 } },
  };
  if (legend) layout.margin.b = 40 + 20 * Math.ceil(lines.length / 4);
  return { data, layout };
}

// plotly's "responsive" follows the window's size only; a chart whose box changes width without
// it (a scrollbar appearing, a grid reflowing) is resized when its box is
function followSize(div) {
  if (div.dataset.followed || typeof ResizeObserver === "undefined") return;
  div.dataset.followed = "1";
  let width = div.clientWidth;
  new ResizeObserver(() => {
    if (div.clientWidth !== width && div.clientWidth > 0) {
      width = div.clientWidth;
      Plotly.Plots.resize(div);
    }
  }).observe(div);
}

function drawLines(div, lines, options) {
  const figure = lineFigure(lines, options);
  followSize(div);
  return Plotly.react(div, figure.data, figure.layout, { displaylogo: false, responsive: true });
}
