"""The workspace snapshot: HEAD's tree plus the work tree's changes, as a tree object.

Built in memory, so the user's index, HEAD and files are never touched. Ignored files never
enter; secrets and files over the size cap are left out with a warning.

A snapshot is taken at every run's start, so it is kept about as cheap as ``git status``:

- tracked files come from libgit2's status against the user's index (stat data, no reading);
- untracked files come from a walk of the work tree that remembers, per folder, which entries git
  ignores (libgit2 is asked once per new name) and lists a folder again only when its
  modification time changed, or when a ``.gitignore``, ``info/exclude``, the global excludes file
  or git config did (which may change every decision);
- each file's blob id is remembered with its stat data (modification and change times in
  nanoseconds, size, inode, mode), as git's index does, so only files that changed are read and
  hashed; a file or folder modified within ``RACY_NS`` of a snapshot is never trusted that way;
- the last snapshot's tree and diffstat are remembered, and updated for the paths that changed.

That memory is kept per process and in ``.git/gittrack/snapshot-cache.json`` for the next process
(a cache: safe to delete).
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import logging
import os
import stat
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gittrack._store.repo import common_dir, config_value, config_values, files_stamp, gittrack_dir
from gittrack._store.trees import Changes, apply_changes

if TYPE_CHECKING:
    import pygit2

log = logging.getLogger("gittrack")

RUN_DIR = ".gittrack/run"
DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024
SECRET_PATTERNS = (
    ".env", ".env.*", "*.pem", "*.key", "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*",
    "*.p12", "*.pfx", "*.jks", "*.keystore", ".netrc", ".pypirc", ".git-credentials",
    ".htpasswd", "credentials.json", "*.kdbx",
)  # fmt: skip
# The patterns as names, prefixes and suffixes: a regular expression of them costs milliseconds to compile.
_SECRET_NAMES = frozenset(p for p in SECRET_PATTERNS if "*" not in p)
_SECRET_PREFIXES = tuple(p[:-1] for p in SECRET_PATTERNS if p.count("*") == 1 and p.endswith("*"))
_SECRET_SUFFIXES = tuple(p[1:] for p in SECRET_PATTERNS if p.count("*") == 1 and p.startswith("*"))
_SECRET_OTHERS = tuple(p for p in SECRET_PATTERNS if p.count("*") > 1 or "*" in p.strip("*"))

RACY_NS = 2_000_000_000  # a file or folder changed this recently may change again unseen (coarse clocks)
CACHE_FILE = "snapshot-cache.json"
CACHE_FORMAT = "gittrack-snapshot-cache 1"
SAVE_EVERY_S = 5.0  # a process writes the cache file at most this often (and at its first snapshot)
_now = time.time_ns  # the clock that stat data is compared with


@dataclass
class Snapshot:
    """A workspace snapshot and what is known about it relative to HEAD."""

    tree: pygit2.Oid
    head: pygit2.Oid | None
    branch: str | None
    dirty: bool
    diffstat: dict[str, int] = field(default_factory=dict)
    excluded: list[dict[str, str]] = field(default_factory=list)


def is_secret(path: str) -> bool:
    """True for file names that usually hold credentials (``.env``, keys, keystores...)."""
    name = path.rsplit("/", 1)[-1]
    if name in _SECRET_NAMES or name.startswith(_SECRET_PREFIXES) or name.endswith(_SECRET_SUFFIXES):
        return True
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in _SECRET_OTHERS)


def _head(repo: pygit2.Repository) -> tuple[pygit2.Commit | None, str | None]:
    """HEAD's commit (None when unborn) and branch (None when detached), HEAD read once."""
    import pygit2

    target = repo.lookup_reference("HEAD").target
    if not isinstance(target, str):  # detached
        return repo[target].peel(pygit2.Commit), None
    try:
        branch = repo.lookup_reference(target)
    except KeyError:  # unborn
        return None, target.removeprefix("refs/heads/")
    return branch.peel(pygit2.Commit), branch.shorthand


