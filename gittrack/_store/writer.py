"""Recording one run: buffered params, metrics and tags written as checkpoint commits on its ref.

Every checkpoint is a new commit with the same parent (the source commit), and the ref moves by
compare-and-swap. When the ref moved under us, the writer re-reads the tip and applies its own
pending changes on top (several processes may log into one run, e.g. ``gittrack run`` and the
script it starts); a ref that was deleted, replaced by another run, or ended is never overwritten.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from gittrack._store import metricfile, naming, rules, runfiles
from gittrack._store.environment import command_summary, environment_summary, requirements_blob
from gittrack._store.ids import checked_run_name, new_run_id, new_run_name, short_id
from gittrack._store.limits import INT64_MAX, INT64_MIN, MAX_TIMESTAMP_MS
from gittrack._store.record import (
    ENDED,
    MAX_PARAM_LENGTH,
    MAX_TAG_LENGTH,
    MetricSummary,
    RunRecord,
    checked_text,
    dump_record,
    dump_summary,
)
from gittrack._store.repo import identity, ref_oid, signature, workdir
from gittrack._store.snapshot import DEFAULT_MAX_FILE_BYTES, RUN_DIR, take_snapshot, without_run_dir
from gittrack._store.timefmt import now_ms
from gittrack._store.trees import Changes, apply_changes
from gittrack.errors import ConflictError, ImmutableRunError, InvalidNameError, InvalidValueError, MalformedRunError

if TYPE_CHECKING:
    import pygit2

log = logging.getLogger("gittrack")

DEFAULT_CHECKPOINT_INTERVAL = 10.0
FLUSH_POINTS = 100_000
_CAS_ATTEMPTS = 50


def _yaml_type(value: Any) -> str:
    """The YAML type a param value had before it was turned into a string."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, numbers.Integral):
        return "int"
    if isinstance(value, numbers.Real):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, dict):
        return "map"
    return "str"


def _comparable(text: str, kind: str) -> Any:
    """What a param's value is compared by when it is logged again: numbers by value (``5``,
    ``5.0`` and ``"5"`` are one param), booleans by truth (``True`` and ``"true"``), else the text."""
    from decimal import Decimal, InvalidOperation

    if kind in ("int", "float", "str"):
        try:
            number = Decimal(text.strip())
        except InvalidOperation:
            number = None
        if number is not None and number.is_finite():
            return ("number", number)
    if kind == "bool" or (kind == "str" and text.lower() in ("true", "false")):
        return ("bool", text.lower() == "true")
    return ("text", text)


def _same_param(known: tuple[str, str], new: tuple[str, str]) -> bool:
    """Whether two (text, type) values of a param are the same param value."""
    return known[0] == new[0] or _comparable(*known) == _comparable(*new)


MAX_SHOWN = 60  # characters of a rejected value an error message shows


def _shown(value: Any) -> str:
    """A rejected value for an error message, cut to about ``MAX_SHOWN`` characters (a huge integer
    is described by its number of digits: Python refuses to write out past 4300 of them)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 3 * MAX_SHOWN:
        digits = int(value.bit_length() * 0.30103) + 1
        return f"{'a negative' if value < 0 else 'an'} integer of about {digits} digits"
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a value whose repr fails is still refused with a message
        text = f"a {type(value).__name__}"
    return text if len(text) <= MAX_SHOWN else f"{text[: MAX_SHOWN - 3]}... ({len(text)} characters)"


def _metric_value(key: str, value: Any) -> float:
    if isinstance(value, numbers.Number) and not isinstance(value, str):
        try:
            return float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError, OverflowError):
            pass
    raise InvalidValueError(
        f"metric {key!r} got {_shown(value)}; metric values must be real numbers (NaN and inf allowed)"
    )


def _integer(what: str, value: Any) -> int:
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    raise InvalidValueError(f"{what} must be an integer, got {_shown(value)}")


@dataclass
class _State:
    """What the run's ref points at: the commit, its trees and record, and metric tails read so far."""

    commit: pygit2.Oid | None
    snapshot_tree: pygit2.Oid
    run_tree: pygit2.Oid
    parents: list[pygit2.Oid]
    author: pygit2.Signature
    record: RunRecord
    tails: dict[str, list[bytes]] = field(default_factory=dict)
    segments: dict[str, int] = field(default_factory=dict)

    @property
    def written(self) -> pygit2.Oid:
        """The commit of a state that has one (every state ``_apply`` makes)."""
        assert self.commit is not None
        return self.commit

    @classmethod
    def load(cls, repo: pygit2.Repository, commit_id: pygit2.Oid) -> _State:
        import pygit2

        record = runfiles.read_record(repo, commit_id)
        commit = repo[commit_id].peel(pygit2.Commit)
        run_tree = runfiles.run_tree_of(repo, commit_id).id
        snapshot = without_run_dir(repo, commit.tree_id)
        return cls(commit_id, snapshot, run_tree, list(commit.parent_ids), commit.author, record)

    def tail(self, repo: pygit2.Repository, filename: str) -> list[bytes]:
        import pygit2

        if filename not in self.tails:
            tree = repo[self.run_tree].peel(pygit2.Tree)
            data = runfiles.read_blob(
                repo, tree, f"{runfiles.METRICS}/{filename}", metricfile.MAX_SEGMENT_BYTES, "metric tail"
            )
            self.tails[filename] = metricfile.split_lines(data) if data else []
        return self.tails[filename]

    def segment_count(self, repo: pygit2.Repository, filename: str) -> int:
        import pygit2

        if filename not in self.segments:
            try:
                entry = repo[self.run_tree].peel(pygit2.Tree)[f"{runfiles.METRICS}/{metricfile.segment_dir(filename)}"]
                self.segments[filename] = len(repo[entry.id].peel(pygit2.Tree))
            except KeyError:
                self.segments[filename] = 0
        return self.segments[filename]


