"""Opening the user's git repository, and who the user is according to git."""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from gittrack.errors import NotARepositoryError

if TYPE_CHECKING:
    import pygit2


def open_repo(path: str | os.PathLike | None = None) -> pygit2.Repository:
    """Open the repository containing ``path`` (default: ``$GITTRACK_REPO`` or the current folder)."""
    import pygit2

    start = os.fspath(path) if path is not None else os.environ.get("GITTRACK_REPO") or os.getcwd()
    found = pygit2.discover_repository(start)
    if found is None:
        raise NotARepositoryError(
            f"'{start}' is not inside a git repository; run 'git init' or 'gittrack init' there first"
        )
    repo = pygit2.Repository(found)
    if repo.is_bare:
        raise NotARepositoryError(f"'{found}' is a bare repository; gittrack records runs from a work tree")
    return repo


def workdir(repo: pygit2.Repository) -> Path:
    """The root of the repository's work tree."""
    return Path(repo.workdir)


def gittrack_dir(repo: pygit2.Repository) -> Path:
    """gittrack's private folder inside ``.git`` (caches, never shared), created on demand."""
    path = Path(repo.path) / "gittrack"
    path.mkdir(exist_ok=True)
    return path


def identity(repo: pygit2.Repository) -> tuple[str, str]:
    """(name, email) from git's ``user.name``/``user.email``, else the OS user at this host."""
    config = repo.config
    name = os.environ.get("GIT_AUTHOR_NAME") or _config_str(config, "user.name")
    email = os.environ.get("GIT_AUTHOR_EMAIL") or _config_str(config, "user.email")
    if not name:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = "unknown"
    return name, email or f"{name}@{socket.gethostname()}"


def _config_str(config, key: str) -> str | None:
    try:
        return config[key]
    except KeyError:
        return None


def signature(name: str, email: str, when_ms: int) -> pygit2.Signature:
    """A git signature at ``when_ms`` in the local time zone's offset."""
    import pygit2

    offset = time.localtime(when_ms / 1000).tm_gmtoff // 60
    return pygit2.Signature(name, email, when_ms // 1000, offset)


@contextlib.contextmanager
def bounded_git_memory(cache: int = 32 << 20, mapped: int = 256 << 20, window: int = 64 << 20) -> Iterator[None]:
    """Keep libgit2's memory small while many objects are read once each (a pull checking a
    million packed runs): at most ``cache`` bytes of parsed objects (default 256 MiB) and ``mapped``
    bytes of pack files mapped, ``window`` at a time (default 8 GiB, 1 GiB: a pack read through
    would all stay mapped). The settings are the process's; they are put back after."""
    import pygit2

    settings = pygit2.settings
    before = (settings.cached_memory[1], settings.mwindow_mapped_limit, settings.mwindow_size)
    settings.cache_max_size(cache)
    settings.mwindow_mapped_limit, settings.mwindow_size = mapped, window
    try:
        yield
    finally:
        settings.cache_max_size(before[0])
        settings.mwindow_mapped_limit, settings.mwindow_size = before[1], before[2]
