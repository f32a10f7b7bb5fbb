"""Packed runs (refs/runs-index/<experiment>): packing, reading, deleting, and sharing them through
real bare remotes, including hostile indexes and the server hook."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pygit2
import pytest
from click.testing import CliRunner
from hypothesis import assume, given
from hypothesis import strategies as st

import gittrack
from gittrack._data import dvcstore
from gittrack._store import packs
from gittrack._store.ids import RUN_ID_LENGTH, RUN_ID_PATTERN
from gittrack._sync import pull, push, remote_runs
from gittrack.cli import main
from gittrack.errors import ConflictError
from tests.conftest import BIN, git


def record(root: Path, experiment: str = "exp", n: int = 3, finish: bool = True) -> list[str]:
    client = gittrack.Client(root)
    ids = []
    for i in range(n):
        run_id = client.create_run(experiment=experiment, params={"i": i, "model": "rf"}).info.run_id
        for step in range(3):
            client.log_metric(run_id, "loss", 1.0 / (i + step + 1), step=step)
        if finish:
            client.set_terminated(run_id)
        ids.append(run_id)
    return ids


def run_refs(root: Path) -> list[str]:
    return sorted(git(root, "for-each-ref", "--format=%(refname)", "refs/runs/").split())


def frame(root: Path):
    return gittrack.Client(root).search_runs(order_by=["run_id"]).drop(columns=["status"])


def test_packing_keeps_every_run_readable(repo: Path) -> None:
    ended = record(repo, n=3)
    running = record(repo, n=1, finish=False)
    before = frame(repo)
    report = gittrack.Client(repo).pack_runs()
    assert report.packed == {"exp": 3}
    assert report.refs_removed == 3
    assert run_refs(repo) == [f"refs/runs/exp/{running[0]}"]
    tip = git(repo, "rev-parse", "refs/runs-index/exp").strip()
    root, *parents = git(repo, "log", "-1", "--format=%P", tip).split()
    commits = {gittrack.get_run(run_id).info.commit for run_id in ended}
    assert set(parents) == commits  # the run commits stay reachable through the index
    assert git(repo, "log", "-1", "--format=%s%P", root) == "gittrack: start the run index of exp\n"
    assert frame(repo).equals(before)
    assert gittrack.get_run(ended[1][:14]).data.params == {"i": "1", "model": "rf"}
    history = gittrack.get_metric_history(ended[2], "loss")
    assert list(history["step"]) == [0, 1, 2]
    with pytest.raises(gittrack.ImmutableRunError, match="has already ended"):
        gittrack.Client(repo).log_metric(ended[0], "loss", 0.1)
    git(repo, "gc", "-q", "--prune=now")
    assert "error" not in git(repo, "fsck", "--full", "--no-dangling").lower()
    assert frame(repo).equals(before)
    assert len(gittrack.list_runs("exp")) == 4


def test_packing_again_adds_to_the_chain(repo: Path) -> None:
    record(repo, n=2)
    client = gittrack.Client(repo)
    client.pack_runs()
    assert client.pack_runs().packed == {}
    later = record(repo, n=1)
    assert client.pack_runs(["exp"]).packed == {"exp": 1}
    chain = git(repo, "log", "--first-parent", "--format=%s", "refs/runs-index/exp").splitlines()
    assert chain == [
        "gittrack: pack 1 runs of exp",
        "gittrack: pack 2 runs of exp",
        "gittrack: start the run index of exp",
    ]
    batches = git(repo, "ls-tree", "--name-only", "refs/runs-index/exp:runs").split()
    assert len(batches) == 2
    assert all(name.endswith(".runs") for name in batches)
    lines = git(repo, "cat-file", "-p", f"refs/runs-index/exp:runs/{batches[0]}").splitlines()
    run_id, commit, summary = lines[0].split(" ", 2)
    assert len(run_id) == RUN_ID_LENGTH
    assert len(commit) == 40
    assert json.loads(summary)["id"] == run_id
    assert git(repo, "show", f"{commit}:.gittrack/run/summary.json") == summary  # byte for byte
    assert later[0] in set(frame(repo)["run_id"])


def test_pack_of_one_experiment_leaves_the_others(repo: Path) -> None:
    record(repo, experiment="a", n=2)
    record(repo, experiment="b", n=2)
    assert gittrack.Client(repo).pack_runs(["a"]).packed == {"a": 2}
    assert [ref.rsplit("/", 2)[1] for ref in run_refs(repo)] == ["b", "b"]
    assert len(frame(repo)) == 4


def test_delete_and_restore_a_packed_run(repo: Path) -> None:
    ids = record(repo, n=2)
    client = gittrack.Client(repo)
    client.pack_runs()
    _, moved = client.delete_runs([ids[0]])[0]
    assert moved == f"refs/runs-deleted/exp/{ids[0]}"
    assert list(client.search_runs()["run_id"]) == [ids[1]]
    assert list(client.search_runs(run_view="deleted")["run_id"]) == [ids[0]]
    assert client.restore_run(ids[0]).info.run_id == ids[0]
    assert len(client.search_runs()) == 2
    assert client.pack_runs().refs_removed == 1  # the restored ref is packed already


def test_an_interrupted_pack_shows_each_run_once(repo: Path) -> None:
    ids = record(repo, n=2)
    repository = pygit2.Repository(str(repo))
    runs = []
    for run_id in ids:
        commit = gittrack.get_run(run_id).info.commit
        summary = git(repo, "show", f"{commit}:.gittrack/run/summary.json").encode()
        runs.append(packs.PackedRun(run_id, commit, summary))
    tip = packs.append(repository, "exp", None, runs)
    packs.move(repository, "refs/runs-index/exp", None, tip)  # killed before removing the refs
    assert sorted(frame(repo)["run_id"]) == sorted(ids)
    assert gittrack.get_run(ids[0]).info.run_id == ids[0]
    report = gittrack.Client(repo).pack_runs()
    assert (report.packed, report.refs_removed) == ({}, 2)
    with pytest.raises(ConflictError, match="changed while gittrack was updating it"):
        packs.move(repository, "refs/runs-index/exp", None, tip)


def write_index(root: Path, experiment: str, lines: list[bytes], marker: bytes = packs.FORMAT) -> None:
    """An index ref made by hand (as a hostile remote could)."""
    repository = pygit2.Repository(str(root))
    batch = repository.create_blob(b"".join(line + b"\n" for line in lines))
    runs = repository.TreeBuilder()
    runs.insert("bad.runs", batch, pygit2.GIT_FILEMODE_BLOB)
    tree = repository.TreeBuilder()
    tree.insert("FORMAT", repository.create_blob(marker), pygit2.GIT_FILEMODE_BLOB)
    tree.insert("runs", runs.write(), pygit2.GIT_FILEMODE_TREE)
    signature = pygit2.Signature("x", "x@example.com")
    parents = [pygit2.Oid(hex=c.decode()) for c in (line.split(b" ")[1] for line in lines if line.count(b" ") >= 2)]
    parents = [oid for oid in parents if oid in repository.odb]
    commit = repository.create_commit(None, signature, signature, "hand-made", tree.write(), parents)
    repository.references.create(packs.index_ref(experiment), commit, force=True)


def line_of(root: Path, run_id: str) -> bytes:
    commit = gittrack.Client(root).get_run(run_id).info.commit
    return f"{run_id} {commit} ".encode() + git(root, "show", f"{commit}:.gittrack/run/summary.json").encode()


def test_malformed_index_lines_are_reported_and_skipped(repo: Path, caplog) -> None:
    good, other = record(repo, n=2)
    fine = line_of(repo, good)
    git(repo, "update-ref", "-d", f"refs/runs/exp/{good}")
    write_index(repo, "exp", [fine, b"garbage line", b"01" + b"z" * 30 + b" 1234 {}", *[b"x"] * 48])
    rows = gittrack.search_runs()
    assert sorted(rows["run_id"]) == sorted([good, other])
    assert "is not '<run-id> <commit> <summary json>'" in caplog.text
    assert "30 more malformed lines" in caplog.text  # a hostile index does not flood the warnings
    assert caplog.text.count("batch bad.runs") == 20
    write_index(repo, "exp", [fine], marker=b"gittrack-run-index 99\n")
    assert list(gittrack.search_runs()["run_id"]) == [other]
    assert "of another format; upgrade gittrack" in caplog.text


def test_pull_checks_every_packed_run_against_its_commit(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    a = make_clone(remote, tmp_path / "a")
    good, forged, running = record(a, n=2) + record(a, n=1, finish=False)
    forged_line = line_of(a, forged).replace(b'"model":"rf"', b'"model":"xgboost"')
    assert forged_line != line_of(a, forged)
    lies = line_of(a, good).replace(f"{good} ".encode(), f"{forged} ".encode(), 1)
    write_index(a, "exp", [line_of(a, good), forged_line, line_of(a, running)])
    git(a, "push", "-q", str(remote), "refs/runs-index/exp:refs/runs-index/exp")
    b = make_clone(remote, tmp_path / "b")
    report = pull(pygit2.Repository(str(b)))
    assert report.packed_runs == 1
    skipped = "\n".join(report.skipped)
    assert f"run {forged}: its packed summary differs" in skipped
    assert f"run {running}: it is still RUNNING" in skipped
    assert list(frame(b)["run_id"]) == [good]
    write_index(a, "exp", [lies])
    git(a, "push", "-q", "-f", str(remote), "refs/runs-index/exp:refs/runs-index/exp")
    again = pull(pygit2.Repository(str(b)))
    assert any(f"run {forged}: its commit records run {good}" in line for line in again.skipped)
    assert list(frame(b)["run_id"]) == [good]


def make_clone(remote: Path, path: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(remote), str(path)], check=True, capture_output=True)
    git(path, "commit", "-q", "--allow-empty", "-m", "start")
    return path


def test_two_clones_pack_and_push_at_once(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    a = make_clone(remote, tmp_path / "a")
    b = make_clone(remote, tmp_path / "b")
    shared = record(a, n=2)
    push(pygit2.Repository(str(a)))
    assert len(git(remote, "for-each-ref", "refs/runs/").splitlines()) == 2
    pull(pygit2.Repository(str(b)))
    record(a, n=2)
    record(b, n=3)
    for clone in (a, b):
        gittrack.Client(clone).pack_runs()
    first = push(pygit2.Repository(str(a)))
    assert first.indexes == ["refs/runs-index/exp"]
    assert first.pruned == 2  # the remote's own refs of the runs now packed
    second = push(pygit2.Repository(str(b)))  # rejected as not a fast-forward, then united
    assert second.indexes == ["refs/runs-index/exp", "refs/runs-index/exp"]  # merged here, then sent
    assert not second.refused
    assert not second.conflicts
    assert git(remote, "for-each-ref", "refs/runs/") == ""
    calls: list[tuple[int, int]] = []
    pull(pygit2.Repository(str(a)), progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (7, 7)  # every packed run of the fetched index checked, with progress
    pull(pygit2.Repository(str(b)))
    assert len(frame(a)) == len(frame(b)) == 7
    assert frame(a).equals(frame(b))
    assert set(shared) <= set(frame(a)["run_id"])
    held = remote_runs(pygit2.Repository(str(b)), str(remote))  # what 'registry check --remote' reads
    assert held == dict(
        zip(frame(a)["ref"], (gittrack.Client(a).get_run(r).info.commit for r in frame(a)["run_id"]), strict=True)
    )
    chain = git(remote, "log", "--first-parent", "--format=%s", "refs/runs-index/exp").splitlines()
    assert chain == [
        "gittrack: merge run indexes of exp",
        "gittrack: pack 5 runs of exp",
        "gittrack: start the run index of exp",
    ]


def test_push_packs_by_itself_past_the_auto_pack_limit(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    a = make_clone(remote, tmp_path / "a")
    record(a, n=2)
    git(a, "config", "gittrack.autoPack", "2")
    assert push(pygit2.Repository(str(a))).packed_runs == 0  # 2 refs: within the limit
    record(a, n=1)
    assert push(pygit2.Repository(str(a)), pack=False).packed_runs == 0
    report = push(pygit2.Repository(str(a)))
    assert report.packed_runs == 3
    assert report.pruned == 3
    assert git(remote, "for-each-ref", "--format=%(refname)").split() == ["refs/runs-index/exp"]
    git(a, "config", "gittrack.autoPack", "lots")
    with pytest.raises(gittrack.UsageError, match="must be a number of runs"):
        push(pygit2.Repository(str(a)))


def test_packed_runs_bring_their_artifacts_and_check_out(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    a = make_clone(remote, tmp_path / "a")
    subprocess.run([str(BIN / "gittrack"), "init", "--dvc-remote", str(tmp_path / "dvc-remote"), "--commit"], cwd=a,
                   check=True, capture_output=True)  # fmt: skip
    git(a, "push", "-q", "origin", "HEAD:main")
    (a / "weights.bin").write_bytes(os.urandom(4096))
    client = gittrack.Client(a)
    run_id = client.create_run(experiment="art").info.run_id
    client.log_artifact(run_id, a / "weights.bin")
    client.set_terminated(run_id)
    report = push(pygit2.Repository(str(a)), pack=True)
    assert (report.packed_runs, report.data_objects) == (1, 1)
    b = tmp_path / "b"
    subprocess.run(["git", "clone", "-q", str(remote), str(b)], check=True, capture_output=True)
    assert pull(pygit2.Repository(str(b)), experiment="art", artifacts=True).packed_runs == 1
    dvcstore.open_dvc.cache_clear()
    got = gittrack.Client(b).download_artifacts(run_id, "weights.bin", tmp_path / "got")
    assert Path(got).read_bytes() == (a / "weights.bin").read_bytes()
    checked = subprocess.run([str(BIN / "gittrack"), "checkout", run_id[:12]], cwd=b, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert git(b, "rev-parse", "HEAD").strip() == gittrack.Client(b).get_run(run_id).info.commit


def test_server_hook_accepts_packing_and_refuses_dropped_runs(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    subprocess.run([str(BIN / "gittrack"), "hooks", "install", "--server"], cwd=remote, check=True, capture_output=True)
    a = make_clone(remote, tmp_path / "a")
    git(a, "push", "-q", "origin", "HEAD:main")
    ids = record(a, n=3)
    push(pygit2.Repository(str(a)))
    gittrack.Client(a).pack_runs()
    report = push(pygit2.Repository(str(a)))
    assert not report.refused
    assert report.pruned == 3
    write_index(a, "exp", [line_of(a, ids[0])])  # drops two runs
    refused = subprocess.run(
        ["git", "push", "-f", "origin", "refs/runs-index/exp:refs/runs-index/exp"],
        cwd=a,
        capture_output=True,
        text=True,
    )
    assert refused.returncode != 0
    assert "indexes only grow" in refused.stderr
    deleted = subprocess.run(["git", "push", "origin", ":refs/runs-index/exp"], cwd=a, capture_output=True, text=True)
    assert "run indexes are never deleted" in deleted.stderr


def test_runs_pack_command(repo: Path, gittrack_cmd: list[str]) -> None:
    record(repo, experiment="taxi", n=2)
    record(repo, experiment="taxi", n=1, finish=False)
    result = CliRunner().invoke(main, ["runs", "pack"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["taxi: packed 2 run(s)", "removed 2 ref(s) of packed runs"]
    again = subprocess.run([*gittrack_cmd, "runs", "pack", "taxi"], capture_output=True, text=True)
    assert again.returncode == 0
    assert "nothing new to pack" in again.stdout
    status = subprocess.run([*gittrack_cmd, "init", "--no-dvc"], capture_output=True, text=True)
    assert "runs: 3 in 1 experiment(s), under refs/runs/ (2 packed, under refs/runs-index/)" in status.stdout
    listed = subprocess.run([*gittrack_cmd, "runs", "list", "--json"], capture_output=True, text=True)
    assert len(json.loads(listed.stdout)) == 3
    remote = repo.parent / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    record(repo, experiment="taxi", n=1)
    pushed = subprocess.run([*gittrack_cmd, "push", str(remote), "--pack"], capture_output=True, text=True)
    assert pushed.returncode == 0, pushed.stderr
    assert "1 run index(es) updated" in pushed.stdout
    assert "1 run(s) packed" in pushed.stdout
    assert git(remote, "for-each-ref", "--format=%(refname)").split() == [
        "refs/runs-index/taxi",
        "refs/runs/taxi/" + listed_running(repo),
    ]
    bad = subprocess.run([*gittrack_cmd, "runs", "pack", "bad\x01name"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert "control characters" in bad.stderr
    assert "Traceback" not in bad.stderr


def listed_running(root: Path) -> str:
    return next(r.info.run_id for r in gittrack.Client(root).list_runs() if r.info.status == "RUNNING")


_ids = st.text(alphabet="0123456789abcdefghjkmnpqrstvwxyz", min_size=RUN_ID_LENGTH, max_size=RUN_ID_LENGTH)
_commits = st.text(alphabet="0123456789abcdef", min_size=40, max_size=40)
_summaries = st.dictionaries(st.text(max_size=5), st.text(max_size=20), max_size=4).map(
    lambda d: json.dumps(d, ensure_ascii=False).encode()
)


@given(run_id=_ids, commit=_commits, summary=_summaries, noise=st.binary(max_size=40))
def test_batch_lines_round_trip_and_reject_noise(run_id: str, commit: str, summary: bytes, noise: bytes) -> None:
    line = b"%s %s %s" % (run_id.encode(), commit.encode(), summary)
    assert packs.parse_line(line) == packs.PackedRun(run_id, commit, summary)
    assume(re.fullmatch(RUN_ID_PATTERN.encode(), noise) is None)
    with pytest.raises(gittrack.MalformedRunError):
        packs.parse_line(noise + b" " + commit.encode() + b" {}")
