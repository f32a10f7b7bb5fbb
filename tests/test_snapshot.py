"""The workspace snapshot and its caches give what a fresh ``git status`` walk gives, edit after edit."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import stat
import time
from pathlib import Path

import pygit2
import pytest

import gittrack
from gittrack._store import snapshot
from gittrack._store.snapshot import RUN_DIR, is_secret, take_snapshot
from tests.conftest import git


def _workdir_blob(repo: pygit2.Repository, root: str, path: str, max_bytes: int):
    """(oid, mode) for a work-tree file, or a reason string when it is left out (as gittrack did)."""
    full = os.path.join(root, path)
    try:
        info = os.lstat(full)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        return repo.create_blob(os.fsencode(os.readlink(full))), pygit2.GIT_FILEMODE_LINK
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file (nested repository or special file)"
    if is_secret(path):
        return "looks like a secret (credentials or key file)"
    if info.st_size > max_bytes:
        return f"larger than {max_bytes} bytes: track it with DVC ('dvc add {path}')"
    mode = pygit2.GIT_FILEMODE_BLOB_EXECUTABLE if info.st_mode & 0o111 else pygit2.GIT_FILEMODE_BLOB
    return repo.create_blob_fromdisk(full), mode


def reference(repo: pygit2.Repository, max_file_bytes: int = snapshot.DEFAULT_MAX_FILE_BYTES):
    """The snapshot as gittrack took it before it kept caches: libgit2's full status, every file hashed."""
    from gittrack._store.trees import apply_changes

    head = None if repo.head_is_unborn else repo.head.peel()
    changes = {RUN_DIR: None}
    excluded = []
    for path in repo.status(untracked_files="all", ignored=False):
        if path == RUN_DIR or path.startswith(RUN_DIR + "/"):
            continue
        result = _workdir_blob(repo, repo.workdir, path.rstrip("/"), max_file_bytes)
        if isinstance(result, str):
            excluded.append({"path": path, "reason": result})
        else:
            changes[path.rstrip("/")] = result
    empty = repo.TreeBuilder().write()
    base = empty if head is None else snapshot.without_run_dir(repo, head.tree_id)
    tree = base if len(changes) == 1 else apply_changes(repo, base, changes)
    stats = repo[base].diff_to_tree(repo[tree]).stats
    diffstat = {"files": stats.files_changed, "insertions": stats.insertions, "deletions": stats.deletions}
    return tree, tree != base, diffstat if tree != base else {"files": 0, "insertions": 0, "deletions": 0}, excluded


def check(repo: pygit2.Repository, max_file_bytes: int = snapshot.DEFAULT_MAX_FILE_BYTES) -> pygit2.Oid:
    """The cached snapshot equals the reference; returns its tree."""
    taken = take_snapshot(repo, max_file_bytes)
    tree, dirty, diffstat, excluded = reference(repo, max_file_bytes)
    assert sorted(_names(repo, taken.tree)) == sorted(_names(repo, tree))
    assert (taken.tree, taken.dirty, taken.diffstat) == (tree, dirty, diffstat)
    assert sorted(taken.excluded, key=lambda e: e["path"]) == sorted(excluded, key=lambda e: e["path"])
    return taken.tree


def _names(repo: pygit2.Repository, tree: pygit2.Oid) -> list[str]:
    out = []
    stack = [("", repo[tree])]
    while stack:
        prefix, node = stack.pop()
        for entry in node:
            if entry.filemode == pygit2.GIT_FILEMODE_TREE:
                stack.append((prefix + entry.name + "/", repo[entry.id]))
            else:
                out.append(f"{prefix}{entry.name} {entry.id} {entry.filemode:o}")
    return out


@pytest.fixture
def old_files(monkeypatch: pytest.MonkeyPatch):
    """Make every file count as changed long ago, so the stat cache is trusted (tests then wait a clock
    tick after each edit, as a real edit comes well after the snapshot before it)."""
    monkeypatch.setattr(snapshot, "_now", lambda: time.time_ns() + 10 * snapshot.RACY_NS)


