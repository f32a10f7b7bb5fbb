"""Sharing benchmarks: gittrack push/pull of many runs, the cost of run refs for plain git pushes,
and DVC experiments for comparison, all in one run on this machine.

    python benchmarks/bench_sharing.py [--runs N] [--dvc-exps N] [--ref-counts 0,10000,50000] [--ssh-runs N]

Prints (a timing table, not a timed test):
- ``gittrack push`` of N runs to an empty bare remote, and ``gittrack pull`` of them into a
  fresh clone (whole commands);
- the incremental push and pull of 10 new runs when N are already there (target <= 2 s each);
- the same with the runs packed by the push (``gittrack push --pack``; else ``--no-pack``);
- a plain ``git push`` of one branch commit to a remote holding 0, 10,000 and 50,000 run refs
  (every push receives the advertisement of all the remote's refs), and holding the same runs
  packed into an index ref;
- ``dvc exp push`` / ``dvc exp pull`` of M experiments made with ``dvc exp save``, next to
  gittrack pushing and pulling the same number of runs;
- ``gittrack push`` / ``pull`` of S runs (300) over SSH to gitolite, with gittrack's server hook
  and a permissions file (sshd and gitolite started on 127.0.0.1 as the team tests do), beside
  the same to a bare remote on the same disk.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth import build_repo

sys.path.insert(1, str(Path(__file__).resolve().parents[1]))
from tests import servers  # sshd and gitolite on 127.0.0.1, as the team tests start them

BIN = Path(sys.executable).parent
GITTRACK = str(BIN / "gittrack")
DVC = str(BIN / "dvc")
ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def timed(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    result = subprocess.run(args, cwd=cwd, env=ENV, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed in {cwd}:\n{result.stderr[-2000:]}")
    return time.perf_counter() - start


def sh(args: list[str], cwd: Path) -> None:
    subprocess.run(args, cwd=cwd, env=ENV, check=True, capture_output=True)


def new_runs(root: Path, count: int) -> None:
    code = (
        "import gittrack, sys\n"
        "c = gittrack.Client()\n"
        "for i in range(int(sys.argv[1])):\n"
        "    r = c.create_run(experiment='bench', params={'i': i}).info.run_id\n"
        "    c.log_metric(r, 'rmse', 0.1 * i)\n"
        "    c.set_terminated(r)\n"
    )
    sh([sys.executable, "-c", code, str(count)], root)


def gittrack_rounds(root: Path, runs: int, packed: bool = False) -> dict[str, float]:
    """Push and pull of ``runs`` runs, then of 10 more; ``packed``: push packs them first (timed
    with the push), else every run keeps its own ref."""
    name = f"{runs}-packed" if packed else str(runs)
    source = root / f"source-{name}"
    build_repo(source, runs)
    remote = root / f"remote-{name}.git"
    sh(["git", "init", "-q", "--bare", "-b", "main", str(remote)], root)
    sh(["git", "remote", "add", "origin", str(remote)], source)
    sh(["git", "push", "-q", "origin", "main"], source)
    push = [GITTRACK, "push", "--pack" if packed else "--no-pack"]
    figures = {"push": timed(push, source)}
    clone = root / f"clone-{name}"
    sh(["git", "clone", "-q", str(remote), str(clone)], root)
    figures["pull"] = timed([GITTRACK, "pull"], clone)
    new_runs(source, 10)
    figures["push10"] = timed(push, source)
    figures["pull10"] = timed([GITTRACK, "pull"], clone)
    return figures


def plain_push(root: Path, refs: int, packed: bool = False) -> float:
    """Time of ``git push`` of one new commit on main to a remote holding ``refs`` runs, each with
    its own ref, or packed into an index ref."""
    name = f"{refs}-packed" if packed else str(refs)
    remote = root / f"refs-{name}.git"
    sh(["git", "init", "-q", "--bare", "-b", "main", str(remote)], root)
    source = root / f"refs-source-{name}"
    if refs:
        build_repo(source, refs)
        if packed:
            sh([GITTRACK, "runs", "pack"], source)
        sh(["git", "push", "-q", str(remote), "refs/runs/*:refs/runs/*", "refs/runs-index/*:refs/runs-index/*",
            "main"], source)  # fmt: skip
    else:
        build_repo(source, 1)
        sh(["git", "push", "-q", str(remote), "main"], source)
    work = root / f"refs-work-{name}"
    sh(["git", "clone", "-q", str(remote), str(work)], root)
    (work / "change.txt").write_text("a change\n")
    sh(["git", "add", "change.txt"], work)
    sh(["git", "commit", "-q", "-m", "change"], work)
    return timed(["git", "push", "-q", "origin", "main"], work)


def dvc_rounds(root: Path, count: int) -> dict[str, float]:
    """dvc exp push/pull of ``count`` experiments made with ``dvc exp save``; gittrack with as many runs."""
    remote = root / "dvc-exp-remote.git"
    sh(["git", "init", "-q", "--bare", "-b", "main", str(remote)], root)
    work = root / "dvc-exp"
    sh(["git", "init", "-q", "-b", "main", str(work)], root)
    sh([DVC, "init", "-q"], work)
    (work / "params.yaml").write_text("lr: 0.1\n")
    (work / "metrics.json").write_text('{"rmse": 0.5}\n')
    sh(["git", "add", "-A"], work)
    sh(["git", "commit", "-q", "-m", "init"], work)
    sh(["git", "remote", "add", "origin", str(remote)], work)
    sh(["git", "push", "-q", "origin", "main"], work)
    for i in range(count):
        (work / "params.yaml").write_text(f"lr: {i / count}\n")
        (work / "metrics.json").write_text(f'{{"rmse": {i / count}}}\n')
        sh([DVC, "exp", "save", "-q", "-f", "-n", f"exp-{i}"], work)
    figures = {"dvc_push": timed([DVC, "exp", "push", "origin", "--all-commits"], work)}
    other = root / "dvc-exp-clone"
    sh(["git", "clone", "-q", str(remote), str(other)], root)
    figures["dvc_pull"] = timed([DVC, "exp", "pull", "origin", "--all-commits"], other)
    ours = gittrack_rounds(root, count)
    figures["gt_push"], figures["gt_pull"] = ours["push"], ours["pull"]
    return figures


def ssh_rounds(root: Path, runs: int) -> dict[str, float]:
    """Push of ``runs`` runs over SSH to gitolite (its hook running gittrack's checks and the
    permissions file), with a ref per run and packed, and their pull into a fresh clone; the same
    to and from a local bare remote."""
    import gittrack

    local = gittrack_rounds(root, runs)
    perms = root / "permissions.yaml"
    perms.write_text("groups: {team: [bench]}\ndefault: MANAGE\n")
    ssh = servers.start_ssh(root / "ssh")
    figures = {"local_push": local["push"], "local_pull": local["pull"]}
    try:
        conf = "".join(gittrack.server_rules(perms, "gitolite", repo) for repo in ("bench", "bench-packed"))
        rc, hook = (gittrack.server_rules(perms, kind, "bench") for kind in ("gitolite-rc", "gitolite-hook"))
        ssh.configure(conf, rc, hook, ["bench"])
        for name, pack in (("bench", "--no-pack"), ("bench-packed", "--pack")):
            sh(["git", "symbolic-ref", "HEAD", "refs/heads/main"], ssh.gitolite_home / "repositories" / f"{name}.git")
            source = root / f"ssh-source-{name}"
            build_repo(source, runs)
            sh(["git", "config", "core.sshCommand", ssh.command("bench")], source)
            sh(["git", "remote", "add", "origin", ssh.url(name)], source)
            sh(["git", "push", "-q", "origin", "main"], source)
            figures[f"{name}_push"] = timed([GITTRACK, "push", pack], source)
            clone = root / f"ssh-clone-{name}"
            sh(["git", "-c", f"core.sshCommand={ssh.command('bench')}", "clone", "-q", ssh.url(name), str(clone)], root)
            sh(["git", "config", "core.sshCommand", ssh.command("bench")], clone)
            figures[f"{name}_pull"] = timed([GITTRACK, "pull"], clone)
        return figures
    finally:
        servers.stop(ssh.proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--dvc-exps", type=int, default=300)
    parser.add_argument("--ref-counts", default="0,10000,50000")
    parser.add_argument("--ssh-runs", type=int, default=300, help="Runs pushed over SSH to gitolite (0: skip).")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="gittrack-bench-sharing-") as tmp:
        root = Path(tmp)
        ours = gittrack_rounds(root, args.runs)
        packed = gittrack_rounds(root, args.runs, packed=True)
        counts = [int(x) for x in args.ref_counts.split(",")]
        plain = {n: plain_push(root, n) for n in counts}
        plain_packed = {n: plain_push(root, n, packed=True) for n in counts if n}
        theirs = dvc_rounds(root, args.dvc_exps) if args.dvc_exps else {}
        remote = ssh_rounds(root, args.ssh_runs) if args.ssh_runs else {}
    print(f"{'measure':62} {'target':>8} {'seconds':>10}")
    rows = [
        (f"gittrack push of {args.runs} runs to an empty bare remote", None, ours["push"]),
        (f"gittrack pull of {args.runs} runs into a fresh clone", None, ours["pull"]),
        (f"gittrack push of 10 new runs, {args.runs} already there", 2.0, ours["push10"]),
        (f"gittrack pull of 10 new runs, {args.runs} already there", 2.0, ours["pull10"]),
        (f"[packed] gittrack push --pack of {args.runs} runs, empty remote", None, packed["push"]),
        (f"[packed] gittrack pull of {args.runs} runs into a fresh clone", None, packed["pull"]),
        (f"[packed] gittrack push --pack of 10 new runs, {args.runs} there", 2.0, packed["push10"]),
        (f"[packed] gittrack pull of 10 new runs, {args.runs} already there", 2.0, packed["pull10"]),
        *[(f"plain git push of one commit, remote with {n} run refs", None, t) for n, t in plain.items()],
        *[(f"plain git push of one commit, remote with {n} packed runs", None, t) for n, t in plain_packed.items()],
    ]
    if theirs:
        rows += [
            (f"dvc exp push of {args.dvc_exps} experiments", None, theirs["dvc_push"]),
            (f"gittrack push of {args.dvc_exps} runs", None, theirs["gt_push"]),
            (f"dvc exp pull of {args.dvc_exps} experiments", None, theirs["dvc_pull"]),
            (f"gittrack pull of {args.dvc_exps} runs", None, theirs["gt_pull"]),
        ]
    if remote:
        rows += [
            (f"gittrack push of {args.ssh_runs} runs to a local bare remote", None, remote["local_push"]),
            (f"gittrack push of {args.ssh_runs} runs over SSH to gitolite", None, remote["bench_push"]),
            (f"[packed] gittrack push --pack of {args.ssh_runs} runs over SSH", None, remote["bench-packed_push"]),
            (f"gittrack pull of {args.ssh_runs} runs from a local bare remote", None, remote["local_pull"]),
            (f"gittrack pull of {args.ssh_runs} runs over SSH from gitolite", None, remote["bench_pull"]),
            (f"[packed] gittrack pull of {args.ssh_runs} packed runs over SSH", None, remote["bench-packed_pull"]),
        ]
    for label, target, seconds in rows:
        shown = f"{target:8.1f}" if target else f"{'-':>8}"
        print(f"{label:62} {shown} {seconds:10.2f}")


if __name__ == "__main__":
    main()
