"""Data inputs and artifacts of runs, stored the DVC way (API layer over ``gittrack._data``).

Inputs are recorded by hash; artifacts go into the DVC cache and the run commit gets a ``.dvc``
pointer under ``.gittrack/run/artifacts/``, so ``git checkout <run ref> && dvc checkout``
restores them without gittrack.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from gittrack._data import dvcstore
from gittrack._store import naming, runfiles
from gittrack._store.writer import RunWriter
from gittrack._store.yamlio import load_yaml
from gittrack.errors import DataError, InvalidNameError, MalformedRunError, NotFoundError, UsageError

if TYPE_CHECKING:
    import pygit2

    from gittrack._entities import Run

log = logging.getLogger("gittrack")
MAX_POINTER_BYTES = 1024 * 1024


def dvc_of(repo: pygit2.Repository):
    """DVC's repository object for ``repo``'s work tree, DVC set up there on first use (a local
    cache, nothing committed), whichever path logs the first artifact, model or input."""
    root = repo.workdir.rstrip("/")
    if not dvcstore.has_dvc(root):
        try:
            dvcstore.init_dvc(root)
        except Exception:  # another process set it up at the same moment
            if not dvcstore.has_dvc(root):
                raise
        log.warning(
            "gittrack: set up DVC in %s for artifacts and models (a local cache, nothing committed); "
            "share it with 'gittrack init --commit --dvc-remote URL'",
            root,
        )
    return dvcstore.open_dvc(root)


def _relative(repo: pygit2.Repository, path: str | os.PathLike) -> str:
    full = Path(path).resolve()
    try:
        return full.relative_to(Path(repo.workdir).resolve()).as_posix()
    except ValueError:
        return str(full)


# -- inputs ------------------------------------------------------------------------------
def _walk_pointers(repo: pygit2.Repository, tree: pygit2.Tree, prefix: str = ""):
    """Every ``*.dvc`` file and ``dvc.lock`` in a snapshot tree, but gittrack's own folder."""
    import pygit2

    for entry in tree:
        path = f"{prefix}{entry.name}"
        name = entry.name or ""  # an entry of a tree always has a name
        if entry.type_str == "tree":
            if path != ".gittrack":
                yield from _walk_pointers(repo, repo[entry.id].peel(pygit2.Tree), path + "/")
        elif name.endswith(".dvc") or name == "dvc.lock":
            yield path, repo[entry.id].peel(pygit2.Blob).data


def _lock_entries(data: bytes, path: str) -> list[tuple[str, dict, str]]:
    doc = load_yaml(data, path)
    folder = path.rpartition("/")[0]
    found = []
    stages = doc.get("stages", {}) if isinstance(doc, dict) else {}
    for stage, body in stages.items() if isinstance(stages, dict) else []:
        for kind in ("deps", "outs"):
            for item in (body or {}).get(kind, []) if isinstance(body, dict) else []:
                if isinstance(item, dict) and isinstance(item.get("path"), str) and item.get("md5"):
                    found.append((f"{folder}/{item['path']}".lstrip("/"), item, f"{path}:{stage}:{kind}"))
    return found


def workspace_inputs(repo: pygit2.Repository, snapshot_tree: pygit2.Oid) -> list[dict[str, Any]]:
    """The DVC-tracked data of the snapshot (``*.dvc`` files, ``dvc.lock``), each flagged dirty
    when the work tree's content no longer matches its recorded hash."""
    import pygit2

    dvc = dvc_of(repo)
    entries = []
    for path, data in _walk_pointers(repo, repo[snapshot_tree].peel(pygit2.Tree)):
        try:
            if path.endswith("dvc.lock"):
                entries.extend(_lock_entries(data, path))
            else:
                entry, out = dvcstore.read_pointer(data, path)
                folder = path.rpartition("/")[0]
                entries.append((f"{folder}/{out}".lstrip("/"), entry.out(out), path))
        except (DataError, MalformedRunError) as exc:
            log.warning("gittrack: ignored %s: %s", path, exc)
    inputs: list[dict[str, Any]] = []
    root = repo.workdir
    for path, item, source in entries:
        record = {"path": path, "md5": item.get("md5"), "size": item.get("size"), "nfiles": item.get("nfiles"),
                  "source": source}  # fmt: skip
        full = os.path.join(root, path)
        if not os.path.exists(full):
            record.update(dirty=True, workspace="missing")
        else:
            current = dvcstore.hash_path(dvc, full).md5
            record["dirty"] = current != item.get("md5")
            if record["dirty"]:
                record["workspace_md5"] = current
        inputs.append(record)
    dirty = [i["path"] for i in inputs if i["dirty"]]
    if dirty:
        log.warning("gittrack: data differs from its recorded DVC hash (dirty data): %s", ", ".join(dirty))
    return inputs