def tick() -> None:
    time.sleep(0.03)  # past the file system's coarse clock, so an edit changes the stat data


def write(root: Path, path: str, text: str | bytes = "x\n") -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(text.encode() if isinstance(text, str) else text)


def test_edit_after_edit_the_cached_snapshot_is_the_full_one(repo: Path, old_files) -> None:
    raw = pygit2.Repository(str(repo))
    (repo / ".gitignore").write_text("*.log\nbuild/\n/data/*\n!/data/keep.csv\n")
    write(repo, "src/model.py", "MODEL = 1\n")
    write(repo, "src/deep/er/util.py", "U = 2\n")
    write(repo, "data/keep.csv", "a,b\n1,2\n")
    write(repo, "data/drop.csv", "x\n")
    write(repo, "build/out.bin", b"\x00\x01")
    write(repo, "logs/run.log", "ignored\n")
    write(repo, ".env", "KEY=1\n")
    write(repo, "notes/id_rsa", "key\n")
    write(repo, "big.bin", b"0" * 4096)
    write(repo, "run.sh", "#!/bin/sh\n")
    (repo / "run.sh").chmod(0o755)
    (repo / "link").symlink_to("src/model.py")
    (repo / "dangling").symlink_to("nowhere")
    (repo / "linkdir").symlink_to("src")
    os.mkfifo(repo / "pipe")
    write(repo, ".gittrack/run/run.yaml", "old run\n")
    write(repo, "nested/file.txt", "inside\n")
    pygit2.init_repository(str(repo / "nested"))
    pygit2.init_repository(str(repo / "empty-nested"))
    (repo / "train.py").write_text("print('edited')\n")
    (repo / "README.md").unlink()
    first = check(raw, 1024)
    assert check(raw, 1024) == first  # from the caches
    info_exclude = repo / ".git" / "info" / "exclude"

    def a_file_where_a_folder_was() -> None:
        shutil.rmtree(repo / "src" / "deep")
        write(repo, "src/deep", "a file now\n")

    def a_file_where_a_link_was() -> None:
        (repo / "link").unlink()
        write(repo, "link", "now a file\n")

    def nested_without_files() -> None:
        for name in ("file.txt", "more.txt"):
            (repo / "nested" / name).unlink()

    steps = [
        lambda: write(repo, "src/model.py", "MODEL = 2\n"),  # same size, new content
        lambda: write(repo, "src/new.py", "NEW = 1\n"),  # a new file in a known folder
        lambda: write(repo, "src/deep/er/util.py", "U = 3\n"),
        lambda: (repo / ".gitignore").write_text("*.log\nbuild/\n/data/*\n!/data/keep.csv\nsrc/new.py\n"),
        lambda: info_exclude.write_text("*.csv\n"),
        lambda: info_exclude.write_text(""),
        lambda: (repo / "run.sh").chmod(0o644),
        lambda: (repo / "src" / "model.py").write_bytes(b"\x00binary\x00" * 10),
        a_file_where_a_link_was,
        a_file_where_a_folder_was,
        lambda: git(repo, "add", "src/model.py"),
        lambda: git(repo, "rm", "-q", "--cached", "train.py"),
        lambda: git(repo, "add", "-f", "logs/run.log"),
        lambda: git(repo, "commit", "-q", "-m", "more"),
        lambda: write(repo, "nested/more.txt", "more\n"),
        nested_without_files,
        lambda: write(repo, "big.bin", b"0"),
        lambda: (repo / ".gitattributes").write_text("*.csv -diff\n"),
        lambda: write(repo, "data/keep.csv", "a,b\n1,2\n3,4\n"),
        lambda: git(repo, "checkout", "-q", "HEAD~1", "--", "README.md"),
        lambda: write(repo, "data/drop.csv", "now kept?\n"),
    ]
    for number, step in enumerate(steps):
        tick()
        step()
        tick()
        try:
            check(raw, 1024)
            check(raw, 1024)
        except AssertionError as exc:
            raise AssertionError(f"after step {number}: {exc}") from None


