"""What a snapshot's DVC files make DVC restore, resolved by gittrack itself: (path, hash) pairs.

Checkout, reproduce, pull and the server hook never hand DVC a snapshot to interpret. They call
:func:`snapshot_outputs`, which reads the snapshot's ``*.dvc`` files and each ``dvc.yaml`` with
its ``dvc.lock`` from the git objects (size-limited, safe YAML), resolves ``dvc.yaml`` templates
(``vars``, ``${...}``, ``foreach``, ``matrix``) with DVC's own parser over the snapshot's files,
and returns every cached output as a normalised relative path and its DVC hash. Anything it
cannot resolve exactly is refused with the reason (``MalformedRunError``), as is a snapshot whose
``.dvc/`` folder would move DVC's cache, temporary files or state out of the repository.
"""

from __future__ import annotations

import io
import posixpath
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gittrack._data.confined import check_path
from gittrack._data.dvcstore import DataEntry
from gittrack._store.limits import MAX_POINTER_BYTES, MAX_POINTERS, MAX_POINTERS_TOTAL_BYTES
from gittrack._store.yamlio import load_yaml
from gittrack.errors import GittrackError, MalformedRunError

if TYPE_CHECKING:
    import pygit2

_LINK_MODE = 0o120000
_TREE_MODE = 0o040000
MAX_STAGES = 10_000  # stages a snapshot's dvc.yaml files may generate (foreach, matrix)
_CACHE_KEYS = {"type", "shared", "protected", "slow_link_warning"}  # [cache] keys that keep the cache in place
_CORE_REFUSED = {"site_cache_dir"}


@dataclass(frozen=True)
class Output:
    """One file or folder a snapshot records in DVC: where it goes and what it is."""

    path: str
    """Relative to the work tree, normalised."""
    entry: DataEntry
    source: str
    """The DVC file that records it (``data/x.csv.dvc``, ``dvc.lock:train``)."""


@dataclass(frozen=True)
class _Scan:
    tree: pygit2.Tree
    links: frozenset[str]
    files: dict[str, str]  # path -> blob id of every *.dvc, dvc.yaml and dvc.lock


_MEMO: dict[str, list[Output]] = {}
_MAX_MEMO = 50_000


def snapshot_outputs(repo: pygit2.Repository, tree_id: pygit2.Oid) -> list[Output]:
    """Every DVC-cached output the snapshot ``tree_id`` records, checked (see the module's docstring).

    Memoised by tree id: snapshots share trees, and pull and the hook check many runs."""
    import pygit2

    key = str(tree_id)
    found = _MEMO.get(key)
    if found is None:
        found = _resolve(repo, repo[tree_id].peel(pygit2.Tree))
        if len(_MEMO) > _MAX_MEMO:
            _MEMO.clear()
        _MEMO[key] = found
    return list(found)


def outputs_problem(repo: pygit2.Repository, tree_id: pygit2.Oid) -> str | None:
    """Why restoring the snapshot's DVC data is refused (None: it is sound)."""
    try:
        snapshot_outputs(repo, tree_id)
    except MalformedRunError as exc:
        return str(exc)
    return None


def _resolve(repo: pygit2.Repository, tree: pygit2.Tree) -> list[Output]:
    import pygit2

    links, files = _scan(repo, tree)
    scan = _Scan(tree, frozenset(links), dict(files))
    sizes = {oid: repo.odb.read_header(pygit2.Oid(hex=oid))[1] for oid in set(scan.files.values())}
    if sum(sizes[oid] for oid in scan.files.values()) > MAX_POINTERS_TOTAL_BYTES:  # measured before any is read
        raise MalformedRunError(f"the snapshot's DVC files add up to more than {MAX_POINTERS_TOTAL_BYTES} bytes")
    _check_dvc_dir(repo, tree)
    outputs: list[Output] = []
    for path in sorted(scan.files):
        folder, _, name = path.rpartition("/")
        if name.endswith(".dvc"):
            outputs.extend(_pointer_outputs(_yaml(repo, scan, path), folder, path))
        elif name == "dvc.yaml":
            outputs.extend(_pipeline_outputs(repo, scan, folder, path))
    for output in outputs:
        check_path(output.path, f"'{output.source}'")
        parts = output.path.split("/")
        for i in range(1, len(parts) + 1):
            prefix = "/".join(parts[:i])
            if prefix in scan.links:
                raise MalformedRunError(f"'{output.source}' writes through the symlink '{prefix}' ({output.path!r})")
    return outputs


