"""The format's rules for data that may come from a remote, in one place (docs/format.md, docs/security.md).

What a valid run commit is, when a run ref may move to another commit, what a valid packed line
is, what a valid registry tag date is, and where DVC may write when a run is checked out. Pull,
the index merge, checkout, the readers and the server hook call these functions; no other module
restates a rule. Each check returns the reason a thing is refused (``None``: it is sound) or
raises ``MalformedRunError`` with that reason.
"""

from __future__ import annotations

import posixpath
import re
from typing import TYPE_CHECKING, Any

from gittrack.errors import GittrackError, InvalidValueError, MalformedRunError
from gittrack.store import runfiles
from gittrack.store.limits import (
    INT64_MAX,
    INT64_MIN,
    MAX_FUTURE_SECONDS,
    MAX_POINTER_BYTES,
    MAX_POINTERS,
    MAX_POINTERS_TOTAL_BYTES,
    MAX_TIMESTAMP_MS,
)
from gittrack.store.record import ENDED, RUNNING, RunRecord, dump_record, dump_summary, parse_record, parse_summary
from gittrack.store.yamlio import load_yaml

if TYPE_CHECKING:
    import pygit2

    from gittrack.store.packs import PackedRun

_LINK_MODE = 0o120000
_TREE_MODE = 0o040000


# -- run commits ----------------------------------------------------------------------------
def check_identity(recorded: tuple[str, str], experiment: str, run_id: str) -> None:
    """Raise ``MalformedRunError`` unless a commit recording run ``recorded`` (id, experiment) is
    the run its ref names: a run ref must point at a commit of that very run."""
    if recorded != (run_id, experiment):
        raise MalformedRunError(
            f"points at a commit recording run {recorded[0]} of experiment {recorded[1]!r}, not the run its name says"
        )


def check_named(record: RunRecord, experiment: str, run_id: str) -> RunRecord:
    """The record, if it is the run its ref names (:func:`check_identity`)."""
    check_identity((record.id, record.experiment), experiment, run_id)
    return record


def read_run(repo: pygit2.Repository, commit: pygit2.Oid, experiment: str, run_id: str) -> RunRecord:
    """The record of a run commit that must be run ``run_id`` of ``experiment`` (summary only)."""
    return check_named(runfiles.read_summary(repo, commit), experiment, run_id)


def read_record(repo: pygit2.Repository, commit: pygit2.Oid) -> RunRecord:
    """The full record of a run commit (``run.yaml``), refused unless its ``summary.json``, when
    there is one, records the same run: listings show one file, ``runs show`` the other."""
    record = runfiles.read_record(repo, commit)
    summary = runfiles.read_summary_bytes(repo, commit)
    if summary is not None and dump_summary(record) != summary:
        _check_agree(record, parse_summary(summary, f"run commit {str(commit)[:12]}: summary.json"), commit)
    return record


def check_records(repo: pygit2.Repository, commit: pygit2.Oid, summary: RunRecord) -> None:
    """Raise ``MalformedRunError`` unless the run commit's ``run.yaml``, when it has one, records
    what ``summary`` (read from its ``summary.json``) does. The common case costs writing the
    summary as YAML."""
    data = runfiles.read_blob(
        repo, runfiles.run_tree_of(repo, commit), runfiles.RUN_YAML, runfiles.MAX_RUN_YAML_BYTES,
        f"run commit {str(commit)[:12]}",
    )  # fmt: skip
    if data is not None and dump_record(summary) != data:
        _check_agree(parse_record(data, f"run commit {str(commit)[:12]}: run.yaml"), summary, commit)


def _check_agree(record: RunRecord, summary: RunRecord, commit: pygit2.Oid) -> None:
    import orjson

    ours, theirs = orjson.loads(dump_summary(record)), orjson.loads(dump_summary(summary))
    differ = sorted(key for key in ours.keys() | theirs.keys() if ours.get(key) != theirs.get(key))
    if differ:
        raise MalformedRunError(
            f"run commit {str(commit)[:12]}: run.yaml and summary.json disagree on {', '.join(differ[:5])}; "
            "one is derived from the other, so the run is refused"
        )


def check_incoming_run(repo: pygit2.Repository, commit: pygit2.Oid, experiment: str, run_id: str) -> RunRecord:
    """A run commit fetched from a remote: readable, the run its name says, its two record files
    agreeing, its histories within the limits, and safe to check out."""
    record = read_run(repo, commit, experiment, run_id)
    problem = run_tree_problem(repo, commit, record)
    if problem is not None:
        raise MalformedRunError(problem)
    return record


