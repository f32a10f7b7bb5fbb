"""Restoring a snapshot's DVC data into a work tree: the one code path of checkout and reproduce.

The outputs come resolved and checked (:mod:`gittrack._data.outputs`); their objects come from the
repository's own DVC cache, fetched first from the repository's own DVC remote where the cache
lacks them; every file is written by :class:`~gittrack._data.confined.ConfinedWriter`. DVC's
settings are those of the repository as it was before the snapshot's files arrived, never a
snapshot's ``.dvc/config``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gittrack._data import dvcstore
from gittrack._data.confined import ConfinedWriter, check_path
from gittrack.errors import DataError

if TYPE_CHECKING:
    from dvc.repo import Repo

    from gittrack._data.outputs import Output


@dataclass
class Restored:
    """What :func:`restore` did."""

    outputs: int = 0
    """Outputs written (files and folders)."""
    files: int = 0
    fetched: int = 0
    """Objects fetched from the DVC remote first."""
    remote: str | None = None
    paths: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the user."""
        if not self.outputs:
            return "no DVC data to restore"
        where = f"{self.fetched} object(s) fetched from the DVC remote" if self.fetched else "from the local DVC cache"
        return f"DVC data restored: {self.outputs} output(s), {self.files} file(s) ({where})"


def cache_dir(dvc: Repo) -> str:
    """The folder of the repository's DVC cache (what ``[cache] dir`` names, or ``.dvc/cache``)."""
    path: str = dvc.cache.local.path
    return os.path.dirname(os.path.dirname(path))


def restore(
    dvc: Repo | None,
    root: str | os.PathLike[str],
    outputs: list[Output],
    progress: Callable[[int, int], None] | None = None,
) -> Restored:
    """Write ``outputs`` under ``root`` from the DVC cache of ``dvc`` (the repository's own DVC,
    opened before any snapshot file arrived), fetching what the cache lacks from its remote first."""
    fetched = gather(dvc, outputs)
    done = write(dvc, root, outputs, progress)
    done.fetched = fetched
    return done


def gather(dvc: Repo | None, outputs: list[Output]) -> int:
    """Make sure every object of ``outputs`` is in the local DVC cache, fetching from the
    repository's DVC remote what it lacks; returns how many objects came. Nothing is written to
    the work tree: a ``DataError`` names the outputs found nowhere and says what to do."""
    if not outputs:
        return 0
    if dvc is None:
        raise DataError(
            f"{len(outputs)} DVC output(s) to restore ({_listed([o.path for o in outputs])}) but this repository "
            "has no DVC set-up; run 'gittrack init --dvc-remote URL' with the team's DVC remote, then retry"
        )
    remote = dvcstore.remote_url(dvc)
    lacking = [o for o in outputs if not dvcstore.in_cache(dvc, o.entry)]
    fetched, problem = 0, None
    if lacking and remote:
        try:
            fetched = dvcstore.fetch(dvc, [o.entry for o in lacking])
        except DataError as exc:
            problem = str(exc)
        lacking = [o for o in lacking if not dvcstore.in_cache(dvc, o.entry)]
    if lacking:
        shown = _listed([f"{o.path} ({o.entry.md5[:8]}, from {o.source})" for o in lacking])
        if remote:
            where = f"the DVC remote '{remote}'" + (f" ({problem})" if problem else "")
            hint = "push it from the clone that has it ('gittrack push'), then retry"
        else:
            where = "a DVC remote (none is configured here)"
            hint = "run 'gittrack init --dvc-remote URL' with the team's DVC remote, then retry"
        raise DataError(f"{len(lacking)} DVC output(s) are neither in the local cache nor on {where}: {shown}; {hint}")
    return fetched


def write(
    dvc: Repo | None,
    root: str | os.PathLike[str],
    outputs: list[Output],
    progress: Callable[[int, int], None] | None = None,
) -> Restored:
    """Write ``outputs`` (every object at hand: :func:`gather`) under ``root``, each file through
    the confined writer."""
    done = Restored(remote=dvcstore.remote_url(dvc) if dvc is not None else None)
    if not outputs:
        return done
    if dvc is None:
        gather(dvc, outputs)  # raises: nothing to write from
    with ConfinedWriter(root) as writer:
        for number, output in enumerate(outputs, start=1):
            done.files += _write(dvc, writer, output)
            done.outputs += 1
            done.paths.append(output.path)
            if progress is not None:
                progress(number, len(outputs))
    return done


def _write(dvc: Repo, writer: ConfinedWriter, output: Output) -> int:
    """Write one output (a file, or every file of a folder); returns the number of files."""
    from dvc_data.hashfile.hash_info import HashInfo
    from dvc_data.hashfile.tree import Tree

    odb = dvc.cache.local
    if not output.entry.is_dir:
        writer.write(output.path, odb.oid_to_path(output.entry.md5))
        return 1
    count = 0
    for key, _, info in Tree.load(odb, HashInfo("md5", output.entry.md5)):
        inside = "/".join(key)
        check_path(inside, f"the folder listing of '{output.path}' ({output.source})")
        writer.write(f"{output.path}/{inside}", odb.oid_to_path(info.value))
        count += 1
    return count


def _listed(items: list[str], limit: int = 3) -> str:
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")
