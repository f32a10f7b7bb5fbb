"""MLflow's web UI and REST search on the data bench_ui.py measures gittrack's UI on.

    python benchmarks/bench_mlflow_ui.py [--runs 2000] [--steps 20000] [--experiments 1]
    python benchmarks/bench_mlflow_ui.py --runs 10000 --steps 100000                  # docs/ui.md
    python benchmarks/bench_mlflow_ui.py --runs 10000 --steps 100000 --experiments 10 # and 100,000 runs

Builds an MLflow SQLite store (mlflow_store.py: MLflow creates the schema and experiments, the
runs go in through MLflow's own tables) holding ``--experiments`` experiments of ``--runs``
synthetic runs each, the runs of synth.py (10 params, 5 metrics of 10 points, 3 tags), and one
run of 5 metrics x ``--steps`` steps in experiment "long", as bench_ui.py does. Then starts
``mlflow server`` (one worker, 127.0.0.1, a free port) from this same Python environment and
prints:
- ``POST /api/2.0/mlflow/runs/search`` first page (100 runs, filter + order), warm, best of 5,
  over the first experiment and over every experiment;
- the first experiment's runs page in headless Chromium: navigation to the first rows of the
  runs table on screen, warm (second load on), best of 3;
- the long run's "Model metrics" page: navigation to the 5 charts drawn, first load and warm,
  best of 3.
Needs the ``gittrack[mlflow]`` extra (the full ``mlflow`` package: its server and React UI),
Playwright and the system's Chromium (``/usr/bin/chromium``; nothing is downloaded).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mlflow_store import Run, add_runs, check_store, create_experiment, create_store
from synth import METRICS, synthetic_run

FILTER = "metrics.rmse < 0.5 and params.model = 'rf'"
ORDER = "metrics.rmse ASC"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
RUNS_ROW = ".ag-row a[href*='/runs/']"  # a run's link in a row of MLflow's runs table (ag-grid)
# every one of the 5 plotly charts has drawn its line (a path with points, not an empty frame)
CHARTS_DRAWN = """() => {
  const plots = [...document.querySelectorAll('.js-plotly-plot')];
  return plots.length >= 5 && plots.every(p =>
    [...p.querySelectorAll('.scatterlayer path.js-line')].some(l => (l.getAttribute('d') || '').length > 20));
}"""


def synthetic_runs(count: int, experiment: str, seed: int):
    """synth.py's runs as MLflow runs: same names, times, params, tags and metric points."""
    from gittrack._store import metricfile, naming

    rng = random.Random(seed)
    for i in range(count):
        record, files = synthetic_run(i, rng, experiment)
        metrics = {key: metricfile.decode_points(files[naming.metric_filename(key)], key) for key in METRICS}
        yield Run(record.name, record.start_time, record.end_time, record.params, record.tags, metrics)


