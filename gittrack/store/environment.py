"""What the run ran with: command line, interpreter, platform and installed packages.

The package list is read in-process with importlib.metadata (never a ``pip freeze`` subprocess)
and cached per interpreter, keyed by the modification times of its package folders.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from gittrack._version import __version__
from gittrack.store.repo import gittrack_dir

if TYPE_CHECKING:
    import pygit2

_memo: dict[str, bytes] = {}


def _packages_key() -> str:
    parts = [sys.executable]
    for entry in sys.path:
        try:
            parts.append(f"{entry}:{os.stat(entry or '.').st_mtime_ns}")
        except OSError:
            continue
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:32]


def requirements_text() -> bytes:
    """Installed distributions in ``pip freeze`` form (``name==version``), sorted, one per line."""
    key = _packages_key()
    if key not in _memo:
        from importlib import metadata

        found = {}
        for dist in metadata.distributions():
            name = dist.metadata["Name"]
            if name and name.lower() not in found:
                found[name.lower()] = f"{name}=={dist.version}"
        _memo[key] = "".join(line + "\n" for _, line in sorted(found.items())).encode()
    return _memo[key]


def requirements_blob(repo: pygit2.Repository) -> pygit2.Oid:
    """The blob of :func:`requirements_text`, reused across processes through a small cache file."""
    import pygit2

    key = _packages_key()
    cache = gittrack_dir(repo) / "requirements-cache.json"
    try:
        known = json.loads(cache.read_text())
        oid = pygit2.Oid(hex=known[key])
        if oid in repo.odb:
            return oid
    except (OSError, ValueError, KeyError, TypeError):
        known = {}
    oid = repo.create_blob(requirements_text())
    known = {key: str(oid)}  # one interpreter per repo is the common case; keep the file tiny
    tmp = cache.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(known))
    os.replace(tmp, cache)
    return oid


def environment_summary() -> dict[str, str]:
    """Interpreter, platform and gittrack version."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "gittrack": __version__,
    }


def _relative(path: str, root: Path) -> str | None:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError):
        return None


def command_summary(
    argv: list[str], root: Path, launcher: str, cwd: str | os.PathLike | None = None
) -> dict[str, object]:
    """The command line, the script it ran, the working folder and what launched it.

    The entry point is the first argument after the program that names a file (``train.py`` in
    ``python train.py``), else the program itself when it is a file inside the repository.
    """
    where = os.fspath(cwd) if cwd is not None else os.getcwd()
    files = [(arg, os.path.join(where, arg)) for arg in argv if arg]
    entry = next((_relative(full, root) or arg for arg, full in files[1:] if os.path.isfile(full)), None)
    if entry is None and files and os.path.isfile(files[0][1]):
        entry = _relative(files[0][1], root)
    return {
        "argv": list(argv),
        "entry_point": entry,
        "cwd": _relative(where, root) or where,
        "launcher": launcher,
    }


def process_argv() -> list[str]:
    """This Python process's command line as a re-runnable command (``python script.py args``)."""
    if sys.argv and sys.argv[0] and os.path.isfile(sys.argv[0]):
        return ["python", *sys.argv]
    return list(sys.argv)
