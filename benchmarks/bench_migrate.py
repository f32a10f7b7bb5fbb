"""Import benchmark: an MLflow store of R runs x M metrics x S steps into gittrack.

    python benchmarks/bench_migrate.py [--runs 10000] [--metrics 20] [--steps 100]

Builds the MLflow database store with MLflow's client (log_batch; not timed as the figure),
then times ``Client.import_mlflow`` into a fresh repository (every run, metric point, param and
tag; no artifacts) and a second import, which finds every run already there. Needs the
``gittrack[mlflow]`` extra. Prints a timing table, not a timed test.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def build_store(uri: str, runs: int, metrics: int, steps: int) -> float:
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param

    began = time.perf_counter()
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("bench", artifact_location=Path(uri[len("sqlite:///") :]).parent.as_uri())
    base = 1_700_000_000_000
    for r in range(runs):
        run = client.create_run(experiment, start_time=base + r * 1000, tags={"team": "bench", "seed": str(r)})
        points = [
            Metric(f"metric_{m}", 1.0 / (s + 1) + m, base + r * 1000 + s, s)
            for m in range(metrics)
            for s in range(steps)
        ]
        params = [Param("lr", str(0.001 * (r % 10 + 1))), Param("layers", str(r % 4 + 1))]
        client.log_batch(run.info.run_id, params=params)
        for start in range(0, len(points), 1000):
            client.log_batch(run.info.run_id, metrics=points[start : start + 1000])
        client.set_terminated(run.info.run_id, "FINISHED", end_time=base + r * 1000 + steps)
        if (r + 1) % 500 == 0:
            print(f"  built {r + 1}/{runs} MLflow runs", file=sys.stderr)
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--metrics", type=int, default=20)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    os.environ.setdefault("GIT_AUTHOR_NAME", "bench")
    os.environ.setdefault("GIT_AUTHOR_EMAIL", "bench@example.com")
    with tempfile.TemporaryDirectory(prefix="gittrack-bench-migrate-") as tmp:
        root = Path(tmp)
        uri = f"sqlite:///{root / 'mlflow.db'}"
        built = build_store(uri, args.runs, args.metrics, args.steps)
        repo = root / "repo"
        repo.mkdir()
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        (repo / "train.py").write_text("print('hi')\n")
        subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
        subprocess.run(
            ["git", "-c", "user.name=b", "-c", "user.email=b@x", "commit", "-qm", "init"], cwd=repo, check=True
        )
        os.chdir(repo)
        import gittrack

        gittrack.init(repo)  # DVC for artifacts, as an import needs
        client = gittrack.Client(repo)
        began = time.perf_counter()
        report = client.import_mlflow(uri, registry=False)
        first = time.perf_counter() - began
        began = time.perf_counter()
        again = client.import_mlflow(uri, registry=False)
        second = time.perf_counter() - began
        points = report.metric_points
        print(f"MLflow store: {args.runs} runs x {args.metrics} metrics x {args.steps} steps "
              f"({points:,} points), built by MLflow in {built:.1f} s")  # fmt: skip
        print(f"{'what':<34} {'seconds':>9} {'runs/s':>8} {'points/s':>11}")
        print(f"{'import mlflow (all new)':<34} {first:>9.1f} {report.runs / first:>8.1f} {points / first:>11,.0f}")
        print(f"{'import mlflow again (all present)':<34} {second:>9.1f} {again.runs_present / second:>8.1f} {'-':>11}")
        assert report.runs == args.runs
        assert again.runs == 0


if __name__ == "__main__":
    main()