def without_run_dir(repo: pygit2.Repository, tree: pygit2.Oid) -> pygit2.Oid:
    """``tree`` without its ``.gittrack/run`` folder (the same tree when it has none)."""
    import pygit2

    try:
        repo[tree].peel(pygit2.Tree)[RUN_DIR]
    except KeyError:
        return tree
    return apply_changes(repo, tree, {RUN_DIR: None})


def take_snapshot(repo: pygit2.Repository, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES) -> Snapshot:
    """Snapshot the work tree as it is now, without ``.gittrack/run`` (each run writes its own)."""
    head, branch = _head(repo)
    cache = _cache(repo)
    with cache.lock:
        tree, base, diffstat, excluded = cache.snapshot(repo, head.tree_id if head else None, max_file_bytes)
    return Snapshot(tree, head.id if head is not None else None, branch, tree != base, diffstat, excluded)


# -- the cache --------------------------------------------------------------------------------------

StatKey = tuple[int, int, int, int, int]  # st_mtime_ns, st_ctime_ns, st_size, st_ino, st_mode
_NO_STAT: StatKey = (0, 0, 0, 0, 0)


def _stat_key(info: os.stat_result) -> StatKey:
    return (info.st_mtime_ns, info.st_ctime_ns, info.st_size, info.st_ino, info.st_mode)


def _rules_key(path: str, now: int) -> Any:
    """The stat key of a file of rules (a ``.gitignore``), None without one, or, when it changed
    too recently to tell a later change by its stat data, a value equal to nothing."""
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if max(info.st_mtime_ns, info.st_ctime_ns) + RACY_NS >= now:
        return object()
    return _stat_key(info)


def _trusted_stamp(paths: list[str], now: int) -> Any:
    """``files_stamp(paths)``, or a value equal to nothing when one of them changed too recently."""
    stamp = files_stamp(paths)
    if any(entry is not None and max(entry[0], entry[1]) + RACY_NS >= now for entry in stamp):
        return object()
    return stamp


@dataclass
class _Folder:
    """What a folder of the work tree held when it was last listed: the names git does not ignore
    (files and symlinks; folders) and those it does (kept so that listing it again asks only about
    new names)."""

    key: tuple[int, int] | None  # (st_mtime_ns, st_ino); None: listed too soon after a change, list again
    rules: Any  # its .gitignore's key (``_rules_key``), or None without one
    files: tuple[str, ...]
    folders: tuple[str, ...]
    ignored_files: frozenset[str]
    ignored_folders: frozenset[str]
    repository: bool  # holds a .git of its own (a nested repository)

    def same_entries(self, other: _Folder) -> bool:
        return (self.rules, self.files, self.folders, self.ignored_files, self.ignored_folders, self.repository) == (
            other.rules, other.files, other.folders, other.ignored_files, other.ignored_folders, other.repository
        )  # fmt: skip


@dataclass
class _Memo:
    """The last snapshot: its base (HEAD's tree), its changes to it, its tree and diffstat."""

    base: pygit2.Oid
    tree: pygit2.Oid
    diffstat: dict[str, int]
    attributes: Any  # the stamp of the attribute files, which may make a file binary for diffs
    changes: Changes
    folders: set[str] | None = None  # every folder of a changed path (computed when first needed)


def _parents(path: str) -> list[str]:
    """``a``, ``a/b`` for ``a/b/c``."""
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


