"""DVC underneath gittrack: hashing as DVC does, the DVC cache, remotes, and ``.dvc`` pointers.

Everything here goes through DVC's own libraries (``dvc`` and ``dvc_data``), imported only
when a call needs them: hashes are DVC's md5 (``.dir`` for folders), computed with DVC's state
database so unchanged files are not hashed again, and objects live in the repository's DVC
cache, so plain ``dvc checkout`` / ``dvc pull`` / ``dvc push`` work on what gittrack writes.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gittrack._store.yamlio import dump_yaml, load_yaml
from gittrack.errors import DataError, NotFoundError, UsageError

if TYPE_CHECKING:
    from dvc.repo import Repo
    from dvc_data.hashfile.hash_info import HashInfo

log = logging.getLogger("gittrack")


@dataclass(frozen=True)
class DataEntry:
    """A file or folder as DVC identifies it: md5 (``...dir`` for folders), size, file count."""

    md5: str
    size: int | None
    nfiles: int | None

    @property
    def is_dir(self) -> bool:
        """Whether this is a folder (its md5 names a ``.dir`` listing)."""
        return self.md5.endswith(".dir")

    def out(self, path: str) -> dict[str, Any]:
        """The ``outs`` entry of a ``.dvc`` file for this data at ``path``."""
        entry: dict[str, Any] = {"md5": self.md5}
        if self.size is not None:
            entry["size"] = self.size
        if self.nfiles is not None and self.is_dir:
            entry["nfiles"] = self.nfiles
        entry["hash"] = "md5"
        entry["path"] = path
        return entry


def has_dvc(root: str | os.PathLike[str]) -> bool:
    """Whether the work tree at ``root`` is a DVC repository (has a ``.dvc`` folder)."""
    return (Path(root) / ".dvc").is_dir()


@functools.lru_cache(maxsize=8)
def open_dvc(root: str) -> Repo:
    """DVC's repository object for the work tree at ``root`` (cached per process)."""
    from dvc.config import ConfigError
    from dvc.exceptions import NotDvcRepoError
    from dvc.repo import Repo

    try:
        return Repo(root)
    except NotDvcRepoError:
        raise NotFoundError(f"'{root}' is not a DVC repository; run 'gittrack init' (or 'dvc init') first") from None
    except ConfigError as exc:
        raise DataError(
            f"DVC's configuration is invalid: {_first_line(exc)}; see .dvc/config and .dvc/config.local"
        ) from None


SETUP_FILES = [".dvc/.gitignore", ".dvc/config", ".dvcignore"]
"""What ``dvc init`` creates, to be committed."""


def init_dvc(root: str | os.PathLike[str], remote: str | None = None) -> list[str]:
    """Set up DVC at ``root`` when missing, and make ``remote`` (a URL or path) its default remote.

    Returns the files created or changed, for the caller to commit or report.
    """
    from dvc.repo import Repo

    root = Path(root)
    changed = []
    if not has_dvc(root):
        chatter = logging.getLogger("dvc.repo.init")  # "You can now commit the changes to git.": we say it
        level = chatter.level
        chatter.setLevel(logging.WARNING)
        try:
            Repo.init(str(root))
        finally:
            chatter.setLevel(level)
        changed += SETUP_FILES
    open_dvc.cache_clear()
    if remote:
        from dvc.config import ConfigError

        dvc = open_dvc(str(root))
        url = str(Path(remote).resolve()) if "://" not in remote and not remote.startswith(("s3:", "gs:")) else remote
        try:
            with dvc.config.edit() as conf:
                conf["remote"]["gittrack"] = {"url": url}
                conf["core"]["remote"] = "gittrack"
        except ConfigError as exc:  # e.g. .dvc/config.local keeps settings of another kind of remote
            raise DataError(
                f"cannot make {url} DVC's remote: {_first_line(exc)}; remove the old remote's settings from "
                ".dvc/config.local ('dvc remote modify --local gittrack --unset KEY') and try again"
            ) from None
        changed.append(".dvc/config")
        open_dvc.cache_clear()
    return sorted(set(changed))


