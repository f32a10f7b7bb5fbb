"""Opening the user's git repository, its git config as read once, and who the user is.

A process keeps one handle per repository (``open_repo``) and reads git config values once,
until one of the config files changes (``config_value``): opening a repository and looking up
config each cost more than the rest of a short run's bookkeeping.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gittrack.errors import NotARepositoryError

if TYPE_CHECKING:
    import pygit2

# git dir -> (its inode, the handle); weak, so a repository no client uses any more is closed
_handles: weakref.WeakValueDictionary[str, pygit2.Repository] = weakref.WeakValueDictionary()
_handle_inodes: dict[str, int] = {}
_roots: dict[tuple[str, int], str] = {}  # (work tree root, inode of its .git folder) -> the git dir
_handles_lock = threading.Lock()


def open_repo(path: str | os.PathLike[str] | None = None) -> pygit2.Repository:
    """The repository containing ``path`` (default: ``$GITTRACK_REPO`` or the current folder),
    as the handle this process already has open for it, if any."""
    import pygit2

    start = os.fspath(path) if path is not None else os.environ.get("GITTRACK_REPO") or os.getcwd()
    root = os.path.abspath(start)
    try:
        inode = os.stat(os.path.join(root, ".git")).st_ino
    except OSError:
        inode = -1
    found = _roots.get((root, inode))  # the root of a work tree: its .git is the repository
    if found is None:
        found = pygit2.discover_repository(start)
        if found is None:
            raise NotARepositoryError(
                f"'{start}' is not inside a git repository; run 'git init' or 'gittrack init' there first"
            )
        try:
            inode = os.stat(found).st_ino
        except OSError:
            inode = -1
        if found == os.path.join(root, ".git", ""):
            _roots[(root, inode)] = found
    with _handles_lock:
        repo = _handles.get(found)
        if repo is None or _handle_inodes.get(found) != inode:  # new, or a repository made anew in its place
            repo = pygit2.Repository(found)
            _handles[found] = repo
            _handle_inodes[found] = inode
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


_common_dirs: dict[str, str] = {}


def common_dir(repo: pygit2.Repository) -> str:
    """The git dir shared by all work trees (``repo.path`` itself unless this is a linked work tree)."""
    found = _common_dirs.get(repo.path)
    if found is None:
        try:
            with open(os.path.join(repo.path, "commondir"), encoding="utf-8") as file:
                found = os.path.normpath(os.path.join(repo.path, file.read().strip())) + os.sep
        except OSError:
            found = repo.path
        _common_dirs[repo.path] = found
    return found


_config_paths: dict[tuple[str, str | None, str | None, str | None], list[str]] = {}


def _config_files(repo: pygit2.Repository) -> list[str]:
    """The files git config of ``repo`` comes from (those that exist or might)."""
    environ = os.environ
    key = (repo.path, environ.get("HOME"), environ.get("XDG_CONFIG_HOME"), environ.get("GIT_CONFIG_NOSYSTEM"))
    files = _config_paths.get(key)
    if files is None:
        home = key[1] or os.path.expanduser("~")
        xdg = key[2] or os.path.join(home, ".config")
        files = [os.path.join(common_dir(repo), "config"), os.path.join(repo.path, "config.worktree"),
                 os.path.join(home, ".gitconfig"), os.path.join(xdg, "git", "config")]  # fmt: skip
        if not key[3]:
            files.append("/etc/gitconfig")
        _config_paths[key] = files
    return files


def ref_oid(ref: pygit2.Reference) -> pygit2.Oid:
    """The object ``ref`` points at, a symbolic ref followed (gittrack's own refs are direct)."""
    import pygit2

    target = ref.target
    if not isinstance(target, pygit2.Oid):
        target = ref.resolve().target
        assert isinstance(target, pygit2.Oid)  # a resolved ref is direct
    return target


def files_stamp(paths: list[str]) -> tuple[tuple[int, int, int, int] | None, ...]:
    """What changes when any of ``paths`` is written, created or removed."""
    stamp: list[tuple[int, int, int, int] | None] = []
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            stamp.append(None)
            continue
        stamp.append((info.st_mtime_ns, info.st_ctime_ns, info.st_size, info.st_ino))
    return tuple(stamp)


# git dir -> (the config files' stamp, key -> value or None)
_config: dict[str, tuple[tuple[Any, ...], dict[str, str | None]]] = {}
_config_checked: dict[str, float] = {}  # git dir -> time.monotonic() of the last stamp check
CONFIG_RECHECK_S = 0.001


def config_value(repo: pygit2.Repository, key: str) -> str | None:
    """The git config value of ``key`` (None when unset), read once per process and again only
    after a config file changed (files pulled in by ``include`` are not watched)."""
    return config_values(repo, key)[0]


def config_values(repo: pygit2.Repository, *keys: str) -> list[str | None]:
    """``config_value`` of each of ``keys``, the config files checked once for them all (and not
    again within a millisecond: a run's start asks several times, and another process's change
    that lands within that millisecond might as well have landed just after)."""
    known = _config.get(repo.path)
    now = time.monotonic()
    if known is None or now - _config_checked.get(repo.path, -1.0) > CONFIG_RECHECK_S:
        stamp = files_stamp(_config_files(repo))
        if known is None or known[0] != stamp:
            known = _config[repo.path] = (stamp, {})
        _config_checked[repo.path] = now
    values = known[1]
    out: list[str | None] = []
    for key in keys:
        if key in values:
            value = values[key]
        else:
            try:
                value = values[key] = str(repo.config[key])
            except KeyError:
                value = values[key] = None
        out.append(value)
    return out


def identity(repo: pygit2.Repository) -> tuple[str, str]:
    """(name, email) from git's ``user.name``/``user.email``, else the OS user at this host."""
    configured_name, configured_email = config_values(repo, "user.name", "user.email")
    name = os.environ.get("GIT_AUTHOR_NAME") or configured_name
    email = os.environ.get("GIT_AUTHOR_EMAIL") or configured_email
    if not name:
        import getpass

        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            name = "unknown"
    return name, email or f"{name}@{socket.gethostname()}"


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
