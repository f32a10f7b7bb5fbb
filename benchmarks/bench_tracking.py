"""Tracking benchmarks: gittrack next to MLflow on the same machine, in the same run.

    python benchmarks/bench_tracking.py [--skip-mlflow] [--mlflow-venv DIR] [--runs N] [--processes N]

Prints a table of figures (not a timed test), each row next to its target. MLflow runs from its
own virtual environment (default: benchmarks/.mlflow-venv, created on first use), never
gittrack's, with its file store (``MLFLOW_ALLOW_FILE_STORE=true``: MLflow 3 keeps it in
maintenance mode) and with its default SQLite store. Every tool runs in a fresh git repository
of 1,000 tracked files (20 folders), and again with 5,000 untracked files (50 folders) beside them.

Measured (the machine is shared, so each figure is the minimum of its repetitions, and the
tools take turns):
- ``import`` in a new process, measured inside it;
- one ``log_metric`` call inside an active run (mean over many calls);
- a whole run, the same script for every tool (``set_experiment``, then ``start_run``, 10 params,
  5 metrics, 3 tags, end), in a warm process: per run;
- the same with the 5,000 untracked files in the work tree (MLflow does not look at them);
- a new process running ``import <tool>`` and that one run, timed from outside (interpreter
  start-up included), after one such process wrote the tool's caches and databases.
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
from common import DEFAULT_MLFLOW_VENV, ensure_mlflow

UNTRACKED = 5000
ONE_RUN = """
import {module} as t
t.set_experiment("bench")
with t.start_run():
    t.log_params({{f"p{{j}}": j for j in range(10)}})
    for k in range(5):
        t.log_metric(f"m{{k}}", 0.5 * k)
    t.set_tags({{"a": 1, "b": 2, "c": 3}})
"""
WORKER = r"""
import json, sys, time
module, runs, calls = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
began = time.perf_counter()
t = __import__(module)
t.set_experiment("bench")

def whole_run():
    with t.start_run():
        t.log_params({f"p{j}": j for j in range(10)})
        for k in range(5):
            t.log_metric(f"m{k}", 0.5 * k)
        t.set_tags({"a": 1, "b": 2, "c": 3})

whole_run()  # the first run pays for lazy imports, caches and database schema
times = []
for _ in range(runs):
    began = time.perf_counter()
    whole_run()
    times.append((time.perf_counter() - began) * 1000)
log_metric_us = None
if calls:
    with t.start_run():
        t.log_metric("warm", 0.0)
        began = time.perf_counter()
        for i in range(calls):
            t.log_metric("loss", 0.1, step=i)
        log_metric_us = (time.perf_counter() - began) / calls * 1e6