def _hashed(writer: RunWriter, path: str | os.PathLike) -> dict[str, Any]:
    """An input's path (relative to the repository when inside it) and its DVC hash, size, file count."""
    entry = dvcstore.hash_path(dvc_of(writer.repo), path)
    return {"path": _relative(writer.repo, path), "md5": entry.md5, "size": entry.size, "nfiles": entry.nfiles}


def log_input(writer: RunWriter, path: str | os.PathLike, name: str | None = None, track: bool = False) -> dict:
    """Record the DVC hash of a file or folder as an input; ``track`` also adds it to DVC."""
    dvc = dvc_of(writer.repo)
    if not os.path.exists(path):
        raise NotFoundError(f"input '{path}' does not exist")
    if track:
        full = Path(path).resolve()
        if not full.is_relative_to(Path(writer.repo.workdir).resolve()):
            raise UsageError(f"input '{path}' is outside the repository; DVC tracks files inside it only "
                             "(copy it in, or log it without track=True to record its hash)")  # fmt: skip
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # DVC's "To track the changes with git..."
                dvc.add(str(full))
        except Exception as exc:  # noqa: BLE001 - DVC raises many types; one line for the user
            raise DataError(f"DVC could not track '{path}': {str(exc).splitlines()[0]}") from None
    record = {**_hashed(writer, path), "source": "log_input", "dirty": False}
    if name is not None:
        record["name"] = str(name)
    writer.add_inputs([record])
    return record


def log_dataset(
    writer: RunWriter,
    name: str,
    digest: str | None = None,
    context: str | None = None,
    path: str | os.PathLike | None = None,
    source: str | None = None,
    tags: dict[str, Any] | None = None,
    *,
    source_type: str | None = None,
    schema: str | None = None,
    profile: str | None = None,
) -> dict:
    """Record a dataset the run used: its name, digest, context (``training``, ``eval``...) and
    tags, and when ``path`` is a local file or folder, its DVC hash as :func:`log_input` does.
    ``source`` says where an in-memory dataset came from (recorded as its path, and as
    ``dataset_source``). MLflow's other fields are kept as given: ``source_type`` (``local``,
    ``code``...; a ``code`` source is MLflow's JSON, not a path), ``schema`` and ``profile`` (JSON
    texts)."""
    if path is not None:
        if not os.path.exists(path):
            raise NotFoundError(f"dataset '{path}' does not exist")
        record = _hashed(writer, path)
    else:
        record = {"path": str(name if source_type == "code" else source or name), "md5": None}
    record.update(source="log_input", dirty=False, name=str(name))
    fields = (("digest", digest), ("context", context), ("source_type", source_type), ("dataset_source", source),
              ("schema", schema), ("profile", profile))  # fmt: skip
    record.update({k: str(v) for k, v in fields if v is not None})
    if tags:
        record["tags"] = {str(k): str(v) for k, v in tags.items()}
    writer.add_inputs([record])
    return record


# -- artifacts -----------------------------------------------------------------------------
def log_artifact(
    writer: RunWriter, local_path: str | os.PathLike, artifact_path: str | None = None, kind: str = "artifact"
) -> dict:
    """Put a file or folder into the DVC cache and its pointer into the run at ``artifact_path/<name>``."""
    local = Path(local_path)
    if not local.exists():
        raise NotFoundError(f"artifact source '{local_path}' does not exist")
    path = naming.artifact_path(artifact_path, local.resolve().name if local.name in ("", ".") else local.name)
    return log_entry(writer, local, path, kind)


def log_entry(writer: RunWriter, local: Path, path: str, kind: str, extra: dict | None = None) -> dict:
    """Put ``local`` into the DVC cache and its pointer into the run at ``path`` (a checked artifact path)."""
    entry = dvcstore.add_to_cache(dvc_of(writer.repo), local)
    name = path.rpartition("/")[2]
    info = {"md5": entry.md5, "size": entry.size, "nfiles": entry.nfiles, "kind": kind, **(extra or {})}
    writer.add_artifact(path, dvcstore.pointer(entry, name), info)
    return {**info, "path": path}


def log_artifacts(writer: RunWriter, local_dir: str | os.PathLike, artifact_path: str | None = None) -> list[dict]:
    """Log a folder's content: as one folder artifact at ``artifact_path``, or each entry at the root."""
    folder = Path(local_dir)
    if not folder.is_dir():
        raise NotFoundError(f"'{local_dir}' is not a folder")
    if artifact_path:
        return [log_entry(writer, folder, naming.artifact_path(None, artifact_path), "artifact")]
    return [log_artifact(writer, child) for child in sorted(folder.iterdir()) if not child.is_symlink()]


def _logged(run: Run) -> list[str]:
    return [a["path"] for a in run.details.artifacts if isinstance(a.get("path"), str)]


