"""Search benchmarks: gittrack's search_runs and runs list next to MLflow's (SQLite backend).

    python benchmarks/bench_search.py [--small N] [--large N] [--skip-mlflow] [--mlflow-venv DIR]

Builds two repositories of synthetic runs (10 params, 5 metrics with 10 points each, 3 tags),
packed with git gc as after a clone (see synth.py), each in two layouts: "packed", the runs in
their experiment's index ref (``gittrack runs pack``, as a remote that gittrack pushes to holds
them), and "refs", one ref per run (runs recorded locally and not packed yet). And MLflow SQLite
databases holding the same runs, created by MLflow itself and filled with bulk SQL inserts in
MLflow's schema, since logging 100,000 runs through its API would take hours.

Prints (a timing table, not a timed test), for both layouts:
- search_runs() with no filter over the small set: cold (no index) and warm (best of 3); the
  modules its first call would load are loaded (and timed) first, as ``import mlflow`` is;
- the filter "metrics.rmse < 0.5 and params.model = 'rf'" ordered by metrics.rmse over the
  large set, warm (and the cold index build before it);
- a first page (100 runs) of one filter of each kind the grammar has (comparisons, numeric
  params, LIKE/ILIKE, IN, IS NULL, NOT, attributes), each ordered, over the large set, warm:
  the worst of them against its target, and each one;
- ``gittrack runs list --limit 20`` over the large set as a whole process, warm; for MLflow,
  ``mlflow runs list`` of the same experiment (it has no limit option).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DEFAULT_MLFLOW_VENV, best_of, ensure_mlflow, print_table
from synth import METRICS, POINTS, build_repo, synthetic_run

from gittrack._store.record import dump_summary

FILTER = "metrics.rmse < 0.5 and params.model = 'rf'"
ORDER = ["metrics.rmse ASC"]

GITTRACK_WORKER = r"""
import json, sys, time, pathlib
import pandas, gittrack
mode = sys.argv[1]
if mode == "small":
    for p in pathlib.Path(".git/gittrack").glob("index.sqlite*"):
        p.unlink()
    # the modules the first call would load (gittrack loads its API lazily): timed on their own, as
    # MLflow's are loaded by 'import mlflow' before its clock starts
    t = time.perf_counter(); import pygit2, gittrack._fluent, gittrack._search; modules = time.perf_counter() - t
    t = time.perf_counter(); n = len(gittrack.search_runs()); cold = time.perf_counter() - t
    warm = []
    for _ in range(3):
        t = time.perf_counter(); gittrack.search_runs(); warm.append(time.perf_counter() - t)
    print(json.dumps({"cold": cold, "warm": min(warm), "n": n, "modules": modules}))
else:
    t = time.perf_counter(); gittrack.search_runs(max_results=1); build = time.perf_counter() - t
    best = []
    for _ in range(3):
        t = time.perf_counter(); n = len(gittrack.search_runs(filter_string=sys.argv[2], order_by=[sys.argv[3]]))
        best.append(time.perf_counter() - t)
    # a first page (what 'runs list' and the UI ask for) of each kind of filter the grammar has, warm
    client, pages = gittrack.Client(), {}
    for text, order in json.loads(sys.argv[4]):
        client.find_rows(filter_string=text, order_by=order, max_results=100)  # makes the keys' columns
        times = []
        for _ in range(3):
            t = time.perf_counter(); client.find_rows(filter_string=text, order_by=order, max_results=100)
            times.append(time.perf_counter() - t)
        pages[text + " | " + ",".join(order or [])] = min(times)
    print(json.dumps({"build": build, "filter": min(best), "n": n, "pages": pages}))
"""
# one of each kind: metric and param comparisons, numeric params, LIKE, IN, IS NULL, NOT, attributes
PAGES = [
    ["metrics.rmse < 0.5 and params.model = 'rf'", ["metrics.rmse ASC"]],
    ["tags.team = 'ops' and params.depth > 5", ["metrics.r2 DESC"]],
    ["params.optimizer LIKE 'ad%' or params.features ILIKE 'BASE%'", ["params.lr DESC"]],
    ["params.model IN ('rf', 'gbm') and metrics.mae >= 0.9", ["metrics.mae ASC"]],
    ["tags.reviewed IS NULL and NOT metrics.val_loss > 0.1", ["start_time DESC"]],
    ["status = 'FINISHED' and attributes.run_name LIKE 'run-1%'", ["metrics.rmse DESC"]],
    ["", ["metrics.rmse DESC"]],
]

MLFLOW_WORKER = r"""
import json, os, sys, time
import mlflow
mlflow.set_tracking_uri("sqlite:///" + os.path.abspath(sys.argv[2]))
mode = sys.argv[1]
if mode == "small":
    t = time.perf_counter(); n = len(mlflow.search_runs(experiment_names=["bench"])); cold = time.perf_counter() - t
    warm = []
    for _ in range(3):
        t = time.perf_counter(); mlflow.search_runs(experiment_names=["bench"]); warm.append(time.perf_counter() - t)
    print(json.dumps({"cold": cold, "warm": min(warm), "n": n}))
