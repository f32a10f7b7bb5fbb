"""Artifact benchmarks: gittrack's log_artifact (DVC cache) next to MLflow's, in the same run.

    python benchmarks/bench_artifacts.py [--skip-mlflow] [--mlflow-venv DIR]

Measures, inside an active run, ``log_artifact`` of one 100 MB file and of a folder of 1,000
small files (``log_artifacts``), for gittrack (repository with DVC set up, local cache) and for
MLflow (SQLite backend, local artifact store). Prints a table (not a timed test).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_MLFLOW_VENV, TOOL_PRELUDE, ensure_mlflow, print_table

WORKER = (
    TOOL_PRELUDE
    + r"""
big, small = sys.argv[2], sys.argv[3]
with start():
    t0 = time.perf_counter(); t.log_artifact(big); big_s = time.perf_counter() - t0
    t0 = time.perf_counter(); t.log_artifacts(small, "small"); small_s = time.perf_counter() - t0
    t0 = time.perf_counter(); t.log_artifact(big, "again"); again_s = time.perf_counter() - t0
print(json.dumps({"big": big_s, "small": small_s, "again": again_s}))
"""
)


def make_inputs(root: Path) -> tuple[Path, Path]:
    big = root / "weights.bin"
    with big.open("wb") as out:
        for _ in range(100):
            out.write(os.urandom(1024 * 1024))
    small = root / "small"
    small.mkdir()
    for i in range(1000):
        (small / f"part-{i:04d}.json").write_text(json.dumps({"i": i, "pad": "x" * 200}))
    return big, small


def run(python: str, tool: str, cwd: Path, big: Path, small: Path) -> dict[str, float]:
    out = subprocess.run([python, "-c", WORKER, tool, str(big), str(small)], cwd=cwd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{tool} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--mlflow-venv", type=Path, default=DEFAULT_MLFLOW_VENV)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gittrack-bench-artifacts-") as tmp:
        root = Path(tmp)
        big, small = make_inputs(root)
        repo = root / "repo"
        repo.mkdir()
        subprocess.run(["git", "init", "-q", str(repo)], check=True)
        gittrack = [sys.executable, "-m", "gittrack", "init", "--no-commit"]
        subprocess.run(gittrack, cwd=repo, check=True, capture_output=True)
        ours = run(sys.executable, "gittrack", repo, big, small)
        theirs: dict[str, float] = {}
        if not args.skip_mlflow:
            work = root / "mlflow"
            work.mkdir()
            theirs = run(ensure_mlflow(args.mlflow_venv), "mlflow", work, big, small)
    print_table(
        [
            ("log_artifact, one 100 MB file, s", None, ours["big"], theirs.get("big")),
            ("log_artifacts, 1,000 small files, s", None, ours["small"], theirs.get("small")),
            ("log_artifact, the same 100 MB file again, s", None, ours["again"], theirs.get("again")),
        ]
    )


if __name__ == "__main__":
    main()
