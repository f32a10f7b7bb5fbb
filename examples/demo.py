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

    for lr in ("0.01", "0.05", "0.2"):
        sh(*GITTRACK, "run", "-t", "stage=sweep", "--", sys.executable, "train.py", "--lr", lr, cwd=root)

    # an uncommitted edit: the run's snapshot keeps it, the user's files stay as they are
    (root / "train.py").write_text((root / "train.py").read_text().replace("default=30", "default=60"))
    sh(*GITTRACK, "run", "-n", "longer-training", "--", sys.executable, "train.py", "--lr", "0.05", cwd=root)

    sh(*GITTRACK, "runs", "list", cwd=root)
    runs = json.loads(sh(*GITTRACK, "runs", "list", "--json", cwd=root, capture=True))
    best = min(runs, key=lambda r: r["metrics"]["val_rmse"])
    sh(*GITTRACK, "runs", "show", best["run_id"][:12], cwd=root)
    sh("git", "log", "--oneline", "-3", best["ref"], cwd=root)

    print(
        f"\nThe demo repository stays at {root}. Look around:\n"
        f"  cd {root}\n"
        "  git for-each-ref refs/runs/          # every run is a ref\n"
        f"  git log --stat {best['ref']}\n"
        f"  git show {best['ref']}:.gittrack/run/run.yaml\n"
        f"  git checkout {best['ref']}           # exactly the code that ran"
    )


if __name__ == "__main__":
    main()
