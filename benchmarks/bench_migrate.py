"""Import benchmark: an MLflow store of R runs x M metrics x S steps into gittrack.

    python benchmarks/bench_migrate.py [--runs 10000] [--metrics 20] [--steps 100]
    python benchmarks/bench_migrate.py --runs 10000      # the figures of docs/migrate.md
    python benchmarks/bench_migrate.py --runs 1000       # make bench
    python benchmarks/bench_migrate.py --store /tmp/mlflow-10k.db   # build the store once, reuse it

Builds the MLflow SQLite store with mlflow_store.py (MLflow's ``SqlAlchemyStore`` creates the
schema and the experiment; the runs go in through MLflow's own tables, minutes instead of the
hour MLflow's client takes at 10,000 runs) and reads it back through ``MlflowClient``. Then
runs ``gittrack import mlflow --no-registry --json`` in its own process into a fresh repository
(every run, metric point, param and tag; no artifacts), timing it and its peak RSS, and a second
import, which finds every run already there. Needs the ``gittrack[mlflow]`` extra. Prints a
timing table, not a timed test.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mlflow_store import Run, add_runs, check_store, create_experiment, create_store


def build_store(db: Path, runs: int, metrics: int, steps: int) -> tuple[float, float]:
    """The MLflow store (see mlflow_store.py), then read back through MLflow's client; both times."""
    began = time.perf_counter()
    store = create_store(db)
    experiment = create_experiment(store, "bench")
    base = 1_700_000_000_000

    def run(r: int) -> Run:
        start = base + r * 1000
        points = {f"metric_{m}": [(s, start + s, 1.0 / (s + 1) + m) for s in range(steps)] for m in range(metrics)}
        params = {"lr": str(0.001 * (r % 10 + 1)), "layers": str(r % 4 + 1)}
        return Run(f"run-{r}", start, start + steps, params, {"team": "bench", "seed": str(r)}, points)

    ids = add_runs(store, experiment, (run(r) for r in range(runs)))
    built = time.perf_counter() - began
    began = time.perf_counter()
    check_store(f"sqlite:///{db}", "bench", runs, ids[-1], run(runs - 1).params, "metric_0", steps)
    return built, time.perf_counter() - began


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def timed_import(uri: str, repo: Path) -> tuple[float, float, dict]:
    """``gittrack import mlflow`` in its own process: wall seconds, peak RSS in MB, the JSON report.

    The peak is the child's ``VmHWM``, read while it runs (``ru_maxrss`` of a child would count
    this process's own memory, inherited at fork)."""
    command = [sys.executable, "-m", "gittrack", "import", "mlflow", "--tracking-uri", uri, "--no-registry", "--json"]
    began = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(command, cwd=repo, stdout=out)
        status, peak = Path(f"/proc/{proc.pid}/status"), 0
        while proc.poll() is None:
            try:
                fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
                peak = max(peak, int(fields["VmHWM"].split()[0]))
            except (OSError, KeyError, ValueError):
                pass
            time.sleep(0.05)
        seconds = time.perf_counter() - began
        if proc.returncode:
            raise SystemExit(f"gittrack import mlflow failed ({proc.returncode})")
        out.seek(0)
        return seconds, peak / 1024, json.loads(out.read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--metrics", type=int, default=20)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--store", type=Path, help="keep the MLflow store in this file (reused if present)")
    args = parser.parse_args()
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    os.environ.setdefault("GIT_AUTHOR_NAME", "bench")
    os.environ.setdefault("GIT_AUTHOR_EMAIL", "bench@example.com")
    with tempfile.TemporaryDirectory(prefix="gittrack-bench-migrate-") as tmp:
        root = Path(tmp)
        db = args.store or root / "mlflow.db"
        if db.exists():
            built, checked = 0.0, 0.0
        else:
            built, checked = build_store(db, args.runs, args.metrics, args.steps)
        uri = f"sqlite:///{db}"
        repo = root / "repo"
        repo.mkdir()
        subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
        (repo / "train.py").write_text("print('hi')\n")
        subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
        subprocess.run(
            ["git", "-c", "user.name=b", "-c", "user.email=b@x", "commit", "-qm", "init"], cwd=repo, check=True
        )
        import gittrack

        gittrack.init(repo)  # DVC for artifacts, as an import needs
        first, rss, report = timed_import(uri, repo)
        git_mb = folder_mb(repo / ".git")
        second, rss_again, again = timed_import(uri, repo)
        points = report["metric_points"]
        print(f"MLflow store: {args.runs} runs x {args.metrics} metrics x {args.steps} steps ({points:,} points), "
              f"{db.stat().st_size / 1e6:,.0f} MB, built in {built:.1f} s (read back by MlflowClient in "
              f"{checked:.1f} s)")  # fmt: skip
        # issue 25's target: 10,000 runs x 20 metrics x 100 steps in at most 60 s
        target = "60.0" if (args.runs, args.metrics, args.steps) == (10_000, 20, 100) else "-"
        print(f"{'gittrack import mlflow':<20} {'target':>7} {'seconds':>9} {'runs/s':>8} {'points/s':>11} "
              f"{'peak RSS MB':>12}")  # fmt: skip
        print(f"{'all new':<20} {target:>7} {first:>9.1f} {report['runs'] / first:>8.1f} {points / first:>11,.0f} "
              f"{rss:>12.0f}")  # fmt: skip
        print(f"{'again (all present)':<20} {'-':>7} {second:>9.1f} {again['runs_present'] / second:>8.1f} "
              f"{'-':>11} {rss_again:>12.0f}")  # fmt: skip
        objects = subprocess.run(["git", "count-objects", "-v"], cwd=repo, capture_output=True, text=True).stdout
        counts = dict(line.split(": ") for line in objects.splitlines())
        print(f".git after the first import: {git_mb:,.0f} MB ({counts['count']} loose objects, "
              f"{counts['in-pack']} packed)")  # fmt: skip
        began = time.perf_counter()
        subprocess.run(["git", "gc", "-q"], cwd=repo, check=True)
        print(f".git after git gc: {folder_mb(repo / '.git'):,.0f} MB (gc took {time.perf_counter() - began:.0f} s)")
        assert report["runs"] == args.runs, report
        assert again["runs"] == 0, again
        assert again["runs_present"] == args.runs, again


if __name__ == "__main__":
    main()
