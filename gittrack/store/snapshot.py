"""The workspace snapshot: HEAD's tree plus the work tree's changes, as a tree object.

Built from ``git status`` in memory, so the user's index, HEAD and files are never touched.
Ignored files never enter; secrets and files over the size cap are left out with a warning.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import stat
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gittrack.store.trees import Changes, apply_changes

if TYPE_CHECKING:
    import pygit2

log = logging.getLogger("gittrack")

RUN_DIR = ".gittrack/run"
DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024
SECRET_PATTERNS = (
    ".env", ".env.*", "*.pem", "*.key", "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*",
    "*.p12", "*.pfx", "*.jks", "*.keystore", ".netrc", ".pypirc", ".git-credentials",
    ".htpasswd", "credentials.json", "*.kdbx",
)  # fmt: skip


@dataclass
class Snapshot:
    """A workspace snapshot and what is known about it relative to HEAD."""

    tree: pygit2.Oid
    head: pygit2.Oid | None
    branch: str | None
    dirty: bool
    diffstat: dict[str, int] = field(default_factory=dict)
    excluded: list[dict[str, str]] = field(default_factory=list)


def is_secret(path: str) -> bool:
    """True for file names that usually hold credentials (``.env``, keys, keystores...)."""
    name = path.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in SECRET_PATTERNS)


def _head(repo: pygit2.Repository) -> tuple[pygit2.Commit | None, str | None]:
    if repo.head_is_unborn:
        target = repo.references["HEAD"].target
        return None, target.removeprefix("refs/heads/") if isinstance(target, str) else None
    commit = repo.head.peel()
    branch = None if repo.head_is_detached else repo.head.shorthand
    return commit, branch


def _workdir_blob(repo: pygit2.Repository, root: str, path: str, max_bytes: int):
    """(oid, mode) for a work-tree file, or a reason string when it is left out."""
    import pygit2

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


def without_run_dir(repo: pygit2.Repository, tree: pygit2.Oid) -> pygit2.Oid:
    """``tree`` without its ``.gittrack/run`` folder (the same tree when it has none)."""
    try:
        repo[tree][RUN_DIR]
    except KeyError:
        return tree
    return apply_changes(repo, tree, {RUN_DIR: None})


def take_snapshot(repo: pygit2.Repository, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> Snapshot:
    """Snapshot the work tree as it is now, without ``.gittrack/run`` (each run writes its own)."""
    head, branch = _head(repo)
    root = repo.workdir
    changes: Changes = {RUN_DIR: None}
    excluded = []
    for path in repo.status(untracked_files="all", ignored=False):
        if path == RUN_DIR or path.startswith(RUN_DIR + "/"):
            continue
        result = _workdir_blob(repo, root, path.rstrip("/"), max_file_bytes)
        if isinstance(result, str):
            excluded.append({"path": path, "reason": result})
            log.warning("gittrack: left '%s' out of the run snapshot: %s", path, result)
            continue
        changes[path.rstrip("/")] = result
    empty = repo.TreeBuilder().write()
    base = empty if head is None else without_run_dir(repo, head.tree_id)
    tree = base if len(changes) == 1 else apply_changes(repo, base, changes)
    dirty = tree != base
    diffstat = {"files": 0, "insertions": 0, "deletions": 0}
    if dirty:
        stats = repo[base].diff_to_tree(repo[tree]).stats
        diffstat = {"files": stats.files_changed, "insertions": stats.insertions, "deletions": stats.deletions}
    return Snapshot(tree, head.id if head is not None else None, branch, dirty, diffstat, excluded)
