"""The format's rules for data that may come from a remote, in one place (docs/format.md, docs/security.md).

What a valid run commit is, when a run ref may move to another commit, what a valid packed line
is, what a valid registry tag date is, and where DVC may write when a run is checked out. Pull,
the index merge, checkout, the readers and the server hook call these functions; no other module
restates a rule. Each check returns the reason a thing is refused (``None``: it is sound) or
raises ``MalformedRunError`` with that reason.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gittrack.errors import GittrackError, InvalidValueError, MalformedRunError
from gittrack.store import runfiles
from gittrack.store.limits import (
    INT64_MAX,
    INT64_MIN,
    MAX_FUTURE_SECONDS,
    MAX_TIMESTAMP_MS,
)
from gittrack.store.record import ENDED, RUNNING, RunRecord

if TYPE_CHECKING:
    import pygit2

    from gittrack.store.packs import PackedRun


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


def check_incoming_run(repo: pygit2.Repository, commit: pygit2.Oid, experiment: str, run_id: str) -> RunRecord:
    """A run commit fetched from a remote: readable, the run its name says, and safe to check out."""
    record = read_run(repo, commit, experiment, run_id)
    problem = tree_problem(repo, repo[commit].tree_id)
    if problem is not None:
        raise MalformedRunError(problem)
    return record


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
    summary other than the packed one, or (``tree_check``) is not safe to check out."""
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
    return tree_problem(repo, repo[oid].tree_id) if tree_check else None


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
    ``gittrack.data.outputs``, the one that checkout and reproduce restore from, finds an output
    it cannot resolve exactly, or one outside the work tree, in ``.git``/``.dvc``, or through a
    symlink, or a ``.dvc/`` set-up that moves DVC's files out of the repository."""
    from gittrack.data.outputs import outputs_problem

    return outputs_problem(repo, tree_id)
