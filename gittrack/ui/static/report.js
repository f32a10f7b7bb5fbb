// gittrack report: draws the overlaid metric curves from the data inlined in this file, with
// charts.js (inlined before it), as the web UI does.
"use strict";
(async function () {
  if (window.plotlyReady) await window.plotlyReady;
  if (!window.Plotly) {
    document.getElementById("charts").textContent = "The charts need plotly.min.js beside this file, or a browser that can unpack it (DecompressionStream).";
    return;
  }
  const data = JSON.parse(document.getElementById("report-data").textContent);
  for (const div of document.querySelectorAll("#charts .chart")) {
    const key = div.dataset.key;
    const lines = data.runs.filter((run) => run.series[key])
      .map((run) => ({ name: run.run_name, series: run.series[key], start: 0, color: run.color }));
    drawLines(div, lines, { title: key, axis: "step", smoothing: 0, log: false });
    div.dataset.traces = String(lines.length);
  }
  document.body.dataset.ready = "1";
})();
