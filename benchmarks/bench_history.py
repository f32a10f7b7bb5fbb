"""Long metric histories: time and peak memory of reading one back.

    python benchmarks/bench_history.py [--points 10000000]

Logs one metric of ``--points`` points (in proper segments) in a fresh repository, then runs,
each as its own process: ``gittrack metrics RUN --csv`` (streams, constant memory),
``gittrack runs show RUN`` (reads the run's summary, never the history),
``Client.get_metric_history`` (returns the whole list of ``Metric``), ``Client.get_metric_arrays``
(numpy columns) and the fluent ``gittrack.get_metric_history`` (a DataFrame). Prints wall time and peak RSS (a timing
printout, not a timed test).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
LOG = r"""
import sys, gittrack
client = gittrack.Client(".")
run_id = client.create_run(experiment="long").info.run_id
for i in range(int(sys.argv[1])):
    client.log_metric(run_id, "loss", (i % 977) / 977, step=i, timestamp=1_700_000_000_000 + i)
client.set_terminated(run_id)
print(run_id)
"""
HISTORY = r"""
import sys, gittrack
print(len(gittrack.Client(".").get_metric_history(sys.argv[1], "loss")))
"""
ARRAYS = r"""
import sys, gittrack
print(len(gittrack.Client(".").get_metric_arrays(sys.argv[1], "loss").value))
"""
FRAME = r"""
import sys, gittrack
print(len(gittrack.get_metric_history(sys.argv[1], "loss")))
"""


# runs a command and prints its own peak RSS (KB): RUSAGE_CHILDREN of a fresh parent is that child's alone
PEAK = r"""
import resource, subprocess, sys
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def measured(argv: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one command in its own process."""
    start = time.perf_counter()
    peak = subprocess.run([sys.executable, "-c", PEAK, *argv], cwd=cwd, check=True, capture_output=True, text=True)
    return time.perf_counter() - start, int(peak.stdout) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gittrack-bench-history-") as folder:
        root = Path(folder)
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        (root / "train.py").write_text("pass\n")
        subprocess.run(["git", "add", "."], cwd=root, check=True)
        subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@x", "commit", "-qm", "i"], cwd=root, check=True)
        start = time.perf_counter()
        run_id = subprocess.run([sys.executable, "-c", LOG, str(args.points)], cwd=root, check=True,
                                capture_output=True, text=True).stdout.strip()  # fmt: skip
        print(f"logged {args.points:,} points in {time.perf_counter() - start:.1f} s")
        print(f"{'command':40} {'seconds':>8} {'peak MB':>8}")
        for label, argv in (
            ("runs show RUN", [str(BIN / "gittrack"), "runs", "show", run_id]),
            ("metrics RUN --csv", [str(BIN / "gittrack"), "metrics", run_id, "--csv"]),
            ("Client.get_metric_history", [sys.executable, "-c", HISTORY, run_id]),
            ("Client.get_metric_arrays", [sys.executable, "-c", ARRAYS, run_id]),
            ("gittrack.get_metric_history (DataFrame)", [sys.executable, "-c", FRAME, run_id]),
        ):
            seconds, peak = measured(argv, root)
            print(f"{label:40} {seconds:8.2f} {peak:8.0f}")


if __name__ == "__main__":
    main()
