"""``gittrack report``: one HTML file about some runs, with everything inline (plotly's JS, the
data, the styles), so it opens from disk, in a CI artifact or on Pages with no request out.

plotly.js (4.8 MB, and the plotly wheel ships no partial bundle) is inlined gzip-compressed and
base64-encoded (about 2 MB) and unpacked by the browser's ``DecompressionStream``; with
``plotly_mode="beside"`` the report instead loads ``plotly.min.js`` from its own folder, written
there once and shared by every report in the folder (a report is then about 30 KB).

Every value from a run goes through Jinja's escaping or into a JSON block whose ``<``, ``>``
and ``&`` are escaped, and the page's own Content-Security-Policy forbids any load (but the
shared ``plotly.min.js`` beside it, in that mode).
"""

from __future__ import annotations

import functools
import math
import os
from pathlib import Path
from typing import Any

from gittrack.errors import UsageError

HERE = Path(__file__).resolve().parent
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
POINTS = 1000
MAX_RUNS = 200
PLOTLY_MODES = ("inline", "beside")
SHARED_PLOTLY = "plotly.min.js"


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}" if math.isfinite(value) else str(value)
    return "" if value is None else str(value)


def _script_json(data: Any) -> str:
    """JSON safe inside a ``<script>`` element: no ``</script>``, no ``<!--``."""
    import orjson

    text = orjson.dumps(data).decode()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _inline_js(text: str) -> str:
    return text.replace("</script", "<\\/script").replace("<!--", "<\\!--")


@functools.cache
def _packed_plotly() -> str:
    """plotly.min.js gzip-compressed and base64-encoded (once a process: it takes about a second)."""
    import base64
    import gzip

    from gittrack.ui.app import plotly_js

    return base64.b64encode(gzip.compress(plotly_js().read_bytes(), compresslevel=9, mtime=0)).decode("ascii")


def render_report(
    client,
    run_specs: list[str],
    title: str | None = None,
    preamble_markdown: str | None = None,
    plotly_mode: str = "inline",
) -> str:
    """The report's HTML for runs ``run_specs`` (ids, prefixes, names or refs); ``plotly_mode``
    is ``inline`` (compressed inside the file) or ``beside`` (``plotly.min.js`` in its folder)."""
    from datetime import UTC, datetime

    import jinja2
    from markupsafe import Markup

    from gittrack._version import __version__
    from gittrack.ui.downsample import min_max
    from gittrack.ui.markdown import to_html

    if not run_specs:
        raise UsageError("no runs to report on: name runs, or give -e/-f that match some")
    if plotly_mode not in PLOTLY_MODES:
        raise UsageError(f"plotly_mode must be one of {', '.join(PLOTLY_MODES)}, got {plotly_mode!r}")
    if len(run_specs) > MAX_RUNS:
        raise UsageError(f"a report shows at most {MAX_RUNS} runs, got {len(run_specs)}; narrow the filter")
    runs = [client.get_run(spec) for spec in run_specs]
    metric_keys = sorted({k for r in runs for k in r.data.metrics})
    views, data_runs = [], []
    for i, run in enumerate(runs):
        info = run.info
        color = COLORS[i % len(COLORS)]
        series = {}
        for key in run.data.metrics:
            steps, times, values = client.get_metric_arrays(info.run_id, key)
            s = min_max(steps, times, values, POINTS)
            s["value"] = [v if v is None or math.isfinite(v) else None for v in s["value"]]
            series[key] = {"step": s["step"], "value": s["value"]}
        end = info.end_time
        views.append({
            "run_id": info.run_id, "run_name": info.run_name, "experiment": info.experiment, "status": info.status,
            "commit": info.commit, "color": color,
            "start": datetime.fromtimestamp(info.start_time / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S"),
            "duration": f"{(end - info.start_time) / 1000:.1f}s" if end is not None else "",
            "metrics_text": {k: _text(v) for k, v in run.data.metrics.items()},
        })  # fmt: skip
        data_runs.append({"run_id": info.run_id, "run_name": info.run_name, "color": color, "series": series})
    keys = sorted({k for r in runs for k in r.data.params})
    values = {k: [r.data.params.get(k) for r in runs] for k in keys}
    differing = [(k, v) for k, v in values.items() if len({repr(x) for x in v}) > 1]
    same = [(k, v[0]) for k, v in values.items() if len({repr(x) for x in v}) == 1]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True)
    return env.get_template("report.html").render(
        title=title or f"gittrack report: {len(runs)} run(s)",
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__,
        runs=views,
        metric_keys=metric_keys,
        differing=differing,
        same=same,
        preamble_html=Markup(to_html(preamble_markdown)) if preamble_markdown else None,  # noqa: S704 - html disabled
        css=Markup((HERE / "static" / "style.css").read_text()),  # noqa: S704 - our own file
        data_json=Markup(_script_json({"runs": data_runs})),  # noqa: S704 - escaped above
        plotly_mode=plotly_mode,
        shared_plotly=SHARED_PLOTLY,
        plotly_packed=_packed_plotly() if plotly_mode == "inline" else "",
        charts_js=Markup(_inline_js((HERE / "static" / "charts.js").read_text())),  # noqa: S704 - our own file
        report_js=Markup(_inline_js((HERE / "static" / "report.js").read_text())),  # noqa: S704 - our own file
    )


def write_report(
    output: str | os.PathLike,
    runs: list[str] | None = None,
    experiments: list[str] | None = None,
    filter_string: str = "",
    limit: int = 20,
    title: str | None = None,
    preamble_markdown: str | None = None,
    repo: str | os.PathLike | None = None,
    plotly_mode: str = "inline",
) -> int:
    """Write the report of ``runs`` (or of the newest ``limit`` runs a search finds) to ``output``;
    returns how many runs it shows. With ``plotly_mode="beside"`` ``plotly.min.js`` is written
    next to it unless the same file is already there."""
    import gittrack

    client = gittrack.Client(repo)
    if not runs:
        found = client.find_rows(experiments, filter_string, None, limit, "active")
        runs = [row.run_id for row in found.rows]
    html = render_report(client, runs, title, preamble_markdown, plotly_mode)
    Path(output).write_text(html, encoding="utf-8")
    if plotly_mode == "beside":
        import shutil

        from gittrack.ui.app import plotly_js

        shared = Path(output).parent / SHARED_PLOTLY
        source = plotly_js()
        if (
            not shared.is_file()
            or shared.stat().st_size != source.stat().st_size
            or shared.read_bytes() != source.read_bytes()
        ):
            shutil.copyfile(source, shared)
    return len(runs)
