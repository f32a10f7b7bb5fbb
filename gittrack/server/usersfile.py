"""The users file of ``gittrack server --auth`` on disk: its stamp (a worker re-reads the file when
the stamp changed, so every worker sees another's edit at its next request), and its rewrite:
under a file lock, re-read, changed, checked, written to a temporary file and moved into place
(``os.replace``), so that no reader ever sees half a file and no two edits lose one another."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

from gittrack.errors import UsageError

Stamp = tuple[int, int, int]


def stamp(path: str) -> Stamp | None:
    """(inode, size, modification time in ns): a rewrite changes at least the inode."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def read(path: str) -> dict[str, Any]:
    """The file's YAML mapping."""
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except OSError as exc:
        raise UsageError(f"cannot read the users file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a mapping with 'users:'")
    return data


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    import fcntl

    with open(path + ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def update(path: str, change: Callable[[dict[str, Any]], None]) -> Stamp | None:
    """Apply ``change`` to the file's current mapping and write it back atomically (``change``
    raises to leave the file as it was); returns the new file's stamp."""
    import yaml

    with _locked(path):
        data = read(path)
        change(data)
        folder = os.path.dirname(os.path.abspath(path))
        mode = os.stat(path).st_mode & 0o777
        fd, temporary = tempfile.mkstemp(prefix=".users-", suffix=".yaml", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                yaml.safe_dump(data, handle, sort_keys=False, default_flow_style=False, allow_unicode=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, mode)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        return stamp(path)
