"""Where things live inside a run commit's tree, and reading them back with size limits."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from gittrack._store import metricfile
from gittrack._store.limits import (
    MAX_HISTORY_BYTES,
    MAX_HISTORY_SEGMENTS,
    MAX_RUN_METRIC_BYTES,
    MAX_RUN_METRIC_FILES,
)
from gittrack._store.naming import metric_filename
from gittrack._store.record import RunRecord, dump_summary, parse_record, parse_summary
from gittrack._store.snapshot import RUN_DIR
from gittrack.errors import MalformedRunError

if TYPE_CHECKING:
    import pygit2

RUN_YAML = "run.yaml"
SUMMARY = "summary.json"
METRICS = "metrics"
REQUIREMENTS = "env/requirements.txt"
LOGS = "logs"
ARTIFACTS = "artifacts"
MAX_RUN_YAML_BYTES = 16 * 1024 * 1024
MAX_LOG_BYTES = 1024 * 1024


def _commit(repo: pygit2.Repository, commit_id: pygit2.Oid) -> pygit2.Commit:
    import pygit2

    try:
        commit = repo[commit_id]
    except (KeyError, ValueError):
        raise MalformedRunError(f"commit {commit_id} is missing from the repository") from None
    if not isinstance(commit, pygit2.Commit):
        raise MalformedRunError(f"{commit_id} is not a commit")
    return commit


def run_tree_of(repo: pygit2.Repository, commit_id: pygit2.Oid) -> pygit2.Tree:
    """The ``.gittrack/run`` tree of a run commit; ``MalformedRunError`` if there is none."""
    import pygit2

    commit = _commit(repo, commit_id)
    try:
        entry = commit.tree[RUN_DIR]
    except KeyError:
        raise MalformedRunError(f"commit {str(commit_id)[:12]} has no {RUN_DIR}/ folder") from None
    tree = repo[entry.id]
    if not isinstance(tree, pygit2.Tree):
        raise MalformedRunError(f"{RUN_DIR} in commit {str(commit_id)[:12]} is not a folder")
    return tree


def read_blob(repo: pygit2.Repository, tree: pygit2.Tree, path: str, limit: int, what: str) -> bytes | None:
    """The bytes of ``path`` in ``tree`` (None if absent), refusing blobs over ``limit`` bytes."""

    try:
        entry = tree[path]
    except KeyError:
        return None
    return _read_entry(repo, entry, path, limit, what)


def _read_entry(repo: pygit2.Repository, entry: pygit2.Object, path: str, limit: int, what: str) -> bytes:
    import pygit2

    if entry.type_str != "blob":
        raise MalformedRunError(f"{what}: '{path}' is not a file")
    kind, size = repo.odb.read_header(entry.id)
    if size > limit:
        raise MalformedRunError(f"{what}: '{path}' is {size} bytes, over the {limit} byte limit")
    kind, data = repo.odb.read(entry.id)  # raw read: much cheaper than building a Blob object
    if kind != pygit2.enums.ObjectType.BLOB:
        raise MalformedRunError(f"{what}: '{path}' is not a file")
    return data


def holds(repo: pygit2.Repository, entry: pygit2.Object, data: bytes) -> bool:
    """Whether the tree entry ``entry`` is a blob of the repository whose content is exactly
    ``data``, told from its id without reading it: a blob's id is the hash of its content."""
    if entry.type_str != "blob":
        return False
    oid = entry.id
    digest = (hashlib.sha1 if len(oid.raw) == 20 else hashlib.sha256)(b"blob %d\0" % len(data))  # git's object id
    digest.update(data)
    return digest.digest() == oid.raw and oid in repo.odb


def read_run_yaml(repo: pygit2.Repository, commit_id: pygit2.Oid) -> bytes:
    """The bytes of ``run.yaml`` of a run commit; ``MalformedRunError`` when there is none."""
    what = f"run commit {str(commit_id)[:12]}"
    data = read_blob(repo, run_tree_of(repo, commit_id), RUN_YAML, MAX_RUN_YAML_BYTES, what)
    if data is None:
        raise MalformedRunError(f"{what} has no {RUN_DIR}/{RUN_YAML}")
    return data


def read_record(repo: pygit2.Repository, commit_id: pygit2.Oid) -> RunRecord:
    """Parse ``run.yaml`` of a run commit (strictly: the commit may come from a remote)."""
    what = f"run commit {str(commit_id)[:12]}: {RUN_DIR}/{RUN_YAML}"
    return parse_record(read_run_yaml(repo, commit_id), what)


