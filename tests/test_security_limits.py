"""A hostile remote, round 2: trees that expand to far more than they weigh (many names for one
blob), duplicate packed lines, dropped notes and run commits whose two record files disagree.
Played with plain git from the attacker's clone against a bare remote, with and without the
server hook; the victim's commands run with 3 GB of address space at most."""

from __future__ import annotations

import hashlib
import json
import resource
import subprocess
import sys
from pathlib import Path

import pygit2
import pytest

import gittrack
from gittrack._store.record import dump_record, dump_summary, parse_summary
from gittrack._store.trees import apply_changes
from tests import test_security
from tests.conftest import git
from tests.test_security import BLOB, GT, forge, gt, push_raw, run_commit

world = test_security.world  # the attacker, the victim and their remote (with and without the hook)

pytestmark = pytest.mark.slow
MEMORY = 3 * 1024**3
WHO = pygit2.Signature("Mallory", "m@example.com")


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def limited(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    """A gittrack command with 3 GB of address space, as the victim would run it."""
    return subprocess.run([GT, *args], cwd=cwd, capture_output=True, text=True, preexec_fn=_cap_memory, timeout=300)


def limited_python(cwd: Path, code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          preexec_fn=_cap_memory, timeout=300)  # fmt: skip


def one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "MemoryError" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr[-2000:]
    for word in words:
        assert word in result.stderr


def ended_run(root: Path, **params) -> str:
    client = gittrack.Client(root)
    run_id = client.create_run(experiment="exp", params=params).info.run_id
    client.log_metric(run_id, "loss", 0.5)
    client.set_terminated(run_id)
    return run_id


def many_names(root: Path, base: pygit2.Oid | None, folder: str, blob: pygit2.Oid, names: list[str]) -> pygit2.Oid:
    """The tree ``base`` with ``folder`` holding every name in ``names``, all pointing at one blob."""
    repo = pygit2.Repository(str(root))
    builder = repo.TreeBuilder()
    for name in names:
        builder.insert(name, blob, BLOB)
    sub = builder.write()
    if not folder:
        return sub
    return apply_changes(repo, base, {folder: (sub, pygit2.GIT_FILEMODE_TREE)})


# -- 4: a notes tree of 4,000 names for one 1 MiB blob -------------------------------------------
def _notes_bomb(root: Path) -> str:
    """A notes commit on top of the remote's: 4,000 notes sharing one 1 MiB blob (a 600 KB push)."""
    repo = pygit2.Repository(str(root))
    line = b'{"k":"tag:a","t":1,"v":"b"}\n'
    blob = repo.create_blob(line * (1024 * 1024 // len(line)))
    names = [hashlib.sha1(str(i).encode()).hexdigest() for i in range(4000)]
    tree = many_names(root, None, "", blob, names)
    parents = []
    if git(root, "ls-remote", "origin", "refs/notes/gittrack").strip():
        git(root, "fetch", "-q", "origin", "+refs/notes/gittrack:refs/notes/gittrack")
        parents = [repo.references["refs/notes/gittrack"].target]
    return str(repo.create_commit(None, WHO, WHO, "notes", tree, parents))


def test_a_notes_bomb_never_lands_and_pull_takes_the_rest(world) -> None:
    attacker, victim, run_id = world["attacker"], world["victim"], world["run"]
    gittrack.Client(attacker).set_tag(run_id, "reviewed", "yes")
    assert gt(attacker, "push").returncode == 0  # genuine notes first: the bomb is a fast-forward
    bomb = _notes_bomb(attacker)
    pushed = push_raw(attacker, f"{bomb}:refs/notes/gittrack")
    assert (pushed.returncode != 0) == world["hook"]
    if world["hook"]:
        assert "bytes" in pushed.stderr
    later = ended_run(attacker, lr=0.2)
    gt(attacker, "push")  # its notes are refused on a remote holding the bomb; its run is not
    assert f"refs/runs/exp/{later}" in git(attacker, "ls-remote", "origin")
    pulled = limited(victim, "pull")
    assert pulled.returncode == 0, pulled.stderr[-2000:]
    repo = pygit2.Repository(str(victim))
    notes = repo.references.get("refs/notes/gittrack")
    assert notes is None or str(notes.target) != bomb
    if not world["hook"]:
        assert "refs/notes/gittrack" in pulled.stderr
    assert repo.references.get(f"refs/runs/exp/{later}") is not None  # the rest was taken in
    listed = limited(victim, "runs", "list", "--json")
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert {r["run_id"] for r in json.loads(listed.stdout)} == {run_id, later}
    # the victim is not stuck: its own edits still push (refused as one ref on a remote holding the bomb)
    gittrack.Client(victim).set_tag(later, "seen", "yes")
    pushed = limited(victim, "push")
    assert "Traceback" not in pushed.stderr
    assert "MemoryError" not in pushed.stderr


@pytest.mark.parametrize("world", [False], indirect=True, ids=["plain-remote"])
def test_a_notes_bomb_brought_in_by_plain_git_is_refused_in_one_line(world) -> None:
    attacker, victim = world["attacker"], world["victim"]
    bomb = _notes_bomb(attacker)
    git(attacker, "update-ref", "refs/notes/gittrack", bomb)
    git(victim, "fetch", "-q", str(attacker), "+refs/notes/gittrack:refs/notes/gittrack")
    assert gt(victim, "pull").returncode == 0
    for args in (("runs", "list"), ("runs", "list", "--json")):
        one_line_error(limited(victim, *args), "refs/notes/gittrack", "update-ref -d")
    listed = limited_python(victim, "import gittrack\ngittrack.Client().list_experiments()\n")
    assert listed.returncode == 1
    assert "MalformedRunError" in listed.stderr
    assert "MemoryError" not in listed.stderr


# -- 5: a metric history of 2,000 segments sharing one 4 MiB blob ---------------------------------
def _history_bomb(root: Path, run_id: str) -> str:
    repo = pygit2.Repository(str(root))
    commit = run_commit(root, run_id)
    point = b"0\t0\t0.0\n"
    blob = repo.create_blob(b"step\ttimestamp_ms\tvalue\n" + point * (4 * 1024 * 1024 // len(point) - 4))
    names = [f"{i:08d}.tsv" for i in range(1, 2001)]
    tree = many_names(root, repo[commit].tree_id, ".gittrack/run/metrics/loss.segments", blob, names)
    return str(repo.create_commit(None, WHO, WHO, "history", tree, list(repo[commit].parent_ids)))


def test_a_history_bomb_never_lands_and_readers_refuse_it(world) -> None:
    attacker, victim = world["attacker"], world["victim"]
    run_id = ended_run(attacker)
    bomb = _history_bomb(attacker, run_id)
    ref = f"refs/runs/exp/{run_id}"
    pushed = push_raw(attacker, f"{bomb}:{ref}")
    assert (pushed.returncode != 0) == world["hook"]
    if world["hook"]:
        assert "segments" in pushed.stderr or "bytes" in pushed.stderr
    pulled = limited(victim, "pull")
    assert pulled.returncode == 0, pulled.stderr[-2000:]
    assert pygit2.Repository(str(victim)).references.get(ref) is None
    # brought in by plain git, every reader refuses it before reading a segment
    git(attacker, "update-ref", ref, bomb)
    git(victim, "fetch", "-q", str(attacker), f"+{ref}:{ref}")
    one_line_error(limited(victim, "metrics", run_id, "--csv"), "history of metric 'loss'")
    code = f"import gittrack\ngittrack.Client().get_metric_arrays({run_id!r}, 'loss')\n"
    arrays = limited_python(victim, code)
    assert arrays.returncode == 1
    assert "MalformedRunError" in arrays.stderr
    assert "MemoryError" not in arrays.stderr
    assert limited(victim, "runs", "show", run_id).returncode == 0  # the record itself reads


# -- 10: a duplicate packed line and an own ref at a forged commit ---------------------------------
def _forged_run(root: Path, commit: str) -> tuple[str, bytes]:
    """A commit like ``commit`` recording other params and metrics, both files agreeing; and the
    forged summary."""
    summary = git(root, "show", f"{commit}:.gittrack/run/summary.json").encode()
    record = parse_summary(summary)
    record.params["lr"] = "0.9"
    record.metrics["auc"].value = 0.99
    forged = dump_summary(record)
    return forge(root, commit, {".gittrack/run/summary.json": (forged, BLOB),
                                ".gittrack/run/run.yaml": (dump_record(record), BLOB)}), forged  # fmt: skip


@pytest.mark.parametrize("batch", ["0000.runs", "zzzz.runs"])
def test_a_duplicate_packed_line_and_a_forged_own_ref_are_not_taken(world, batch: str) -> None:
    attacker, victim, run_id = world["attacker"], world["victim"], world["run"]
    assert gt(attacker, "runs", "pack").returncode == 0
    assert gt(attacker, "push").returncode == 0
    repo = pygit2.Repository(str(attacker))
    tip = repo.references["refs/runs-index/exp"].target
    commit = run_commit(attacker, run_id)
    forged_commit, forged_summary = _forged_run(attacker, commit)
    line = b"%s %s %s\n" % (run_id.encode(), commit.encode(), forged_summary)  # the packed commit, another summary
    tree = apply_changes(repo, repo[tip].tree_id, {f"runs/{batch}": (repo.create_blob(line), BLOB)})
    child = repo.create_commit(None, WHO, WHO, "more", tree, [tip])
    index = push_raw(attacker, f"{child}:refs/runs-index/exp")
    own = push_raw(attacker, f"{forged_commit}:refs/runs/exp/{run_id}")
    assert (index.returncode != 0) == world["hook"]
    assert (own.returncode != 0) == world["hook"]
    pulled = limited(victim, "pull")
    assert pulled.returncode == (0 if world["hook"] else 1), pulled.stderr[-2000:]  # 1: a conflict is reported
    assert "Traceback" not in pulled.stderr
    shown = json.loads(gt(victim, "runs", "show", run_id, "--json").stdout)
    assert shown["params"] == {"lr": "0.1"}
    assert shown["metrics"]["auc"] == 0.71
    listed = json.loads(gt(victim, "runs", "list", "-e", "exp", "--json").stdout)
    assert [r["metrics"]["auc"] for r in listed] == [0.71]
    assert pygit2.Repository(str(victim)).references.get(f"refs/runs/exp/{run_id}") is None


# -- 11: removing every note, pushed as a fast-forward ----------------------------------------------
def test_removing_or_trimming_notes_is_refused_by_the_hook_and_kept_by_pull(world, tmp_path: Path) -> None:
    attacker, victim, run_id = world["attacker"], world["victim"], world["run"]
    assert gt(victim, "pull").returncode == 0
    client = gittrack.Client(victim)
    client.set_tag(run_id, "reviewed", "yes")
    client.set_tag(run_id, "owner", "ana")
    assert gt(victim, "push").returncode == 0
    commit = run_commit(victim, run_id)
    git(attacker, "fetch", "-q", "origin", "+refs/notes/gittrack:refs/notes/gittrack")
    kept = git(attacker, "notes", "--ref=gittrack", "show", commit).splitlines()
    (attacker / "note.txt").write_text(kept[0] + "\n")
    git(attacker, "notes", "--ref=gittrack", "add", "-f", "-F", str(attacker / "note.txt"), commit)
    trimmed = push_raw(attacker, "refs/notes/gittrack:refs/notes/gittrack")
    assert (trimmed.returncode != 0) == world["hook"]
    if world["hook"]:
        assert "drops lines of the note" in trimmed.stderr
    git(attacker, "notes", "--ref=gittrack", "remove", commit)
    removed = push_raw(attacker, "refs/notes/gittrack:refs/notes/gittrack")
    assert (removed.returncode != 0) == world["hook"]
    if world["hook"]:
        assert "removes the note" in removed.stderr
    assert gt(victim, "pull").returncode == 0  # union merge: the victim keeps its edits
    assert gittrack.Client(victim).get_run(run_id).data.tags == {"reviewed": "yes", "owner": "ana"}
    fresh = tmp_path / "fresh"
    subprocess.run(["git", "clone", "-q", str(world["remote"]), str(fresh)], check=True, capture_output=True)
    assert gt(fresh, "pull").returncode == 0
    tags = gittrack.Client(fresh).get_run(run_id).data.tags
    if world["hook"]:
        assert tags == {"reviewed": "yes", "owner": "ana"}
    else:  # a remote without the hook loses them until a clone that has them pushes again
        assert gt(victim, "push").returncode == 0
        assert gt(fresh, "pull").returncode == 0
        assert gittrack.Client(fresh).get_run(run_id).data.tags == {"reviewed": "yes", "owner": "ana"}


# -- 12: run.yaml and summary.json that disagree -----------------------------------------------------
@pytest.mark.parametrize("field", ["params", "metrics", "command"])
def test_a_run_whose_two_record_files_disagree_is_refused(world, field: str) -> None:
    attacker, victim = world["attacker"], world["victim"]
    run_id = ended_run(attacker, lr=0.1)
    commit = run_commit(attacker, run_id)
    summary = git(attacker, "show", f"{commit}:.gittrack/run/summary.json").encode()
    record = parse_summary(summary)
    if field == "params":
        record.params["lr"] = "0.9"
    elif field == "metrics":
        record.metrics["loss"].value = 0.01
    else:
        record.command = {**record.command, "argv": ["rm", "-rf", "/"]}
    forged = forge(attacker, commit, {".gittrack/run/run.yaml": (dump_record(record), BLOB)})  # summary untouched
    ref = f"refs/runs/exp/{run_id}"
    pushed = push_raw(attacker, f"{forged}:{ref}")
    assert (pushed.returncode != 0) == world["hook"]
    if world["hook"]:
        assert "disagree" in pushed.stderr
    pulled = gt(victim, "pull")
    assert pulled.returncode == 0, pulled.stderr
    if not world["hook"]:
        assert "disagree" in pulled.stderr
    assert pygit2.Repository(str(victim)).references.get(ref) is None
    git(attacker, "update-ref", ref, forged)
    git(victim, "fetch", "-q", str(attacker), f"+{ref}:{ref}")
    one_line_error(gt(victim, "runs", "show", run_id), "disagree on", field)


def test_a_packed_run_whose_record_files_disagree_is_refused(world) -> None:
    attacker, victim = world["attacker"], world["victim"]
    commit = run_commit(attacker, world["run"])
    record = parse_summary(git(attacker, "show", f"{commit}:.gittrack/run/summary.json").encode())
    record.id = gittrack.Client(attacker).create_run(experiment="exp").info.run_id
    summary = dump_summary(record)
    record.params = {"lr": "0.9"}
    forged = forge(attacker, commit, {".gittrack/run/summary.json": (summary, BLOB),
                                      ".gittrack/run/run.yaml": (dump_record(record), BLOB)})  # fmt: skip
    repo = pygit2.Repository(str(attacker))
    line = b"%s %s %s\n" % (record.id.encode(), forged.encode(), summary)
    tree = apply_changes(repo, None, {"FORMAT": (repo.create_blob(b"gittrack-run-index 1\n"), BLOB),
                                      "runs/a.runs": (repo.create_blob(line), BLOB)})  # fmt: skip
    index = repo.create_commit(None, WHO, WHO, "index", tree, [pygit2.Oid(hex=forged)])
    pushed = push_raw(attacker, f"{index}:refs/runs-index/exp")
    assert (pushed.returncode != 0) == world["hook"]
    if world["hook"]:
        assert "disagree" in pushed.stderr
    pulled = gt(victim, "pull")
    assert pulled.returncode == 0, pulled.stderr
    assert pygit2.Repository(str(victim)).references.get("refs/runs-index/exp") is None
    assert record.id not in gt(victim, "runs", "list", "--json").stdout