def default_remote(root: str | os.PathLike[str]) -> str | None:
    """The URL of DVC's default remote at ``root``, or None."""
    return remote_url(open_dvc(str(root)))


def remote_url(dvc: Repo) -> str | None:
    """The URL of the default remote of an open DVC repository (its settings as they were read), or None."""
    name = dvc.config["core"].get("remote")
    return dvc.config["remote"].get(name, {}).get("url") if name else None


class _NoEscapingLinks:
    """A DVC walk filter: symlinks that point outside the logged folder are skipped, not followed."""

    def __init__(self, top: str) -> None:
        self.top = os.path.realpath(top)

    def _inside(self, path: str) -> bool:
        if not os.path.islink(path):
            return True
        target = os.path.realpath(path)
        return target == self.top or target.startswith(self.top + os.sep)

    def walk(self, fs: Any, path: str, **kwargs: Any) -> Iterator[tuple[str, list[str], list[str]]]:
        for root, dirs, files in fs.walk(path, **kwargs):
            kept_dirs = [d for d in dirs if self._inside(os.path.join(root, d))]
            dropped = set(dirs) - set(kept_dirs)
            if dropped:
                log.warning("gittrack: not following links out of %s: %s", path, ", ".join(sorted(dropped)))
            dirs[:] = kept_dirs
            kept_files = [f for f in files if self._inside(os.path.join(root, f))]
            if len(kept_files) != len(files):
                skipped = ", ".join(sorted(set(files) - set(kept_files)))
                log.warning("gittrack: not following links out of %s: %s", path, skipped)
            yield root, dirs, kept_files


def _build(dvc: Repo, path: str, dry_run: bool) -> tuple[Any, Any, Any]:
    from dvc_data.hashfile.build import build

    odb = dvc.cache.local
    # build only walks: Ignore's other method, find, is for the mtime check it does not make
    return build(odb, path, odb.fs, "md5", dry_run=dry_run, ignore=_NoEscapingLinks(path))  # type: ignore[arg-type]


def hash_path(dvc: Repo, path: str | os.PathLike[str]) -> DataEntry:
    """DVC's hash of a file or folder (reusing DVC's state database for unchanged files)."""
    path = os.path.abspath(path)
    if not os.path.exists(path):
        raise NotFoundError(f"'{path}' does not exist")
    _, meta, obj = _build(dvc, path, dry_run=True)
    return DataEntry(obj.hash_info.value, meta.size, meta.nfiles)


def add_to_cache(dvc: Repo, path: str | os.PathLike[str]) -> DataEntry:
    """Copy a file or folder into the DVC cache (stored once whatever the number of runs)."""
    from dvc_data.hashfile.transfer import transfer

    path = os.path.abspath(path)
    if not os.path.exists(path):
        raise NotFoundError(f"'{path}' does not exist")
    if not os.access(path, os.R_OK):
        raise UsageError(f"'{path}' is not readable")
    staging, meta, obj = _build(dvc, path, dry_run=False)
    transfer(staging, dvc.cache.local, {obj.hash_info}, hardlink=False, shallow=False)
    return DataEntry(obj.hash_info.value, meta.size, meta.nfiles)


def pointer(entry: DataEntry, name: str) -> bytes:
    """The bytes of a ``.dvc`` file for ``entry`` checked out as ``name`` beside it."""
    return dump_yaml({"outs": [entry.out(name)]})


def read_pointer(data: bytes, what: str) -> tuple[DataEntry, str]:
    """Parse a ``.dvc`` file (untrusted): the entry and the relative path it describes."""
    doc = load_yaml(data, what)
    try:
        (out,) = doc["outs"]
        md5, path = out["md5"], out["path"]
        if not isinstance(md5, str) or not isinstance(path, str) or not path or path.startswith(("/", "..")):
            raise TypeError
        size, nfiles = out.get("size"), out.get("nfiles")
        return DataEntry(
            md5, size if isinstance(size, int) else None, nfiles if isinstance(nfiles, int) else None
        ), path
    except (KeyError, TypeError, ValueError):
        raise DataError(f"{what} is not a .dvc file with one output") from None


