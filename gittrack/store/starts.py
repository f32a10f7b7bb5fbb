"""Start records: runs started whose first commit is not written yet.

A run started through the fluent API gets its first commit at its first checkpoint, or at its
end when that comes sooner, so a short run is one commit (docs/format.md, "Start records").
Until then:

- this process's readers see it: everything that lists or resolves runs calls ``publish`` first,
  which writes the first commit of this process's unwritten runs of that repository;
- a process killed before the commit leaves the run's start record,
  ``.git/gittrack/starts/<run-id>.json``; ``publish`` in any later process of this clone writes
  the run from it (RUNNING at its start time, so readers show it KILLED) once its process is gone.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import weakref
from typing import TYPE_CHECKING, Any

from gittrack.errors import GittrackError, MalformedRunError
from gittrack.store import naming, rules
from gittrack.store.liveness import effective_status
from gittrack.store.record import RUNNING, RunRecord, dump_summary, parse_summary
from gittrack.store.repo import common_dir
from gittrack.store.writer import RunWriter

if TYPE_CHECKING:
    import pygit2

log = logging.getLogger("gittrack")

FORMAT = "gittrack-start 1"
MAX_START_RECORD_BYTES = 64 * 1024 * 1024

# common git dir -> the runs this process started there and has not written yet
_unwritten: dict[str, weakref.WeakSet[RunWriter]] = {}
_lock = threading.Lock()
_folders: dict[str, str] = {}  # git dir -> the folder of its start records


def _forget_parents_runs() -> None:
    """A forked child does not write its parent's runs (it has copies of their writers)."""
    with contextlib.suppress(RuntimeError):
        _unwritten.clear()


os.register_at_fork(after_in_child=_forget_parents_runs)


def _folder(repo: pygit2.Repository) -> str:
    """``gittrack/starts`` in the git dir the work trees share (run refs are shared too)."""
    folder = _folders.get(repo.path)
    if folder is None:
        folder = _folders[repo.path] = os.path.join(common_dir(repo), "gittrack", "starts")
    return folder


def write_start_record(path: str, ref: str, record: RunRecord, snapshot_tree: pygit2.Oid, run_tree: pygit2.Oid,
                       parents: list[pygit2.Oid], author: pygit2.Signature) -> None:  # fmt: skip
    """Write a start record (JSON, replaced atomically)."""
    doc = {
        "format": FORMAT,
        "ref": ref,
        "summary": dump_summary(record).decode("utf-8"),
        "snapshot": str(snapshot_tree),
        "run_tree": str(run_tree),
        "parents": [str(parent) for parent in parents],
        "author": {"name": author.name, "email": author.email, "time": author.time, "offset": author.offset},
    }
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        file = open(tmp, "w", encoding="utf-8")  # noqa: SIM115 - opened again below when its folder is missing
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        file = open(tmp, "w", encoding="utf-8")  # noqa: SIM115
    with file:
        file.write(text)
    os.replace(tmp, path)


def read_start_record(path: str) -> tuple[str, RunRecord, pygit2.Oid, pygit2.Oid, list[pygit2.Oid], pygit2.Signature]:
    """(ref, record, snapshot tree, run tree, parents, author) of a start record; a record that
    is not one raises ``MalformedRunError``."""
    import pygit2

    with open(path, "rb") as file:
        data = file.read(MAX_START_RECORD_BYTES + 1)
    if len(data) > MAX_START_RECORD_BYTES:
        raise MalformedRunError(f"is over {MAX_START_RECORD_BYTES} bytes")
    try:
        doc: Any = json.loads(data)
        if doc["format"] != FORMAT:
            raise MalformedRunError(f"has format {doc['format']!r}, not {FORMAT!r}")
        ref = doc["ref"]
        experiment, run_id = naming.parse_run_ref(ref)
        record = parse_summary(doc["summary"].encode("utf-8"), "its summary")
        rules.check_named(record, experiment, run_id)
        author = doc["author"]
        signature = pygit2.Signature(author["name"], author["email"], int(author["time"]), int(author["offset"]))
        oids = [pygit2.Oid(hex=text) for text in (doc["snapshot"], doc["run_tree"], *doc["parents"])]
    except (ValueError, KeyError, TypeError, AttributeError, GittrackError) as exc:
        raise MalformedRunError(f"is not a start record ({exc})") from None
    return ref, record, oids[0], oids[1], oids[2:], signature


def begin(writer: RunWriter) -> None:
    """Leave ``writer``'s first commit to its first checkpoint: write its start record, and let
    this process's readers write the run when they look for runs (``publish``)."""
    repo = writer.repo
    path = os.path.join(_folder(repo), f"{writer.run_id}.json")
    write_start_record(path, writer.ref, writer.pending_record(), *writer.start_state)
    key = common_dir(repo)
    with _lock:
        _unwritten.setdefault(key, weakref.WeakSet()).add(writer)

    def written() -> None:
        with _lock:
            _unwritten[key].discard(writer)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)

    writer.on_written = written


def publish(repo: pygit2.Repository) -> None:
    """Write the first commit of every run of ``repo`` that this process started and has not
    written yet, and of every run whose start record a process that is gone left behind."""
    key = common_dir(repo)
    with _lock:
        mine = list(_unwritten.get(key, ()))
    for writer in mine:
        if writer.commit is None:
            try:
                writer.checkpoint()
            except GittrackError as exc:  # the writer reports it itself on its next write
                log.debug("gittrack: could not write run %s yet: %s", writer.run_id, exc)
    _recover(repo, {writer.run_id for writer in mine})


def _recover(repo: pygit2.Repository, skip: set[str]) -> None:
    """Write the runs of start records left by processes that are gone, then remove the records."""
    folder = _folder(repo)
    try:
        names = os.listdir(folder)
    except OSError:
        return
    import pygit2

    for name in names:
        run_id, _, suffix = name.partition(".")
        if suffix != "json" or run_id in skip:
            continue
        path = os.path.join(folder, name)
        try:
            ref, record, snapshot, run_tree, parents, author = read_start_record(path)
        except FileNotFoundError:
            continue  # written meanwhile
        except (OSError, MalformedRunError) as exc:
            log.warning("gittrack: removed the start record %s: it %s", path, exc)
            with contextlib.suppress(OSError):
                os.unlink(path)
            continue
        if record.status == RUNNING and effective_status(record) == RUNNING:
            continue  # its process is alive and will write it at its first checkpoint
        writer = RunWriter.unwritten(repo, ref, record, snapshot, run_tree, parents, author)
        try:
            writer.write_unwritten(record.heartbeat)
        except (GittrackError, KeyError, pygit2.GitError) as exc:  # e.g. its snapshot's objects are gone
            log.warning("gittrack: could not write %s from its start record: %s", ref, exc)
        with contextlib.suppress(OSError):
            os.unlink(path)
