"""The format's rules for data that may come from a remote, in one place (docs/format.md, docs/security.md).

What a valid run commit is, when a run ref may move to another commit, what a valid packed line
is, what a valid registry tag date is, and where DVC may write when a run is checked out. Pull,
the index merge, checkout, the readers and the server hook call these functions; no other module
restates a rule. Each check returns the reason a thing is refused (``None``: it is sound) or
raises ``MalformedRunError`` with that reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gittrack._store import metricfile, runfiles
from gittrack._store.limits import (
    INT64_MAX,
    INT64_MIN,
    MAX_FUTURE_SECONDS,
    MAX_TIMESTAMP_MS,
)
from gittrack._store.naming import metric_filename
from gittrack._store.record import (
    ENDED,
    RUNNING,
    RunRecord,
    dump_record,
    dump_summary,
    parse_record,
    parse_summary,
    parse_summary_doc,
    record_yaml,
)
from gittrack._store.snapshot import RUN_DIR
from gittrack.errors import GittrackError, InvalidValueError, MalformedRunError

if TYPE_CHECKING:
    import pygit2

    from gittrack._store.packs import PackedRun


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


def check_records(
    repo: pygit2.Repository,
    commit: pygit2.Oid,
    summary: RunRecord,
    tree: pygit2.Tree | None = None,
    expected: bytes | None = None,
) -> None:
    """Raise ``MalformedRunError`` unless the run commit's ``run.yaml``, when it has one, records
    what ``summary`` (read from its ``summary.json``) does; ``tree``: its ``.gittrack/run`` tree;
    ``expected``: YAML that loads as ``summary`` (``record_yaml``), else the record is written.

    The common case costs writing the summary as YAML and hashing it: a file gittrack wrote is
    that YAML byte for byte, so its blob id is that hash and the file need not be read. Anything
    else is read and compared field by field (formatting may differ, values may not)."""
    tree = runfiles.run_tree_of(repo, commit) if tree is None else tree
    try:
        entry = tree[runfiles.RUN_YAML]
    except KeyError:
        return
    expected = dump_record(summary) if expected is None else expected
    if runfiles.holds(repo, entry, expected):
        return
    what = f"run commit {str(commit)[:12]}"
    data = runfiles.read_blob(repo, tree, runfiles.RUN_YAML, runfiles.MAX_RUN_YAML_BYTES, what)
    if data is not None and expected != data:
        _check_agree(parse_record(data, f"{what}: run.yaml"), summary, commit)


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


def run_tree_problem(
    repo: pygit2.Repository,
    commit: pygit2.Oid,
    summary: RunRecord,
    tree: pygit2.Tree | None = None,
    expected: bytes | None = None,
) -> str | None:
    """Why a run commit whose ``summary.json`` reads as ``summary`` is refused beyond its record:
    ``run.yaml`` disagrees, its histories are over the limits, or it is not safe to check out
    (``tree`` and ``expected``: as :func:`check_records` takes them)."""
    import pygit2

    try:
        tree = runfiles.run_tree_of(repo, commit) if tree is None else tree
        check_records(repo, commit, summary, tree, expected)
    except MalformedRunError as exc:
        return str(exc)
    problem = runfiles.metrics_problem(repo, commit, tree)
    if problem is not None:
        return f"run commit {str(commit)[:12]}: {problem}"
    return tree_problem(repo, repo[commit].peel(pygit2.Commit).tree_id)


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
    start and source commit (checkpoints share their parents), the same snapshot outside
    ``.gittrack/run``, the same command, every param as it was, every metric point already
    recorded still there unchanged (new points only appended), and a heartbeat no older. The
    identity fields can be copied by anyone, so what a checkpoint may change is what makes a
    forged one harmless: it can add to the run, never rewrite it."""
    import pygit2

    if old_record.status in ENDED:
        return f"finished {where}"
    if new_record.id != old_record.id or new_record.experiment != old_record.experiment:
        return "the update replaces the run with another one"
    if new_record.host != old_record.host or new_record.user != old_record.user:
        return f"run {old_record.id} is RUNNING on {old_record.host or 'another host'}; only its own writer moves it"
    new_commit, old_commit = repo[new].peel(pygit2.Commit), repo[old].peel(pygit2.Commit)
    if new_record.start_time != old_record.start_time or new_commit.parent_ids != old_commit.parent_ids:
        return f"the update rewrites the start or the source commit of RUNNING run {old_record.id}"
    if _outside_run(repo, repo[new].tree) != _outside_run(repo, repo[old].tree):
        return f"the update changes the snapshot of RUNNING run {old_record.id}; a checkpoint keeps the files it ran"
    if new_record.command != old_record.command or new_record.source != old_record.source:
        return f"the update changes the command or source of RUNNING run {old_record.id}"
    changed = [k for k, v in old_record.params.items() if new_record.params.get(k) != v]
    if changed:
        return f"the update changes param {changed[0]!r} of RUNNING run {old_record.id}; params are written once"
    shrunk = [k for k, m in old_record.metrics.items() if k not in new_record.metrics or
              new_record.metrics[k].count < m.count]  # fmt: skip
    if shrunk:
        return f"the update drops points of metric {shrunk[0]!r} of RUNNING run {old_record.id}"
    for key in old_record.metrics:
        try:
            rewritten = _rewrites_points(repo, old, new, key)
        except GittrackError as exc:
            return f"the update holds an unreadable history of metric {key!r} ({exc})"
        if rewritten:
            return f"the update rewrites recorded points of metric {key!r} of RUNNING run {old_record.id}"
    if new_record.heartbeat < old_record.heartbeat:
        return f"the update is older than what holds RUNNING run {old_record.id} now"
    return None


