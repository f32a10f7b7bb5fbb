"""``gittrack server`` next to ``mlflow server`` (its SQLite backend, the default), the same MLflow
client code against each, on this machine:

    python benchmarks/bench_server.py [--runs 20] [--search-runs 1000] [--workers 1]

- per run: ``create_run``, ``log_batch`` with 10 params and 5 metrics x 100 steps, ``set_terminated``
  (the mean over ``--runs`` runs, after one warm-up run);
- search: ``search_runs`` over ``--search-runs`` runs (each made with ``create_run``, one
  ``log_batch``, ``set_terminated``), a filter on a metric, every page of 1,000 read; and the
  same pages as plain HTTP requests, the server's part without MLflow's client parsing them. The issue's
  figure is 10,000 runs (``--search-runs 10000``: filling both stores takes some minutes).

Goals (docs/server.md): per run at least as fast as ``mlflow server``; search at least 10x faster.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def started(argv: list[str], cwd: Path, health: str) -> Iterator[None]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(health, timeout=2):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"{argv[0]} did not start") from None
                time.sleep(0.2)
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def gittrack_server(root: Path, port: int, workers: int):
    repo = root / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", "bench"], cwd=repo, check=True)
    argv = [str(BIN / "gittrack"), "server", "--port", str(port), "--workers", str(workers)]
    return started(argv, repo, f"http://127.0.0.1:{port}/health")


def mlflow_server(root: Path, port: int, workers: int):
    store = root / "mlflow"
    store.mkdir()
    argv = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{store / 'mlflow.db'}",
            "--artifacts-destination", str(store / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers)]  # fmt: skip
    return started(argv, store, f"http://127.0.0.1:{port}/health")


def measure(url: str, runs: int, search_runs: int) -> dict[str, float]:
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=url)
    experiment = client.create_experiment("bench")
    params = [Param(f"p{j}", str(j)) for j in range(10)]
    metrics = [Metric(f"m{k}", 0.01 * s, 1_700_000_000_000 + s, s) for k in range(5) for s in range(100)]

    def one_run() -> None:
        run = client.create_run(experiment)
        client.log_batch(run.info.run_id, metrics=metrics, params=params)
        client.set_terminated(run.info.run_id)

    one_run()  # warm-up
    began = time.perf_counter()
    for _ in range(runs):
        one_run()
    per_run = (time.perf_counter() - began) / runs * 1000

    searched = client.create_experiment("search")
    for i in range(search_runs):
        run = client.create_run(searched)
        client.log_batch(run.info.run_id, metrics=[Metric("score", (i % 100) / 100, 0, 0)],
                         params=[Param("i", str(i))])  # fmt: skip
        client.set_terminated(run.info.run_id)
    best, found = float("inf"), 0
    for _ in range(3):
        began = time.perf_counter()
        found, token = 0, None
        while True:
            page = client.search_runs([searched], "metrics.score >= 0.5", max_results=1000, page_token=token)
            found += len(page)
            token = page.token
            if not token:
                break
        best = min(best, time.perf_counter() - began)
    assert found > 0, found
    raw = float("inf")  # the same pages as plain HTTP: the server's part, without MLflow's client parsing them
    import requests

    session = requests.Session()
    for _ in range(3):
        began = time.perf_counter()
        token = None
        while True:
            body = {"experiment_ids": [searched], "filter": "metrics.score >= 0.5", "max_results": 1000}
            answer = session.post(f"{url}/api/2.0/mlflow/runs/search", json={**body, "page_token": token} if token
                                  else body).json()  # fmt: skip
            token = answer.get("next_page_token")
            if not token:
                break
        raw = min(raw, time.perf_counter() - began)
    return {"run_ms": per_run, "search_ms": best * 1000, "raw_search_ms": raw * 1000, "found": found}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs timed for the per-run figure")
    parser.add_argument("--search-runs", type=int, default=1000, help="runs the search goes over (issue: 10000)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes of each server")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stopped: the servers are stopped too (finally)
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-server-") as tmp:
        for name, start in (("gittrack server", gittrack_server), ("mlflow server", mlflow_server)):
            root = Path(tmp) / name.split()[0]
            root.mkdir()
            port = free_port()
            with start(root, port, args.workers):
                results[name] = measure(f"http://127.0.0.1:{port}", args.runs, args.search_runs)
            print(f"{name}: {results[name]}", file=sys.stderr)
    ours, theirs = results["gittrack server"], results["mlflow server"]
    print(f"{'measure':58} {'gittrack':>10} {'mlflow':>10} {'mlflow/gittrack':>16} {'goal':>6}")
    rows = [
        ("one run: create, log_batch (10 params, 5x100 metrics), end (ms)", "run_ms", 1.0),
        (f"search_runs over {args.search_runs:,} runs, every page (ms)", "search_ms", 10.0),
        ("  the same pages as plain HTTP requests (ms)", "raw_search_ms", 10.0),
    ]
    for label, key, goal in rows:
        ratio = theirs[key] / ours[key]
        print(f"{label:58} {ours[key]:10.1f} {theirs[key]:10.1f} {ratio:15.1f}x {goal:5.0f}x")
    print(f"(runs found by the search: gittrack {ours['found']:.0f}, mlflow {theirs['found']:.0f})")


if __name__ == "__main__":
    main()
