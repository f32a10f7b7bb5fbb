"""Helpers shared by the benchmark scripts: MLflow's own environment and the result table."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_MLFLOW_VENV = HERE / ".mlflow-venv"

# Worker scripts start with this: argv[1] names the tool; ``t`` is its fluent API and ``start()``
# starts a run in experiment "bench" (MLflow with its SQLite backend in the current folder).
TOOL_PRELUDE = r"""
import json, os, sys, time
tool = sys.argv[1]
began = time.perf_counter()
if tool == "gittrack":
    import gittrack as t
    start = lambda: t.start_run(experiment="bench")
else:
    import mlflow as t
    t.set_tracking_uri("sqlite:///" + os.path.abspath("mlflow.db"))
    t.set_experiment("bench")
    start = lambda: t.start_run()
"""


def ensure_mlflow(venv: Path) -> str:
    """The python of a virtual environment with MLflow, created on first use (never gittrack's)."""
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"installing MLflow into {venv} (once)...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "mlflow"], check=True)
    return str(python)


def print_table(rows: list[tuple[str, float | None, float, float | None]], unit_width: int = 58) -> None:
    """``measure, target, gittrack, mlflow`` rows with the MLflow/gittrack ratio."""
    print(f"{'measure':{unit_width}} {'target':>8} {'gittrack':>10} {'mlflow':>10} {'mlflow/gittrack':>16}")
    for label, target, ours, theirs in rows:
        shown_target = f"{target:8.2f}" if target is not None else f"{'-':>8}"
        shown_theirs = f"{theirs:10.3f}" if theirs is not None else f"{'-':>10}"
        ratio = f"{theirs / ours:15.1f}x" if theirs is not None and ours else f"{'-':>16}"
        print(f"{label:{unit_width}} {shown_target} {ours:10.3f} {shown_theirs} {ratio}")


def best_of(action: Callable[[], object], repeat: int = 3) -> float:
    """The shortest wall time of ``repeat`` calls of ``action``, in seconds."""
    best = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        best.append(time.perf_counter() - start)
    return min(best)
