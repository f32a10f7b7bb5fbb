"""Scale benchmark: one repository of a million packed runs (10 experiments), each figure next to
its target (issue 25).

    python benchmarks/bench_scale.py [--runs 1000000] [--experiments 10] [--workdir DIR] [--skip-pull]
    python benchmarks/bench_scale.py --runs 100000 --workdir /tmp/scale-100k   # a quicker look

Builds the repository with synth.py's ``build_packed_repo`` (git fast-import: the runs' commits
and their experiments' index refs, as ``gittrack runs pack`` leaves them; about a quarter of an
hour for a million runs), or reuses it from ``--workdir``. Then, each in its own process:

- the size of ``.git`` per run;
- the first search, which builds the search index (``.git/gittrack/index.sqlite``), with its peak
  memory;
- a first page (20 runs) of a filtered, ordered search, warm (best of 3, the keys' typed columns
  made by a first query, timed too);
- ``gittrack runs list --limit 20`` as a whole process, warm (best of 3);
- the web UI's JSON API, ``/api/runs`` first page with a filter and an order (the runs page's
  first request; best of 5);
- ``gittrack pull`` of every packed run into a fresh clone (``git clone`` of a mirror of the
  repository, on this machine), with its peak memory, and, apart, what git's own fetch of the
  index refs costs in that clone (time and peak memory of git's processes).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth import build_packed_repo

FILTER = "metrics.rmse < 0.5 and params.model = 'rf'"
ORDER = "metrics.rmse ASC"
BIN = Path(sys.executable).parent
ENV = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@example.com",
       "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@example.com"}  # fmt: skip

SEARCH_WORKER = r"""
import json, sys, time
t = time.perf_counter()
import pygit2
from gittrack._search.service import find_rows
repo = pygit2.Repository(".")
mode = sys.argv[1]
if mode == "build":
    t = time.perf_counter(); find_rows(repo, max_results=1); print(json.dumps({"seconds": time.perf_counter() - t}))
else:
    t = time.perf_counter(); find_rows(repo, filter_string=sys.argv[2], order_by=[sys.argv[3]], max_results=20)
    first = time.perf_counter() - t
    best = []
    for _ in range(3):
        t = time.perf_counter()
        rows = find_rows(repo, filter_string=sys.argv[2], order_by=[sys.argv[3]], max_results=20).rows
        best.append(time.perf_counter() - t)
    print(json.dumps({"first": first, "warm": min(best), "rows": len(rows)}))
"""

API_WORKER = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
from pathlib import Path
from starlette.testclient import TestClient
from gittrack.ui.app import create_app
params = {"filter": sys.argv[1], "order": sys.argv[2], "limit": 100}
with TestClient(create_app(Path("."), timeout=3600), base_url="http://127.0.0.1") as http:
    assert http.get("/api/runs", params=params).status_code == 200
    best = []
    for query in (params, {"limit": 100}):
        times = []
        for _ in range(5):
            t = time.perf_counter()
            response = http.get("/api/runs", params=query)
            times.append(time.perf_counter() - t)
            assert response.status_code == 200, response.text
        best.append(min(times))
print(json.dumps({"filtered": best[0], "newest": best[1]}))
"""


