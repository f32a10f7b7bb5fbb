"""Sharing runs between clones through real bare remotes (a path, and git daemon on 127.0.0.1),
checking out runs and reproducing them."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pygit2
import pytest
from click.testing import CliRunner

import gittrack
from gittrack._data import dvcstore
from gittrack._sync import pull, push, setup_remote
from gittrack._workspace import checkout
from gittrack.cli import main
from tests.conftest import BIN, git

pytestmark = pytest.mark.slow


def clone(remote: str, path: Path) -> Path:
    subprocess.run(["git", "clone", "-q", remote, str(path)], check=True, capture_output=True)
    return path


@pytest.fixture
def bare(tmp_path: Path) -> Path:
    """A bare remote holding one commit on main."""
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    seed = tmp_path / "seed"
    clone(str(remote), seed)
    (seed / "train.py").write_text("print('train')\n")
    git(seed, "add", ".")
    git(seed, "commit", "-q", "-m", "initial")
    git(seed, "push", "-q", "origin", "HEAD:main")
    return remote


def record(root: Path, experiment: str = "shared", n: int = 2, metric: float = 0.5) -> list[str]:
    client = gittrack.Client(root)
    ids = []
    for i in range(n):
        run_id = client.create_run(experiment=experiment, params={"i": i}).info.run_id
        client.log_metric(run_id, "score", metric + i)
        client.set_terminated(run_id)
        ids.append(run_id)
    return ids


def frame(root: Path):
    return gittrack.Client(root).search_runs(order_by=["run_id"]).drop(columns=["status"])


def exchange(url: str, tmp_path: Path) -> None:
    a = clone(url, tmp_path / "a")
    b = clone(url, tmp_path / "b")
    record(a, n=3)
    report = push(pygit2.Repository(str(a)))
    assert len(report.sent) == 3
    assert len(pull(pygit2.Repository(str(b))).sent) == 3
    assert frame(a).equals(frame(b))
    record(b, experiment="other", n=2)
    push(pygit2.Repository(str(b)))
    assert len(pull(pygit2.Repository(str(a))).sent) == 2
    assert len(frame(a)) == len(frame(b)) == 5
    assert frame(a).equals(frame(b))
    again = push(pygit2.Repository(str(a)))
    assert again.sent == []
    assert again.unchanged == 5


def test_two_clones_share_runs_through_a_path_remote(bare: Path, tmp_path: Path) -> None:
    exchange(str(bare), tmp_path)


def start_daemon(base: Path, port: int) -> subprocess.Popen:
    """git daemon serving ``base`` on 127.0.0.1:``port``, pushes allowed; returns once it listens.
    It runs in a process group of its own, so that stopping the group stops the children it forks
    for connections too (killing only the daemon left them running)."""
    proc = subprocess.Popen(
        [
            "git",
            "daemon",
            "--reuseaddr",
            "--export-all",
            "--enable=receive-pack",
            "--listen=127.0.0.1",
            f"--port={port}",
            f"--base-path={base}",
            str(base),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.time() + 10
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.05)
    raise AssertionError("git daemon did not start")


@pytest.fixture
def daemon(bare: Path):
    """git daemon serving the bare remote's folder on 127.0.0.1; yields (url, port)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    procs = [start_daemon(bare.parent, port)]
    yield f"git://127.0.0.1:{port}/{bare.name}", port, procs
    for proc in procs:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=60)


def test_two_clones_share_runs_over_the_git_protocol(daemon, tmp_path: Path) -> None:
    url, _, _ = daemon
    exchange(url, tmp_path)


def test_push_interrupted_by_the_remote_dying_then_retried(daemon, bare: Path, tmp_path: Path) -> None:
    url, port, procs = daemon
    a = clone(url, tmp_path / "a")
    record(a, n=150)
    pusher = subprocess.Popen([str(BIN / "gittrack"), "push"], cwd=a, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.2)
    os.killpg(procs[0].pid, signal.SIGKILL)  # the daemon and the child serving the push
    procs[0].wait()
    pusher.wait(timeout=60)
    procs.append(start_daemon(bare.parent, port))
    report = push(pygit2.Repository(str(a)))
    assert len(report.sent) + report.unchanged == 150
    assert report.conflicts == []
    b = clone(url, tmp_path / "b")
    assert len(pull(pygit2.Repository(str(b))).sent) == 150
    assert frame(a).equals(frame(b))


