"""``make demo``: a few training runs recorded by gittrack in a fresh temporary git repository.

Shows the story of one data scientist: train with different settings, list the runs, look at
the best one, and find every run as a git commit under refs/runs/.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
GITTRACK = [sys.executable, "-m", "gittrack"]


def sh(*args: str, cwd: Path, capture: bool = False) -> str:
    """Run a command; unless capturing, first echo it as a person would type it."""
    if not capture:
        shown = ["gittrack", *args[len(GITTRACK) :]] if list(args[: len(GITTRACK)]) == GITTRACK else list(args)
        shown = ["python" if a == sys.executable else a for a in shown]
        print(f"\n$ {' '.join(shown)}", flush=True)
    result = subprocess.run(args, cwd=cwd, check=True, text=True, capture_output=capture)
    return result.stdout if capture else ""


def git_identity(root: Path) -> None:
    """Give the demo repository an identity if the machine has none, so commits work anywhere."""
    probe = subprocess.run(["git", "config", "user.name"], cwd=root, capture_output=True, text=True, check=False)
    if not probe.stdout.strip():
        subprocess.run(["git", "config", "user.name", "Demo Scientist"], cwd=root, check=True)
        subprocess.run(["git", "config", "user.email", "demo@example.com"], cwd=root, check=True)


def review(root: Path, branch: str) -> None:
    """What CI does on the pull request: check the request, show the verdict."""
    subprocess.run(["git", "checkout", "-q", branch], cwd=root, check=True)
    result = subprocess.run(
        [*GITTRACK, "promotions", "check", "--base", "main"], cwd=root, capture_output=True, text=True
    )
    lines = result.stdout.splitlines()
    verdict = lines[next((i for i, line in enumerate(lines) if line.startswith("**Check")), len(lines)) :]
    print(f"\n$ gittrack promotions check --base main    (CI on {branch}: exit {result.returncode})")
    print("\n".join(verdict))
    subprocess.run(["git", "checkout", "-q", "main"], cwd=root, check=True)


def write_trips(path: Path, n: int = 2000) -> None:
    """Synthetic taxi trips: distance, hour, passengers and the duration to predict."""
    import numpy as np

    rng = np.random.default_rng(0)
    distance = rng.uniform(0.5, 20, n)
    hour = rng.integers(0, 24, n)
    passengers = rng.integers(1, 5, n)
    duration = 3.0 + 2.5 * distance + 0.3 * hour + 0.5 * passengers + rng.normal(0, 2.0, n)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["distance_km,hour,passengers,duration_min"]
    lines += [f"{d:.3f},{h},{p},{t:.2f}" for d, h, p, t in zip(distance, hour, passengers, duration, strict=True)]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="gittrack-demo-"))
    print(f"demo repository: {root}")
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    git_identity(root)
    shutil.copy(HERE / "train.py", root / "train.py")
    (root / ".gitignore").write_text("__pycache__/\n")
    subprocess.run(["git", "add", "."], cwd=root, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "Add training script"], cwd=root, check=True)
    os.environ.setdefault("GITTRACK_EXPERIMENT", "taxi-duration")

    # gittrack init sets up DVC (with a local DVC remote here); the data is tracked by DVC
    sh(*GITTRACK, "init", "--dvc-remote", str(root.parent / f"{root.name}-dvc-remote"), "--commit", cwd=root)
    write_trips(root / "data" / "trips.csv")
    sh(sys.executable, "-m", "dvc", "add", "-q", "data/trips.csv", cwd=root)
    subprocess.run(["git", "add", "data"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "Track trip data with DVC"], cwd=root, check=True)

    for lr in ("0.001", "0.01", "0.05"):
        sh(*GITTRACK, "run", "-t", "stage=sweep", "--", sys.executable, "train.py", "--lr", lr, cwd=root)

    # an uncommitted edit: the run's snapshot keeps it, the user's files stay as they are
    (root / "train.py").write_text((root / "train.py").read_text().replace("default=20", "default=40"))
    sh(*GITTRACK, "run", "-n", "longer-training", "--", sys.executable, "train.py", "--lr", "0.01", cwd=root)

    sh(*GITTRACK, "runs", "list", cwd=root)
    runs = json.loads(sh(*GITTRACK, "runs", "list", "--json", cwd=root, capture=True))
    best = min(runs, key=lambda r: r["metrics"]["val_rmse"])
    sh(*GITTRACK, "runs", "show", best["run_id"][:12], cwd=root)
    sh("git", "log", "--oneline", "-3", best["ref"], cwd=root)
    sh(*GITTRACK, "artifacts", "list", best["run_id"][:12], cwd=root)

    # the model registry: git tags in GTO's format on the run commit
    sh(*GITTRACK, "models", "register", "taxi-duration", "--run", best["run_id"], cwd=root)
    sh(*GITTRACK, "models", "promote", "taxi-duration", "v0.0.1", "staging", cwd=root)

    # production is guarded: a promotion is a reviewed request (a branch and a report), checked, merged, applied
    sh(*GITTRACK, "promotions", "policy", "taxi-duration", "--no-worse", "val_rmse:min", "--guard", "production",
       "--commit", cwd=root)  # fmt: skip
    sh(*GITTRACK, "models", "promote", "taxi-duration", "v0.0.1", "production", "--request", cwd=root)
    review(root, "promote/taxi-duration/production/v0.0.1")
    sh("git", "merge", "-q", "--no-ff", "-m", "Merge promote/taxi-duration/production/v0.0.1",
       "promote/taxi-duration/production/v0.0.1", cwd=root)  # fmt: skip
    sh(*GITTRACK, "promotions", "apply", cwd=root)
    sh(*GITTRACK, "promotions", "status", cwd=root)
    sh(*GITTRACK, "models", "show", "taxi-duration", cwd=root)
    sh("git", "tag", "-n1", cwd=root)

    # a worse candidate: its request fails the check, so it is not merged
    runner_up = sorted(runs, key=lambda r: r["metrics"]["val_rmse"])[1]
    sh(*GITTRACK, "models", "register", "taxi-duration", "--run", runner_up["run_id"], cwd=root)
    subprocess.run([*GITTRACK, "models", "promote", "taxi-duration", "v0.0.2", "production", "--request"], cwd=root,
                   check=True, capture_output=True)  # fmt: skip
    review(root, "promote/taxi-duration/production/v0.0.2")

    print("\n>>> gittrack.load_model('taxi-duration@production').predict(three trips)", flush=True)
    code = (
        "import gittrack, pandas as pd, sys\n"
        "model = gittrack.load_model('taxi-duration@production')\n"
        "trips = pd.DataFrame({'distance_km': [2.0, 8.5, 15.0], 'hour': [8, 13, 18], 'passengers': [1, 2, 1]})\n"
        "for km, minutes in zip(trips['distance_km'], model.predict(trips)):\n"
        "    print(f'  {km:5.1f} km -> {minutes:5.1f} min')\n"
    )
    subprocess.run([sys.executable, "-c", code, best["run_id"]], cwd=root, check=True)

    # one self-contained HTML file about the runs (for a pull request, a CI artifact or Pages)
    sh(*GITTRACK, "report", "-e", "taxi-duration", "-o", "report.html", cwd=root)

    # a teammate's fresh clone: runs and tags through git, data and models through the DVC remote
    remote = root.parent / f"{root.name}-remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    subprocess.run(["git", "remote", "add", "origin", str(remote)], cwd=root, check=True)
    subprocess.run(["git", "push", "-q", "origin", "main"], cwd=root, check=True)
    sh(*GITTRACK, "push", cwd=root)
    teammate = root.parent / f"{root.name}-teammate"
    subprocess.run(["git", "clone", "-q", str(remote), str(teammate)], check=True)
    git_identity(teammate)
    sh(*GITTRACK, "pull", cwd=teammate)
    # the best run again, from its snapshot, with the data it read: same metrics or a non-zero exit
    # (--yes: the teammate read the command it prints and agrees to run it)
    sh(*GITTRACK, "reproduce", best["run_id"][:12], "--yes", cwd=teammate)

    print(
        f"\nThe demo repository stays at {root}. Look around:\n"
        f"  gittrack ui --repo {root}   # the web UI: runs, charts, artifacts, compare, models\n"
        f"  open {root / 'report.html'}\n"
        f"  cd {root}\n"
        "  git for-each-ref refs/runs/          # every run is a ref\n"
        f"  git log --stat {best['ref']}\n"
        f"  git show {best['ref']}:.gittrack/run/run.yaml\n"
        f"  git checkout {best['ref']}           # exactly the code that ran"
    )


if __name__ == "__main__":
    main()