class _Cache:
    """The stat cache, folder listings and last snapshot of one work tree (see the module's text)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.blobs: dict[str, tuple[StatKey, tuple[pygit2.Oid, int]]] = {}  # path -> (stat key, (blob, mode))
        self.folders: dict[str, _Folder] = {}  # "" (the root), "src/", "src/a/"...
        self.rules: tuple[Any, ...] | None = None  # the stamp of every ignore source but the .gitignore files
        self.candidates: list[tuple[str, str]] | None = None  # untracked (path, full path), for these:
        self.candidates_base: pygit2.Oid | None = None
        self.memo: _Memo | None = None
        self.bases: dict[pygit2.Oid | None, pygit2.Oid] = {}  # HEAD's tree -> the base without .gittrack/run
        self.dirty = False
        self.saved_at: float | None = None

    # -- one snapshot ---------------------------------------------------------------------------
    def snapshot(
        self, repo: pygit2.Repository, head_tree: pygit2.Oid | None, max_bytes: int
    ) -> tuple[pygit2.Oid, pygit2.Oid, dict[str, int], list[dict[str, str]]]:
        """(tree, base, diffstat, excluded) of the work tree now."""
        import pygit2

        now = _now()
        root = repo.workdir
        base = self.bases.get(head_tree)
        if base is None:
            base = repo.TreeBuilder().write() if head_tree is None else without_run_dir(repo, head_tree)
            self.bases = {head_tree: base}
        changes: Changes = {RUN_DIR: None}
        excluded: list[dict[str, str]] = []
        tracked = repo.status(untracked_files="no", ignored=False)
        for path in tracked:
            if path != RUN_DIR and not path.startswith(RUN_DIR + "/"):
                self._add(repo, root, path, max_bytes, now, changes, excluded)
        rules, attributes = _sources_stamps(repo, now)
        known_blob, lstat, others = self.blobs.get, os.lstat, []
        base_tree = repo[base].peel(pygit2.Tree)
        for path, full in self._untracked(repo, root, base_tree, now, rules):  # the hot loop: keep it lean
            try:
                info = lstat(full)
            except OSError:
                others.append(path)
                continue
            known = known_blob(path)  # a path status listed too (staged) gets the same value twice
            if known is not None and known[0] == (
                info.st_mtime_ns, info.st_ctime_ns, info.st_size, info.st_ino, info.st_mode
            ) and info.st_size <= max_bytes:  # fmt: skip
                changes[path] = known[1]
            else:
                others.append(path)
        for path in others:
            if path not in tracked:
                self._add(repo, root, path, max_bytes, now, changes, excluded)
        excluded.sort(key=lambda entry: entry["path"])
        for entry in excluded:
            log.warning("gittrack: left '%s' out of the run snapshot: %s", entry["path"], entry["reason"])
        tree, diffstat = self._tree(repo, base, changes, attributes)
        self._save(repo)
        return tree, base, diffstat, excluded

    def _add(
        self,
        repo: pygit2.Repository,
        root: str,
        path: str,
        max_bytes: int,
        now: int,
        changes: Changes,
        excluded: list[dict[str, str]],
    ) -> None:
        result = self._blob(repo, root, path.rstrip("/"), max_bytes, now)
        if isinstance(result, str):
            excluded.append({"path": path, "reason": result})
        else:
            changes[path.rstrip("/")] = result

    def _blob(
        self, repo: pygit2.Repository, root: str, path: str, max_bytes: int, now: int
    ) -> tuple[pygit2.Oid, int] | str | None:
        """(oid, mode) for a work-tree file, None when it is gone, or the reason it is left out."""
        import pygit2

        full = root + path
        try:
            info = os.lstat(full)
        except (FileNotFoundError, NotADirectoryError):
            return None
        key = _stat_key(info)
        known = self.blobs.get(path)
        if known is not None and known[0] == key and info.st_size <= max_bytes:
            return known[1]  # only files that were not left out are remembered
        mode = info.st_mode
        if stat.S_ISLNK(mode):
            oid, filemode = repo.create_blob(os.fsencode(os.readlink(full))), pygit2.GIT_FILEMODE_LINK
        elif not stat.S_ISREG(mode):
            return "not a regular file (nested repository or special file)"
        elif is_secret(path):
            return "looks like a secret (credentials or key file)"
        elif info.st_size > max_bytes:
            return f"larger than {max_bytes} bytes: track it with DVC ('dvc add {path}')"
        else:
            filemode = pygit2.GIT_FILEMODE_BLOB_EXECUTABLE if mode & 0o111 else pygit2.GIT_FILEMODE_BLOB
            oid = repo.create_blob_fromdisk(full)
        if max(info.st_mtime_ns, info.st_ctime_ns) + RACY_NS < now:
            self.blobs[path] = (key, (oid, filemode))
            self.dirty = True
        else:
            self.blobs.pop(path, None)  # changed too recently to tell a later change by its stat data
        return oid, filemode

    # -- untracked files --------------------------------------------------------------------------
    def _untracked(
        self, repo: pygit2.Repository, root: str, base: pygit2.Tree, now: int, rules: Any
    ) -> list[tuple[str, str]]:
        """(path, full path) of the files git does not ignore that ``base`` does not have (and
        ``dir/`` for a nested repository with such files), as libgit2's status lists them."""
        changed = self._walk(repo, root, now, rules)
        if changed or self.candidates is None or self.candidates_base != base.id:
            self.candidates = [(path, root + path) for path in self._candidates(repo, base)]
            self.candidates_base = base.id
        return self.candidates

    def _walk(self, repo: pygit2.Repository, root: str, now: int, rules: Any) -> bool:
        """Bring the folder listings up to date (``rules``: the stamp of the ignore sources
        but the .gitignore files); True when any changed."""
        changed = False
        if rules != self.rules:
            self.folders, self.rules, changed = {}, rules, True
        while True:
            old = self.folders
            new: dict[str, _Folder] = {}
            stack = [""]
            rules_changed = False
            while stack:
                folder = stack.pop()
                full = root + folder
                try:
                    info = os.lstat(full)
                except OSError:
                    changed = True
                    continue
                if not stat.S_ISDIR(info.st_mode):
                    changed = True
                    continue
                key = (info.st_mtime_ns, info.st_ino)
                known = old.get(folder)
                if known is not None and known.key == key:
                    if known.rules is not None and _rules_key(full + ".gitignore", now) != known.rules:
                        rules_changed = True
                        break
                    listing = known
                else:
                    fresh = info.st_mtime_ns + RACY_NS >= now
                    listing = self._list(repo, root, folder, known, None if fresh else key, now)
                    if known is None or not listing.same_entries(known):
                        changed = True
                        if known is not None and listing.rules != known.rules:
                            rules_changed = True
                            break
                new[folder] = listing
                stack.extend(folder + name + "/" for name in listing.folders)
            if rules_changed:  # a .gitignore changed: every decision below it may have
                self.folders, changed = {}, True
                continue
            if new.keys() != old.keys():
                changed = True
            self.folders = new
            if changed:
                self.dirty = True
            return changed

    def _list(self, repo: pygit2.Repository, root: str, folder: str, known: _Folder | None,
              key: tuple[int, int] | None, now: int) -> _Folder:  # fmt: skip
        """List ``folder`` (``""`` or ``a/b/``), asking libgit2 about the names not seen before."""
        files, folders, ignored_files, ignored_folders = [], [], set(), set()
        seen_files = set(known.files) if known is not None else set()
        seen_folders = set(known.folders) if known is not None else set()
        was_ignored_file = known.ignored_files if known is not None else frozenset()
        was_ignored_folder = known.ignored_folders if known is not None else frozenset()
        repository = False
        rules = None
        try:
            entries = list(os.scandir(root + folder))
        except OSError:
            entries = []
        for entry in entries:
            name = entry.name
            if name == ".git":
                repository = folder != ""
                continue
            if folder == ".gittrack/" and name == "run":
                continue  # each run writes its own
            try:
                if entry.is_dir(follow_symlinks=False):
                    if name in seen_folders:
                        folders.append(name)
                    elif name in was_ignored_folder or repo.path_is_ignored(f"{folder}{name}/"):
                        ignored_folders.add(name)
                    else:
                        folders.append(name)
                    continue
                if not (entry.is_file(follow_symlinks=False) or entry.is_symlink()):
                    continue  # sockets, pipes, devices: git's status does not list them either
            except OSError:
                continue
            if name == ".gitignore":
                rules = _rules_key(entry.path, now)
            if name in seen_files:
                files.append(name)
            elif name in was_ignored_file or repo.path_is_ignored(folder + name):
                ignored_files.add(name)
            else:
                files.append(name)
        return _Folder(key, rules, tuple(sorted(files)), tuple(sorted(folders)), frozenset(ignored_files),
                       frozenset(ignored_folders), repository)  # fmt: skip

    def _candidates(self, repo: pygit2.Repository, base: pygit2.Tree) -> list[str]:
        """From the listings: the files ``base`` does not have, and each nested repository holding
        a file git does not ignore (as one ``dir/`` path, as libgit2 lists it)."""
        out: list[str] = []
        nested_with_files: set[str] = set()
        nested_roots = sorted(folder for folder, listing in self.folders.items() if listing.repository)
        for folder, listing in self.folders.items():
            if not listing.files:
                continue
            root = next((n for n in nested_roots if folder.startswith(n)), None)
            if root is not None:
                nested_with_files.add(root)
                continue
            tracked = _names(repo, base, folder)
            out.extend(folder + name for name in listing.files if name not in tracked)
        for root in nested_with_files:
            if not any(root.startswith(other) and other != root for other in nested_with_files):
                try:
                    base[root.rstrip("/")]
                except KeyError:
                    out.append(root)
        return out

    # -- the tree ---------------------------------------------------------------------------------
    def _tree(
        self, repo: pygit2.Repository, base: pygit2.Oid, changes: Changes, attributes: Any
    ) -> tuple[pygit2.Oid, dict[str, int]]:
        """The snapshot's tree and diffstat (``attributes``: the stamp of the attribute files
        outside the work tree, which may make a file binary for diffs)."""
        import pygit2

        memo = self.memo
        if memo is not None and memo.base == base and memo.attributes == attributes:
            if memo.changes == changes:
                return memo.tree, dict(memo.diffstat)
            updated = self._update(repo, memo, changes)
            if updated is not None:
                self.memo = updated
                self.dirty = True
                return updated.tree, dict(updated.diffstat)
        tree = base if len(changes) == 1 else apply_changes(repo, base, changes)
        diffstat = {"files": 0, "insertions": 0, "deletions": 0}
        if tree != base:
            stats = repo[base].peel(pygit2.Tree).diff_to_tree(repo[tree].peel(pygit2.Tree)).stats
            diffstat = {"files": stats.files_changed, "insertions": stats.insertions, "deletions": stats.deletions}
        self.memo = _Memo(base, tree, diffstat, attributes, changes)
        self.dirty = True
        return tree, dict(diffstat)

    def _update(self, repo: pygit2.Repository, memo: _Memo, changes: Changes) -> _Memo | None:
        """``memo`` brought to ``changes`` by rewriting only the paths that differ, or None when a
        path turned from file to folder or the like (then the tree is built afresh)."""
        import pygit2

        old = memo.changes
        missing = object()
        paths = [path for path in old.keys() | changes.keys() if old.get(path, missing) != changes.get(path, missing)]
        if memo.folders is None:
            memo.folders = {parent for path in old for parent in _parents(path)}
        folders = memo.folders | {parent for path in paths for parent in _parents(path)}
        base_tree = repo[memo.base].peel(pygit2.Tree)
        plain = (pygit2.GIT_FILEMODE_BLOB, pygit2.GIT_FILEMODE_BLOB_EXECUTABLE)
        edits: Changes = {}
        diffstat = dict(memo.diffstat)
        for path in paths:
            if path in folders or any(_is_file(base_tree, parent, old, changes) for parent in _parents(path)):
                return None
            if path.rsplit("/", 1)[-1] == ".gitattributes":
                return None  # other files may count as binary now, or no longer
            try:
                entry = base_tree[path]
                original = (entry.id, entry.filemode)
            except KeyError:
                original = None
            before, after = old.get(path, original), changes.get(path, original)
            modes = {value[1] for value in (original, before, after) if value is not None}
            if not (modes <= set(plain) or modes == {pygit2.GIT_FILEMODE_LINK}):
                return None  # a type change, a submodule or a folder: libgit2's full diff counts those
            for value, sign in ((before, -1), (after, 1)):
                if value != original:
                    files, insertions, deletions = _line_stats(repo, path, original, value)
                    diffstat["files"] += sign * files
                    diffstat["insertions"] += sign * insertions
                    diffstat["deletions"] += sign * deletions
            edits[path] = after
        tree = apply_changes(repo, memo.tree, edits)
        return _Memo(memo.base, tree, diffstat, memo.attributes, changes, folders)

    # -- the cache file ---------------------------------------------------------------------------
    def _save(self, repo: pygit2.Repository) -> None:
        if not self.dirty or (self.saved_at is not None and time.monotonic() - self.saved_at < SAVE_EVERY_S):
            return
        self.dirty = False
        self.saved_at = time.monotonic()
        memo = self.memo
        doc = {
            "format": CACHE_FORMAT,
            "workdir": repo.workdir,
            "blobs": {path: [*key, str(oid), mode] for path, (key, (oid, mode)) in self.blobs.items()},
            "folders": {folder: _folder_doc(listing) for folder, listing in self.folders.items()},
            "rules": _plain(self.rules),
            "memo": None
            if memo is None
            else [
                str(memo.base),
                str(memo.tree),
                memo.diffstat,
                _plain(memo.attributes),
                [[path, str(value[0]), value[1]] if value else [path] for path, value in memo.changes.items()],
            ],
        }
        tmp = f"{self.path}.{os.getpid()}.tmp"
        try:
            with open(tmp, "w", encoding="utf-8") as file:
                json.dump(doc, file, separators=(",", ":"))
            os.replace(tmp, self.path)
        except OSError as exc:  # a cache: the next snapshot works without it
            log.debug("gittrack: could not write %s: %s", self.path, exc)
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def load(self, repo: pygit2.Repository) -> None:
        """Read what an earlier process kept (anything unexpected: start empty)."""
        import pygit2

        try:
            with open(self.path, encoding="utf-8") as file:
                doc: Any = json.load(file)
            if doc["format"] != CACHE_FORMAT or doc["workdir"] != repo.workdir:
                return
            odb = repo.odb
            blobs = {}
            for path, (mtime, ctime, size, ino, mode, oid, filemode) in doc["blobs"].items():
                blob = pygit2.Oid(hex=oid)
                if blob in odb:  # git gc may have pruned a blob no run kept
                    blobs[path] = ((mtime, ctime, size, ino, mode), (blob, int(filemode)))
            folders = {
                folder: _Folder(tuple(key) if key else None, _as_tuple(rules), tuple(files),
                                tuple(subfolders), frozenset(ignored), frozenset(ignored_folders), bool(nested))
                for folder, (key, rules, files, subfolders, ignored, ignored_folders, nested) in doc["folders"].items()
            }  # fmt: skip
            rules = _as_tuple(doc["rules"])
            memo = None
            if doc["memo"] is not None:
                base, tree, diffstat, attributes, changes = doc["memo"]
                memo = _Memo(
                    pygit2.Oid(hex=base),
                    pygit2.Oid(hex=tree),
                    dict(diffstat),
                    _as_tuple(attributes),
                    {e[0]: (pygit2.Oid(hex=e[1]), int(e[2])) if len(e) == 3 else None for e in changes},
                )
                if memo.tree not in odb:
                    memo = None
        except (OSError, ValueError, KeyError, TypeError):
            return
        self.blobs, self.folders, self.rules, self.memo = blobs, folders, rules, memo
        self.saved_at = time.monotonic()  # what is on disk is what is in memory


