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

// lines: [{name, series: {step, value, timestamp}, start, color}]; options: {title, axis, smoothing, log}
function lineFigure(lines, options) {
  const data = [];
  lines.forEach((line, i) => {
    const color = line.color || COLORS[i % COLORS.length];
    const x = xValues(line.series, options.axis, line.start);
    if (options.smoothing) {
      data.push({ x, y: line.series.value, type: "scatter", mode: "lines", line: { color, width: 1 }, opacity: 0.25,
        hoverinfo: "skip", showlegend: false });
    }
    data.push({ x, y: smooth(line.series.value, options.smoothing), type: "scatter", mode: curveMode(line.series.value),
      name: line.name, line: { color, width: 1.6 }, marker: { color, size: 6 }, connectgaps: false });
  });
  const layout = {
    margin: { l: 50, r: 10, t: 28, b: 36 }, title: { text: options.title, font: { size: 13 } },
    xaxis: { title: { text: options.axis === "step" ? "step" : options.axis === "wall" ? "time (UTC)" : "seconds" } },
    yaxis: { type: options.log ? "log" : "linear" }, showlegend: lines.length > 1, legend: { orientation: "h" },
  };
  return { data, layout };
}

function drawLines(div, lines, options) {
  const figure = lineFigure(lines, options);
  return Plotly.react(div, figure.data, figure.layout, { displaylogo: false, responsive: true });
}