def _outside_run(repo: pygit2.Repository, tree: pygit2.Tree) -> tuple[Any, ...]:
    """A comparable form of a run commit's tree without ``.gittrack/run`` (read, nothing written):
    the root's entries but ``.gittrack``, and ``.gittrack``'s entries but ``run``."""
    import pygit2

    top, _, inner = RUN_DIR.partition("/")
    entries = tuple((e.name, str(e.id), e.filemode) for e in tree if e.name != top)
    try:
        folder = repo[tree[top].id]
    except KeyError:
        return entries, None
    if not isinstance(folder, pygit2.Tree):
        return entries, str(folder.id)
    return entries, tuple((e.name, str(e.id), e.filemode) for e in folder if e.name != inner)


def _history_parts(repo: pygit2.Repository, commit: pygit2.Oid, key: str) -> tuple[list[tuple[str, str]], str | None]:
    """The sealed segments (name, blob id, in order) and the tail's blob id of metric ``key``."""
    import pygit2

    tree = runfiles.run_tree_of(repo, commit)
    filename = metric_filename(key)
    try:
        folder = repo[tree[f"{runfiles.METRICS}/{metricfile.segment_dir(filename)}"].id]
        sealed = sorted((e.name or "", str(e.id)) for e in folder) if isinstance(folder, pygit2.Tree) else []
    except KeyError:
        sealed = []
    try:
        tail: str | None = str(tree[f"{runfiles.METRICS}/{filename}"].id)
    except KeyError:
        tail = None
    return sealed, tail


def _points(repo: pygit2.Repository, blob: str, what: str) -> list[tuple[int, int, str]]:
    """The points of one segment, values as exact text (so NaN equals NaN)."""
    import pygit2

    oid = pygit2.Oid(hex=blob)
    _, size = repo.odb.read_header(oid)
    if size > metricfile.MAX_SEGMENT_BYTES:
        raise MalformedRunError(f"{what} is {size} bytes, over the {metricfile.MAX_SEGMENT_BYTES} byte limit")
    return [(s, t, repr(v)) for s, t, v in metricfile.decode_points(repo.odb.read(oid)[1], what)]


def _rewrites_points(repo: pygit2.Repository, old: pygit2.Oid, new: pygit2.Oid, key: str) -> bool:
    """Whether ``new``'s history of metric ``key`` does not begin with every point of ``old``'s.

    Sealed segments never change, so they are compared by blob id; only ``old``'s tail (one
    segment) is read, and ``new``'s points after the shared segments until as many are read."""
    old_sealed, old_tail = _history_parts(repo, old, key)
    new_sealed, new_tail = _history_parts(repo, new, key)
    if new_sealed[: len(old_sealed)] != old_sealed:
        return True
    recorded = _points(repo, old_tail, f"metric {key!r}") if old_tail is not None else []
    if not recorded:
        return False
    later = [blob for _, blob in new_sealed[len(old_sealed) :]] + ([new_tail] if new_tail is not None else [])
    found: list[tuple[int, int, str]] = []
    for blob in later:
        if len(found) >= len(recorded):
            break
        found.extend(_points(repo, blob, f"metric {key!r}"))
    return found[: len(recorded)] != recorded


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
        tree = runfiles.run_tree_of(repo, oid)
        expected = None
        if runfiles.SUMMARY in tree and runfiles.holds(repo, tree[runfiles.SUMMARY], run.summary):  # nothing to read
            raw = run.summary
            record, doc = parse_summary_doc(raw, f"run commit {str(oid)[:12]}: {RUN_DIR}/{runfiles.SUMMARY}")
            expected = record_yaml(doc, raw) if tree_check else None
        else:
            record, raw = runfiles.read_summary_json(repo, oid)
    except (GittrackError, ValueError) as exc:
        return str(exc)
    if record.id != run.run_id or record.experiment != experiment:
        return f"its commit records run {record.id} of {record.experiment!r}"
    if raw != run.summary:
        return "its packed summary differs from the one in its commit"
    if record.status not in ENDED:
        return f"it is still {RUNNING}; only ended runs are packed"
    return run_tree_problem(repo, oid, record, tree, expected) if tree_check else None


# -- metadata notes --------------------------------------------------------------------------
def notes_update_problem(repo: pygit2.Repository, old: pygit2.Oid | None, new: pygit2.Oid) -> str | None:
    """Why the metadata notes may not move from ``old`` (None: there were none) to ``new``.

    The notes are event logs that only grow: the update must stay within the limits, descend from
    ``old`` and keep every note and every valid line of it. Notes that are themselves over the
    limits (pushed before the server checked them) may be replaced by any notes within them."""
    from gittrack._store import notes

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


# -- where DVC data may be restored -------------------------------------------------------------
def tree_problem(repo: pygit2.Repository, tree_id: pygit2.Oid) -> str | None:
    """Why restoring a snapshot's DVC data is refused (None: it is safe): the resolver of
    ``gittrack._data.outputs``, the one that checkout and reproduce restore from, finds an output
    it cannot resolve exactly, or one outside the work tree, in ``.git``/``.dvc``, or through a
    symlink, or a ``.dvc/`` set-up that moves DVC's files out of the repository."""
    from gittrack._data.outputs import outputs_problem

    return outputs_problem(repo, tree_id)