def read_summary(repo: pygit2.Repository, commit_id: pygit2.Oid) -> RunRecord:
    """The run's record from ``summary.json`` (fast), or from ``run.yaml`` when there is none."""
    return read_summary_json(repo, commit_id)[0]


def read_summary_bytes(repo: pygit2.Repository, commit_id: pygit2.Oid) -> bytes | None:
    """The bytes of ``summary.json`` of a run commit, None when it has none."""
    what = f"run commit {str(commit_id)[:12]}"
    try:  # one lookup by path: the common case, about a sixth faster when listing many runs
        return _read_entry(
            repo, _commit(repo, commit_id).tree[f"{RUN_DIR}/{SUMMARY}"], SUMMARY, MAX_RUN_YAML_BYTES, what
        )
    except KeyError:
        return read_blob(repo, run_tree_of(repo, commit_id), SUMMARY, MAX_RUN_YAML_BYTES, what)


def read_summary_json(repo: pygit2.Repository, commit_id: pygit2.Oid) -> tuple[RunRecord, bytes]:
    """The record and the bytes of ``summary.json`` (made from ``run.yaml`` when it is missing)."""
    what = f"run commit {str(commit_id)[:12]}"
    data = read_summary_bytes(repo, commit_id)
    if data is None:
        record = read_record(repo, commit_id)
        return record, dump_summary(record)
    return parse_summary(data, f"{what}: {RUN_DIR}/{SUMMARY}"), data


_MEASURED: dict[pygit2.Oid, tuple[int, int]] = {}  # folder id -> (entries, bytes), see _measure


def _measure(repo: pygit2.Repository, folder: pygit2.Tree) -> tuple[int, int]:
    """The entries of a folder and the bytes they add up to (from the objects' headers, nothing is
    read), memoised: checkpoints of a run share their sealed segments' folders."""
    found = _MEASURED.get(folder.id)
    if found is None:
        sizes: dict[pygit2.Oid, int] = {}
        for entry in folder:
            if entry.id not in sizes:
                sizes[entry.id] = repo.odb.read_header(entry.id)[1]
        found = (len(folder), sum(sizes[entry.id] for entry in folder))
        if len(_MEASURED) > 100_000:
            _MEASURED.clear()
        _MEASURED[folder.id] = found
    return found


def _entry(tree: pygit2.Tree, path: str) -> pygit2.Object | None:
    try:
        return tree[path]
    except KeyError:
        return None


def _size(repo: pygit2.Repository, entry: pygit2.Object | None) -> int:
    return 0 if entry is None else repo.odb.read_header(entry.id)[1]


def history_problem(segments: tuple[int, int], tail: int) -> str | None:
    """Why a history of ``segments`` (sealed segments, their bytes) and a tail of ``tail`` bytes is
    refused before it is read: too many segments, or too many bytes altogether."""
    count, size = segments
    if count > MAX_HISTORY_SEGMENTS:
        return f"has {count} segments, over the {MAX_HISTORY_SEGMENTS} limit"
    if size + tail > MAX_HISTORY_BYTES:
        return f"adds up to {size + tail} bytes, over the {MAX_HISTORY_BYTES} byte limit"
    return None


def metrics_problem(repo: pygit2.Repository, commit_id: pygit2.Oid, tree: pygit2.Tree | None = None) -> str | None:
    """Why the histories of a run commit are refused (None: every one is within the limits): a
    history over :func:`history_problem`'s limits, or all of them over ``MAX_RUN_METRIC_FILES``
    files or ``MAX_RUN_METRIC_BYTES`` bytes, measured before any is read. ``tree``: the commit's
    ``.gittrack/run`` tree, when the caller has it already."""
    import pygit2

    tree = run_tree_of(repo, commit_id) if tree is None else tree
    try:
        folder = repo[tree[METRICS].id]
    except KeyError:
        return None
    if not isinstance(folder, pygit2.Tree):
        return f"{RUN_DIR}/{METRICS} is not a folder"
    files = total = 0
    for entry in folder:
        if entry.type_str == "tree":  # a folder of sealed segments (type_str costs less than filemode)
            segments = repo[entry.id]
            if not isinstance(segments, pygit2.Tree):
                return f"{RUN_DIR}/{METRICS}/{entry.name} is not a folder"
            count, size = _measure(repo, segments)
            stem = (entry.name or "").removesuffix(".segments")
            problem = history_problem((count, size), _size(repo, _entry(folder, stem + ".tsv")))
            if problem is not None:
                return f"the history of metric file {stem!r} {problem}"
        else:
            count, size = 1, _size(repo, entry)
            if size > metricfile.MAX_SEGMENT_BYTES:
                return f"metric file {entry.name!r} is {size} bytes, over the {metricfile.MAX_SEGMENT_BYTES} byte limit"
        files += count
        total += size
        if files > MAX_RUN_METRIC_FILES or total > MAX_RUN_METRIC_BYTES:
            limits = f"{MAX_RUN_METRIC_FILES} files or {MAX_RUN_METRIC_BYTES} bytes"
            return f"its metric histories add up to more than {limits}"
    return None


