"""Tracking benchmarks: gittrack next to MLflow on the same machine, in the same run.

    python benchmarks/bench_tracking.py [--skip-mlflow] [--mlflow-venv DIR]

Prints a table of figures (not a timed test). MLflow is installed into its own virtual
environment (default: benchmarks/.mlflow-venv, created on first use), never into gittrack's.
Both tools run in a fresh git repository with 1,000 tracked files; MLflow uses its SQLite
backend in that folder.

Measured:
- ``import`` in a new process (best of 7);
- one ``log_metric`` call inside an active run (mean over many calls);
- a whole run: start, 10 params, 5 metrics, 3 tags, end (mean over 50 runs);
- ``import`` plus the first whole run in a new process, where gittrack loads what
  ``import gittrack`` deferred and MLflow creates its database.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_MLFLOW_VENV, TOOL_PRELUDE, ensure_mlflow, print_table

TARGETS = {"import_ms": 100.0, "log_metric_us": 5.0, "run_ms": 10.0, "first_run_ms": None}
LABELS = {
    "import_ms": "import (new process), ms",
    "log_metric_us": "log_metric in a run, us/call",
    "run_ms": "whole run (10 params, 5 metrics, 3 tags), ms",
    "first_run_ms": "import + first whole run in a new process, ms",
}

WORKER = (
    TOOL_PRELUDE
    + r"""
calls, runs = int(sys.argv[2]), int(sys.argv[3])

def whole_run():
    with start():
        t.log_params({f"p{j}": j for j in range(10)})
        for k in range(5):
            t.log_metric(f"m{k}", 0.5 * k)
        t.set_tags({"a": 1, "b": 2, "c": 3})

whole_run()  # the first run pays for lazy imports, caches and database schema
first_run_ms = (time.perf_counter() - began) * 1000
began = time.perf_counter()
for _ in range(runs):
    whole_run()
run_ms = (time.perf_counter() - began) / runs * 1000
with start():
    t.log_metric("warm", 0.0)
    began = time.perf_counter()
    for i in range(calls):
        t.log_metric("loss", 0.1, step=i)
    log_metric_us = (time.perf_counter() - began) / calls * 1e6
print(json.dumps({"run_ms": run_ms, "log_metric_us": log_metric_us, "first_run_ms": first_run_ms}))
"""
)


def make_repo(root: Path, files: int = 1000) -> None:
    """A git repository with ``files`` tracked files in 20 folders, committed and refreshed."""
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    for i in range(files):
        folder = root / f"src{i % 20}"
        folder.mkdir(exist_ok=True)
        (folder / f"module_{i}.py").write_text(f"VALUE = {i}\n")
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com"}
    env |= {"GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}
    subprocess.run(["git", "add", "."], cwd=root, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "bench"], cwd=root, check=True, env=env)
    time.sleep(1.1)  # let file times age past the index's, as in a real repository
    subprocess.run(["git", "status", "--short"], cwd=root, check=True, capture_output=True)


def import_ms(python: str, module: str, cwd: Path) -> float:
    """Best wall time of ``import module`` in a new interpreter, measured inside it."""
    code = f"import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"
    times = [
        float(subprocess.run([python, "-c", code], cwd=cwd, capture_output=True, text=True, check=True).stdout)
        for _ in range(7)
    ]
    return min(times)


def worker(python: str, tool: str, cwd: Path, calls: int, runs: int) -> dict[str, float]:
    env = {**os.environ, "GIT_PYTHON_REFRESH": "quiet", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    out = subprocess.run(
        [python, "-c", WORKER, tool, str(calls), str(runs)], cwd=cwd, capture_output=True, text=True, env=env
    )
    if out.returncode != 0:
        raise SystemExit(f"{tool} worker failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(tool: str, python: str, module: str, root: Path, calls: int, runs: int) -> dict[str, float]:
    repo = root / tool
    make_repo(repo)
    figures = worker(python, tool, repo, calls, runs)
    figures["import_ms"] = import_ms(python, module, repo)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-mlflow", action="store_true", help="measure gittrack alone")
    parser.add_argument("--mlflow-venv", type=Path, default=DEFAULT_MLFLOW_VENV)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="gittrack-bench-") as tmp:
        root = Path(tmp)
        results = {"gittrack": measure("gittrack", sys.executable, "gittrack", root, 200_000, 50)}
        if not args.skip_mlflow:
            results["mlflow"] = measure("mlflow", ensure_mlflow(args.mlflow_venv), "mlflow", root, 300, 20)
    rows = [
        (label, TARGETS[key], results["gittrack"][key], results.get("mlflow", {}).get(key))
        for key, label in LABELS.items()
    ]
    print_table(rows)


if __name__ == "__main__":
    main()