def _folder_doc(listing: _Folder) -> list[Any]:
    """A folder's listing as the cache file keeps it (``load`` reads it back; a listing not to be
    trusted, with a .gitignore changed too recently, is kept so as to be listed again)."""
    trusted = listing.rules is None or isinstance(listing.rules, tuple)
    return [list(listing.key) if listing.key and trusted else None, _plain(listing.rules), listing.files,
            listing.folders, sorted(listing.ignored_files), sorted(listing.ignored_folders),
            listing.repository]  # fmt: skip


def _plain(value: Any) -> Any:
    """A stamp as JSON; one equal to nothing (``_trusted_stamp``) is kept as ``[-1]``, which equals
    no stamp either."""
    if value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return [-1]


def _as_tuple(value: Any) -> Any:
    """JSON's lists back to the tuples a stamp is made of."""
    return tuple(_as_tuple(item) for item in value) if isinstance(value, list) else value


def _sources_stamps(repo: pygit2.Repository, now: int) -> tuple[Any, Any]:
    """What changes with the ignore rules but the .gitignore files (``info/exclude``, the global
    excludes file, ``core.ignoreCase``) and with the attribute files outside the work tree
    (``.gitattributes`` files in it are paths of the snapshot, and seen as such)."""
    home = os.environ.get("HOME") or os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    excludes, ignore_case, attributes = config_values(repo, "core.excludesFile", "core.ignoreCase",
                                                      "core.attributesFile")  # fmt: skip
    info = os.path.join(common_dir(repo), "info")
    rules = [os.path.join(info, "exclude"), os.path.expanduser(excludes or os.path.join(xdg, "git", "ignore"))]
    attribute_files = [os.path.join(info, "attributes"),
                       os.path.expanduser(attributes or os.path.join(xdg, "git", "attributes"))]  # fmt: skip
    return (_trusted_stamp(rules, now), ignore_case), _trusted_stamp(attribute_files, now)