else:
    best = []
    for _ in range(3):
        t = time.perf_counter()
        n = len(mlflow.search_runs(experiment_names=["bench"], filter_string=sys.argv[3], order_by=[sys.argv[4]]))
        best.append(time.perf_counter() - t)
    print(json.dumps({"filter": min(best), "n": n}))
"""


def run_json(args: list[str], cwd: Path) -> dict:
    out = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{args[0]} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def wall(args: list[str], cwd: Path, repeat: int = 3, timeout: float = 600, env: dict | None = None) -> float:
    """Best wall time of a whole command."""
    environ = {**os.environ, **(env or {})}
    return best_of(lambda: subprocess.run(args, cwd=cwd, capture_output=True, check=True, timeout=timeout,
                                          env=environ), repeat)  # fmt: skip


def build_mlflow_db(python: str, path: Path, count: int) -> None:
    """An MLflow SQLite store (schema made by MLflow) holding ``count`` runs like synth.py's."""
    code = "import mlflow,sys; mlflow.set_tracking_uri('sqlite:///' + sys.argv[1]); mlflow.create_experiment('bench')"
    subprocess.run([python, "-c", code, str(path)], check=True, capture_output=True)
    conn = sqlite3.connect(path)
    exp_id = conn.execute("SELECT experiment_id FROM experiments WHERE name = 'bench'").fetchone()[0]
    rng = random.Random(7)
    runs, params, metrics, latest, tags = [], [], [], [], []
    for i in range(count):
        record, _ = synthetic_run(i, rng, "bench")
        run = uuid.uuid4().hex
        runs.append((run, record.name, "LOCAL", "train.py", "", "bench", "FINISHED", record.start_time,
                     record.end_time, "", "active", f"/tmp/artifacts/{run}", exp_id, None))  # fmt: skip
        params.extend((k, v, run) for k, v in record.params.items())
        tags.extend((k, v, run) for k, v in {**record.tags, "mlflow.runName": record.name}.items())
        for key in METRICS:
            m = record.metrics[key]
            latest.append((key, m.value, m.timestamp, m.step, 0, run))
            metrics.extend(
                (key, m.value + (POINTS - 1 - s) * 0.01, record.start_time + s * 10, run, s, 0) for s in range(POINTS)
            )
    with conn:
        conn.executemany(f"INSERT INTO runs VALUES ({','.join('?' * 14)})", runs)
        conn.executemany("INSERT INTO params VALUES (?, ?, ?)", params)
        conn.executemany("INSERT INTO tags VALUES (?, ?, ?)", tags)
        conn.executemany("INSERT INTO latest_metrics VALUES (?, ?, ?, ?, ?, ?)", latest)
        conn.executemany("INSERT INTO metrics VALUES (?, ?, ?, ?, ?, ?)", metrics)
    conn.close()


