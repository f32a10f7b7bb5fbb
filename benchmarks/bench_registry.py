"""Registry benchmarks: reading a large registry with gittrack and with GTO, in the same run.

    python benchmarks/bench_registry.py [--models 50] [--versions 200] [--events 400]

Builds a repository of synthetic runs and, with git fast-import, the annotated tags of M models
x V versions x E stage events each (GTO's format, increasing tagger dates), refs packed as after
a clone. Prints (a timing table, not a timed test): ``gittrack models list --json`` and
``gto show --json`` as whole commands, and resolving ``MODEL@production`` to a version (what
``load_model`` does before loading) in-process.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of
from synth import build_repo

BIN = Path(sys.executable).parent
RESOLVE = r"""
import sys, time
import pygit2
from gittrack._registry.service import resolve
repo = pygit2.Repository(".")
best = []
for _ in range(3):
    t = time.perf_counter(); version = resolve(repo, sys.argv[1]); best.append(time.perf_counter() - t)
print(min(best), version.version)
"""


def tag_stream(commits: list[str], models: int, versions: int, events: int) -> bytes:
    rng = random.Random(3)
    out = []
    when = 1_780_000_000
    for m in range(models):
        name = f"model-{m}"
        chosen = commits[:versions]
        for v, commit in enumerate(chosen):
            when += 1
            out.append(_tag(f"{name}@v0.{v // 100}.{v % 100}", commit, when, f"Registering artifact {name}"))
        for counter in range(1, events + 1):
            when += 1
            stage = "production" if counter % 2 else "staging"
            out.append(_tag(f"{name}#{stage}#{counter}", rng.choice(chosen), when, f"Assigning stage {stage}"))
    return b"".join(out)


def _tag(name: str, commit: str, when: int, message: str) -> bytes:
    data = message.encode()
    head = f"tag {name}\nfrom {commit}\ntagger Bench <bench@example.com> {when} +0000\ndata {len(data)}\n"
    return head.encode() + data + b"\n"


def wall(args: list[str], cwd: Path) -> float:
    """Best wall time of a whole command."""
    return best_of(lambda: subprocess.run(args, cwd=cwd, capture_output=True, check=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=50)
    parser.add_argument("--versions", type=int, default=200)
    parser.add_argument("--events", type=int, default=400)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gittrack-bench-registry-") as tmp:
        repo = Path(tmp) / "repo"
        build_repo(repo, args.versions)
        refs = subprocess.run(["git", "for-each-ref", "--format=%(objectname)", "refs/runs/"], cwd=repo,
                              capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
        stream = tag_stream(refs, args.models, args.versions, args.events)
        subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=stream, check=True)
        subprocess.run(["git", "pack-refs", "--all"], cwd=repo, check=True)
        ours_list = wall([str(BIN / "gittrack"), "models", "list", "--json"], repo)
        gto_show = wall([str(BIN / "gto"), "show", "--json"], repo)
        target = f"model-{args.models // 2}@production"
        out = subprocess.run([sys.executable, "-c", RESOLVE, target], cwd=repo, capture_output=True,
                             text=True, check=True).stdout.split()  # fmt: skip
        resolve_s = float(out[0])
    tags = args.models * (args.versions + args.events)
    print(f"{args.models} models x {args.versions} versions x {args.events} stage events = {tags} tags")
    print(f"{'measure':52} {'gittrack':>10} {'gto':>10} {'gto/gittrack':>13}")
    print(f"{'models list --json / gto show --json (whole), s':52} {ours_list:10.2f} {gto_show:10.2f} "
          f"{gto_show / ours_list:12.1f}x")  # fmt: skip
    print(f"{'resolve MODEL@production (in-process), s':52} {resolve_s:10.3f} {'-':>10} {'-':>13}")


if __name__ == "__main__":
    main()