def run_tree_problem(repo: pygit2.Repository, commit: pygit2.Oid, summary: RunRecord) -> str | None:
    """Why a run commit whose ``summary.json`` reads as ``summary`` is refused beyond its record:
    ``run.yaml`` disagrees, its histories are over the limits, or it is not safe to check out."""
    try:
        check_records(repo, commit, summary)
    except MalformedRunError as exc:
        return str(exc)
    problem = runfiles.metrics_problem(repo, commit)
    if problem is not None:
        return f"run commit {str(commit)[:12]}: {problem}"
    return tree_problem(repo, repo[commit].tree_id)


def replace_problem(
    repo: pygit2.Repository,
    old: pygit2.Oid,
    old_record: RunRecord,
    new: pygit2.Oid,
    new_record: RunRecord,
    where: str = "on the remote",
) -> str | None:
    """Why a run ref holding ``old`` (``where``: on the remote, here) may not move to ``new``
    (None: it may).

    Only a RUNNING run moves, and only to a later checkpoint of itself: the same run, host, user,
    start and source commit (checkpoints share their parents), every param as it was, every
    metric with at least as many points, and a heartbeat no older."""
    if old_record.status in ENDED:
        return f"finished {where}"
    if new_record.id != old_record.id or new_record.experiment != old_record.experiment:
        return "the update replaces the run with another one"
    if new_record.host != old_record.host or new_record.user != old_record.user:
        return f"run {old_record.id} is RUNNING on {old_record.host or 'another host'}; only its own writer moves it"
    if new_record.start_time != old_record.start_time or repo[new].parent_ids != repo[old].parent_ids:
        return f"the update rewrites the start or the source commit of RUNNING run {old_record.id}"
    changed = [k for k, v in old_record.params.items() if new_record.params.get(k) != v]
    if changed:
        return f"the update changes param {changed[0]!r} of RUNNING run {old_record.id}; params are written once"
    shrunk = [k for k, m in old_record.metrics.items() if k not in new_record.metrics or
              new_record.metrics[k].count < m.count]  # fmt: skip
    if shrunk:
        return f"the update drops points of metric {shrunk[0]!r} of RUNNING run {old_record.id}"
    if new_record.heartbeat < old_record.heartbeat:
        return f"the update is older than what holds RUNNING run {old_record.id} now"
    return None


def may_replace(repo: pygit2.Repository, old: pygit2.Oid, new: pygit2.Oid, where: str = "on the remote") -> str | None:
    """:func:`replace_problem` for two run commits (an unreadable new commit is refused, an
    unreadable old one may be replaced by a readable run of its name)."""
    try:
        new_record = runfiles.read_summary(repo, new)
    except GittrackError as exc:
        return f"not a valid run commit ({exc})"
    try:
        old_record = runfiles.read_summary(repo, old)
    except GittrackError:
        return None
    return replace_problem(repo, old, old_record, new, new_record, where)


# -- packed runs -----------------------------------------------------------------------------
def packed_problem(repo: pygit2.Repository, experiment: str, run: PackedRun, tree_check: bool = True) -> str | None:
    """Why a packed line cannot be accepted: its commit is not that run, is still RUNNING, holds a
    summary other than the packed one, or (``tree_check``) fails :func:`run_tree_problem`."""
    import pygit2

    try:
        oid = pygit2.Oid(hex=run.commit)
        record, raw = runfiles.read_summary_json(repo, oid)
    except (GittrackError, ValueError) as exc:
        return str(exc)
    if record.id != run.run_id or record.experiment != experiment:
        return f"its commit records run {record.id} of {record.experiment!r}"
    if raw != run.summary:
        return "its packed summary differs from the one in its commit"
    if record.status not in ENDED:
        return f"it is still {RUNNING}; only ended runs are packed"
    return run_tree_problem(repo, oid, record) if tree_check else None


# -- metadata notes --------------------------------------------------------------------------
def notes_update_problem(repo: pygit2.Repository, old: pygit2.Oid | None, new: pygit2.Oid) -> str | None:
    """Why the metadata notes may not move from ``old`` (None: there were none) to ``new``.

    The notes are event logs that only grow: the update must stay within the limits, descend from
    ``old`` and keep every note and every valid line of it. Notes that are themselves over the
    limits (pushed before the server checked them) may be replaced by any notes within them."""
    from gittrack.store import notes

    problem = notes.expansion_problem(repo, new)
    if problem is not None:
        return f"the update {problem}"
    if old is None or old == new or notes.expansion_problem(repo, old) is not None:
        return None
    if not repo.descendant_of(new, old):
        return "the update drops notes the server holds; 'gittrack pull' merges them, then push again"
    dropped = notes.dropped(repo, old, new)
    if dropped is not None:
        return f"the update {dropped}; notes only grow ('gittrack pull' merges them, then push again)"
    return None