@dataclass
class _Pending:
    """Changes logged since the last checkpoint."""

    params: dict[str, tuple[str, str]] = field(default_factory=dict)
    tags: dict[str, str | None] = field(default_factory=dict)  # None: the tag is deleted
    points: list[tuple[str, int, int, float] | tuple[str, list[tuple[int, int, float]]]] = field(default_factory=list)
    """In logged order: one point ``(key, step, timestamp, value)``, or many of one key ``(key, points)``."""
    logs: dict[str, tuple[bytes, int]] = field(default_factory=dict)
    artifacts: dict[str, tuple[bytes, dict[str, Any]]] = field(default_factory=dict)
    inputs: list[dict[str, Any]] = field(default_factory=list)
    name: str | None = None
    end: dict[str, Any] | None = None
    count: int = 0  # metric points in ``points``

    def merge_back(self, newer: _Pending) -> None:
        """Put changes that failed to commit back in front of those logged meanwhile."""
        self.params = {**self.params, **newer.params}
        self.tags = {**self.tags, **newer.tags}
        self.points.extend(newer.points)
        self.count += newer.count
        self.logs = {**self.logs, **newer.logs}
        self.artifacts = {**self.artifacts, **newer.artifacts}
        self.inputs.extend(newer.inputs)
        self.name = newer.name or self.name
        self.end = newer.end or self.end


