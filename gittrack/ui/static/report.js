// gittrack report: draws the overlaid metric curves from the data inlined in this file.
"use strict";
(function () {
  const data = JSON.parse(document.getElementById("report-data").textContent);
  for (const div of document.querySelectorAll("#charts .chart")) {
    const key = div.dataset.key;
    const traces = [];
    data.runs.forEach((run) => {
      const s = run.series[key];
      if (!s) return;
      traces.push({ x: s.step, y: s.value, type: "scatter", mode: "lines", name: run.run_name, line: { color: run.color, width: 1.6 } });
    });
    Plotly.newPlot(div, traces, { title: { text: key, font: { size: 13 } }, margin: { l: 50, r: 10, t: 28, b: 36 },
      xaxis: { title: { text: "step" } }, legend: { orientation: "h" } }, { displaylogo: false, responsive: true });
    div.dataset.traces = String(traces.length);
  }
  document.body.dataset.ready = "1";
})();