def run(args: list[str], cwd: Path, capture: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, env=ENV, capture_output=capture, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed in {cwd}:\n{(result.stderr or '')[-2000:]}")
    return result


def measured(args: list[str], cwd: Path) -> tuple[float, float, str]:
    """Wall seconds, peak RSS in MB (the process's own ``VmHWM``, polled) and stdout of a command."""
    began = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(args, cwd=cwd, env=ENV, stdout=out, stderr=subprocess.PIPE, text=True)
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
            raise SystemExit(f"{' '.join(args)} failed:\n{proc.stderr.read()[-2000:]}")
        out.seek(0)
        return seconds, peak / 1024, out.read()


def git_mb(repo: Path) -> float:
    return sum(f.stat().st_size for f in (repo / ".git").rglob("*") if f.is_file() and "gittrack" not in f.parts) / 1e6


def best_wall(args: list[str], cwd: Path, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        run(args, cwd)
        times.append(time.perf_counter() - began)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--experiments", type=int, default=10)
    parser.add_argument("--workdir", type=Path, help="keep the repositories here (reused if present)")
    parser.add_argument("--skip-pull", action="store_true", help="leave out the pull into a fresh clone")
    args = parser.parse_args()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="gittrack-bench-scale-"))
    root.mkdir(parents=True, exist_ok=True)
    source = root / "source"
    if not (source / ".git").exists():
        print(f"building {args.runs} packed runs in {args.experiments} experiments with git fast-import...",
              file=sys.stderr)  # fmt: skip
        began = time.perf_counter()
        build_packed_repo(source, args.runs, [f"exp{i}" for i in range(args.experiments)])
        print(f"built in {time.perf_counter() - began:.0f} s", file=sys.stderr)
    python, gittrack = sys.executable, str(BIN / "gittrack")
    rows: list[tuple[str, str, str]] = []
    size = git_mb(source)
    rows.append((".git of the repository (fast-import packs), bytes per run", "-", f"{size * 1e6 / args.runs:,.0f}"))

    for path in (source / ".git" / "gittrack").glob("index.sqlite*"):
        path.unlink()
    seconds, peak, _ = measured([python, "-c", SEARCH_WORKER, "build"], source)
    index_mb = sum(p.stat().st_size for p in (source / ".git" / "gittrack").glob("index.sqlite*")) / 1e6
    rows.append(("first search: builds the search index, seconds", "-", f"{seconds:.1f}"))
    rows.append(("first search: peak memory, MB", "-", f"{peak:,.0f}"))
    rows.append(("search index on disk, bytes per run", "-", f"{index_mb * 1e6 / args.runs:,.0f}"))
    page = json.loads(measured([python, "-c", SEARCH_WORKER, "page", FILTER, ORDER], source)[2])
    rows.append(("first page (20) of the filter, ordered: the first query (makes its keys' columns), s", "-",
                 f"{page['first']:.2f}"))  # fmt: skip
    rows.append(("first page (20) of the filter, ordered: warm, s", "1.0", f"{page['warm']:.2f}"))
    listed = best_wall([gittrack, "runs", "list", "--limit", "20"], source)
    rows.append(("'gittrack runs list --limit 20', whole process, warm, s", "1.0", f"{listed:.2f}"))
    listed = best_wall([gittrack, "runs", "list", "--limit", "20", "-f", FILTER, "-s", ORDER], source)
    rows.append(("the same with the filter and the order, s", "1.0", f"{listed:.2f}"))
    api = json.loads(run([python, "-c", API_WORKER, FILTER, ORDER], source).stdout.strip().splitlines()[-1])
    rows.append(("UI JSON API /api/runs first page (100), filter + order, s", "1.0", f"{api['filtered']:.2f}"))
    rows.append(("UI JSON API /api/runs first page (100), newest first, s", "1.0", f"{api['newest']:.2f}"))

    if not args.skip_pull:
        remote = root / "remote.git"
        if not remote.exists():
            run(["git", "clone", "-q", "--mirror", str(source), str(remote)], root)
        for name in ("clone-git", "clone-pull"):
            shutil.rmtree(root / name, ignore_errors=True)
            run(["git", "clone", "-q", str(remote), str(root / name)], root)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        began = time.perf_counter()
        run(["git", "fetch", "-q", "origin", "+refs/runs-index/*:refs/fetched/runs-index/*"], root / "clone-git")
        fetched = time.perf_counter() - began
        git_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        rows.append(("git fetch of the index refs alone into a fresh clone, s", "-", f"{fetched:.1f}"))
        if git_peak > before:
            rows.append(("git fetch: peak memory of git's processes, MB", "-", f"{git_peak / 1024:,.0f}"))
        seconds, peak, out = measured([gittrack, "pull"], root / "clone-pull")
        rows.append((f"'gittrack pull' of {args.runs} packed runs into a fresh clone, s", "60", f"{seconds:.1f}"))
        rows.append(("'gittrack pull': peak memory of gittrack's process, MB", "1024", f"{peak:,.0f}"))
        print(out.strip(), file=sys.stderr)

    print(f"{args.runs:,} runs in {args.experiments} experiments, packed ({source})")
    print(f"filter: {FILTER!r}, ordered by {ORDER}")
    print(f"{'measure':86} {'target':>8} {'figure':>10}")
    for label, target, figure in rows:
        print(f"{label:86} {target:>8} {figure:>10}")


if __name__ == "__main__":
    main()
