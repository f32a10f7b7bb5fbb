"""The git seam: one repository as the layers above the store see it.

``Repository`` wraps the pygit2 handle with what the services need from git: the work tree, the
run store (reading and resolving runs), the writer factory (new and attached runs, with the
repository's checkpoint settings), edits of ended runs (notes) and packing. The services never
open pygit2 themselves; the store's modules below this one keep taking the raw handle.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from gittrack._store import settings
from gittrack._store.repo import open_repo

if TYPE_CHECKING:
    import pygit2

    from gittrack._store.packing import PackReport, Progress
    from gittrack._store.runstore import RunStore
    from gittrack._store.writer import RunWriter


class Repository:
    """One git repository with a work tree, opened once per process (``Repository.open``)."""

    def __init__(self, git: pygit2.Repository) -> None:
        self.git = git
        """The pygit2 handle, for the store's functions that take it."""

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None) -> Repository:
        """The repository containing ``path`` (default: ``$GITTRACK_REPO`` or the current folder)."""
        return cls(open_repo(path))

    @property
    def workdir(self) -> str:
        """The root of the work tree, with a trailing slash (as pygit2 gives it)."""
        return str(self.git.workdir)

    @property
    def git_dir(self) -> str:
        """The repository's ``.git`` folder."""
        return str(self.git.path)

    def identity(self) -> tuple[str, str]:
        """The git user (name, email) runs are recorded as here."""
        from gittrack._store.repo import identity

        return identity(self.git)

    @functools.cached_property
    def runs(self) -> RunStore:
        """The read side: listing, resolving, reading, deleting and restoring runs (loaded on first
        use: recording a run never reads one)."""
        from gittrack._store.runstore import RunStore

        return RunStore(self.git)

    def checkpoint_interval(self) -> float:
        """Seconds between a running run's checkpoint commits (environment, then git config)."""
        return settings.checkpoint_interval(self.git)

    def new_writer(
        self,
        experiment: str,
        run_name: str | None,
        parent_run: str | None,
        argv: list[str],
        launcher: str,
        cwd: str | os.PathLike[str] | None,
        commit: str | None = None,
    ) -> RunWriter:
        """A writer of a new run: the workspace snapshot taken, nothing written yet. ``commit``: the
        run ran that commit elsewhere (a client of ``gittrack server``): its snapshot is the
        commit's tree, its parent and source commit the commit, its script looked up in it
        (``NotFoundError`` when the repository has no such commit); unless the commit is this
        work tree's HEAD and the work tree has changes, which may be what ran (the work tree's
        snapshot, as without ``commit``)."""
        from gittrack._store.writer import RunWriter

        if commit is not None:
            import socket

            from gittrack._store.environment import command_in_tree
            from gittrack._store.timefmt import now_ms

            oid = self.resolve_commit(commit)
            if not self._edited_head(oid):
                return RunWriter.create_recorded(
                    self.git, experiment, start_time=now_ms(), user=self.identity(), commit=oid,
                    run_name=run_name, parent_run=parent_run, host=socket.gethostname(), argv=argv,
                    command=command_in_tree(self.git, oid, argv, launcher), pid=os.getpid(),
                    interval=self.checkpoint_interval(),
                )  # fmt: skip
        return RunWriter.create(
            self.git,
            experiment,
            run_name=run_name,
            parent_run=parent_run,
            argv=argv,
            launcher=launcher,
            interval=self.checkpoint_interval(),
            max_file_bytes=settings.max_file_bytes(self.git),
            cwd=cwd,
        )

    def _edited_head(self, oid: pygit2.Oid) -> bool:
        """Whether ``oid`` is this work tree's HEAD and the work tree has changes: the run may have
        run here, edits and all, so the work tree's snapshot is the truer one."""
        if self.git.head_is_unborn or self.git.head.target != oid:
            return False
        return bool(self.git.status(untracked_files="normal", ignored=False))

    def resolve_commit(self, commit: str) -> pygit2.Oid:
        """The id of the commit named by a full hex id (``NotFoundError`` if there is none here)."""
        import pygit2

        from gittrack.errors import NotFoundError

        try:
            found = self.git.get(commit) if len(commit) in (40, 64) else None  # SHA-1, SHA-256
        except (ValueError, TypeError):
            found = None
        if not isinstance(found, pygit2.Commit):
            raise NotFoundError(f"commit {commit!r} is not in this repository")
        return found.id

    def attach_writer(self, ref: str) -> RunWriter:
        """A writer of the RUNNING run at ``ref``, started by this or another process."""
        from gittrack._store.writer import RunWriter

        return RunWriter.attach(self.git, ref, self.checkpoint_interval())

    def annotate(self, commit: Any, tags: dict[str, str | None], name: str | None = None) -> None:
        """Record edits (tags, a new name) of the ended run whose commit is ``commit`` as a note."""
        from gittrack._store import annotations

        annotations.write(self.git, commit, tags, name)

    def pack(self, experiments: Iterable[str] | None = None, progress: Progress | None = None) -> PackReport:
        """Move ended runs from a ref each into their experiment's index ref."""
        from gittrack._store.packing import pack_runs

        return pack_runs(self.git, None if experiments is None else list(experiments), progress)

    def experiment_names(self) -> list[str]:
        """The experiments that have runs (active, deleted or packed), sorted, from ref names alone."""
        from gittrack._store.runstore import experiment_names

        return experiment_names(self.git)