def _hash_info(entry: DataEntry) -> HashInfo:
    from dvc_data.hashfile.hash_info import HashInfo

    return HashInfo("md5", entry.md5)


def in_cache(dvc: Repo, entry: DataEntry) -> bool:
    """Whether the object (and, for a folder, every file in it) is in the local cache."""
    from dvc_data.hashfile.tree import Tree

    odb = dvc.cache.local
    if not odb.exists(entry.md5):
        return False
    if not entry.is_dir:
        return True
    tree = Tree.load(odb, _hash_info(entry))
    return all(odb.exists(hi.value) for _, _, hi in tree)


def _expanded(dvc: Repo, entries: list[DataEntry]) -> set[Any]:
    """The hashes of the objects behind ``entries``: each file, each ``.dir`` listing and its files."""
    from dvc_data.hashfile.tree import Tree

    odb = dvc.cache.local
    found = set()
    for entry in entries:
        found.add(_hash_info(entry))
        if entry.is_dir and odb.exists(entry.md5):
            found.update(hi for _, _, hi in Tree.load(odb, _hash_info(entry)))
    return found


def folder_files(dvc: Repo, entry: DataEntry, remote: str | None = None) -> dict[str, DataEntry]:
    """The files of folder ``entry`` by their path inside it (``sub/a.csv``), read from its ``.dir``
    listing; only that listing is fetched from the DVC remote when the local cache lacks it. A
    file's size is None until its content is in the local cache (the listing has none)."""
    from dvc_data.hashfile.tree import Tree

    odb = dvc.cache.local
    if not odb.exists(entry.md5):
        try:
            dvc.cloud.pull({_hash_info(entry)}, remote=remote)
        except Exception as exc:  # noqa: BLE001 - DVC raises many types; report one line
            raise DataError(f"could not fetch from the DVC remote: {_first_line(exc)}") from None
        if not odb.exists(entry.md5):
            raise DataError(f"the DVC remote lacks {entry.md5}; was it pushed ('gittrack push' or 'dvc push')?")
    try:
        tree = Tree.load(odb, _hash_info(entry))
    except Exception as exc:  # noqa: BLE001 - a corrupt listing: one line for the user
        raise DataError(f"cannot read the folder listing {entry.md5}: {_first_line(exc)}") from None
    files = {}
    for key, meta, hi in tree:
        size = getattr(meta, "size", None)  # DVC's listings name md5s only: the size is known once cached
        if size is None and odb.exists(hi.value):
            size = os.path.getsize(odb.oid_to_path(hi.value))
        files["/".join(key)] = DataEntry(hi.value, size, None)
    return files


@dataclass
class PushOutcome:
    """What :func:`push` did: objects sent, and the entries whose data the local cache lacks."""

    sent: int
    on_remote: list[DataEntry]
    """Entries the local cache lacks (in part) but the remote already holds: nothing to send."""
    absent: list[DataEntry]
    """Entries with objects neither in the local cache nor on the remote: they could not be sent."""