class RunWriter:
    """Writes one run. Thread-safe; logging calls are cheap and never touch git themselves."""

    def __init__(
        self,
        repo: pygit2.Repository,
        ref: str,
        state: _State,
        interval: float,
        publish: Callable[[str, pygit2.Oid], None] | None = None,
    ) -> None:
        self.repo = repo
        self.ref = ref
        self._publish = publish
        self.run_id = state.record.id
        self.experiment = state.record.experiment
        self.interval = interval
        self._state = state
        self._pending = _Pending()
        self._lock = threading.Lock()
        self._commit_lock = threading.RLock()
        self._next_step: dict[str, int] = {}
        self.background_error: Exception | None = None
        self.on_written: Callable[[], None] | None = None
        """Called once, after the run's first commit (``store.starts`` removes its start record)."""

    # -- creation -------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        repo: pygit2.Repository,
        experiment: str,
        run_name: str | None = None,
        parent_run: str | None = None,
        argv: list[str] | None = None,
        launcher: str = "python",
        interval: float = DEFAULT_CHECKPOINT_INTERVAL,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        cwd: str | os.PathLike[str] | None = None,
    ) -> RunWriter:
        """Snapshot the workspace and prepare a new run; its ref appears at the first checkpoint."""
        naming.validate_experiment(experiment)
        if run_name is not None:
            checked_run_name(run_name)
        snap = take_snapshot(repo, max_file_bytes)
        start = now_ms()
        run_id = new_run_id(start)
        name, email = identity(repo)
        record = RunRecord(
            id=run_id,
            name=run_name or new_run_name(),
            experiment=experiment,
            start_time=start,
            heartbeat=start,
            checkpoint_interval=interval,
            user={"name": name, "email": email},
            host=socket.gethostname(),
            pid=os.getpid(),
            parent_run=parent_run,
            source={
                "commit": str(snap.head) if snap.head is not None else None,
                "branch": snap.branch,
                "dirty": snap.dirty,
                "diffstat": snap.diffstat,
            },
            command=command_summary(argv or [], workdir(repo), launcher, cwd),
            environment=environment_summary(repo),
            snapshot={"excluded": snap.excluded},
        )
        run_tree = _first_run_tree(repo, requirements_blob(repo))
        state = _State(
            commit=None,
            snapshot_tree=snap.tree,
            run_tree=run_tree,
            parents=[snap.head] if snap.head is not None else [],
            author=signature(name, email, start),
            record=record,
        )
        return cls(repo, naming.run_ref(experiment, run_id), state, interval)

    @classmethod
    def create_recorded(
        cls,
        repo: pygit2.Repository,
        experiment: str,
        *,
        start_time: int,
        user: tuple[str, str],
        commit: pygit2.Oid | None,
        run_id: str | None = None,
        run_name: str | None = None,
        parent_run: str | None = None,
        host: str = "",
        argv: list[str] | None = None,
        ref: str | None = None,
        publish: Callable[[str, pygit2.Oid], None] | None = None,
        command: dict[str, object] | None = None,
        pid: int = 0,
        interval: float = DEFAULT_CHECKPOINT_INTERVAL,
    ) -> RunWriter:
        """Prepare a run recorded elsewhere (an import, a client of ``gittrack server``): its
        snapshot is ``commit``'s tree (no workspace), its start time and user are given; as with
        ``create``, nothing is written before the first checkpoint, so writing it all and calling
        ``finish`` once is atomic. ``ref`` may name where it goes (e.g. under
        ``refs/runs-deleted/``). ``publish``: the checkpoint hands it the ref and the commit
        instead of creating the ref (an import creates its refs once their objects are in a
        pack); such a writer writes once. ``command``: its command as found in the commit
        (default: ``argv`` read here); ``pid``: the process keeping it alive (0: none, an
        ended run); ``interval``: its checkpoint interval."""
        import pygit2

        naming.validate_experiment(experiment)
        if run_name is not None:
            checked_run_name(run_name)
        run_id = run_id or new_run_id(start_time)
        name, email = user
        tree = repo[commit].peel(pygit2.Commit).tree_id if commit is not None else apply_changes(repo, None, {})
        record = RunRecord(
            id=run_id,
            name=run_name or new_run_name(),
            experiment=experiment,
            start_time=start_time,
            heartbeat=start_time,
            checkpoint_interval=interval,
            user={"name": name, "email": email},
            host=host,
            pid=pid,
            parent_run=parent_run,
            source={
                "commit": str(commit) if commit is not None else None,
                "branch": None,
                "dirty": False,
                "diffstat": {"files": 0, "insertions": 0, "deletions": 0},
            },
            command=command or command_summary(argv or [], workdir(repo), "python", None),
            environment=environment_summary(repo),
            snapshot={"excluded": []},
        )
        state = _State(
            commit=None,
            snapshot_tree=tree,
            run_tree=apply_changes(repo, None, {}),
            parents=[commit] if commit is not None else [],
            author=signature(name, email, start_time),
            record=record,
        )
        return cls(repo, ref or naming.run_ref(experiment, run_id), state, interval, publish)

    @classmethod
    def unwritten(
        cls,
        repo: pygit2.Repository,
        ref: str,
        record: RunRecord,
        snapshot_tree: pygit2.Oid,
        run_tree: pygit2.Oid,
        parents: list[pygit2.Oid],
        author: pygit2.Signature,
    ) -> RunWriter:
        """A run that was started but never written (what a start record keeps: ``store.starts``);
        its first checkpoint writes it."""
        state = _State(None, snapshot_tree, run_tree, parents, author, record)
        return cls(repo, ref, state, record.checkpoint_interval)

    @property
    def start_state(self) -> tuple[pygit2.Oid, pygit2.Oid, list[pygit2.Oid], pygit2.Signature]:
        """(snapshot tree, run tree, parents, author) of the run as last written or prepared."""
        state = self._state
        return state.snapshot_tree, state.run_tree, list(state.parents), state.author

    @classmethod
    def attach(cls, repo: pygit2.Repository, ref: str, interval: float = DEFAULT_CHECKPOINT_INTERVAL) -> RunWriter:
        """Write into an existing RUNNING run (another process may be writing it too)."""
        try:
            target = ref_oid(repo.references[ref])
        except KeyError:
            raise ConflictError(f"run ref {ref} does not exist; it may have been deleted") from None
        state = _State.load(repo, target)
        if state.record.status in ENDED:
            raise ImmutableRunError(
                f"run {short_id(state.record.id)} has already ended ({state.record.status}); its params, metrics "
                "and artifacts cannot change (its tags and name can): start a new run"
            )
        return cls(repo, ref, state, interval)

    @property
    def snapshot_tree(self) -> pygit2.Oid:
        """The workspace snapshot the run recorded (without ``.gittrack/run``)."""
        return self._state.snapshot_tree

    @property
    def commit(self) -> pygit2.Oid | None:
        """The run's commit as of the last checkpoint (None before the first)."""
        return self._state.commit

    @property
    def record(self) -> RunRecord:
        """The record as of the last checkpoint (pending changes not included)."""
        return self._state.record

    # -- logging (cheap, in memory) -------------------------------------------------------
    def log_param(self, key: str, value: Any) -> None:
        """Record a param; logging it again with another value is an error (params never change)."""
        naming.validate_key(key, "param key")
        text = checked_text(f"param {key!r}", value, MAX_PARAM_LENGTH)
        new = (text, _yaml_type(value))
        with self._lock:
            record = self._state.record
            known = self._pending.params.get(key)
            if known is None and key in record.params:
                known = (record.params[key], record.param_types.get(key, "str"))
            if known is not None and not _same_param(known, new):
                hint = ""
                if record.command.get("launcher") == "gittrack run":
                    hint = "; a param given to 'gittrack run -p' must have the value the command logs"
                raise InvalidValueError(
                    f"param {key!r} is already '{known[0][:60]}' ({known[1]}) in run {short_id(self.run_id)}, "
                    f"not '{text[:60]}' ({new[1]}); params cannot change: start a new run, or log it as a tag "
                    f"or metric{hint}"
                )
            if known is None:
                self._pending.params[key] = new

    def set_tag(self, key: str, value: Any) -> None:
        """Set a tag (tags, unlike params, may be overwritten)."""
        naming.validate_key(key, "tag key")
        text = checked_text(f"tag {key!r}", value, MAX_TAG_LENGTH)
        with self._lock:
            self._pending.tags[key] = text

    def delete_tag(self, key: str) -> None:
        """Remove a tag (nothing happens when the run has no such tag)."""
        naming.validate_key(key, "tag key")
        with self._lock:
            self._pending.tags[key] = None

    def log_metric(self, key: str, value: Any, step: int | None = None, timestamp: int | None = None) -> None:
        """Buffer one metric point; ``step`` defaults to one past the key's highest step."""
        next_step = self._next_step.get(key)
        if next_step is None:
            naming.validate_key(key, "metric key")
            known = self._state.record.metrics.get(key)
            next_step = self._next_step[key] = known.step + 1 if known else 0
        if value.__class__ is not float:
            value = _metric_value(key, value)
        if step is None:
            step = next_step
        else:
            if step.__class__ is not int:
                step = _integer("step", step)
            if not INT64_MIN <= step <= INT64_MAX:
                rules.check_step(step)
        if step >= next_step:
            self._next_step[key] = step + 1
        if timestamp is None:
            timestamp = time.time_ns() // 1_000_000
        else:
            if timestamp.__class__ is not int:
                timestamp = _integer("timestamp", timestamp)
            if not 0 <= timestamp <= MAX_TIMESTAMP_MS:
                rules.check_timestamp(timestamp)
        with self._lock:
            pending = self._pending
            pending.points.append((key, step, timestamp, value))
            pending.count += 1
            if pending.count >= FLUSH_POINTS:
                _heartbeats.wake(self)

    def log_metric_points(self, key: str, points: Sequence[tuple[Any, Any, Any]]) -> None:
        """Buffer many ``(step, timestamp, value)`` points of one metric at once (an import of a
        history), each checked as :meth:`log_metric` checks it, at a fraction of the cost of a call
        per point; steps and timestamps are required."""
        if not points:
            return
        if key not in self._next_step:
            naming.validate_key(key, "metric key")
            known = self._state.record.metrics.get(key)
            self._next_step[key] = known.step + 1 if known else 0
        if set(map(len, points)) != {3}:
            raise InvalidValueError(f"metric {key!r}: a point is not (step, timestamp, value)")
        steps, times, values = (list(map(itemgetter(i), points)) for i in range(3))
        if set(map(type, steps)) | set(map(type, times)) != {int} or set(map(type, values)) != {float}:
            steps = [step if step.__class__ is int else _integer("step", step) for step in steps]
            times = [time if time.__class__ is int else _integer("timestamp", time) for time in times]
            values = [value if value.__class__ is float else _metric_value(key, value) for value in values]
            checked = list(zip(steps, times, values, strict=True))
        else:  # the usual case: exact types, checked at C speed; the points kept as they are (tuples)
            checked = list(points) if set(map(type, points)) == {tuple} else [tuple(p) for p in points]
        low, high = min(steps), max(steps)
        if low < INT64_MIN or high > INT64_MAX:
            rules.check_step(low if low < INT64_MIN else high)
        earliest, latest = min(times), max(times)
        if earliest < 0 or latest > MAX_TIMESTAMP_MS:
            rules.check_timestamp(earliest if earliest < 0 else latest)
        if high >= self._next_step[key]:
            self._next_step[key] = high + 1
        with self._lock:
            self._pending.points.append((key, checked))
            self._pending.count += len(checked)
            if self._pending.count >= FLUSH_POINTS:
                _heartbeats.wake(self)

    def set_name(self, name: str) -> None:
        """Rename the run (its id, and so its ref, stay)."""
        checked_run_name(name)
        with self._lock:
            self._pending.name = name

    def set_log(self, name: str, data: bytes, total_bytes: int) -> None:
        """Attach captured output (already size-capped) as ``logs/<name>.txt``."""
        with self._lock:
            self._pending.logs[name] = (data, total_bytes)

    def add_artifact(self, path: str, pointer: bytes, info: dict[str, Any]) -> None:
        """Record an artifact whose content is in the DVC cache: its ``.dvc`` pointer goes to
        ``artifacts/<path>.dvc`` (with a ``.gitignore`` beside it) and ``info`` to run.yaml."""
        with self._lock:
            self._pending.artifacts[path] = (pointer, {**info, "path": path})

    def add_inputs(self, inputs: list[dict[str, Any]]) -> None:
        """Record data inputs (path, hashes, where they came from)."""
        with self._lock:
            self._pending.inputs.extend(inputs)

    # -- writing ----------------------------------------------------------------------------
    def has_pending(self) -> bool:
        """Whether something was logged since the last checkpoint."""
        pending = self._pending
        return bool(pending.params or pending.tags or pending.points or pending.logs or pending.artifacts
                    or pending.inputs or pending.name or pending.end)  # fmt: skip

    def checkpoint(self, at: int | None = None) -> pygit2.Oid:
        """Commit everything pending (and refresh the heartbeat); returns the new commit id.
        ``at`` (epoch ms, default now) is the heartbeat written: a start record written for a
        process that is gone keeps its start time (``store.starts``)."""
        with self._commit_lock:
            with self._lock:
                pending, self._pending = self._pending, _Pending()
            try:
                return self._commit(pending, at)
            except BaseException:
                with self._lock:
                    pending.merge_back(self._pending)
                    self._pending = pending
                raise

    def write_unwritten(self, at: int | None = None) -> bool:
        """Write the first commit of a run made by ``unwritten``, heartbeat ``at`` (epoch ms,
        default now); False, writing nothing, when its ref exists already."""
        import pygit2

        with self._commit_lock:
            if self.repo.references.get(self.ref) is not None:
                return False
            with self._lock:
                pending, self._pending = self._pending, _Pending()
            state = self._apply(self._state, pending, at)
            try:
                self.repo.references.create(self.ref, state.written, force=False)
            except (pygit2.AlreadyExistsError, pygit2.GitError):
                return False
            self._state = state
            return True

    def finish(self, status: str, error: dict[str, str] | None = None, end_time: int | None = None) -> pygit2.Oid:
        """End the run with ``status`` (FINISHED, FAILED or KILLED) and write the final checkpoint
        (``end_time``, epoch ms, defaults to now: an import passes the recorded one)."""
        self.stop_heartbeat()
        with self._lock:
            end = now_ms() if end_time is None else end_time
            self._pending.end = {"status": status, "end_time": end, "error": error}
        return self.checkpoint()

    def move(self, experiment: str) -> None:
        """Put the RUNNING run in another experiment: its record says so and its ref becomes
        ``refs/runs/<experiment>/<run-id>`` (as when ``gittrack run`` named none and the script
        does). Other processes writing the run follow it there (``_current_target``)."""
        from gittrack._store.refbatch import delete_refs

        new_ref = naming.run_ref(experiment, self.run_id)
        with self._commit_lock:
            self.checkpoint()  # what was logged goes along; the move itself changes nothing else
            if new_ref == self.ref:
                return
            if self.repo.references.get(new_ref) is not None:
                raise ConflictError(f"run {short_id(self.run_id)}: {new_ref} exists already; not moving the run there")
            written = None
            for _attempt in range(_CAS_ATTEMPTS):
                current = self._current_target()
                state = self._state if current == self._state.commit else self._reload(current)
                moved = self._apply(replace(state, record=replace(state.record, experiment=experiment)), _Pending())
                if written is None:
                    self.repo.references.create(new_ref, moved.written, force=False)
                else:
                    self.repo.references[new_ref].set_target(moved.written)
                written = moved.written
                assert current is not None  # the run was checkpointed above: its ref was there
                if delete_refs(self.repo, {self.ref: current}):  # only if no one wrote the old ref meanwhile
                    self.ref, self.experiment, self._state = new_ref, experiment, moved
                    return
            raise ConflictError(f"run {short_id(self.run_id)}: {self.ref} keeps changing under us; not moved")

    def _commit(self, pending: _Pending, at: int | None = None) -> pygit2.Oid:
        import pygit2

        state = self._state
        for attempt in range(_CAS_ATTEMPTS):
            if attempt or state.commit is not None:  # a first commit needs no look: its ref is made only if absent
                current = self._current_target()
                if current != state.commit:
                    state = self._reload(current)
            new_state = self._apply(state, pending, at)
            try:
                if state.commit is None and self._publish is not None:
                    self._publish(self.ref, new_state.written)
                elif state.commit is None:
                    self.repo.references.create(self.ref, new_state.written, force=False)
                else:
                    ref = self.repo.references[self.ref]
                    if ref.target != state.commit:
                        continue
                    ref.set_target(new_state.written)
            except (pygit2.GitError, pygit2.AlreadyExistsError, KeyError):
                continue  # the ref moved between our read and our write: re-read and retry
            except OSError:  # another writer holds the ref's lock file this instant: wait a little, retry
                time.sleep(0.002 * (attempt + 1))
                continue
            self._state = new_state
            if self.on_written is not None:
                written, self.on_written = self.on_written, None
                written()
            return new_state.written
        raise ConflictError(f"run {short_id(self.run_id)}: the ref {self.ref} keeps changing under us; try again")

    def _current_target(self) -> pygit2.Oid | None:
        ref = self.repo.references.get(self.ref)
        if ref is None and self._state.commit is not None:
            moved = self._moved_to()
            if moved is not None:  # another process moved it to another experiment: follow it
                self.ref, self.experiment = moved
                return ref_oid(self.repo.references[self.ref])
            raise ConflictError(
                f"run {short_id(self.run_id)} was deleted by someone else ({self.ref}); not recreating it"
            )
        return ref_oid(ref) if ref is not None else None

    def _moved_to(self) -> tuple[str, str] | None:
        """``(ref, experiment)`` of this run under another experiment (see :meth:`move`), or None."""
        suffix = "/" + self.run_id
        for name in self.repo.references:
            if name.startswith(naming.RUNS_NAMESPACE) and name.endswith(suffix) and name != self.ref:
                try:
                    return name, naming.parse_run_ref(name)[0]
                except InvalidNameError:
                    continue
        return None

    def _reload(self, target: pygit2.Oid | None) -> _State:
        if target is None:
            raise ConflictError(f"run {short_id(self.run_id)}: {self.ref} disappeared; not recreating it")
        try:
            state = _State.load(self.repo, target)
        except MalformedRunError as exc:
            raise ConflictError(f"{self.ref} was replaced by a commit that is not this run ({exc})") from None
        if state.record.id != self.run_id:
            raise ConflictError(f"{self.ref} now holds run {state.record.id}, not {self.run_id}; nothing written")
        if state.record.status in ENDED:
            raise ImmutableRunError(
                f"run {short_id(self.run_id)} was ended ({state.record.status}) by another process; "
                "ended runs cannot change"
            )
        log.debug("run %s moved to %s by another writer; merging", self.run_id, target)
        return state

    def pending_record(self) -> RunRecord:
        """The record with the name, params, tags and inputs logged since the last checkpoint
        (not its metrics, artifacts or logs): what a start record keeps (``store.starts``)."""
        with self._lock:
            return self._merged(self._state.record, self._pending)

    def _merged(self, old: RunRecord, pending: _Pending) -> RunRecord:
        """``old`` with ``pending``'s name, params, tags and inputs (a copy: ``old`` is unchanged)."""
        record = replace(
            old,
            name=pending.name or old.name,
            params=dict(old.params),
            param_types=dict(old.param_types),
            tags={k: v for k, v in {**old.tags, **pending.tags}.items() if v is not None},
            metrics=dict(old.metrics),
            logs=dict(old.logs),
        )
        for key, (text, kind) in pending.params.items():
            known = record.params.get(key)
            if known is not None:
                if not _same_param((known, record.param_types.get(key, "str")), (text, kind)):
                    log.warning(
                        "gittrack: param %r of run %s is already %r; kept it, dropped %r", key, self.run_id, known, text
                    )
                continue
            record.params[key] = text
            record.param_types[key] = kind
        if pending.inputs:
            record.inputs = _merge_inputs(record.inputs, pending.inputs)
        return record

    def _apply(self, state: _State, pending: _Pending, at: int | None = None) -> _State:
        """A new state: ``state`` plus ``pending``, written as objects and a commit (no ref move)."""
        import pygit2

        repo = self.repo
        record = self._merged(state.record, pending)
        changes: Changes = {}
        tails = dict(state.tails)
        segments = dict(state.segments)
        for key, points in _group_points(pending.points).items():
            filename = naming.metric_filename(key)
            tail = state.tail(repo, filename) + metricfile.format_points(points)
            sealed = state.segment_count(repo, filename)
            while len(tail) > metricfile.SEGMENT_POINTS:
                sealed += 1
                blob = repo.create_blob(metricfile.encode_points(tail[: metricfile.SEGMENT_POINTS]))
                seg_path = f"{runfiles.METRICS}/{metricfile.segment_dir(filename)}/{metricfile.segment_name(sealed)}"
                changes[seg_path] = (blob, _blob_mode())
                tail = tail[metricfile.SEGMENT_POINTS :]
            tails[filename], segments[filename] = tail, sealed
            changes[f"{runfiles.METRICS}/{filename}"] = (repo.create_blob(metricfile.encode_points(tail)), _blob_mode())
            record.metrics[key] = _summarise(record.metrics.get(key), points)
        if pending.artifacts:
            record.artifacts = [a for a in record.artifacts if a.get("path") not in pending.artifacts]
            for path, (pointer, info) in pending.artifacts.items():
                changes[f"{runfiles.ARTIFACTS}/{path}.dvc"] = (repo.create_blob(pointer), _blob_mode())
                record.artifacts.append(info)
            for folder in {path.rpartition("/")[0] for path in pending.artifacts} | {""}:
                names = sorted(
                    a["path"].rpartition("/")[2] for a in record.artifacts if a["path"].rpartition("/")[0] == folder
                )
                # at the root, first re-include every folder and pointer: a project rule such as 'plots/'
                # must not hide the run's .dvc files from git (and so from 'dvc checkout'); then the data
                ignore = ("" if folder else ARTIFACT_REINCLUDE) + "".join(f"/{name}\n" for name in names)
                changes[f"{runfiles.ARTIFACTS}/{folder}/.gitignore".replace("//", "/")] = (
                    repo.create_blob(ignore.encode()),
                    _blob_mode(),
                )
        for name, (data, total) in pending.logs.items():
            changes[f"{runfiles.LOGS}/{name}.txt"] = (repo.create_blob(data), _blob_mode())
            record.logs[name] = {"bytes": total, "kept_bytes": len(data), "truncated": total > len(data)}
        now = now_ms() if at is None else at
        record.heartbeat = now
        if pending.end is not None:
            record.status = pending.end["status"]
            record.end_time = pending.end["end_time"]
            record.error = pending.end["error"]
        changes[runfiles.RUN_YAML] = (repo.create_blob(dump_record(record)), _blob_mode())
        changes[runfiles.SUMMARY] = (repo.create_blob(dump_summary(record)), _blob_mode())
        run_tree = apply_changes(repo, state.run_tree, changes)
        root = apply_changes(repo, state.snapshot_tree, {RUN_DIR: (run_tree, pygit2.GIT_FILEMODE_TREE)})
        author = state.author
        committer = signature(author.name, author.email, now)
        commit = repo.create_commit(None, author, committer, commit_message(record), root, state.parents)
        return _State(commit, state.snapshot_tree, run_tree, state.parents, author, record, tails, segments)

    # -- heartbeat --------------------------------------------------------------------------
    def start_heartbeat(self) -> None:
        """Checkpoint in the background every ``interval`` seconds, idle or not (one thread per
        process checkpoints every run: ``_Heartbeats``)."""
        _heartbeats.add(self)

    def stop_heartbeat(self) -> None:
        """Stop the background checkpoints (waiting for one in progress)."""
        _heartbeats.remove(self)

    def _beat(self) -> bool:
        """One background checkpoint; False when it failed (the error is raised on the next write)."""
        try:
            self.checkpoint()
        except Exception as exc:  # noqa: BLE001 - reported, then raised again on the next write
            self.background_error = exc
            log.warning("gittrack: checkpoint of run %s failed: %s", short_id(self.run_id), exc)
            return False
        return True


