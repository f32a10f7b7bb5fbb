"""Which repository ``gittrack.mlflow`` records into: MLflow's tracking and registry URIs.

A path or ``file:`` URI inside a git repository selects that repository; any other URI
(``sqlite:``, ``http(s):``, ``databricks``...) is not used: one warning per process says that
runs are recorded in the current git repository, and everything goes on.
"""

from __future__ import annotations

import logging
import os
import sys
from urllib.parse import unquote, urlparse

from gittrack._state import STATE

log = logging.getLogger("gittrack")
_REMOTE_SCHEMES = ("http", "https", "sqlite", "postgresql", "mysql", "mssql", "databricks", "databricks-uc", "uc")


def warn_once(uri: str) -> None:
    """Say once per process that ``uri`` is not used and where runs go."""
    if not STATE.mlflow.warned_uri:
        STATE.mlflow.warned_uri = True
        where = repo_root(STATE.mlflow.repo) or os.getcwd()
        print(
            f"gittrack.mlflow: tracking URI {uri!r} is not used; runs are recorded in the git repository at {where}",
            file=sys.stderr,
        )


def local_path(uri: str | os.PathLike[str]) -> str | None:
    """The local path a URI names (a plain path or ``file:``), or None for anything else."""
    text = os.fspath(uri)
    parsed = urlparse(text)
    if parsed.scheme == "file":
        return unquote(parsed.path) or "."
    if parsed.scheme and len(parsed.scheme) > 1:  # "C:" is a drive letter, not a scheme
        return None
    if text.split(":", 1)[0] in _REMOTE_SCHEMES:
        return None
    return text


def repo_root(path: str | None) -> str | None:
    """The root of the git repository containing ``path`` (or its nearest existing parent)."""
    import pygit2

    start = os.path.abspath(path or os.getcwd())
    while not os.path.exists(start):
        start = os.path.dirname(start)
    found = pygit2.discover_repository(start)
    if found is None:
        return None
    return pygit2.Repository(found).workdir


def select(uri: str | None, registry: bool = False) -> None:
    """Set the tracking (or registry) URI."""
    state = STATE.mlflow
    if uri is None or uri == "":
        if registry:
            state.registry_repo, state.registry_uri = None, None
        else:
            state.repo, state.tracking_uri = None, None
        return
    path = local_path(str(uri))
    root = None
    if path is not None:
        root = repo_root(path)
        if root is None:
            from gittrack.errors import NotARepositoryError

            raise NotARepositoryError(
                f"tracking URI {str(uri)!r} is not inside a git repository; "
                "run 'git init' there, or use a path inside one"
            )
    else:
        warn_once(str(uri))
    if registry:
        state.registry_uri, state.registry_repo = str(uri), root or state.registry_repo
    else:
        state.tracking_uri, state.repo = str(uri), root or state.repo


def _from_environment() -> None:
    state = STATE.mlflow
    if state.env_read:
        return
    state.env_read = True
    if os.environ.get("MLFLOW_TRACKING_URI") and state.tracking_uri is None:
        select(os.environ["MLFLOW_TRACKING_URI"])
    if os.environ.get("MLFLOW_REGISTRY_URI") and state.registry_uri is None:
        select(os.environ["MLFLOW_REGISTRY_URI"], registry=True)


def tracking_uri_set() -> bool:
    """Whether a tracking URI was set (``set_tracking_uri`` or ``MLFLOW_TRACKING_URI``)."""
    _from_environment()
    return STATE.mlflow.tracking_uri is not None


def repo() -> str | None:
    """The repository runs go to (None: the one containing the current folder)."""
    _from_environment()
    return STATE.mlflow.repo


def registry_repo() -> str | None:
    """The repository the registry calls use: the registry URI's, else the tracking one's."""
    _from_environment()
    return STATE.mlflow.registry_repo or STATE.mlflow.repo


def tracking_uri() -> str:
    """What ``get_tracking_uri`` answers: the repository's path."""
    return repo_root(repo()) or os.getcwd()


def registry_uri() -> str:
    """What ``get_registry_uri`` answers: the registry repository's path."""
    return repo_root(registry_repo()) or os.getcwd()
