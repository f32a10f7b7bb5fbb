"""``gittrack init``: make sure there is a git repository and report how runs will be recorded."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gittrack.store import settings
from gittrack.store.repo import identity
from gittrack.store.runstore import RunStore


@dataclass(frozen=True)
class InitReport:
    """What ``init`` found or created."""

    root: str
    created: bool
    runs: int
    experiments: int
    user: str
    email: str
    identity_configured: bool
    checkpoint_interval: float
    max_file_bytes: int


def init_repository(path: str | os.PathLike = ".") -> InitReport:
    """Use the git repository containing ``path``, or create one there; writes nothing else."""
    import pygit2

    from gittrack.store.repo import open_repo

    target = Path(path).resolve()
    found = pygit2.discover_repository(str(target)) if target.exists() else None
    created = found is None
    if created:
        target.mkdir(parents=True, exist_ok=True)
        pygit2.init_repository(str(target))
    repo = open_repo(target)
    refs, _ = RunStore(repo).refs()
    name, email = identity(repo)
    configured = "user.name" in repo.config or bool(os.environ.get("GIT_AUTHOR_NAME"))
    return InitReport(
        root=repo.workdir.rstrip("/"),
        created=created,
        runs=len(refs),
        experiments=len({r.experiment for r in refs}),
        user=name,
        email=email,
        identity_configured=configured,
        checkpoint_interval=settings.checkpoint_interval(repo),
        max_file_bytes=settings.max_file_bytes(repo),
    )