class _Heartbeats:
    """The one thread that checkpoints every active run of the process at its interval (a thread
    per run cost more to start than the rest of a short run)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._due: dict[RunWriter, float] = {}  # writer -> time.monotonic() of its next checkpoint
        self._busy: RunWriter | None = None
        self._thread: threading.Thread | None = None
        self._sleeping_until = float("inf")  # when the thread wakes up next (waking it costs a GIL handover)
        self._idle = DEFAULT_CHECKPOINT_INTERVAL  # how long it sleeps with no run: the last run's interval

    def add(self, writer: RunWriter) -> None:
        with self._cond:
            if writer in self._due:
                return
            due = self._due[writer] = time.monotonic() + writer.interval
            self._idle = writer.interval  # so that an idle wake-up comes before the next run's first checkpoint
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="gittrack-heartbeat", daemon=True)
                self._thread.start()
            elif due < self._sleeping_until:
                self._cond.notify_all()

    def wake(self, writer: RunWriter) -> None:
        """Checkpoint ``writer`` now (many points are buffered)."""
        with self._cond:
            if writer in self._due and writer is not self._busy:
                self._due[writer] = 0.0
                self._sleeping_until = 0.0
                self._cond.notify_all()

    def remove(self, writer: RunWriter) -> None:
        """No more background checkpoints of ``writer``; returns once one in progress is done."""
        with self._cond:
            self._due.pop(writer, None)
            while self._busy is writer and threading.current_thread() is not self._thread:
                self._cond.wait()

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    if not self._due:  # sleep anyway no longer than a run's interval: a run started meanwhile
                        self._sleeping_until = time.monotonic() + self._idle  # is then due later, no need to wake
                        self._cond.wait(self._idle)  # the thread up (see add)
                        continue
                    writer, due = min(self._due.items(), key=lambda item: item[1])
                    wait = due - time.monotonic()
                    if wait <= 0:
                        break
                    self._sleeping_until = due
                    self._cond.wait(wait)
                self._sleeping_until = 0.0  # busy: a run added now is seen when this checkpoint is done
                self._busy = writer
                self._due[writer] = float("inf")  # rescheduled once this checkpoint is done
            beating = writer._beat()
            with self._cond:
                self._busy = None
                if writer in self._due:
                    if beating:
                        self._due[writer] = time.monotonic() + writer.interval
                    else:
                        del self._due[writer]
                self._cond.notify_all()


_heartbeats = _Heartbeats()


def _after_fork() -> None:
    """A forked child has no heartbeat thread (and maybe a held lock): it starts afresh."""
    global _heartbeats
    _heartbeats = _Heartbeats()


os.register_at_fork(after_in_child=_after_fork)


ARTIFACT_REINCLUDE = "!*/\n!*.dvc\n!.gitignore\n"

_first_run_trees: dict[tuple[str, pygit2.Oid], pygit2.Oid] = {}  # (git dir, requirements blob) -> tree


def _first_run_tree(repo: pygit2.Repository, requirements: pygit2.Oid) -> pygit2.Oid:
    """The ``.gittrack/run`` tree a run starts with (its requirements only): the same for every run
    of an interpreter, so written once per process (writing an object that exists still costs)."""
    key = (repo.path, requirements)
    tree = _first_run_trees.get(key)
    if tree is None or tree not in repo.odb:
        tree = _first_run_trees[key] = apply_changes(repo, None, {runfiles.REQUIREMENTS: (requirements, _blob_mode())})
    return tree


def _blob_mode() -> int:
    import pygit2

    return pygit2.GIT_FILEMODE_BLOB


def _merge_inputs(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Inputs by (path, source): a later record of the same input replaces the earlier one. A
    dataset (a record with a digest) is one input per name and digest, recorded with its first
    context, as MLflow keeps a dataset logged twice to a run."""
    merged: dict[tuple[Any, ...], dict[str, Any]] = {}
    for item in [*old, *new]:
        if item.get("digest") is None:
            merged[(item.get("path"), item.get("source"))] = item
        else:
            merged.setdefault(("dataset", item.get("name"), item.get("digest")), item)
    return list(merged.values())


