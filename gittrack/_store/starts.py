"""Start records: runs started whose first commit is not written yet.

A run started through the fluent API gets its first commit at its first checkpoint, or at its
end when that comes sooner, so a short run is one commit (docs/format.md, "Start records").
Until then:

- this process's readers see it: everything that lists or resolves runs calls ``publish`` first,
  which writes the first commit of this process's unwritten runs of that repository;
- the process keeps the run's start record in its file of start records,
  ``.git/gittrack/starts/<pid>-<random>.json``, rewritten in place (creating and removing a file
  per run cost up to a tenth of a short run); a process killed before the run's commit leaves the
  record there, and ``publish`` in any later process of this clone writes the run from it
  (RUNNING at its start time, so readers show it KILLED) once that process is gone.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import socket
import threading
import time
import weakref
from typing import TYPE_CHECKING, Any

from gittrack._store import naming, rules
from gittrack._store.liveness import STALE_GRACE_MS, effective_status, pid_alive
from gittrack._store.record import RUNNING, RunRecord, dump_summary, parse_summary
from gittrack._store.repo import common_dir
from gittrack._store.writer import RunWriter
from gittrack.errors import GittrackError, MalformedRunError

if TYPE_CHECKING:
    import pygit2

log = logging.getLogger("gittrack")

FORMAT = "gittrack-start 1"
MAX_START_RECORDS_BYTES = 64 * 1024 * 1024

# (ref, record, snapshot tree, run tree, parents, author): what a run's first commit is made from
Start = tuple[str, RunRecord, "pygit2.Oid", "pygit2.Oid", list["pygit2.Oid"], "pygit2.Signature"]


def dump_start_records(starts: list[Start]) -> bytes:
    """A file of start records (JSON; ``load_start_records`` reads it back)."""
    runs = [
        {
            "ref": ref,
            "summary": dump_summary(record).decode("utf-8"),
            "snapshot": str(snapshot),
            "run_tree": str(run_tree),
            "parents": [str(parent) for parent in parents],
            "author": {"name": author.name, "email": author.email, "time": author.time, "offset": author.offset},
        }
        for ref, record, snapshot, run_tree, parents, author in starts
    ]
    return json.dumps({"format": FORMAT, "runs": runs}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def load_start_records(data: bytes) -> list[Start]:
    """The start records of a file (trailing spaces allowed); anything else raises
    ``MalformedRunError``."""
    import pygit2

    if len(data) > MAX_START_RECORDS_BYTES:
        raise MalformedRunError(f"is over {MAX_START_RECORDS_BYTES} bytes")
    try:
        doc: Any = json.loads(data)
        if doc["format"] != FORMAT:
            raise MalformedRunError(f"has format {doc['format']!r}, not {FORMAT!r}")
        starts = []
        for run in doc["runs"]:
            ref = run["ref"]
            experiment, run_id = naming.parse_run_ref(ref)
            record = parse_summary(run["summary"].encode("utf-8"), "its summary")
            rules.check_named(record, experiment, run_id)
            author = run["author"]
            signature = pygit2.Signature(author["name"], author["email"], int(author["time"]), int(author["offset"]))
            snapshot, run_tree, *parents = (pygit2.Oid(hex=text) for text in (run["snapshot"], run["run_tree"],
                                                                               *run["parents"]))  # fmt: skip
            starts.append((ref, record, snapshot, run_tree, parents, signature))
    except (ValueError, KeyError, TypeError, AttributeError, GittrackError) as exc:
        raise MalformedRunError(f"is not a file of start records ({exc})") from None
    return starts


class _File:
    """This process's file of start records in one folder, rewritten in place: never truncated,
    padded with spaces to its longest content, so a run costs two writes and no file made or
    removed (the file goes at exit, once empty)."""

    def __init__(self, folder: str) -> None:
        self.path = os.path.join(folder, f"{os.getpid()}-{os.urandom(4).hex()}.json")
        self.fd: int | None = None
        self.size = 0
        self.starts: dict[str, Start] = {}  # run id -> its start

    def put(self, run_id: str, start: Start) -> None:
        self.starts[run_id] = start
        self._write()

    def drop(self, run_id: str) -> None:
        if self.starts.pop(run_id, None) is not None:
            self._write()

    def _write(self) -> None:
        data = dump_start_records(list(self.starts.values()))
        if self.fd is None:
            try:
                self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
            except FileNotFoundError:
                os.makedirs(os.path.dirname(self.path), exist_ok=True)
                self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        os.pwrite(self.fd, data + b" " * (self.size - len(data)), 0)
        self.size = max(self.size, len(data))

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
            if not self.starts:
                with contextlib.suppress(OSError):
                    os.unlink(self.path)


# common git dir -> the runs this process started there and has not written yet, and its file
_unwritten: dict[str, weakref.WeakSet[RunWriter]] = {}
_files: dict[str, _File] = {}
_lock = threading.Lock()


def _close_files() -> None:
    with _lock:
        for file in _files.values():
            file.close()
        _files.clear()


atexit.register(_close_files)  # after the API's own exit handlers (registered later, run sooner) end the runs


def _forget_parents_runs() -> None:
    """A forked child neither writes its parent's runs (it has copies of their writers) nor
    touches its parent's file of start records."""
    global _lock
    _lock = threading.Lock()
    _unwritten.clear()
    _files.clear()


