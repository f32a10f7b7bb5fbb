"""Where ``gittrack.mlflow`` says a run's artifacts are, and the URIs its calls take.

MLflow answers ``get_artifact_uri()`` with a location the artifact calls accept (a ``file:`` URI
for a local store). gittrack keeps artifacts in DVC, so its answer is a per-run folder of the
clone, ``<git dir>/gittrack/mlflow-artifacts/<run id>/artifacts``, where downloads through that
URI materialise the artifacts (never shared, like the search index beside it). Every call that
takes an artifact or model URI reads it with :func:`parse`: ``runs:/<run>/<path>``, that folder's
``file:`` URI or path, and ``models:/...`` (resolved by the caller through the registry).
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from urllib.parse import quote

VIEW = "gittrack/mlflow-artifacts"
_IN_VIEW = re.compile(r"^(?P<gitdir>.+)/gittrack/mlflow-artifacts/(?P<run>[0-9a-z]+)/artifacts(?:/(?P<path>.*))?$")


@functools.lru_cache(maxsize=64)
def _git_dir(repo_path: str) -> str:
    import pygit2

    return pygit2.Repository(repo_path).path.rstrip("/")


def run_folder(repo_path: str, run_id: str) -> Path:
    """The local folder a run's artifacts are materialised in when read through its artifact URI."""
    return Path(_git_dir(repo_path)) / VIEW / run_id / "artifacts"


def artifact_uri(repo_path: str, run_id: str, path: str | None = None) -> str:
    """``file://`` URI of a run's artifact folder (or of ``path`` in it), what MLflow's local store gives."""
    folder = run_folder(repo_path, run_id).as_posix()
    inner = (path or "").strip("/")
    return "file://" + quote(folder + (f"/{inner}" if inner else ""))


def parse(uri: str | os.PathLike) -> tuple[str | None, str, str] | None:
    """(repository work tree or None for the current one, run id, artifact path) of a ``runs:/``
    URI or a location in a run's artifact folder (``file:`` URI or path); None for anything else."""
    from gittrack.mlflow._state import local_path, repo_root

    text = os.fspath(uri)
    if text.startswith("runs:/"):
        run_id, _, path = text[len("runs:/") :].lstrip("/").partition("/")
        return (None, run_id, path.strip("/")) if run_id else None
    local = local_path(text)
    if local is None:
        return None
    match = _IN_VIEW.match(Path(os.path.abspath(local)).as_posix())
    if match is None:
        return None
    return repo_root(match["gitdir"]), match["run"], (match["path"] or "").strip("/")