def _is_file(base: pygit2.Tree, path: str, old: Changes, changes: Changes) -> bool:
    """Whether ``path`` (a folder of a changed path) is a file, in the changes or in ``base``."""
    import pygit2

    if path in old or path in changes:
        return True
    try:
        return base[path].filemode != pygit2.GIT_FILEMODE_TREE
    except KeyError:
        return False


def _names(repo: pygit2.Repository, base: pygit2.Tree, folder: str) -> frozenset[str]:
    """The names ``base`` has in ``folder`` (``""`` or ``a/b/``)."""
    import pygit2

    if not folder:
        return frozenset(entry.name for entry in base if entry.name is not None)
    try:
        entry = base[folder[:-1]]
    except KeyError:
        return frozenset()
    if entry.filemode != pygit2.GIT_FILEMODE_TREE:
        return frozenset()
    return frozenset(item.name for item in repo[entry.id].peel(pygit2.Tree) if item.name is not None)


def _line_stats(
    repo: pygit2.Repository, path: str, old: tuple[pygit2.Oid, int] | None, new: tuple[pygit2.Oid, int] | None
) -> tuple[int, int, int]:
    """(files, insertions, deletions) of one path's change, as libgit2's diff of two trees counts it
    (a path that attributes make binary, ``-diff`` or a binary driver, counts no lines)."""
    import pygit2

    driver = repo.get_attr(path, "diff")
    if driver is False or (isinstance(driver, str) and (config_value(repo, f"diff.{driver}.binary") or "").lower()
                           in ("true", "yes", "on", "1")):  # fmt: skip
        return 1, 0, 0
    patch = pygit2.Patch.create_from(
        repo[old[0]].peel(pygit2.Blob) if old is not None else None,
        repo[new[0]].peel(pygit2.Blob) if new is not None else None,
        old_as_path=path,
        new_as_path=path,
    )
    _, insertions, deletions = patch.line_stats
    return 1, insertions, deletions


_caches: dict[tuple[str, int], _Cache] = {}  # (git dir, its inode) -> cache, the most recently used last
_caches_lock = threading.Lock()
MAX_CACHES = 8


def _cache(repo: pygit2.Repository) -> _Cache:
    """This process's cache of ``repo``'s work tree (read from the cache file the first time)."""
    key = (repo.path, os.stat(repo.path).st_ino)  # a repository made anew in the same place starts afresh
    with _caches_lock:
        cache = _caches.pop(key, None)
        if cache is None:
            cache = _Cache(os.path.join(gittrack_dir(repo), CACHE_FILE))
            cache.load(repo)
            while len(_caches) >= MAX_CACHES:
                del _caches[next(iter(_caches))]
        _caches[key] = cache
        return cache