def machine_speed() -> float:
    """Best of three: json.loads of a synthetic run summary 10,000 times. The figures of a shared
    VM vary by half between runs; this line says how fast the machine was."""
    summary = dump_summary(synthetic_run(0, random.Random(7), "bench")[0])
    return best_of(lambda: [json.loads(summary) for _ in range(10_000)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--mlflow-venv", type=Path, default=DEFAULT_MLFLOW_VENV)
    parser.add_argument("--workdir", type=Path, help="keep the generated repositories here (reused if present)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="gittrack-bench-search-") as tmp:
        root = args.workdir or Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        gittrack_cmd = str(Path(sys.executable).parent / "gittrack")
        results = {}
        for layout in ("packed", "refs"):
            repos = {}
            for size in (args.small, args.large):
                repo = root / f"runs-{size}"
                if not (repo / ".git").exists():
                    print(f"building {size} runs with git fast-import...", file=sys.stderr)
                    build_repo(repo, size)
                if layout == "packed":
                    packed = root / f"runs-{size}-packed"
                    if not (packed / ".git").exists():
                        print(f"packing {size} runs...", file=sys.stderr)
                        shutil.copytree(repo, packed, ignore=shutil.ignore_patterns("gittrack"))
                        subprocess.run([gittrack_cmd, "runs", "pack"], cwd=packed, check=True, capture_output=True)
                        subprocess.run(["git", "gc", "-q", "--prune=now"], cwd=packed, check=True)
                    repo = packed
                repos[size] = repo
            small = run_json([sys.executable, "-c", GITTRACK_WORKER, "small"], repos[args.small])
            large = run_json([sys.executable, "-c", GITTRACK_WORKER, "large", FILTER, ORDER[0], json.dumps(PAGES)],
                             repos[args.large])  # fmt: skip
            listing = wall([gittrack_cmd, "runs", "list", "--limit", "20"], repos[args.large])
            results[layout] = (small, large, listing)
        theirs: dict[str, float | None] = {}
        if not args.skip_mlflow:
            python = ensure_mlflow(args.mlflow_venv)
            dbs = {}
            for size in (args.small, args.large):
                dbs[size] = root / f"mlflow-{size}.db"
                if not dbs[size].exists():
                    print(f"building the MLflow store of {size} runs...", file=sys.stderr)
                    build_mlflow_db(python, dbs[size], size)
            m_small = run_json([python, "-c", MLFLOW_WORKER, "small", str(dbs[args.small])], root)
            m_large = run_json([python, "-c", MLFLOW_WORKER, "large", str(dbs[args.large]), FILTER, ORDER[0]], root)
            exp_id = sqlite3.connect(dbs[args.large]).execute(
                "SELECT experiment_id FROM experiments WHERE name = 'bench'"
            )
            mlflow_cli = [
                str(Path(python).parent / "mlflow"),
                "runs",
                "list",
                "--experiment-id",
                str(exp_id.fetchone()[0]),
            ]
            try:
                env = {"MLFLOW_TRACKING_URI": f"sqlite:///{dbs[args.large]}"}
                env_list = wall(mlflow_cli, root, repeat=1, timeout=600, env=env)
            except subprocess.TimeoutExpired:
                print("note: 'mlflow runs list' did not finish in 600 s", file=sys.stderr)
                env_list = None
            theirs = {
                "cold": m_small["cold"], "warm": m_small["warm"], "filter": m_large["filter"], "list": env_list,
            }  # fmt: skip
            ours = results["packed"][1]["n"]
            if m_large["n"] != ours:
                print(f"note: MLflow matched {m_large['n']} runs, gittrack {ours}", file=sys.stderr)

    large = results["packed"][1]
    print(f"machine speed now: {machine_speed():.3f}s to parse one run summary 10,000 times (0.16 s when quiet)")
    print(f"small set: {args.small} runs, large set: {args.large} runs; filter: {FILTER!r}, order by {ORDER[0]}")
    print(f"matching runs in the large set: {large['n']}")
    rows = []
    for layout, (small, large, listing) in results.items():
        print(f"{layout}: index build (cold) over the large set: {large['build']:.2f}s", file=sys.stderr)
        print(f"{layout}: loading gittrack's API modules and pygit2 (before the cold search): {small['modules']:.2f}s")
        rows += [
            (f"[{layout}] search_runs(), {args.small} runs, cold, s", 1.0, small["cold"], theirs.get("cold")),
            (f"[{layout}] search_runs(), {args.small} runs, warm, s", 0.15, small["warm"], theirs.get("warm")),
            (f"[{layout}] filter + order, {args.large} runs, warm, s", 1.5, large["filter"], theirs.get("filter")),
            (f"[{layout}] filter + order, first page, {args.large} runs, worst, s", 0.05, max(large["pages"].values()),
             None),
            (f"[{layout}] 'runs list --limit 20', {args.large} runs, s", 0.8, listing, theirs.get("list")),
        ]  # fmt: skip
    print_table(rows, unit_width=62)
    print(f"first page (100 runs) of {args.large} runs, warm, best of 3, by filter (packed):")
    for query, seconds in results["packed"][1]["pages"].items():
        print(f"  {seconds * 1000:6.1f} ms  {query}")


if __name__ == "__main__":
    main()
