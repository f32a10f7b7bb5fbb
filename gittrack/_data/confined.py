"""The one writer of restored data: files go inside a work tree only, never through a link.

Every path is a validated relative name; each folder on the way is opened with ``O_NOFOLLOW``
relative to the one before (``openat`` style), so a symlink anywhere on the path, made before
or during the restore, is refused instead of followed. The file is written to a temporary name
in its folder and renamed over the old one: a link at the final name is replaced, never
followed, and a reader never sees half a file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterable

from gittrack.errors import DataError, MalformedRunError

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_CHUNK = 1024 * 1024


def path_problem(path: str) -> str | None:
    """Why ``path`` is not a name a snapshot may restore data to (None: it may): it must be
    relative and normalised, stay inside the work tree, and keep out of ``.git`` and ``.dvc``."""
    if not isinstance(path, str) or not path:
        return "an empty path"
    if path.startswith("/") or "\\" in path or "\0" in path:
        return f"an absolute or malformed path ({path[:80]!r})"
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return f"a path that is not a plain relative name ({path[:80]!r})"
    if ".git" in parts or parts[0] == ".dvc":
        return f"a path into {'.git' if '.git' in parts else '.dvc'}/ ({path[:80]!r})"
    return None


def check_path(path: str, what: str) -> str:
    """``path`` if :func:`path_problem` finds nothing, else ``MalformedRunError`` naming ``what``."""
    problem = path_problem(path)
    if problem is not None:
        raise MalformedRunError(f"{what} writes to {problem}")
    return path


def _open_folder(root_fd: int, parts: Iterable[str], shown: str) -> int:
    """A descriptor of the folder ``parts`` under ``root_fd``, created where missing, never through a link."""
    fd = os.dup(root_fd)
    walked = []
    try:
        for name in parts:
            walked.append(name)
            try:
                next_fd = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                os.mkdir(name, 0o777, dir_fd=fd)
                next_fd = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    where = "/".join(walked)
                    kind = "a symlink" if os.path.islink(os.path.join(shown, where)) else "a file"
                    raise DataError(
                        f"'{where}' is {kind}; restoring data there would write through it. Move it away and retry"
                    ) from None
                raise
            os.close(fd)
            fd = next_fd
        return fd
    except BaseException:
        os.close(fd)
        raise


class ConfinedWriter:
    """Writes files under one root folder (the work tree); see the module's docstring."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.fspath(root)
        self._fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))

    def close(self) -> None:
        """Release the root folder's descriptor."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> ConfinedWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, path: str, source: str | os.PathLike[str]) -> None:
        """Copy the file ``source`` (a DVC cache object) to ``path``, relative to the root."""
        check_path(path, "restored data")
        *folders, name = path.split("/")
        folder = _open_folder(self._fd, folders, self.root)
        temporary = f".{name[:200]}.gittrack-{os.getpid()}-{os.urandom(4).hex()}"
        try:
            out = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666, dir_fd=folder)
            try:
                with open(source, "rb") as src, os.fdopen(out, "wb", closefd=False) as dst:
                    shutil.copyfileobj(src, dst, _CHUNK)
            finally:
                os.close(out)
            try:
                os.rename(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
            except IsADirectoryError:  # a folder where the file goes: the data replaces it, as DVC does
                shutil.rmtree(name, dir_fd=folder)
                os.rename(temporary, name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary, dir_fd=folder)
            raise
        finally:
            os.close(folder)