_ScanResult = tuple[tuple[str, ...], tuple[tuple[str, str], ...]]
_SCANS: dict[str, _ScanResult] = {}


def _scan(repo: pygit2.Repository, tree: pygit2.Tree) -> _ScanResult:
    """The symlinks and DVC files (path, blob id) of a tree, relative to it; memoised by tree id
    (snapshots share most of their trees)."""
    import pygit2

    key = str(tree.id)
    found = _SCANS.get(key)
    if found is not None:
        return found
    links: list[str] = []
    files: list[tuple[str, str]] = []
    for entry in tree:
        name = entry.name or ""  # an entry of a tree always has a name
        kind = entry.type_str  # far cheaper than filemode, which is asked only of blobs
        if kind == "blob" and entry.filemode == _LINK_MODE:
            links.append(name)
        elif kind == "tree":
            if name == ".dvc":
                continue  # DVC's own set-up (checked apart), never data
            sub_links, sub_files = _scan(repo, repo[entry.id].peel(pygit2.Tree))
            links.extend(f"{name}/{p}" for p in sub_links)
            files.extend((f"{name}/{p}", oid) for p, oid in sub_files)
        elif name.endswith(".dvc") or name in ("dvc.yaml", "dvc.lock"):
            files.append((name, str(entry.id)))
        if len(files) > MAX_POINTERS:
            raise MalformedRunError(f"the snapshot holds more than {MAX_POINTERS} DVC files")
    if len(_SCANS) > _MAX_MEMO:
        _SCANS.clear()
    found = _SCANS[key] = (tuple(links), tuple(files))
    return found


def _blob(repo: pygit2.Repository, oid: str, path: str) -> bytes:
    import pygit2

    _, size = repo.odb.read_header(pygit2.Oid(hex=oid))
    if size > MAX_POINTER_BYTES:
        raise MalformedRunError(f"'{path}' is {size} bytes, over the {MAX_POINTER_BYTES} byte limit")
    return repo.odb.read(pygit2.Oid(hex=oid))[1]


def _yaml(repo: pygit2.Repository, scan: _Scan, path: str) -> Any:
    try:
        return load_yaml(_blob(repo, scan.files[path], path), path)
    except MalformedRunError:
        raise
    except GittrackError as exc:
        raise MalformedRunError(str(exc)) from None


# -- .dvc/: DVC's own set-up ------------------------------------------------------------------
def _check_dvc_dir(repo: pygit2.Repository, tree: pygit2.Tree) -> None:
    """Refuse a ``.dvc/`` that is a link, holds links or folders (``cache``, ``tmp``), a local
    config, or a config that moves the cache or DVC's site folder."""
    import pygit2

    try:
        top = tree[".dvc"]
    except KeyError:
        return
    if top.filemode != _TREE_MODE:
        raise MalformedRunError("the snapshot's '.dvc' is not a folder; DVC would write through it. Refused")
    for entry in repo[top.id].peel(pygit2.Tree):
        path = f".dvc/{entry.name}"
        if entry.filemode == _LINK_MODE:
            raise MalformedRunError(f"the snapshot's '{path}' is a symlink; DVC would write through it. Refused")
        if entry.filemode == _TREE_MODE:
            raise MalformedRunError(f"the snapshot holds a folder '{path}' in DVC's own set-up; refused")
        if entry.name == "config.local":
            raise MalformedRunError("the snapshot holds '.dvc/config.local', a machine's own DVC settings; refused")
        if entry.name == "config":
            problem = config_problem(_blob(repo, str(entry.id), path))
            if problem is not None:
                raise MalformedRunError(f"the snapshot's '.dvc/config' {problem}; refused")