def _history_blobs(repo: pygit2.Repository, commit_id: pygit2.Oid, key: str) -> Iterator[bytes]:
    """The bytes of the sealed segments of metric ``key`` in order, then of its tail, once the
    history is measured (:func:`history_problem`)."""
    import pygit2

    what = f"run commit {str(commit_id)[:12]}"
    tree = run_tree_of(repo, commit_id)
    filename = metric_filename(key)
    try:
        segments = repo[tree[f"{METRICS}/{metricfile.segment_dir(filename)}"].id]
    except KeyError:
        segments = None
    measured = _measure(repo, segments) if isinstance(segments, pygit2.Tree) else (0, 0)
    problem = history_problem(measured, _size(repo, _entry(tree, f"{METRICS}/{filename}")))
    if problem is not None:
        raise MalformedRunError(f"{what}: the history of metric {key!r} {problem}; it is not read")
    if isinstance(segments, pygit2.Tree):
        for entry in sorted(segments, key=lambda e: e.name or ""):
            yield read_blob(repo, segments, entry.name or "", metricfile.MAX_SEGMENT_BYTES, what) or b""
    tail = read_blob(repo, tree, f"{METRICS}/{filename}", metricfile.MAX_SEGMENT_BYTES, what)
    if tail is not None:
        yield tail


def iter_history(repo: pygit2.Repository, commit_id: pygit2.Oid, key: str) -> Iterator[list[metricfile.Point]]:
    """The history of metric ``key`` a segment at a time (sealed segments in order, then the
    tail), so a history of millions of points is read in constant memory."""
    what = f"run commit {str(commit_id)[:12]}: metric {key!r}"
    for data in _history_blobs(repo, commit_id, key):
        yield metricfile.decode_points(data, what)


def read_history_columns(repo: pygit2.Repository, commit_id: pygit2.Oid, key: str) -> metricfile.Columns:
    """The full history of metric ``key`` as numpy columns (see ``metricfile.decode_columns``)."""
    what = f"run commit {str(commit_id)[:12]}: metric {key!r}"
    return metricfile.decode_columns(_history_blobs(repo, commit_id, key), what)


def read_history(repo: pygit2.Repository, commit_id: pygit2.Oid, key: str) -> list[metricfile.Point]:
    """The full history of metric ``key``: sealed segments in order, then the tail."""
    points: list[metricfile.Point] = []
    for segment in iter_history(repo, commit_id, key):
        points.extend(segment)
    return points


def read_artifact_pointer(repo: pygit2.Repository, commit_id: pygit2.Oid, path: str) -> bytes | None:
    """The ``.dvc`` pointer of artifact ``path`` in a run commit, or None."""
    tree = run_tree_of(repo, commit_id)
    return read_blob(repo, tree, f"{ARTIFACTS}/{path}.dvc", MAX_LOG_BYTES, f"run commit {str(commit_id)[:12]}")


def read_log(repo: pygit2.Repository, commit_id: pygit2.Oid, name: str) -> bytes | None:
    """A captured output stream (``stdout`` or ``stderr``) of a ``gittrack run`` command."""
    tree = run_tree_of(repo, commit_id)
    return read_blob(repo, tree, f"{LOGS}/{name}.txt", 2 * MAX_LOG_BYTES, f"run commit {str(commit_id)[:12]}")


def read_requirements(repo: pygit2.Repository, commit_id: pygit2.Oid) -> str:
    """The installed packages the run recorded (``pip freeze`` form), or '' if absent."""
    tree = run_tree_of(repo, commit_id)
    data = read_blob(repo, tree, REQUIREMENTS, MAX_RUN_YAML_BYTES, f"run commit {str(commit_id)[:12]}")
    return (data or b"").decode("utf-8", "replace")