# -- registry tags ---------------------------------------------------------------------------
def tag_date_problem(when: int, now: int, previous: int | None = None) -> str | None:
    """Why a new registry tag's tagger date (epoch seconds) is refused: too far in the future, or
    before the model's previous event (GTO orders events by this date, then by the tag's counter,
    so a date equal to the previous one still comes after it)."""
    if when > now + MAX_FUTURE_SECONDS:
        return f"its tagger date {when} is ahead of the server's clock ({now}); fix the clock and tag again"
    if previous is not None and when < previous:
        return "its tagger date is before the model's previous event; GTO would misorder it"
    return None


def in_future(when: int, now: int) -> bool:
    """Whether an existing tag is dated further ahead than the clock skew allowed."""
    return when > now + MAX_FUTURE_SECONDS


# -- values ----------------------------------------------------------------------------------
def check_step(step: int) -> int:
    """A metric step: a 64-bit integer (as MLflow and SQLite store it)."""
    if not INT64_MIN <= step <= INT64_MAX:
        raise InvalidValueError(f"step {str(step)[:24]}... is outside the 64-bit integer range")
    return step


def check_timestamp(timestamp: int) -> int:
    """A metric timestamp: epoch milliseconds from 1970 to the year 9999."""
    if not 0 <= timestamp <= MAX_TIMESTAMP_MS:
        raise InvalidValueError(f"timestamp {str(timestamp)[:24]} is not epoch milliseconds between 1970 and 9999")
    return timestamp


# -- where DVC may write ----------------------------------------------------------------------
_Scan = tuple[tuple[str, ...], tuple[tuple[str, str], ...], str | None]
_TREE_SCANS: dict[str, _Scan] = {}
_MAX_SCANS = 200_000
_DVC_CONFIG_PATHS = re.compile(rb"^\s*(dir|site_cache_dir)\s*=", re.MULTILINE)


def _scan(repo: pygit2.Repository, tree: pygit2.Tree) -> _Scan:
    """Symlinks, DVC files (``*.dvc``, ``dvc.yaml``, ``dvc.lock``: path, blob id) and a problem of
    one tree, relative to it; memoised by tree id (trees are shared across snapshots)."""
    key = str(tree.id)
    found = _TREE_SCANS.get(key)
    if found is not None:
        return found
    links: list[str] = []
    files: list[tuple[str, str]] = []
    problem = None
    for entry in tree:
        name = entry.name
        if entry.filemode == _LINK_MODE:
            links.append(name)
        elif entry.filemode == _TREE_MODE:
            sub_links, sub_files, sub_problem = _scan(repo, repo[entry.id])
            links.extend(f"{name}/{p}" for p in sub_links)
            files.extend((f"{name}/{p}", oid) for p, oid in sub_files)
            problem = problem or (sub_problem and f"{name}/{sub_problem}")
        elif name.endswith(".dvc") or name in ("dvc.yaml", "dvc.lock", "config", "config.local"):
            files.append((name, str(entry.id)))
        if len(files) > MAX_POINTERS:
            problem = f"holds more than {MAX_POINTERS} DVC files"
            break
    if len(_TREE_SCANS) > _MAX_SCANS:
        _TREE_SCANS.clear()
    found = _TREE_SCANS[key] = (tuple(links), tuple(files), problem)
    return found


def _blob(repo: pygit2.Repository, oid: str, path: str) -> bytes:
    import pygit2

    _, size = repo.odb.read_header(pygit2.Oid(hex=oid))
    if size > MAX_POINTER_BYTES:
        raise MalformedRunError(f"'{path}' is {size} bytes, over the {MAX_POINTER_BYTES} byte limit")
    return repo.odb.read(pygit2.Oid(hex=oid))[1]


def _outs_of(doc: Any, folder: str, path: str) -> list[str]:
    """The paths (relative to the repository) that a DVC file makes DVC write."""
    if path.endswith(".dvc"):
        base = posixpath.join(folder, str(doc.get("wdir", ".")) if isinstance(doc, dict) else ".")
        outs = doc.get("outs") if isinstance(doc, dict) else None
        if not isinstance(outs, list):
            raise MalformedRunError(f"'{path}' is not a .dvc file (no outs list)")
        return [posixpath.join(base, _out_path(out, path)) for out in outs]
    stages = doc.get("stages") if isinstance(doc, dict) else None
    found = []
    for stage in (stages or {}).values() if isinstance(stages, dict) else ():
        if not isinstance(stage, dict):
            continue
        wdir = stage.get("wdir", ".")
        if not isinstance(wdir, str):
            raise MalformedRunError(f"'{path}' has a stage whose wdir is not a path")
        for kind in ("outs", "metrics", "plots"):
            items = stage.get(kind) or []
            for out in items if isinstance(items, list) else ():
                found.append(posixpath.join(folder, wdir, _out_path(out, path)))
    return found


