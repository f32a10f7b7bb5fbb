"""Web UI benchmarks: the JSON API over 100,000 runs, and pages drawn in headless Chromium.

    python benchmarks/bench_ui.py [--runs N] [--steps N]

Builds a repository of ``--runs`` synthetic finished runs (default 100,000) in 10 experiments
(so 10,000 runs an experiment; see synth.py), and one run with 5 metrics of ``--steps`` points
each (default 100,000). Prints:
- ``/api/runs`` first page (100 rows) with a filter and an order over every run, and over one
  experiment, warm (the search index built), best of 5, through the ASGI app in process;
- the runs page of one experiment (10,000 runs): first paint of the table in headless Chromium,
  from navigation to the rows on screen, warm, best of 3;
- the run page with 5 metrics x 100,000 steps: from navigation to the 5 charts drawn, first load
  (the server reads the histories for the first time; the browser has shown run pages before,
  so plotly.js is in its caches) and warm (the server has them cached), best of 3;
- the runs page's chart view of one experiment grouped by a param (1,000 runs loaded, a bar
  per group, the histories of the first five runs), warm, best of 3;
- the first and second run page in a fresh browser, which load and compile plotly.js.
MLflow's UI on the same data: benchmarks/bench_mlflow_ui.py.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth import METRICS, build_repo

import gittrack

FILTER = "metrics.rmse < 0.5 and params.model = 'rf'"
ORDER = "metrics.rmse ASC"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def api_first_page(root: Path) -> tuple[float, float]:
    """Best of 5 for the first page with a filter and an order: over every run, and over one experiment."""
    import warnings

    warnings.filterwarnings("ignore", "Using `httpx`")
    from starlette.testclient import TestClient

    from gittrack.ui.app import create_app

    params = {"filter": FILTER, "order": ORDER, "limit": 100}
    best = []
    with TestClient(create_app(root, timeout=3600), base_url="http://127.0.0.1") as http:
        first = http.get("/api/runs", params=params)  # builds the search index
        assert first.status_code == 200, first.text
        for query in (params, {**params, "experiment": "e0"}):
            times = []
            for _ in range(5):
                started = time.perf_counter()
                response = http.get("/api/runs", params=query)
                times.append(time.perf_counter() - started)
                assert response.status_code == 200, response.text
            best.append(min(times))
    return best[0], best[1]


def long_run(root: Path, steps: int) -> str:
    client = gittrack.Client(root)
    run = client.create_run(experiment="long", run_name="long-history")
    for step in range(steps):
        client.log_metrics(run.info.run_id, {f"m{k}": (k + 1) / (step + 1) for k in range(5)}, step=step)
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def serve(root: Path) -> tuple[subprocess.Popen, str]:
    gittrack_bin = str(Path(sys.executable).parent / "gittrack")
    process = subprocess.Popen([gittrack_bin, "ui", "--port", "0", "--repo", str(root)], stdout=subprocess.PIPE,
                               text=True)  # fmt: skip
    line = process.stdout.readline()
    return process, line.split()[2].rstrip("/")


def drawn(page, url: str, run_id: str, charts: int) -> float:
    """Seconds from navigating to the run page's charts until ``charts`` charts have drawn."""
    page.goto("about:blank")
    started = time.perf_counter()
    page.goto(f"{url}/runs/{run_id}#charts")
    page.wait_for_selector(f"#charts[data-drawn='{charts}']", timeout=120_000)
    return time.perf_counter() - started


def pages(url: str, run_id: str, small_run_id: str) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    out: dict[str, float] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        # a fresh browser: the first run page loads and compiles plotly.js (4.8 MB); Chromium keeps
        # compiled code for a script from its second load on, as for any site used more than once
        out["browser_cold"] = drawn(page, url, small_run_id, len(METRICS))
        out["browser_second"] = drawn(page, url, small_run_id, len(METRICS))
        page.goto(f"{url}/?experiment=e0")  # warm: the index built, the browser's cache filled
        page.wait_for_selector("#runs tbody tr", timeout=600_000)
        times = []
        for _ in range(3):
            page.goto("about:blank")
            started = time.perf_counter()
            page.goto(f"{url}/?experiment=e0")
            page.wait_for_selector("#runs tbody tr")
            times.append(time.perf_counter() - started)
        assert page.locator("#runs tbody tr").count() == 100
        out["runs"] = min(times)
        # the chart view grouped by a param: 1,000 runs loaded, a bar per group, 5 histories overlaid
        times = []
        for _ in range(3):
            page.goto("about:blank")
            started = time.perf_counter()
            page.goto(f"{url}/?experiment=e0&group=params.model&charts=1&metric=rmse")
            page.wait_for_selector("#bar-chart[data-bars]", timeout=120_000)
            page.wait_for_selector("#history-chart[data-traces]", timeout=120_000)
            times.append(time.perf_counter() - started)
        out["chart_view"] = min(times)
        out["run_first"] = drawn(page, url, run_id, 5)  # the server reads the histories for the first time
        out["run_warm"] = min(drawn(page, url, run_id, 5) for _ in range(3))
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gittrack-bench-ui-") as tmp:
        root = Path(tmp) / "repo"
        started = time.perf_counter()
        build_repo(root, args.runs, experiments=[f"e{i}" for i in range(10)])
        run_id = long_run(root, args.steps)
        print(f"built {args.runs:,} runs and one of 5 x {args.steps:,} points in {time.perf_counter() - started:.0f} s")
        api, api_experiment = api_first_page(root)
        small = gittrack.Client(root).search_runs("e0", max_results=1)["run_id"].iloc[0]
        process, url = serve(root)
        try:
            timed = pages(url, run_id, small)
        finally:
            process.terminate()
            process.wait(timeout=10)
    per = args.runs // 10
    rows = [
        (f"/api/runs first page (100 rows, filter + order) over {args.runs:,} runs, warm", api, 0.1),
        (f"/api/runs first page, same filter and order, over one experiment of {per:,} runs", api_experiment, None),
        (f"runs page of an experiment of {per:,} runs: first paint in headless Chromium", timed["runs"], 1.0),
        (
            f"runs page chart view of {per:,} runs, grouped by a param: 1,000 runs, bars and 5 histories drawn",
            timed["chart_view"],
            None,
        ),
        (f"run page, 5 metrics x {args.steps:,} steps: charts drawn, first load", timed["run_first"], 1.0),
        (f"run page, 5 metrics x {args.steps:,} steps: charts drawn, warm", timed["run_warm"], 1.0),
        (
            "first run page in a fresh browser (plotly.js loaded, compiled), 5 short metrics",
            timed["browser_cold"],
            None,
        ),
        ("second run page in that browser (plotly.js compiled again, then cached)", timed["browser_second"], None),
    ]
    width = max(len(r[0]) for r in rows)
    for name, seconds, target in rows:
        goal = f"   (target <= {target * 1000:.0f} ms)" if target else ""
        print(f"{name:<{width}}  {seconds * 1000:7.0f} ms{goal}")


if __name__ == "__main__":
    main()
