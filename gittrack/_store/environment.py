"""What the run ran with: command line, interpreter, platform and installed packages.

The package list is read in-process with importlib.metadata (never a ``pip freeze`` subprocess)
and cached per interpreter, keyed by the modification times of its package folders. The
interpreter and platform strings are cached too, keyed by the interpreter's binary and
``os.uname()``: Python works the platform out by running ``uname -p`` and reading the binary,
which costs more than a whole run.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gittrack._state import STATE
from gittrack._store.repo import gittrack_dir
from gittrack._version import __version__

if TYPE_CHECKING:
    import pygit2

CACHE_FILE = "requirements-cache.json"


def _packages_key() -> str:
    """What the installed packages are known by: the interpreter and its package folders' times."""
    parts = [sys.executable]
    for entry in sys.path:
        try:
            parts.append(f"{entry}:{os.stat(entry or '.').st_mtime_ns}")
        except OSError:
            continue
    return "\n".join(parts)


def _host_key() -> str:
    """What the platform string is known by: the interpreter (its binary as it is) and the kernel."""
    try:
        binary = os.stat(sys.executable)
        stamp = f"{binary.st_mtime_ns}:{binary.st_size}:{binary.st_ino}"
    except OSError:
        stamp = ""
    return "\n".join([sys.executable, stamp, *os.uname()])


def requirements_text() -> bytes:
    """Installed distributions in ``pip freeze`` form (``name==version``), sorted, one per line."""
    key = _packages_key()
    if key not in STATE.caches.requirements:
        from importlib import metadata

        found = {}
        for dist in metadata.distributions():
            name = dist.metadata["Name"]
            if name and name.lower() not in found:
                found[name.lower()] = f"{name}=={dist.version}"
        STATE.caches.requirements[key] = "".join(line + "\n" for _, line in sorted(found.items())).encode()
    return STATE.caches.requirements[key]


_blobs: dict[tuple[str, str], pygit2.Oid] = {}  # (git dir, packages key) -> blob, in this process


def requirements_blob(repo: pygit2.Repository) -> pygit2.Oid:
    """The blob of :func:`requirements_text`, reused across processes through a small cache file."""
    key = _packages_key()
    known = _blobs.get((repo.path, key))
    if known is None or known not in repo.odb:  # (a repository made anew in the same place)
        known = _blobs[(repo.path, key)] = _stored_requirements_blob(repo, key)
    return known


def _read_cache(repo: pygit2.Repository) -> dict[str, Any]:
    try:
        known = json.loads((gittrack_dir(repo) / CACHE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return known if isinstance(known, dict) else {}


def _write_cache(repo: pygit2.Repository, known: dict[str, Any]) -> None:
    cache = gittrack_dir(repo) / CACHE_FILE
    tmp = cache.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(known))
    os.replace(tmp, cache)


def _stored_requirements_blob(repo: pygit2.Repository, key: str) -> pygit2.Oid:
    import pygit2

    known = _read_cache(repo)
    try:
        if known.get("packages") == key:
            oid = pygit2.Oid(hex=known["requirements"])
            if oid in repo.odb:
                return oid
    except (KeyError, ValueError, TypeError):
        pass
    oid = repo.create_blob(requirements_text())
    # one interpreter per repo is the common case; keep the file tiny
    _write_cache(repo, {**_only(known, "host", "host_summary"), "packages": key, "requirements": str(oid)})
    return oid


def _only(known: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {key: known[key] for key in keys if key in known}


_HOST_KEYS = ("python", "implementation", "platform")
_hosts: dict[str, dict[str, str]] = {}  # host key -> the interpreter and platform strings, in this process


def _host(repo: pygit2.Repository | None) -> dict[str, str]:
    key = _host_key()
    known = _hosts.get(key)
    if known is None and repo is not None:
        cached = _read_cache(repo)
        found = cached.get("host_summary")
        if (
            cached.get("host") == key
            and isinstance(found, dict)
            and all(isinstance(found.get(k), str) for k in _HOST_KEYS)
        ):
            known = {k: found[k] for k in _HOST_KEYS}
        else:
            known = _host_summary()
            _write_cache(repo, {**_only(cached, "packages", "requirements"), "host": key, "host_summary": known})
    if known is None:
        known = _host_summary()
    _hosts[key] = known
    return known


def _host_summary() -> dict[str, str]:
    import platform

    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
    }


def environment_summary(repo: pygit2.Repository | None = None) -> dict[str, str]:
    """Interpreter, platform and gittrack version (cached in ``repo``, when given)."""
    return {**_host(repo), "gittrack": __version__}


@functools.lru_cache(maxsize=256)
def _relative(path: str, root: Path) -> str | None:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError):
        return None


def command_summary(
    argv: list[str], root: Path, launcher: str, cwd: str | os.PathLike[str] | None = None
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


def command_in_tree(
    repo: pygit2.Repository, tree_id: Any, argv: list[str], launcher: str, max_entries: int = 200_000
) -> dict[str, object]:
    """The command of a run that ran elsewhere on a commit (an MLflow client's script, reported
    to ``gittrack server``), its script found in that commit's tree rather than on this disk.

    A relative script path is looked up from the tree's root, else as the end of a longer path
    (the client ran it from that folder, which becomes the command's folder); an absolute one
    (another machine's) as the longest end of it the tree holds, which replaces it in ``argv``.
    No match: no entry point (the script was not in the commit)."""
    import posixpath

    import pygit2

    tree = repo[tree_id].peel(pygit2.Tree)

    def is_file(path: str) -> bool:
        try:
            return isinstance(tree[path], pygit2.Blob)
        except (KeyError, ValueError):
            return False

    def ending_with(tail: str) -> list[str]:
        found: list[str] = []
        stack = [(tree, "")]
        seen = 0
        while stack and seen < max_entries:
            folder, prefix = stack.pop()
            for item in folder:
                seen += 1
                path = prefix + str(item.name)
                if isinstance(item, pygit2.Tree):
                    stack.append((item, path + "/"))
                elif path.endswith("/" + tail):
                    found.append(path)
        return sorted(found, key=lambda p: (p.count("/"), p))

    args = list(argv)
    entry, cwd = None, "."
    for index, arg in enumerate(args[1:], start=1):
        if not arg or arg.startswith("-"):
            continue
        clean = posixpath.normpath(arg.replace("\\", "/"))
        if clean.startswith("/"):
            parts = clean.strip("/").split("/")
            tail = next(("/".join(parts[i:]) for i in range(len(parts)) if is_file("/".join(parts[i:]))), None)
            if tail is not None:
                entry, args[index] = tail, tail
                break
        elif not clean.startswith(".."):
            if is_file(clean):
                entry = clean
                break
            longer = ending_with(clean)
            if longer:
                entry = longer[0]
                cwd = entry[: -len(clean) - 1]
                break
    return {"argv": args, "entry_point": entry, "cwd": cwd, "launcher": launcher}


def process_argv() -> list[str]:
    """This Python process's command line as a re-runnable command (``python script.py args``)."""
    if sys.argv and sys.argv[0] and os.path.isfile(sys.argv[0]):
        return ["python", *sys.argv]
    return list(sys.argv)