def test_a_file_rewritten_right_after_a_snapshot_is_read_again(repo: Path) -> None:
    raw = pygit2.Repository(str(repo))
    write(repo, "out.txt", "aaaa\n")
    check(raw)
    write(repo, "out.txt", "bbbb\n")  # same size, likely the same coarse time: too recent to trust
    tree = check(raw)
    assert raw[raw[tree]["out.txt"].id].data == b"bbbb\n"


def test_a_later_process_trusts_the_cache_file_only_for_blobs_that_exist(repo: Path, old_files) -> None:
    raw = pygit2.Repository(str(repo))
    write(repo, "a.txt", "a\n")
    write(repo, "b/c.txt", "c\n")
    first = check(raw)
    snapshot._caches.clear()  # as a new process would start
    assert check(raw) == first
    cache = next(iter(snapshot._caches.values()))
    assert set(cache.blobs) == {"a.txt", "b/c.txt"}  # read back from .git/gittrack/snapshot-cache.json
    (repo / ".git" / "gittrack" / "snapshot-cache.json").write_text("not json")
    snapshot._caches.clear()
    assert check(raw) == first


def test_runs_record_the_snapshot_from_the_caches(repo: Path, caplog: pytest.LogCaptureFixture, old_files) -> None:
    write(repo, "notes.txt", "one\n")
    write(repo, ".env", "KEY=1\n")
    with caplog.at_level(logging.WARNING, logger="gittrack"):
        with gittrack.start_run() as first:
            pass
        tick()
        write(repo, "notes.txt", "two\n")
        with gittrack.start_run() as second:
            pass
    runs = {run.info.run_id: run for run in gittrack.list_runs()}
    assert git(repo, "show", f"{runs[first.run_id].info.ref}:notes.txt") == "one\n"
    assert git(repo, "show", f"{runs[second.run_id].info.ref}:notes.txt") == "two\n"
    assert runs[second.run_id].details.snapshot["excluded"] == [
        {"path": ".env", "reason": "looks like a secret (credentials or key file)"}
    ]
    assert caplog.text.count("left '.env' out of the run snapshot") == 2


@pytest.mark.parametrize("seed", [1, 2])
def test_random_edits_give_the_full_snapshot_every_time(repo: Path, old_files, seed: int) -> None:
    import random

    rng = random.Random(seed)
    raw = pygit2.Repository(str(repo))
    names = ["a.txt", "b.py", "d/c.txt", "d/e/f.txt", "d/e/g.log", "h/i.txt", "h/.gitignore", ".gitignore", "j"]

    def edit() -> None:
        path = repo / rng.choice(names)
        action = rng.choice(["write", "write", "grow", "remove", "chmod", "ignore", "commit", "folder"])
        if action in ("write", "grow") and not path.is_dir():
            text = rng.choice(["x\n", "y\n", "*.txt\n", "!d/c.txt\n", "\x00bin\n"]) * (3 if action == "grow" else 1)
            write(repo, str(path.relative_to(repo)), text)
        elif action == "remove" and path.exists():
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        elif action == "chmod" and path.is_file():
            path.chmod(path.stat().st_mode ^ 0o111)
        elif action == "ignore":
            (repo / ".git" / "info" / "exclude").write_text(rng.choice(["", "*.py\n", "d/e/\n", "h\n"]))
        elif action == "commit":
            git(repo, "add", "-A")
            git(repo, "commit", "-q", "--allow-empty", "-m", "step")
        elif action == "folder" and not path.exists():
            write(repo, f"{path.relative_to(repo)}/k.txt", "k\n")

    for number in range(25):
        tick()
        with contextlib.suppress(OSError):  # e.g. a folder asked for inside what is a file now
            edit()
        tick()
        try:
            check(raw)
        except AssertionError as exc:
            raise AssertionError(f"after edit {number}: {exc}") from None