def push(dvc: Repo, entries: list[DataEntry], remote: str | None = None) -> PushOutcome:
    """Send every object behind ``entries`` that the local cache holds and the DVC remote lacks.

    Entries whose objects the local cache lacks are not an error here: they are reported as
    already on the remote, or as absent from both (a folder listing is then not sent either, so
    the remote never holds a folder without all its files)."""
    odb = dvc.cache.local
    objects: dict[DataEntry, set[Any]] = {entry: _expanded(dvc, [entry]) for entry in entries}
    lacking = {hi for found in objects.values() for hi in found if not odb.exists(hi.value)}
    nowhere = set()
    if lacking:
        try:
            nowhere = set(dvc.cloud.status(lacking, remote=remote).missing)
        except Exception as exc:  # noqa: BLE001 - DVC raises many types; report one line
            raise DataError(f"could not reach the DVC remote: {_first_line(exc)}") from None
    absent = [e for e, found in objects.items() if found & nowhere]
    on_remote = [e for e, found in objects.items() if found & lacking and not found & nowhere]
    complete = [e for e, found in objects.items() if not found & nowhere]
    # a folder with absent files: its files that are here still go, its listing does not
    partial = {hi for e in absent for hi in objects[e] if not hi.isdir} - lacking
    wanted = {hi for e in complete for hi in objects[e]} - lacking | partial
    sent = 0
    if wanted:
        try:
            result = dvc.cloud.push(wanted, remote=remote)
        except Exception as exc:  # noqa: BLE001 - DVC raises many types; report one line
            raise DataError(f"could not push to the DVC remote: {_first_line(exc)}") from None
        if result.failed:
            raise DataError(f"{len(result.failed)} object(s) could not be pushed to the DVC remote; try again")
        sent = len(result.transferred)
    return PushOutcome(sent, on_remote, absent)


_REFUSED = ("forbidden", "access denied", "accessdenied", "invalidaccesskeyid", "signaturedoesnotmatch",
            "permission denied", "not authorized", "authentication failed")  # fmt: skip


def _first_line(exc: BaseException) -> str:
    """The error's first line; for a refusal by the remote (S3's 403, SSH's denial), also what to check."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    if isinstance(exc, PermissionError) or any(word in text.lower() for word in _REFUSED):
        line += (
            " (the DVC remote refused these credentials: check them in .dvc/config.local or the environment, "
            "e.g. AWS_ACCESS_KEY_ID, AWS_PROFILE, the SSH key)"
        )
    return line


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """DVC's own warnings (lists of missing cache files) off: gittrack reports in one line."""
    chatter = logging.getLogger("dvc")
    level = chatter.level
    chatter.setLevel(logging.ERROR)
    try:
        yield
    finally:
        chatter.setLevel(level)


def fetch(dvc: Repo, entries: list[DataEntry], remote: str | None = None) -> int:
    """Bring missing objects from the DVC remote into the local cache; returns how many came."""
    missing = [e for e in entries if not in_cache(dvc, e)]
    if not missing:
        return 0
    count = 0
    try:
        with _quiet():
            for _ in range(2):  # first the files and .dir listings, then the files the listings name
                count += len(dvc.cloud.pull(_expanded(dvc, missing), remote=remote).transferred)
    except Exception as exc:  # noqa: BLE001 - DVC raises many types; report one line
        raise DataError(f"could not fetch from the DVC remote: {_first_line(exc)}") from None
    still = [e.md5 for e in missing if not in_cache(dvc, e)]
    if still:
        raise DataError(f"the DVC remote lacks {', '.join(still[:3])}; was it pushed ('gittrack push' or 'dvc push')?")
    return count


def materialise(dvc: Repo, entry: DataEntry, dest: str | os.PathLike[str]) -> None:
    """Write the content of ``entry`` from the cache to ``dest`` (a file or a folder)."""
    from dvc_data.hashfile.checkout import checkout
    from dvc_data.hashfile.tree import Tree

    odb = dvc.cache.local
    obj = Tree.load(odb, _hash_info(entry)) if entry.is_dir else odb.get(entry.md5)
    dest = os.path.abspath(dest)
    with contextlib.suppress(FileNotFoundError):
        if os.path.isfile(dest) and entry.is_dir:
            raise UsageError(f"'{dest}' is a file; the artifact is a folder")
    from dvc_data.hashfile.checkout import CheckoutError

    try:
        checkout(dest, odb.fs, obj, cache=odb, force=True, relink=True)
    except CheckoutError:
        raise DataError(
            f"cannot restore {entry.md5} from the DVC cache: files are missing or do not match their hash; "
            "fetch them again ('gittrack artifacts get' fetches from the DVC remote)"
        ) from None