def _files_inside(repo: pygit2.Repository, run: Run, wanted: str) -> dict[str, dvcstore.DataEntry] | None:
    """For a folder logged as one artifact (``plots``) or a path inside it (``plots/curve.csv``,
    ``plots/sub``): its files by artifact path, read from the folder's DVC listing. None when no
    logged folder is or holds ``wanted``."""
    for folder in _logged(run):
        if wanted != folder and not wanted.startswith(folder + "/"):
            continue
        entry = artifact_entry(repo, run, folder)
        if not entry.is_dir:
            continue
        inner = wanted[len(folder) + 1 :]
        files = {}
        for rel, item in dvcstore.folder_files(dvc_of(repo), entry).items():
            if not inner or rel == inner or rel.startswith(inner + "/"):
                try:
                    files[naming.artifact_path(folder, rel)] = item
                except InvalidNameError:  # a listing is untrusted: nothing is written outside the folder
                    log.warning("gittrack: skipped %r in artifact folder %s: not a safe relative path", rel, folder)
        if not files:
            raise NotFoundError(
                f"artifact folder '{folder}' of run {run.info.run_name} has no '{inner}'; "
                f"see 'gittrack artifacts list {run.info.run_id[:12]} {folder}'"
            )
        return files
    return None


def list_artifacts(repo: pygit2.Repository, run: Run, path: str | None = None) -> list[dict]:
    """The artifacts a run recorded (path, md5, size, nfiles, kind). With ``path``: the artifacts
    under that folder; for a folder logged as one artifact, or a path inside it, each of its files
    (kind ``file``), read from the folder's DVC listing."""
    if not path:
        return [dict(a) for a in run.details.artifacts]
    wanted = naming.artifact_path(None, path)
    under = [dict(a) for a in run.details.artifacts if str(a.get("path", "")).startswith(wanted + "/")]
    if under:
        return under
    files = _files_inside(repo, run, wanted)
    if files is None:
        exact = [dict(a) for a in run.details.artifacts if a.get("path") == wanted]
        if not exact:
            _missing(run, wanted)
        return exact
    return [{"path": p, "md5": e.md5, "size": e.size, "nfiles": None, "kind": "file"} for p, e in sorted(files.items())]


def _missing(run: Run, path: str) -> NoReturn:
    known = ", ".join(_logged(run)) or "none"
    raise NotFoundError(f"run {run.info.run_name} has no artifact '{path}'; it has: {known}")


def artifact_entry(repo: pygit2.Repository, run: Run, path: str) -> dvcstore.DataEntry:
    """The DVC entry of one artifact, read from the pointer in the run commit (the trusted copy)."""
    import pygit2

    path = naming.artifact_path(None, path)
    assert run.info.commit is not None  # a run read from a repository has its commit
    data = runfiles.read_artifact_pointer(repo, pygit2.Oid(hex=run.info.commit), path)
    if data is None:
        _missing(run, path)
    entry, _ = dvcstore.read_pointer(data, f"{path}.dvc")
    return entry


def download_artifacts(
    repo: pygit2.Repository, run: Run, path: str | None = None, dst: str | os.PathLike | None = None
) -> str:
    """Write artifact ``path`` (default: all) of ``run`` under ``dst`` (default: a new temp folder),
    fetching from the DVC remote what the local cache lacks; returns the local path.

    A ``path`` that names a folder the artifacts were logged into (``plots`` for ``plots/loss.png``
    and ``plots/acc.png``) writes every artifact under it, and returns that folder. A ``path``
    inside a folder logged as one artifact (``plots/curve.csv`` when ``plots`` was logged whole)
    writes just that file (or subfolder), fetching only it."""
    dvc = dvc_of(repo)
    if not path:
        if not run.details.artifacts:
            raise NotFoundError(f"run {run.info.run_name} has no artifacts")
        entries = {p: artifact_entry(repo, run, p) for p in _logged(run)}
    else:
        wanted = naming.artifact_path(None, path)
        logged = _logged(run)
        inside = sorted(p for p in logged if p.startswith(wanted + "/"))
        if wanted in logged:
            entries = {wanted: artifact_entry(repo, run, wanted)}
        elif inside:
            entries = {p: artifact_entry(repo, run, p) for p in inside}
        else:  # inside a logged folder, else not there (artifact_entry says what the run has)
            entries = _files_inside(repo, run, wanted) or {wanted: artifact_entry(repo, run, wanted)}
    dvcstore.fetch(dvc, list(entries.values()))
    target = Path(dst) if dst is not None else Path(tempfile.mkdtemp(prefix="gittrack-artifacts-"))
    for p, entry in entries.items():
        dvcstore.materialise(dvc, entry, target / p)
    return str(target / wanted) if path else str(target)