times.sort()
print(json.dumps({"run_ms": times[0], "run_median_ms": times[len(times) // 2], "log_metric_us": log_metric_us}))
"""


def make_repo(root: Path, files: int = 1000, untracked: int = 0) -> None:
    """A git repository with ``files`` tracked files in 20 folders, committed, and ``untracked``
    files in 50 other folders; file times aged past git's and gittrack's racy windows."""
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    for i in range(files):
        folder = root / f"src{i % 20}"
        folder.mkdir(exist_ok=True)
        (folder / f"module_{i}.py").write_text(f"VALUE = {i}\n")
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com"}
    env |= {"GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}
    subprocess.run(["git", "add", "."], cwd=root, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "bench"], cwd=root, check=True, env=env)
    for i in range(untracked):
        folder = root / f"data{i % 50}"
        folder.mkdir(exist_ok=True)
        (folder / f"sample_{i}.txt").write_text(f"sample {i}\n")
    time.sleep(2.1)  # let file times age past the index's, as in a real repository
    subprocess.run(["git", "status", "--short"], cwd=root, check=True, capture_output=True)


def _env(store: str | None, root: Path) -> dict[str, str]:
    """The environment of a tool's process: bytecode caches on (as installed packages have them),
    MLflow's store chosen by ``store`` (``file`` or ``sqlite``) in ``root``."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "MLFLOW_TRACKING_URI")}
    env |= {"GIT_PYTHON_REFRESH": "quiet", "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false"}
    if store == "file":
        env |= {"MLFLOW_ALLOW_FILE_STORE": "true", "MLFLOW_TRACKING_URI": (root / "mlruns").as_uri()}
    elif store == "sqlite":
        env["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
    return env


def import_ms(python: str, module: str, cwd: Path, repeat: int = 7) -> float:
    """Best wall time of ``import module`` in a new interpreter, measured inside it."""
    code = f"import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"
    env = _env(None, cwd)
    times = [
        float(subprocess.run([python, "-c", code], cwd=cwd, capture_output=True, text=True, check=True, env=env).stdout)
        for _ in range(repeat)
    ]
    return min(times)


class Tool:
    """One tool as measured: its interpreter, module and (for MLflow) store, in its own repositories."""

    def __init__(self, name: str, python: str, module: str, store: str | None, root: Path) -> None:
        self.name, self.python, self.module, self.store = name, python, module, store
        self.repo = root / name
        self.crowded = root / f"{name}-untracked"
        make_repo(self.repo)
        make_repo(self.crowded, untracked=UNTRACKED)

    def warm(self, repo: Path, runs: int, calls: int = 0) -> dict[str, float]:
        out = subprocess.run([self.python, "-c", WORKER, self.module, str(runs), str(calls)], cwd=repo,
                             capture_output=True, text=True, env=_env(self.store, repo))  # fmt: skip
        if out.returncode != 0:
            raise SystemExit(f"{self.name} worker failed:\n{out.stderr[-2000:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    def new_process_ms(self) -> float:
        """Wall time of a new interpreter running ``import <module>`` and one whole run."""
        began = time.perf_counter()
        subprocess.run([self.python, "-c", ONE_RUN.format(module=self.module)], cwd=self.repo, check=True,
                       capture_output=True, env=_env(self.store, self.repo))  # fmt: skip
        return (time.perf_counter() - began) * 1000


def measure(tools: list[Tool], runs: int, processes: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {tool.name: {} for tool in tools}
    for tool in tools:
        tool.new_process_ms()  # writes bytecode caches, databases, gittrack's caches
    for _ in range(processes):  # turns, so that a busy moment of the machine hits every tool
        for tool in tools:
            ms = tool.new_process_ms()
            results[tool.name]["new_process_ms"] = min(results[tool.name].get("new_process_ms", ms), ms)
    for tool in tools:
        calls = 200_000 if tool.module == "gittrack" else 300
        for attempt in range(3):  # best of three processes
            warm = tool.warm(tool.repo, runs, calls if attempt == 0 else 0)
            crowded = tool.warm(tool.crowded, runs)
            figures = results[tool.name]
            if attempt == 0:
                figures["log_metric_us"] = warm["log_metric_us"]
            for key, value in (("run_ms", warm["run_ms"]), ("crowded_run_ms", crowded["run_ms"]),
                               ("run_median_ms", warm["run_median_ms"]),
                               ("crowded_median_ms", crowded["run_median_ms"])):  # fmt: skip
                figures[key] = min(figures.get(key, value), value)
        results[tool.name]["import_ms"] = import_ms(tool.python, tool.module, tool.repo)
    return results


def report(results: dict[str, dict[str, float]]) -> list[tuple[str, str, float, float | None, float | None, str]]:
    """Rows: measure, target, gittrack, MLflow file store, MLflow SQLite, whether the target is met."""
    ours = results["gittrack"]
    file = results.get("mlflow-file", {})
    sqlite = results.get("mlflow-sqlite", {})

    def times(key: str, other: dict[str, float]) -> float | None:
        return other[key] / ours[key] if key in other else None

    run_vs_file = times("run_ms", file)
    process_vs_file, process_vs_sqlite = times("new_process_ms", file), times("new_process_ms", sqlite)
    return [
        ("import (new process), ms", "<= 100", ours["import_ms"], file.get("import_ms"), None,
         _met(ours["import_ms"] <= 100)),
        ("log_metric in a run, us/call", "<= 5", ours["log_metric_us"], file.get("log_metric_us"),
         sqlite.get("log_metric_us"), _met(ours["log_metric_us"] <= 5)),
        ("whole run, warm process, ms", "<= 3, >= 3x file", ours["run_ms"], file.get("run_ms"), sqlite.get("run_ms"),
         _met(ours["run_ms"] <= 3 and (run_vs_file is None or run_vs_file >= 3))),
        (f"  the same, {UNTRACKED:,} untracked files, ms", "as without", ours["crowded_run_ms"],
         file.get("crowded_run_ms"), sqlite.get("crowded_run_ms"), _met(ours["crowded_run_ms"] <= 3)),
        ("  median of the runs above (no untracked), ms", "", ours["run_median_ms"], file.get("run_median_ms"),
         sqlite.get("run_median_ms"), ""),
        (f"  median of the runs above ({UNTRACKED:,} untracked), ms", "", ours["crowded_median_ms"],
         file.get("crowded_median_ms"), sqlite.get("crowded_median_ms"), ""),
        ("new process: import + one whole run, ms", ">= 15x MLflow", ours["new_process_ms"],
         file.get("new_process_ms"), sqlite.get("new_process_ms"),
         _met((process_vs_sqlite or 0) >= 15) + f" (file {_x(process_vs_file)}, SQLite {_x(process_vs_sqlite)})"),
        ("whole run, warm: MLflow file store / gittrack", ">= 3x", run_vs_file or 0.0, None, None,
         _met((run_vs_file or 0) >= 3)),
    ]  # fmt: skip


def _met(ok: bool) -> str:
    return "met" if ok else "MISSED"


def _x(ratio: float | None) -> str:
    return f"{ratio:.1f}x" if ratio is not None else "-"


def print_rows(rows) -> None:
    print(f"{'measure':50} {'target':>18} {'gittrack':>9} {'MLflow file':>12} {'MLflow SQLite':>14}  result")
    for label, target, ours, file, sqlite, met in rows:
        cells = [f"{v:12.2f}" if v is not None else f"{'-':>12}" for v in (file, sqlite)]
        print(f"{label:50} {target:>18} {ours:9.2f} {cells[0]} {cells[1]:>14}  {met}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-mlflow", action="store_true", help="measure gittrack alone")
    parser.add_argument("--mlflow-venv", type=Path, default=DEFAULT_MLFLOW_VENV)
    parser.add_argument("--runs", type=int, default=50, help="whole runs per warm process (default 50)")
    parser.add_argument("--processes", type=int, default=9, help="new processes per tool (default 9)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="gittrack-bench-") as tmp:
        root = Path(tmp)
        tools = [Tool("gittrack", sys.executable, "gittrack", None, root)]
        if not args.skip_mlflow:
            python = ensure_mlflow(args.mlflow_venv)
            tools += [Tool("mlflow-file", python, "mlflow", "file", root),
                      Tool("mlflow-sqlite", python, "mlflow", "sqlite", root)]  # fmt: skip
        print_rows(report(measure(tools, args.runs, args.processes)))


if __name__ == "__main__":
    main()