def test_concurrent_pushes_from_two_clones(bare: Path, tmp_path: Path) -> None:
    a = clone(str(bare), tmp_path / "a")
    b = clone(str(bare), tmp_path / "b")
    record(a, n=10)
    record(b, n=10)
    procs = [
        subprocess.Popen([str(BIN / "gittrack"), "push"], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for root in (a, b)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    remote_refs = git(bare, "for-each-ref", "refs/runs/").splitlines()
    assert len(remote_refs) == 20


def test_finished_runs_are_never_overwritten(bare: Path, tmp_path: Path) -> None:
    a = clone(str(bare), tmp_path / "a")
    b = clone(str(bare), tmp_path / "b")
    [run_id] = record(a, n=1)
    push(pygit2.Repository(str(a)))
    pull(pygit2.Repository(str(b)))
    ref = f"refs/runs/shared/{run_id}"
    original = git(a, "rev-parse", ref).strip()
    # B rewrites the finished run by hand (a different commit under the same ref) and pushes
    raw = pygit2.Repository(str(b))
    other = record(b, experiment="x", n=1)[0]
    raw.references[ref].set_target(raw.references[f"refs/runs/x/{other}"].target)
    report = push(raw, runs=[run_id])
    assert [c.ref for c in report.conflicts] == [ref]
    assert report.conflicts[0].reason == "finished on the remote"
    assert git(bare, "rev-parse", ref).strip() == original
    cli = subprocess.run([str(BIN / "gittrack"), "push", "origin", run_id[:16]], cwd=b, capture_output=True, text=True)
    assert cli.returncode == 1
    assert f"conflict on {ref}" in cli.stderr
    assert "finished on the remote" in cli.stderr
    # and a pull does not rewrite the local finished run either
    pulled = pull(raw)
    assert [c.ref for c in pulled.conflicts] == [ref]
    assert str(raw.references[ref].target) != original


def test_a_running_run_is_updated_by_its_own_host(bare: Path, tmp_path: Path) -> None:
    a = clone(str(bare), tmp_path / "a")
    b = clone(str(bare), tmp_path / "b")
    client = gittrack.Client(a)
    run_id = client.create_run(experiment="live").info.run_id
    client.log_metric(run_id, "loss", 1.0)
    client.flush(run_id)
    push(pygit2.Repository(str(a)))
    pull(pygit2.Repository(str(b)))
    client.log_metric(run_id, "loss", 0.5)
    client.set_terminated(run_id)
    report = push(pygit2.Repository(str(a)))
    assert report.sent == [f"refs/runs/live/{run_id}"]
    assert report.conflicts == []
    assert len(pull(pygit2.Repository(str(b))).updated) == 1
    assert gittrack.Client(b).get_run(run_id).data.metrics == {"loss": 0.5}
    assert gittrack.Client(b).get_run(run_id).info.status == "FINISHED"


def test_malformed_and_colliding_remote_refs(bare: Path, tmp_path: Path, caplog) -> None:
    a = clone(str(bare), tmp_path / "a")
    b = clone(str(bare), tmp_path / "b")
    good = record(a, n=1)[0]
    push(pygit2.Repository(str(a)))
    head = git(bare, "rev-parse", "main").strip()
    git(bare, "update-ref", "refs/runs/shared/01zzzzzzzzzzzzzzzzzzzzzzzz", head)  # not a run commit
    git(bare, "update-ref", "refs/runs/Bad/01yyyyyyyyyyyyyyyyyyyyyyyy", head)  # not a canonical name
    twin = good[:-1] + ("1" if good.endswith("0") else "0")  # another id pointing at the same run commit
    git(bare, "update-ref", f"refs/runs/shared/{twin}", git(bare, "rev-parse", f"refs/runs/shared/{good}").strip())
    report = pull(pygit2.Repository(str(b)))
    assert report.sent == [f"refs/runs/shared/{good}"]
    assert len(report.skipped) == 3
    local = git(b, "for-each-ref", "--format=%(refname)", "refs/runs/").split()
    assert local == [f"refs/runs/shared/{good}"]
    # a local run whose id collides with a different remote run is reported, not replaced
    raw = pygit2.Repository(str(b))
    mine = record(b, experiment="c", n=1)[0]
    git(bare, "update-ref", f"refs/runs/c/{mine}", git(bare, "rev-parse", f"refs/runs/shared/{good}").strip())
    collided = pull(raw)
    assert f"refs/runs/c/{mine}" in " ".join(collided.skipped)
    assert gittrack.Client(b).get_run(mine).info.experiment == "c"


def test_interrupted_push_then_retry_loses_nothing(bare: Path, tmp_path: Path) -> None:
    a = clone(str(bare), tmp_path / "a")
    record(a, n=30)
    proc = subprocess.Popen([str(BIN / "gittrack"), "push"], cwd=a, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert git(bare, "fsck").strip() == "" or "dangling" in git(bare, "fsck")
    report = push(pygit2.Repository(str(a)))
    assert len(report.sent) + report.unchanged == 30
    assert len(git(bare, "for-each-ref", "refs/runs/").splitlines()) == 30
    b = clone(str(bare), tmp_path / "b")
    pull(pygit2.Repository(str(b)))
    assert len(gittrack.Client(b).list_runs()) == 30


def test_pull_of_one_experiment_fetches_only_it(bare: Path, tmp_path: Path) -> None:
    a = clone(str(bare), tmp_path / "a")
    record(a, experiment="wanted", n=2)
    record(a, experiment="other", n=2)
    push(pygit2.Repository(str(a)))
    b = clone(str(bare), tmp_path / "b")
    report = pull(pygit2.Repository(str(b)), experiment="wanted")
    assert len(report.sent) == 2
    assert {r.info.experiment for r in gittrack.Client(b).list_runs()} == {"wanted"}
    assert git(b, "for-each-ref", "refs/gittrack/incoming/").count("other") == 0


def test_plain_git_moves_runs_after_remote_setup(bare: Path, tmp_path: Path) -> None:
    a = clone(str(bare), tmp_path / "a")
    added = setup_remote(pygit2.Repository(str(a)), "origin")
    assert "remote.origin.fetch = refs/runs/*:refs/runs/*" in added
    record(a, n=2)
    git(a, "push", "-q")
    assert len(git(bare, "for-each-ref", "refs/runs/").splitlines()) == 2
    b = clone(str(bare), tmp_path / "b")
    setup_remote(pygit2.Repository(str(b)), "origin", push_runs=False)
    git(b, "fetch", "-q")
    assert len(gittrack.Client(b).list_runs()) == 2
    result = CliRunner().invoke(main, ["remote", "setup", "nope"])
    assert result.exit_code == 1


def test_artifacts_travel_through_a_dvc_remote(bare: Path, tmp_path: Path) -> None:
    dvc_remote = tmp_path / "dvc-remote"
    a = clone(str(bare), tmp_path / "a")
    subprocess.run([str(BIN / "gittrack"), "init", "--dvc-remote", str(dvc_remote), "--commit"], cwd=a, check=True,
                   capture_output=True)  # fmt: skip
    git(a, "push", "-q", "origin", "HEAD:main")
    model = tmp_path / "model.bin"
    model.write_bytes(os.urandom(2048))
    client = gittrack.Client(a)
    run_id = client.create_run(experiment="art").info.run_id
    client.log_artifact(run_id, model)
    client.set_terminated(run_id)
    report = push(pygit2.Repository(str(a)))
    assert report.data_objects == 1
    b = clone(str(bare), tmp_path / "b")
    pull(pygit2.Repository(str(b)))
    dvcstore.open_dvc.cache_clear()
    out = gittrack.Client(b).download_artifacts(run_id, "model.bin", tmp_path / "got")
    assert Path(out).read_bytes() == model.read_bytes()


def test_checkout_by_hand_and_with_gittrack(bare: Path, tmp_path: Path) -> None:
    dvc_remote = tmp_path / "dvc-remote"
    a = clone(str(bare), tmp_path / "a")
    subprocess.run([str(BIN / "gittrack"), "init", "--dvc-remote", str(dvc_remote), "--commit"], cwd=a, check=True,
                   capture_output=True)  # fmt: skip
    (a / "train.py").write_text("print('the version that ran')\n")
    weights = tmp_path / "w.bin"
    weights.write_bytes(b"weights")
    client = gittrack.Client(a)
    run_id = client.create_run().info.run_id
    client.log_artifact(run_id, weights)
    client.set_terminated(run_id)
    push(pygit2.Repository(str(a)))
    b = clone(str(bare), tmp_path / "b")
    pull(pygit2.Repository(str(b)))
    ref = gittrack.Client(b).get_run(run_id).info.ref
    git(b, "checkout", "-q", ref)
    subprocess.run([str(BIN / "dvc"), "pull", "-q"], cwd=b, check=True, capture_output=True)
    assert (b / ".gittrack/run/artifacts/w.bin").read_bytes() == b"weights"
    assert (b / "train.py").read_text() == "print('the version that ran')\n"
    git(b, "checkout", "-q", "main")
    (b / "train.py").write_text("local edit\n")
    with pytest.raises(gittrack.UsageError, match="uncommitted changes"):
        checkout(pygit2.Repository(str(b)), run_id)
    shutil.rmtree(b / ".dvc" / "cache", ignore_errors=True)
    dvcstore.open_dvc.cache_clear()
    result = subprocess.run([str(BIN / "gittrack"), "checkout", run_id[:14], "-b", "from-run", "--force"], cwd=b,
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "on new branch from-run" in result.stdout
    assert git(b, "rev-parse", "--abbrev-ref", "HEAD").strip() == "from-run"
    assert ".gittrack" not in git(b, "ls-tree", "-r", "--name-only", "HEAD")
    assert (b / "train.py").read_text() == "print('the version that ran')\n"
    detached = subprocess.run([str(BIN / "gittrack"), "checkout", run_id], cwd=b, capture_output=True, text=True)
    assert detached.returncode == 0, detached.stderr
    assert (b / ".gittrack/run/artifacts/w.bin").read_bytes() == b"weights"


SCRIPT = """
import random, sys
import gittrack
seed = int(sys.argv[1]) if len(sys.argv) > 1 else None
rng = random.Random(seed)
with gittrack.start_run():
    gittrack.log_metric("score", rng.random())
    gittrack.log_metric("constant", 1.0)
"""


def test_reproduce_passes_when_deterministic_and_fails_when_not(repo: Path) -> None:
    (repo / "train.py").write_text(textwrap.dedent(SCRIPT))
    git(repo, "add", "train.py")
    git(repo, "commit", "-q", "-m", "script")
    gt = str(BIN / "gittrack")
    subprocess.run([gt, "run", "-n", "seeded", "--", sys.executable, "train.py", "42"], check=True, capture_output=True)
    subprocess.run([gt, "run", "-n", "unseeded", "--", sys.executable, "train.py"], check=True, capture_output=True)
    ok = subprocess.run([gt, "reproduce", "seeded"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "reproduced" in ok.stdout
    bad = subprocess.run([gt, "reproduce", "unseeded"], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "DIFFERS" in bad.stdout
    assert "score" in bad.stdout
    assert "NOT reproduced" in bad.stdout
    loose = subprocess.run([gt, "reproduce", "unseeded", "-t", "score=10"], capture_output=True, text=True)
    assert loose.returncode == 0, loose.stdout
    copies = [r for r in gittrack.list_runs() if r.data.tags.get("reproduced_from")]
    assert len(copies) == 3
    assert git(repo, "worktree", "list").count("\n") == 1  # the temporary worktrees are gone
    assert "gittrack-reproduce" not in git(repo, "branch", "--list")


def test_reproduce_refuses_python_runs_without_a_script(repo: Path) -> None:
    code = "import gittrack\nwith gittrack.start_run(run_name='notebook'):\n    gittrack.log_metric('m', 1)"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    result = CliRunner().invoke(main, ["reproduce", "notebook"])
    assert result.exit_code == 2
    assert "without a script to re-run" in result.output


def test_checkout_blocked_by_an_untracked_file_is_one_line(repo: Path) -> None:
    (repo / "notes.txt").write_text("in the run\n")
    with gittrack.start_run(run_name="with-notes"):
        pass
    (repo / "notes.txt").write_text("a different untracked file now\n")
    result = CliRunner().invoke(main, ["checkout", "with-notes"])
    assert result.exit_code == 2
    assert "cannot check out run" in result.output
    assert "Traceback" not in result.output
    assert (repo / "notes.txt").read_text() == "a different untracked file now\n"


def test_init_remote_sets_up_plain_git(bare: Path, tmp_path: Path) -> None:
    a = clone(str(bare), tmp_path / "a")
    result = subprocess.run([str(BIN / "gittrack"), "init", "--no-dvc", "--remote", "origin"], cwd=a,
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "added remote.origin.fetch = refs/runs/*:refs/runs/*" in result.stdout
    assert "refs/runs/*:refs/runs/*" in git(a, "config", "--get-all", "remote.origin.push")


def log_data(root: Path, experiment: str, payload: bytes) -> str:
    """One finished run of ``experiment`` in ``root`` with one file artifact holding ``payload``."""
    source = root.parent / f"{experiment}-{os.urandom(4).hex()}" / "model.bin"
    source.parent.mkdir()
    source.write_bytes(payload)
    client = gittrack.Client(root)
    run_id = client.create_run(experiment=experiment).info.run_id
    client.log_artifact(run_id, source)
    client.set_terminated(run_id)
    return run_id


def cache_file(root: Path, md5: str) -> Path:
    return root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]


def test_push_after_pulling_runs_whose_data_this_clone_never_had(bare: Path, tmp_path: Path) -> None:
    a = clone(str(bare), tmp_path / "a")
    git(a, "config", "user.name", "Bea Teammate")
    subprocess.run([str(BIN / "gittrack"), "init", "--dvc-remote", str(tmp_path / "dvc-remote"), "--commit"], cwd=a,
                   check=True, capture_output=True)  # fmt: skip
    git(a, "push", "-q", "origin", "HEAD:main")
    for n in range(3):  # packed indexes of several experiments, their data on the DVC remote...
        log_data(a, f"exp-{n}", os.urandom(512))
    assert push(pygit2.Repository(str(a)), pack=True).data_objects == 3
    lost = log_data(a, "exp-lost", os.urandom(512))  # ...and one whose data never reached it
    push(pygit2.Repository(str(a)), pack=True, artifacts=False)
    b = clone(str(bare), tmp_path / "b")
    assert pull(pygit2.Repository(str(b))).packed_runs == 4
    dvcstore.open_dvc.cache_clear()
    mine = log_data(b, "exp-b", b"the teammate's own model")
    result = subprocess.run([str(BIN / "gittrack"), "push"], cwd=b, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "1 DVC object(s)" in result.stdout
    skipped = [line for line in result.stderr.splitlines() if "DVC" in line]
    assert len(skipped) == 1, result.stderr
    assert "3 already on the DVC remote" in skipped[0]
    assert "1 on neither" in skipped[0]
    c = clone(str(bare), tmp_path / "c")
    pull(pygit2.Repository(str(c)))
    dvcstore.open_dvc.cache_clear()
    got = gittrack.Client(c).download_artifacts(mine, "model.bin", tmp_path / "got")
    assert Path(got).read_bytes() == b"the teammate's own model"
    with pytest.raises(dvcstore.DataError, match="the DVC remote lacks"):
        gittrack.Client(c).download_artifacts(lost, "model.bin", tmp_path / "lost")


def test_push_fails_for_the_missing_data_of_its_own_runs(bare: Path, tmp_path: Path) -> None:
    a = clone(str(bare), tmp_path / "a")
    subprocess.run([str(BIN / "gittrack"), "init", "--dvc-remote", str(tmp_path / "dvc-remote"), "--commit"], cwd=a,
                   check=True, capture_output=True)  # fmt: skip
    kept = log_data(a, "exp", b"kept")
    gone = log_data(a, "exp", b"gone")
    md5 = gittrack.Client(a).get_run(gone).details.artifacts[0]["md5"]
    cache_file(a, md5).unlink()
    dvcstore.open_dvc.cache_clear()
    report = push(pygit2.Repository(str(a)))
    assert report.data_objects == 1  # what exists locally still goes
    assert len(report.missing_data) == 1
    assert gone in report.missing_data[0]
    assert md5 in report.missing_data[0]
    assert kept not in report.missing_data[0]
    assert len(git(bare, "for-each-ref", "refs/runs/").splitlines()) == 2  # the runs themselves are shared
    result = subprocess.run([str(BIN / "gittrack"), "push"], cwd=a, capture_output=True, text=True)
    assert result.returncode == 1
    assert "neither in the local DVC cache nor on the DVC remote" in result.stderr
    assert "Traceback" not in result.stderr


def test_reproduce_refuses_an_entry_point_outside_the_repository(repo: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere" / "train.py"
    elsewhere.parent.mkdir()
    elsewhere.write_text(textwrap.dedent(SCRIPT))
    gt = str(BIN / "gittrack")
    subprocess.run([gt, "run", "-n", "outside", "--", sys.executable, str(elsewhere), "7"], check=True,
                   capture_output=True)  # fmt: skip
    refused = subprocess.run([gt, "reproduce", "outside"], capture_output=True, text=True)
    assert refused.returncode == 2
    assert "outside the repository" in refused.stderr
    assert "--allow-outside" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert not [r for r in gittrack.list_runs() if r.data.tags.get("reproduced_from")]  # nothing was re-run
    allowed = subprocess.run([gt, "reproduce", "outside", "--allow-outside"], capture_output=True, text=True)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    assert "reproduced" in allowed.stdout


def test_two_clones_edit_one_ended_run_and_converge(bare: Path, tmp_path: Path) -> None:
    a = clone(str(bare), tmp_path / "a")
    b = clone(str(bare), tmp_path / "b")
    run_id, _ = record(a, n=2)
    gt = str(BIN / "gittrack")
    assert subprocess.run([gt, "push"], cwd=a, capture_output=True).returncode == 0
    assert subprocess.run([gt, "pull"], cwd=b, capture_output=True).returncode == 0
    commit = gittrack.Client(a).get_run(run_id).info.commit
    gittrack.Client(a).set_tag(run_id, "reviewed", "yes")  # both edit the run before either pushes
    gittrack.Client(a).rename_run(run_id, "chosen")
    gittrack.Client(b).edit_run(run_id, {"owner": "bea"}, description="best of the sweep")
    for root in (a, b, a):  # pull merges the notes by union, push sends the merge on
        subprocess.run([gt, "pull"], cwd=root, capture_output=True, check=True)
        subprocess.run([gt, "push"], cwd=root, capture_output=True, check=True)
    for root in (a, b):
        run = gittrack.Client(root).get_run(run_id)
        assert run.info.run_name == "chosen"
        assert run.info.commit == commit
        assert run.data.tags == {"reviewed": "yes", "owner": "bea", "mlflow.note.content": "best of the sweep"}
        listed = subprocess.run([gt, "runs", "list", "-f", "tags.reviewed = 'yes'", "--json"], cwd=root,
                                capture_output=True, text=True, check=True)  # fmt: skip
        assert [(r["run_id"], r["run_name"]) for r in json.loads(listed.stdout)] == [(run_id, "chosen")]
    assert git(a, "rev-parse", "refs/notes/gittrack") == git(b, "rev-parse", "refs/notes/gittrack")