def config_problem(data: bytes) -> str | None:
    """Why a DVC config from a snapshot is refused (None: it keeps DVC's files in the repository),
    parsed as DVC parses it (configobj), so quoting and sections cannot hide a setting."""
    from configobj import ConfigObj, ConfigObjError

    try:
        conf = ConfigObj(io.StringIO(data.decode("utf-8")), list_values=False, interpolation=False)
    except (ConfigObjError, UnicodeDecodeError, ValueError) as exc:
        return f"cannot be read ({str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__})"
    for section, values in conf.items():
        name = section.strip().strip("'\"").lower()
        if not isinstance(values, dict):
            continue
        keys = {str(k).strip().strip("'\"").lower() for k in values}
        if name == "cache" and keys - _CACHE_KEYS:
            return f"sets [cache] {', '.join(sorted(keys - _CACHE_KEYS))}, which moves where DVC keeps its cache"
        if name == "core" and keys & _CORE_REFUSED:
            return "sets core.site_cache_dir, which moves DVC's state out of the repository"
    return None


# -- .dvc files --------------------------------------------------------------------------------
def _pointer_outputs(doc: Any, folder: str, path: str) -> list[Output]:
    """The cached outputs of a ``.dvc`` file (relative to its folder and its ``wdir``)."""
    outs = doc.get("outs") if isinstance(doc, dict) else None
    if not isinstance(outs, list):
        raise MalformedRunError(f"'{path}' is not a .dvc file (no outs list)")
    wdir = doc.get("wdir", ".")
    if not isinstance(wdir, str):
        raise MalformedRunError(f"'{path}' has a wdir that is not a path")
    found = []
    for out in outs:
        entry = _entry(out, path)
        if entry is not None:
            found.append(Output(_join(folder, wdir, out["path"], path), entry, path))
    return found


def _entry(out: Any, path: str) -> DataEntry | None:
    """The DVC entry of one ``outs`` item of a ``.dvc`` file or ``dvc.lock`` (None: not cached)."""
    if not isinstance(out, dict) or not isinstance(out.get("path"), str):
        raise MalformedRunError(f"'{path}' has an output without a path")
    if out.get("cache", True) is False:
        return None
    md5 = out.get("md5")
    if md5 is None:
        return None  # recorded but never hashed (an import not yet fetched): nothing to restore
    if out.get("hash", "md5") != "md5" or not _is_md5(md5):
        raise MalformedRunError(f"'{path}' has an output whose hash is not a DVC md5 ({str(md5)[:40]!r})")
    size, nfiles = out.get("size"), out.get("nfiles")
    return DataEntry(md5, size if isinstance(size, int) else None, nfiles if isinstance(nfiles, int) else None)


