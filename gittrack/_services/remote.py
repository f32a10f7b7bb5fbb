"""Sharing through git and DVC remotes (``client.remote``): ``gittrack push``, ``pull``,
``remote setup``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gittrack._store.packing import Progress
    from gittrack._store.repository import Repository
    from gittrack._sync import SyncReport


class RemoteService:
    """Sharing through git and DVC remotes: ``gittrack push``, ``pull``, ``remote setup``."""

    def __init__(self, repo: Repository) -> None:
        self._repo = repo

    def push(
        self, remote: str | None = None, runs: list[str] | None = None, experiment: str | None = None,
        artifacts: bool = True, pack: bool | None = None, progress: Progress | None = None,
    ) -> SyncReport:  # fmt: skip
        """Push runs (all, one experiment's or the given ones), run indexes, registry tags and
        artifact data to ``remote`` (default: the upstream, else origin)."""
        from gittrack._sync import push

        return push(self._repo.git, remote, experiment, runs, artifacts, pack, progress)

    def pull(
        self, remote: str | None = None, experiment: str | None = None, artifacts: bool = False,
        progress: Progress | None = None,
    ) -> SyncReport:  # fmt: skip
        """Fetch runs and registry tags from ``remote``, taking in only valid runs."""
        from gittrack._sync import pull

        return pull(self._repo.git, remote, experiment, artifacts, progress)

    def setup(self, name: str = "origin", push_runs: bool = True) -> list[str]:
        """Make plain ``git fetch``/``git push`` of remote ``name`` move runs; returns the config lines added."""
        from gittrack._sync import setup_remote

        return setup_remote(self._repo.git, name, push_runs)
