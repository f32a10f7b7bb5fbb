"""Objects written a batch at a time into a pack of gittrack's own (store/packwriter.py), as an
MLflow import writes its runs: git reads and checks the pack, and nothing is lost or loose."""

from __future__ import annotations

import os
from pathlib import Path

import pygit2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gittrack._store.packwriter import PackedWrites
from tests.conftest import git


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blobs=st.lists(st.binary(max_size=5000), min_size=1, max_size=40))
def test_objects_written_in_a_batch_are_a_pack_git_checks(tmp_path_factory, blobs: list[bytes]) -> None:
    root = tmp_path_factory.mktemp("packed")
    pygit2.init_repository(str(root))
    repo = pygit2.Repository(str(root))
    loose_before = sum(len(files) for _, _, files in os.walk(root / ".git" / "objects"))
    with PackedWrites(repo) as packed:
        ids = [repo.create_blob(data) for data in blobs]
        builder = repo.TreeBuilder()
        for i, oid in enumerate(ids):
            builder.insert(f"f{i}", oid, pygit2.GIT_FILEMODE_BLOB)
        tree = builder.write()
        who = pygit2.Signature("a", "a@example.com", 1_700_000_000, 0)
        commit = repo.create_commit(None, who, who, "batch", tree, [])
        assert repo[commit].tree_id == tree  # readable before the flush, from memory
        assert packed.pending == len(set(ids)) + 2
        packed.flush()
        assert packed.pending == 0
    assert sum(len(files) for _, _, files in os.walk(root / ".git" / "objects")) == loose_before + 2  # .pack, .idx
    fresh = pygit2.Repository(str(root))
    assert [fresh[oid].data for oid in ids] == blobs
    git(root, "update-ref", "refs/heads/main", str(commit))
    git(root, "fsck", "--strict", "--no-dangling")
    for index in (root / ".git" / "objects" / "pack").glob("*.idx"):
        git(root, "verify-pack", str(index))
    with pytest.raises(OSError, match="lost"):
        repo.create_blob(b"after close")  # nothing may be written that no flush would keep


def test_a_pack_over_two_gigabytes_of_offsets_is_indexed_with_large_offsets(tmp_path: Path, monkeypatch) -> None:
    """Offsets past 2^31 go in the index's table of large offsets (made small here to test it)."""
    from gittrack._store import packwriter

    monkeypatch.setattr(packwriter, "_LARGE", 64)
    pygit2.init_repository(str(tmp_path))
    repo = pygit2.Repository(str(tmp_path))
    blobs = [os.urandom(100) for _ in range(5)]
    with PackedWrites(repo):
        ids = [repo.create_blob(data) for data in blobs]
    fresh = pygit2.Repository(str(tmp_path))
    assert [fresh[oid].data for oid in ids] == blobs  # libgit2 reads them through the large offsets
    for oid, data in zip(ids, blobs, strict=True):  # and so does git
        assert git(tmp_path, "cat-file", "-s", str(oid)).strip() == str(len(data))
    git(tmp_path, "fsck", "--strict")