def _is_md5(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    digest = value.removesuffix(".dir")
    return len(digest) == 32 and all(c in "0123456789abcdef" for c in digest)


def _join(folder: str, wdir: str, out: str, source: str) -> str:
    """The output's path relative to the work tree; refused when it leaves the work tree."""
    if out.startswith("/") or wdir.startswith("/"):
        raise MalformedRunError(f"'{source}' writes to an absolute path ({(out if out.startswith('/') else wdir)!r})")
    joined = posixpath.normpath(posixpath.join(folder or ".", wdir, out))
    if joined == ".." or joined.startswith("../"):
        raise MalformedRunError(f"'{source}' writes outside the work tree ({out[:80]!r})")
    return joined


# -- dvc.yaml and dvc.lock -----------------------------------------------------------------------
def _pipeline_outputs(repo: pygit2.Repository, scan: _Scan, folder: str, path: str) -> list[Output]:
    """The cached outputs ``dvc.lock`` records for the stages of ``dvc.yaml``, templates resolved."""
    lock_path = posixpath.join(folder, "dvc.lock") if folder else "dvc.lock"
    if lock_path not in scan.files:
        return []  # never run: nothing recorded, nothing to restore
    stages = _resolved_stages(repo, scan, folder, path)
    lock = _yaml(repo, scan, lock_path)
    locked = lock.get("stages") if isinstance(lock, dict) else None
    if not isinstance(locked, dict):
        return []
    found = []
    for name, body in locked.items():
        stage = stages.get(str(name))
        if stage is None or not isinstance(body, dict):
            continue  # DVC checks out only the stages dvc.yaml defines
        wdir = stage.get("wdir") or "."
        if not isinstance(wdir, str):
            raise MalformedRunError(f"'{path}' has a stage {str(name)[:40]!r} whose wdir is not a path")
        uncached = _uncached(stage)
        outs = body.get("outs") or []
        for out in outs if isinstance(outs, list) else ():
            entry = _entry(out, lock_path)
            if entry is not None and out["path"] not in uncached:
                found.append(Output(_join(folder, wdir, out["path"], lock_path), entry, f"{lock_path}:{name}"))
    return found


def _uncached(stage: dict[str, Any]) -> set[str]:
    """The outputs a resolved stage declares with ``cache: false``."""
    found = set()
    for kind in ("outs", "metrics", "plots"):
        items = stage.get(kind) or []
        for item in items if isinstance(items, list) else ():
            if isinstance(item, dict) and len(item) == 1:
                ((out, options),) = item.items()
                if isinstance(options, dict) and options.get("cache", True) is False:
                    found.add(str(out))
    return found


class _SnapshotFS:
    """The few file-system calls DVC's template resolver makes, over the snapshot's files that may be
    ``vars`` (read from git, size-limited, YAML checked by gittrack's safe loader first)."""

    sep = "/"

    def __init__(self, repo: pygit2.Repository, scan: _Scan) -> None:
        self.repo, self.scan = repo, scan

    @staticmethod
    def join(*parts: str) -> str:
        return posixpath.join(*parts)

    @staticmethod
    def normpath(path: str) -> str:
        return posixpath.normpath(path)

    @staticmethod
    def relpath(path: str, start: str = "/") -> str:
        return posixpath.relpath(path, start)

    @staticmethod
    def suffix(path: str) -> str:
        return posixpath.splitext(path)[1]

    def _blob_id(self, path: str) -> str | None:
        """The blob at ``path`` of the snapshot (never through a link), or None."""
        key = posixpath.normpath(path).lstrip("/")
        if key.startswith("../") or key == "..":
            return None
        try:
            entry = self.scan.tree[key]
        except (KeyError, ValueError):
            return None
        return str(entry.id) if entry.filemode in (0o100644, 0o100755) else None

    def exists(self, path: str) -> bool:
        return self._blob_id(path) is not None

    def isdir(self, path: str) -> bool:
        return False

    def open(self, path: str, encoding: str = "utf-8", **_: Any) -> io.StringIO:
        oid = self._blob_id(path)
        if oid is None:
            raise FileNotFoundError(path)
        data = _blob(self.repo, oid, path)
        if path.endswith((".yaml", ".yml")):
            load_yaml(data, path)  # aliases, bombs and unsafe tags are refused before DVC parses it
        return io.StringIO(data.decode(encoding))


class _ResolverRepo:
    """What DVC's ``DataResolver`` reads of a repository: its file system and parsing settings."""

    def __init__(self, fs: _SnapshotFS) -> None:
        self.fs = fs
        self.config: dict[str, Any] = {}


def _resolved_stages(repo: pygit2.Repository, scan: _Scan, folder: str, path: str) -> dict[str, dict[str, Any]]:
    """``dvc.yaml``'s stages as DVC resolves them (``foreach``/``matrix`` expanded, ``${}`` filled)."""
    from dvc.parsing import DataResolver, ForeachDefinition, MatrixDefinition

    doc = _yaml(repo, scan, path)
    if not isinstance(doc, dict):
        raise MalformedRunError(f"'{path}' is not a DVC pipeline file")
    try:
        resolver = DataResolver(_ResolverRepo(_SnapshotFS(repo, scan)), folder, doc)
        total = 0
        for definition in resolver.definitions.values():
            if isinstance(definition, MatrixDefinition):
                sizes = [len(v) for v in definition.resolved_iterable.values()]
                product = 1
                for size in sizes:
                    product *= size
                    if product > MAX_STAGES:
                        break
                total += product
            elif isinstance(definition, ForeachDefinition):
                total += len(definition.resolved_iterable)
            else:
                total += 1
            if total > MAX_STAGES:
                raise MalformedRunError(f"'{path}' generates more than {MAX_STAGES} stages; refused")
        resolved = resolver.resolve()
    except MalformedRunError:
        raise
    except GittrackError as exc:
        raise MalformedRunError(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - DVC's resolver raises many types: refuse with its reason
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise MalformedRunError(f"'{path}' cannot be resolved as DVC would ({reason}); refused") from None
    stages = resolved.get("stages") if isinstance(resolved, dict) else None
    return {str(k): v for k, v in stages.items() if isinstance(v, dict)} if isinstance(stages, dict) else {}