def build(db: Path, runs: int, experiments: int, steps: int) -> tuple[list[str], str, str]:
    """The store; returns the experiment ids, the long run's experiment id and run id."""
    store = create_store(db)
    ids, first = [], None
    for e in range(experiments):
        name = "bench" if e == 0 else f"bench-{e}"
        ids.append(create_experiment(store, name))
        added = add_runs(store, ids[-1], synthetic_runs(runs, name, seed=7 + e))
        first = first or added[0]
    long_experiment = create_experiment(store, "long")
    base = 1_780_000_000_000
    history = {f"m{k}": [(s, base + s * 10, (k + 1) / (s + 1)) for s in range(steps)] for k in range(5)}
    (long_run,) = add_runs(store, long_experiment, [Run("long-history", base, base + steps * 10, metrics=history)])
    params = next(iter(synthetic_runs(1, "bench", seed=7))).params
    check_store(f"sqlite:///{db}", "bench", runs, first, params, "rmse", 10)
    return ids, long_experiment, long_run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(db: Path) -> tuple[subprocess.Popen, str]:
    """``mlflow server`` on the store, one worker; returns it once it answers /health."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{db}",
               "--default-artifact-root", db.parent.as_uri(), "--host", "127.0.0.1", "--port", str(port),
               "--workers", "1"]  # fmt: skip
    with (db.parent / "server.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.5)
        if process.poll() is not None:
            break
    process.kill()
    raise SystemExit(f"mlflow server did not start: {(db.parent / 'server.log').read_text()[-2000:]}")


def search_first_page(url: str, experiment_ids: list[str]) -> float:
    """MLflow's REST search, first page of 100 with a filter and an order: warm, best of 5."""
    body = json.dumps({"experiment_ids": experiment_ids, "filter": FILTER, "order_by": [ORDER],
                       "max_results": 100}).encode()  # fmt: skip

    def ask() -> list:
        request = urllib.request.Request(f"{url}/api/2.0/mlflow/runs/search", data=body,
                                         headers={"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=600) as answer:
            return json.loads(answer.read())["runs"]

    assert len(ask()) == 100
    times = []
    for _ in range(5):
        started = time.perf_counter()
        ask()
        times.append(time.perf_counter() - started)
    return min(times)


def pages(url: str, experiment_id: str, long_experiment: str, run_id: str, shots: Path | None) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    def timed(page, target: str, ready) -> float:
        page.goto("about:blank")
        started = time.perf_counter()
        page.goto(target, wait_until="commit")
        ready(page)
        return time.perf_counter() - started

    def rows_shown(page) -> None:
        page.wait_for_selector(RUNS_ROW, state="visible", timeout=600_000)

    def charts_drawn(page) -> None:
        page.wait_for_function(CHARTS_DRAWN, timeout=600_000, polling=50)

    out: dict[str, float] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        runs_url = f"{url}/#/experiments/{experiment_id}/runs"
        timed(page, runs_url, rows_shown)  # warm: the bundle cached, the server's first queries done
        out["runs"] = min(timed(page, runs_url, rows_shown) for _ in range(3))
        if shots:
            page.screenshot(path=str(shots / "mlflow-runs.png"))
        run_url = f"{url}/#/experiments/{long_experiment}/runs/{run_id}/model-metrics"
        out["run_first"] = timed(page, run_url, charts_drawn)
        out["run_warm"] = min(timed(page, run_url, charts_drawn) for _ in range(3))
        if shots:
            page.screenshot(path=str(shots / "mlflow-run-charts.png"))
        browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2_000, help="runs an experiment")
    parser.add_argument("--experiments", type=int, default=1)
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--screenshots", type=Path, help="save the two pages' screenshots in this folder")
    args = parser.parse_args()
    import mlflow

    with tempfile.TemporaryDirectory(prefix="gittrack-bench-mlflow-ui-") as tmp:
        db = Path(tmp) / "mlflow.db"
        started = time.perf_counter()
        ids, long_experiment, run_id = build(db, args.runs, args.experiments, args.steps)
        total = args.runs * args.experiments
        print(f"MLflow {mlflow.__version__} store: {total:,} runs in {args.experiments} experiment(s) and one run of "
              f"5 x {args.steps:,} points, built in {time.perf_counter() - started:.0f} s "
              f"({db.stat().st_size / 1e6:,.0f} MB)")  # fmt: skip
        process, url = serve(db)
        try:
            rows = [(f"REST runs/search first page (100 runs, filter + order) over {args.runs:,} runs, warm",
                     search_first_page(url, ids[:1]), 0.1)]  # fmt: skip
            if args.experiments > 1:
                rows.append((f"REST runs/search, same, over {total:,} runs in {args.experiments} experiments, warm",
                             search_first_page(url, ids), 0.1))  # fmt: skip
            timed = pages(url, ids[0], long_experiment, run_id, args.screenshots)
        finally:
            process.terminate()
            process.wait(timeout=30)
    rows += [
        (f"runs page of an experiment of {args.runs:,} runs: first rows shown, warm", timed["runs"], 1.0),
        (f"run page, 5 metrics x {args.steps:,} steps: charts drawn, first load", timed["run_first"], 1.0),
        (f"run page, 5 metrics x {args.steps:,} steps: charts drawn, warm", timed["run_warm"], 1.0),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'MLflow ' + mlflow.__version__:<{width}}  {'measured':>10}   gittrack's target")
    for name, seconds, target in rows:
        print(f"{name:<{width}}  {seconds * 1000:7.0f} ms   <= {target * 1000:.0f} ms")


if __name__ == "__main__":
    main()
