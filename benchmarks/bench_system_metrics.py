"""System metrics overhead: a CPU-bound loop in a run, without and with the sampler.

    python benchmarks/bench_system_metrics.py [--seconds 60] [--repeat 1]

Calibrates a pure-Python loop to take ``--seconds`` (default 60), then runs it inside a
gittrack run without system metrics and with them at the default interval (10 s: a reading
every second, a logged point every 10), alternating ``--repeat`` times, in a fresh git
repository. Prints the loop's wall time and the process's CPU time (the sampler thread's
included) each way, the slowdown of each (target: under 1 %), and what the sampler's readings
cost. On a shared machine the wall times carry the other processes' load: the CPU-time
slowdown is the figure to trust there, and the spread between repeats says how noisy the wall
times were.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

TARGET_SLOWDOWN_PERCENT = 1.0


def work(n: int) -> int:
    """CPU-bound pure Python: holds the GIL, as a training loop in Python does."""
    total = 0
    for i in range(n):
        total += (i * i) % 7
    return total


def calibrate(seconds: float) -> int:
    n = 1_000_000
    while True:
        start = time.perf_counter()
        work(n)
        took = time.perf_counter() - start
        if took > 0.5:
            return int(n * seconds / took)
        n *= 2


def timed_run(n: int, system_metrics: bool) -> tuple[float, float]:
    """Wall and process CPU seconds of the loop, in a run with or without system metrics."""
    import gittrack

    with gittrack.start_run(experiment="bench", log_system_metrics=system_metrics):
        wall, cpu = time.perf_counter(), time.process_time()
        work(n)
        return time.perf_counter() - wall, time.process_time() - cpu


def sampler_cost_us(count: int = 100) -> tuple[float, float]:
    """Microseconds per ``read()`` (every second) and per ``totals()`` (once per interval)."""
    from gittrack._system_metrics import Sampler

    sampler = Sampler()
    start = time.perf_counter()
    for _ in range(count):
        sampler.read()
    middle = time.perf_counter()
    for _ in range(count):
        sampler.totals()
    end = time.perf_counter()
    sampler.close()
    return (middle - start) / count * 1e6, (end - middle) / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the loop (default 60)")
    parser.add_argument("--repeat", type=int, default=1, help="pairs of runs, alternating (default 1)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gittrack-bench-") as tmp:
        subprocess.run(["git", "init", "-q", tmp], check=True)
        os.chdir(tmp)
        Path("train.py").write_text("print('training')\n")
        os.environ.pop("GITTRACK_SYSTEM_METRICS_INTERVAL", None)  # the default interval, 10 s
        n = calibrate(args.seconds)
        without, with_ = [], []
        for _ in range(args.repeat):
            without.append(timed_run(n, False))
            with_.append(timed_run(n, True))
        read_us, totals_us = sampler_cost_us()
    wall0, wall1 = statistics.median(w for w, _ in without), statistics.median(w for w, _ in with_)
    cpu0, cpu1 = statistics.median(c for _, c in without), statistics.median(c for _, c in with_)
    spread = (max(w for w, _ in without) - min(w for w, _ in without)) / wall0 * 100 if args.repeat > 1 else 0.0
    per_second = (read_us + totals_us / 10) / 1e6 * 100
    rows = [
        ("loop without system metrics: wall s / CPU s (median)", f"{wall0:.2f} / {cpu0:.2f}"),
        ("loop with system metrics at 10 s: wall s / CPU s", f"{wall1:.2f} / {cpu1:.2f}"),
        (f"slowdown in CPU time, % (target < {TARGET_SLOWDOWN_PERCENT:g})", f"{(cpu1 - cpu0) / cpu0 * 100:.2f}"),
        ("slowdown in wall time, %", f"{(wall1 - wall0) / wall0 * 100:.2f}"),
        ("spread of the wall times without, %", f"{spread:.2f}"),
        ("sampler: read() / totals(), us", f"{read_us:.0f} / {totals_us:.0f}"),
        ("sampler's share of one core (1 read/s, totals/10 s), %", f"{per_second:.3f}"),
    ]
    for label, value in rows:
        print(f"{label:58} {value:>16}")


if __name__ == "__main__":
    main()