def _out_path(out: Any, path: str) -> str:
    if isinstance(out, dict) and isinstance(out.get("path"), str):
        return out["path"]
    if isinstance(out, dict) and len(out) == 1 and isinstance(next(iter(out)), str):
        return next(iter(out))  # dvc.yaml's {path: {options}}
    if isinstance(out, str):
        return out
    raise MalformedRunError(f"'{path}' has an output without a path")


def _write_problem(target: str, links: set[str], source: str) -> str | None:
    """Why DVC must not write ``target`` (a path joined from a DVC file's folder and its output)."""
    if target.startswith("/"):
        return f"'{source}' writes to an absolute path ({target[:80]!r})"
    normal = posixpath.normpath(target)
    parts = normal.split("/")
    if normal in (".", "") or parts[0] == "..":
        return f"'{source}' writes outside the work tree ({target[:80]!r})"
    if ".git" in parts or parts[0] == ".dvc":
        return f"'{source}' writes into {'.git' if '.git' in parts else '.dvc'}/ ({target[:80]!r})"
    for i in range(1, len(parts) + 1):
        prefix = "/".join(parts[:i])
        if prefix in links:
            return f"'{source}' writes through the symlink '{prefix}' ({target[:80]!r})"
    return None


def dvc_outputs(repo: pygit2.Repository, tree_id: pygit2.Oid) -> tuple[list[str], list[str]]:
    """The DVC files of a snapshot (what ``dvc checkout`` would act on) and the paths they write,
    normalised; ``MalformedRunError`` if one would write outside the work tree, into ``.git/`` or
    ``.dvc/``, or through a symlink of the snapshot, or the DVC set-up redirects the cache, or
    (measured before any is read) they add up to more than ``MAX_POINTERS_TOTAL_BYTES``."""
    import pygit2

    links, files, problem = _scan(repo, repo[tree_id])
    if problem is not None:
        raise MalformedRunError(f"the snapshot {problem}")
    sizes: dict[str, int] = {}
    for _, oid in files:
        if oid not in sizes:
            sizes[oid] = repo.odb.read_header(pygit2.Oid(hex=oid))[1]
    if sum(sizes[oid] for _, oid in files) > MAX_POINTERS_TOTAL_BYTES:
        raise MalformedRunError(f"the snapshot's DVC files add up to more than {MAX_POINTERS_TOTAL_BYTES} bytes")
    link_set = set(links)
    targets, outputs = [], []
    for path, oid in files:
        folder, _, name = path.rpartition("/")
        if name in ("config", "config.local"):
            if folder != ".dvc":
                continue
            if name == "config.local" or _DVC_CONFIG_PATHS.search(_blob(repo, oid, path)):
                raise MalformedRunError(f"the snapshot's '{path}' sets where DVC keeps its cache; refused")
            continue
        if name == "dvc.lock":
            continue  # its outputs are the ones dvc.yaml names, checked there
        doc = load_yaml(_blob(repo, oid, path), path)
        for target in _outs_of(doc, folder, path):
            if (reason := _write_problem(target, link_set, path)) is not None:
                raise MalformedRunError(reason)
            outputs.append(posixpath.normpath(target))
        targets.append(path)
    for path, oid in files:  # dvc.lock: the paths DVC actually checks out, relative to the stage's wdir
        folder, _, name = path.rpartition("/")
        if name == "dvc.lock":
            for target in _lock_outputs(repo, oid, folder, path, dict(files)):
                if (reason := _write_problem(target, link_set, path)) is not None:
                    raise MalformedRunError(reason)
    return targets, outputs


def _lock_outputs(repo: pygit2.Repository, oid: str, folder: str, path: str, files: dict[str, str]) -> list[str]:
    lock = load_yaml(_blob(repo, oid, path), path)
    yaml_path = posixpath.join(folder, "dvc.yaml") if folder else "dvc.yaml"
    spec = load_yaml(_blob(repo, files[yaml_path], yaml_path), yaml_path) if yaml_path in files else {}
    spec_stages = spec.get("stages") if isinstance(spec, dict) and isinstance(spec.get("stages"), dict) else {}
    stages = lock.get("stages") if isinstance(lock, dict) else None
    found = []
    for name, stage in stages.items() if isinstance(stages, dict) else ():
        if not isinstance(stage, dict):
            continue
        declared = spec_stages.get(str(name).split("@")[0])
        wdir = declared.get("wdir", ".") if isinstance(declared, dict) else "."
        outs = stage.get("outs") or []
        for out in outs if isinstance(outs, list) else ():
            found.append(posixpath.join(folder, str(wdir), _out_path(out, path)))
    return found


def tree_problem(repo: pygit2.Repository, tree_id: pygit2.Oid) -> str | None:
    """Why checking out a snapshot would let DVC write where it must not (None: it is safe)."""
    try:
        dvc_outputs(repo, tree_id)
    except MalformedRunError as exc:
        return str(exc)
    return None
