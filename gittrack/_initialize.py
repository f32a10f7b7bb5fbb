"""``gittrack init``: make sure there is a git repository and report how runs will be recorded."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gittrack._data import dvcstore
from gittrack._store import settings
from gittrack._store.repo import identity
from gittrack._store.runstore import RunStore
from gittrack.errors import UsageError


@dataclass(frozen=True)
class InitReport:
    """What ``init`` found or created."""

    root: str
    created: bool
    runs: int
    packed: int
    experiments: int
    user: str
    email: str
    identity_configured: bool
    checkpoint_interval: float
    max_file_bytes: int
    dvc: bool
    dvc_files: list[str]
    dvc_remote: str | None


def init_repository(path: str | os.PathLike = ".", dvc: bool = True, dvc_remote: str | None = None) -> InitReport:
    """Use the git repository containing ``path`` (or create one), and set up DVC for artifacts
    when missing (``dvc=False``: leave DVC alone); ``dvc_remote`` becomes DVC's default remote."""
    import pygit2

    from gittrack._store.repo import open_repo

    target = Path(path).resolve()
    found = pygit2.discover_repository(str(target)) if target.exists() else None
    created = found is None
    if created:
        target.mkdir(parents=True, exist_ok=True)
        pygit2.init_repository(str(target))
    repo = open_repo(target)
    root = repo.workdir.rstrip("/")
    if dvc_remote and _shown(dvc_remote) != dvc_remote and ":" in dvc_remote.split("://", 1)[1].split("@", 1)[0]:
        raise UsageError(
            f"the DVC remote's URL holds a password, which .dvc/config would share: give {_shown(dvc_remote)} and "
            "keep the password in .dvc/config.local ('dvc remote modify --local gittrack password ...')"
        )
    dvc_files = dvcstore.init_dvc(root, dvc_remote) if dvc or dvc_remote else []
    if dvc or dvc_remote:  # what differs from HEAD, with the set-up files an earlier init left uncommitted
        dvc_files = _uncommitted(repo, sorted(set(dvc_files) | set(dvcstore.SETUP_FILES)))
    refs, _ = RunStore(repo).refs()
    name, email = identity(repo)
    configured = "user.name" in repo.config or bool(os.environ.get("GIT_AUTHOR_NAME"))
    return InitReport(
        root=repo.workdir.rstrip("/"),
        created=created,
        runs=len(refs),
        packed=sum(r.packed for r in refs),
        experiments=len({r.experiment for r in refs}),
        user=name,
        email=email,
        identity_configured=configured,
        checkpoint_interval=settings.checkpoint_interval(repo),
        max_file_bytes=settings.max_file_bytes(repo),
        dvc=dvcstore.has_dvc(root),
        dvc_files=dvc_files,
        dvc_remote=_shown(dvcstore.default_remote(root)) if dvcstore.has_dvc(root) else None,
    )


def _shown(url: str | None) -> str | None:
    """A URL as gittrack shows it: without user info (a password in an http remote's URL)."""
    from gittrack._store.transport import redact

    return None if url is None else redact(url)


def _uncommitted(repo, paths: list[str]) -> list[str]:
    """Those of ``paths`` that exist in the work tree but not as they are in HEAD (new, staged or modified)."""
    import pygit2

    root = Path(repo.workdir)
    head = None if repo.head_is_unborn else repo.head.peel(pygit2.Commit).tree
    found = []
    for path in paths:
        if not (root / path).is_file():
            continue
        try:
            committed = head[path].id if head is not None else None
        except KeyError:
            committed = None
        if committed != pygit2.hashfile(str(root / path)):
            found.append(path)
    return found


def commit_files(path: str | os.PathLike, files: list[str], message: str) -> str:
    """Commit exactly ``files`` (as they are in the work tree) on the current branch; other
    staged or unstaged changes stay as they were. Returns the new commit id."""
    import pygit2

    from gittrack._store.repo import identity, open_repo, signature
    from gittrack._store.timefmt import now_ms
    from gittrack._store.trees import Changes, apply_changes

    repo = open_repo(path)
    root = Path(repo.workdir)
    changes: Changes = {f: (repo.create_blob_fromdisk(str(root / f)), pygit2.GIT_FILEMODE_BLOB) for f in files}
    head = None if repo.head_is_unborn else repo.head.peel(pygit2.Commit)
    tree = apply_changes(repo, head.tree_id if head else None, changes)
    who = signature(*identity(repo), now_ms())
    commit = repo.create_commit("HEAD", who, who, message, tree, [head.id] if head else [])
    index = repo.index
    for f in files:
        index.add(f)
    index.write()
    return str(commit)


init = init_repository  # the public name: gittrack.init(path, dvc=True, dvc_remote=None)