def _group_points(points: list[Any]) -> dict[str, list[tuple[int, int, float]]]:
    """The pending points by key, in logged order (see ``_Pending.points``)."""
    grouped: dict[str, list[tuple[int, int, float]]] = {}
    for item in points:
        if len(item) == 2:
            grouped.setdefault(item[0], []).extend(item[1])
        else:
            grouped.setdefault(item[0], []).append(item[1:])
    return grouped


def _latest_key(point: tuple[int, int, float]) -> tuple[int, int, float]:
    step, timestamp, value = point
    return (step, timestamp, value if value == value else -math.inf)  # MetricSummary.sort_key: NaN lowest


def _summarise(old: MetricSummary | None, points: list[tuple[int, int, float]]) -> MetricSummary:
    """Fold new points into a metric's summary: latest = max by (step, timestamp, value), the
    later of equal points (and a new point over an equal old one)."""
    values = list(map(itemgetter(2), points))
    if any(map(math.isnan, values)):
        values = [value for value in values if value == value]
        latest = max(reversed(points), key=_latest_key)  # reversed: max keeps the first of equals
    else:  # no NaN: the points' own order is the order wanted
        latest = max(reversed(points))
    if old is not None and _latest_key(latest) < old.sort_key():
        value, step, timestamp = old.value, old.step, old.timestamp
    else:
        step, timestamp, value = latest
    low, high = (old.min, old.max) if old is not None else (None, None)
    if values:
        low = min(values) if low is None else min(low, min(values))
        high = max(values) if high is None else max(high, max(values))
    count = (old.count if old else 0) + len(points)
    return MetricSummary(value, step, timestamp, count, low, high)


def commit_message(record: RunRecord) -> str:
    """``run <name> <id8> [<status>] <first metric>=<value>`` plus the gittrack trailers."""
    headline = f"run {record.name} {short_id(record.id)} [{record.status}]"
    if record.metrics:
        key, summary = next(iter(record.metrics.items()))
        headline += f" {key}={summary.value:.6g}"
    return f"{headline}\n\nGittrack-Run: {record.id}\nGittrack-Experiment: {record.experiment}\n"