os.register_at_fork(after_in_child=_forget_parents_runs)


def _folder(repo: pygit2.Repository) -> str:
    """``gittrack/starts`` in the git dir the work trees share (run refs are shared too)."""
    return os.path.join(common_dir(repo), "gittrack", "starts")


def begin(writer: RunWriter) -> RunRecord:
    """Leave ``writer``'s first commit to its first checkpoint: keep its start record, and let
    this process's readers write the run when they look for runs (``publish``). Returns the
    record kept (``writer.pending_record()``)."""
    repo = writer.repo
    key = common_dir(repo)
    record = writer.pending_record()
    start = (writer.ref, record, *writer.start_state)
    with _lock:
        file = _files.get(key)
        if file is None:
            file = _files[key] = _File(_folder(repo))
        file.put(writer.run_id, start)
        _unwritten.setdefault(key, weakref.WeakSet()).add(writer)

    def written() -> None:
        with _lock:
            _unwritten[key].discard(writer)
            file.drop(writer.run_id)

    writer.on_written = written
    return record


def publish(repo: pygit2.Repository) -> None:
    """Write the first commit of every run of ``repo`` that this process started and has not
    written yet, and of every run whose start record a process that is gone left behind."""
    key = common_dir(repo)
    with _lock:
        mine = list(_unwritten.get(key, ()))
        own = _files.get(key)
    for writer in mine:
        if writer.commit is None:
            try:
                writer.checkpoint()
            except GittrackError as exc:  # the writer reports it itself on its next write
                log.debug("gittrack: could not write run %s yet: %s", writer.run_id, exc)
    _recover(repo, own.path if own is not None else None)


def _recover(repo: pygit2.Repository, own: str | None) -> None:
    """Write the runs of the files of start records that processes now gone left, then remove them."""
    folder = _folder(repo)
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        path = os.path.join(folder, name)
        if not name.endswith(".json") or path == own:
            continue
        try:
            with open(path, "rb") as file:
                data = file.read(MAX_START_RECORDS_BYTES + 1)
            starts = load_start_records(data)
        except FileNotFoundError:
            continue  # removed meanwhile
        except (OSError, MalformedRunError) as exc:
            _remove_if_old(path, exc)
            continue
        if _alive(name, [record for _, record, *_ in starts]):
            continue  # its process writes them at their first checkpoints
        for ref, record, snapshot, run_tree, parents, author in starts:
            _write(repo, ref, record, snapshot, run_tree, parents, author)
        with contextlib.suppress(OSError):
            os.unlink(path)


def _alive(name: str, records: list[RunRecord]) -> bool:
    """Whether the process that keeps the file ``name`` (``<pid>-<random>.json``) may still be
    running: its pid exists, for a file of this host (or empty); by the liveness rules, for a
    file of another host (a repository on a shared file system)."""
    here = socket.gethostname()
    if any(record.host != here for record in records):
        return any(record.status == RUNNING and effective_status(record) == RUNNING for record in records)
    pid = name.partition("-")[0]
    return pid.isdigit() and pid_alive(int(pid))


def _write(
    repo: pygit2.Repository,
    ref: str,
    record: RunRecord,
    snapshot: pygit2.Oid,
    run_tree: pygit2.Oid,
    parents: list[pygit2.Oid],
    author: pygit2.Signature,
) -> None:
    """Write a run from its start record, unless its ref exists already."""
    import pygit2

    writer = RunWriter.unwritten(repo, ref, record, snapshot, run_tree, parents, author)
    try:
        writer.write_unwritten(record.heartbeat)
    except (GittrackError, KeyError, pygit2.GitError) as exc:  # e.g. its snapshot's objects are gone
        log.warning("gittrack: could not write %s from its start record: %s", ref, exc)


def _remove_if_old(path: str, problem: Exception) -> None:
    """Remove an unreadable file of start records once nothing can be writing it any more (a file
    being written may be read half-way)."""
    try:
        age_ms = time.time() * 1000 - os.stat(path).st_mtime * 1000
    except OSError:
        return
    if age_ms > STALE_GRACE_MS * 10:
        log.warning("gittrack: removed the file of start records %s: it %s", path, problem)
        with contextlib.suppress(OSError):
            os.unlink(path)
