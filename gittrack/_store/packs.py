"""Packed runs: per-experiment index refs that hold many ended runs without a ref each (DESIGN §6).

``refs/runs-index/<encoded experiment>`` points at a chain of index commits. Each one has the
previous index commit as first parent and the run commits it packed as further parents, so
those stay reachable and travel with the ref. Its tree holds ``FORMAT`` and ``runs/*.jsonl``
batches; every batch line is ``<run-id> <commit> <summary.json bytes>``, the summary being the
run commit's own ``summary.json`` byte for byte (so it can be checked against the commit).
Packs grow only: two index commits merge by the union of their batches, never conflict.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gittrack._store import naming
from gittrack._store.ids import RUN_ID_PATTERN
from gittrack._store.limits import (
    MAX_BATCH_BYTES,
    MAX_BATCH_LINES,
    MAX_BATCHES,
    MAX_INDEX_BYTES,
    MAX_INDEX_RUNS,
    MAX_PROBLEMS,
)
from gittrack._store.repo import identity, signature
from gittrack._store.timefmt import now_ms
from gittrack.errors import ConflictError, GittrackError, InvalidNameError, MalformedRunError

if TYPE_CHECKING:
    import pygit2

INDEX_NAMESPACE = "refs/runs-index/"
FORMAT = b"gittrack-run-index 1\n"
BATCH_DIR = "runs"
BATCH_RUNS = 1000  # runs per index commit (its parent count) and per batch blob


@dataclass(frozen=True)
class PackedRun:
    """One run held by an index: its id, commit (hex) and the bytes of its ``summary.json``."""

    run_id: str
    commit: str
    summary: bytes


@dataclass(frozen=True)
class Index:
    """One experiment's index as read from its tip: runs by id, and lines that could not be read."""

    experiment: str
    tip: str
    runs: dict[str, PackedRun]
    problems: list[str]
    others: dict[str, list[PackedRun]] = field(default_factory=dict)
    """Further lines of runs listed more than once (with another commit or summary), so that a
    reader of an untrusted index can check every one before choosing; ``runs`` keeps the first."""

    def lines_of(self, run_id: str) -> list[PackedRun]:
        """Every line the index holds for a run, the kept one first."""
        first = self.runs.get(run_id)
        return [] if first is None else [first, *self.others.get(run_id, ())]


def index_ref(experiment: str) -> str:
    """The index ref of one experiment."""
    return INDEX_NAMESPACE + naming.encode_component(naming.validate_experiment(experiment))


def experiment_of(ref_name: str) -> str:
    """The experiment an index ref name encodes; ``InvalidNameError`` if it is not one."""
    component = ref_name[len(INDEX_NAMESPACE) :]
    if not ref_name.startswith(INDEX_NAMESPACE) or not component or "/" in component:
        raise InvalidNameError(f"'{ref_name}' is not of the form {INDEX_NAMESPACE}<experiment>")
    return naming.decode_component(component)


def tips(repo: pygit2.Repository, prefix: str = INDEX_NAMESPACE) -> dict[str, pygit2.Oid]:
    """Every index ref under ``prefix``: name -> tip commit (symbolic refs are ignored)."""
    out = {}
    for ref in repo.references.iterator():
        if ref.name.startswith(prefix) and not isinstance(ref.target, str):
            out[ref.name] = ref.target
    return out


def _batches(repo: pygit2.Repository, tip: pygit2.Oid, what: str) -> pygit2.Tree | None:
    """The ``runs/`` tree of an index commit (None if it has none); checks the format marker."""
    import pygit2

    commit = repo.get(tip)
    if not isinstance(commit, pygit2.Commit):
        raise MalformedRunError(f"{what} does not point at a commit")
    tree = commit.tree
    try:
        marker = repo[tree["FORMAT"].id]
    except KeyError:
        raise MalformedRunError(f"{what} has no FORMAT file; it is not a gittrack run index") from None
    if not isinstance(marker, pygit2.Blob) or marker.data != FORMAT:
        raise MalformedRunError(f"{what} is of another format; upgrade gittrack to read it")
    try:
        batches = repo[tree[BATCH_DIR].id]
    except KeyError:
        return None
    if not isinstance(batches, pygit2.Tree) or len(batches) > MAX_BATCHES:
        raise MalformedRunError(f"{what}: '{BATCH_DIR}' is not a folder of at most {MAX_BATCHES} batches")
    return batches


def _batch_lines(repo: pygit2.Repository, entry: pygit2.Object, what: str) -> list[bytes]:
    import pygit2

    kind, size = repo.odb.read_header(entry.id)
    if kind != pygit2.enums.ObjectType.BLOB or size > MAX_BATCH_BYTES:
        raise MalformedRunError(f"{what}: batch {entry.name} is not a file of at most {MAX_BATCH_BYTES} bytes")
    data = repo.odb.read(entry.id)[1]
    if data.count(b"\n") > MAX_BATCH_LINES:
        raise MalformedRunError(f"{what}: batch {entry.name} holds more than {MAX_BATCH_LINES} lines")
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    return lines


def _check_size(repo: pygit2.Repository, batches: pygit2.Tree, what: str) -> None:
    """Refuse an index whose batches add up to more than ``MAX_INDEX_BYTES`` before reading one."""
    total = 0
    for entry in batches:
        total += repo.odb.read_header(entry.id)[1]
        if total > MAX_INDEX_BYTES:
            raise MalformedRunError(f"{what} holds more than {MAX_INDEX_BYTES} bytes of run summaries")


_LINE = re.compile(rf"({RUN_ID_PATTERN}) ([0-9a-f]{{40}}|[0-9a-f]{{64}}) (\{{.*)".encode(), re.DOTALL)


def parse_line(line: bytes) -> PackedRun:
    """One batch line; ``MalformedRunError`` unless it is ``<run-id> <commit> <json>``."""
    match = _LINE.fullmatch(line)
    if match is None:
        raise MalformedRunError(f"a line is not '<run-id> <commit> <summary json>': {line[:60]!r}")
    return PackedRun(match[1].decode("ascii"), match[2].decode("ascii"), match[3])


def read_index(repo: pygit2.Repository, ref_name: str, tip: pygit2.Oid) -> Index:
    """Every run an index holds (a run listed twice with two commits keeps the first, sorted by
    batch name, and is reported); a malformed index yields no runs and one problem."""
    experiment = experiment_of(ref_name)
    runs: dict[str, PackedRun] = {}
    others: dict[str, list[PackedRun]] = {}
    problems: list[str] = []
    lines = 0
    try:
        batches = _batches(repo, tip, ref_name)
        if batches is not None:
            _check_size(repo, batches, ref_name)
        for entry in sorted(batches or (), key=lambda e: e.name):
            batch = _batch_lines(repo, entry, ref_name)
            lines += len(batch)
            if lines > MAX_INDEX_RUNS:
                raise MalformedRunError(f"{ref_name} holds more than {MAX_INDEX_RUNS} lines")
            for line in batch:
                try:
                    run = parse_line(line)
                except MalformedRunError as exc:
                    problems.append(f"{ref_name}: batch {entry.name}: {exc}")
                    continue
                seen = runs.setdefault(run.run_id, run)
                if seen == run or run in others.get(run.run_id, ()):
                    continue
                others.setdefault(run.run_id, []).append(run)
                if seen.commit != run.commit:
                    problems.append(f"{ref_name}: run {run.run_id} is packed with two commits; kept {seen.commit}")
                else:
                    problems.append(f"{ref_name}: run {run.run_id} is packed twice with two summaries")
    except MalformedRunError as exc:
        return Index(experiment, str(tip), {}, [str(exc)])
    if len(problems) > MAX_PROBLEMS:  # a hostile index must not flood the warnings
        problems[MAX_PROBLEMS:] = [f"{ref_name}: {len(problems) - MAX_PROBLEMS} more malformed lines"]
    return Index(experiment, str(tip), runs, problems, others)


def read_all(repo: pygit2.Repository) -> list[Index]:
    """The indexes of every experiment."""
    return [read_named(repo, name, tip) for name, tip in sorted(tips(repo).items())]


def read_named(repo: pygit2.Repository, ref_name: str, tip: pygit2.Oid) -> Index:
    """One index by ref name; a name that is not an index ref gives an empty index and a problem."""
    try:
        return read_index(repo, ref_name, tip)
    except InvalidNameError as exc:
        return Index("", str(tip), {}, [f"{ref_name}: not a valid index ref ({exc})"])


def _blob_for(repo: pygit2.Repository, runs: Iterable[PackedRun]) -> tuple[str, pygit2.Oid]:
    data = b"".join(b"%s %s %s\n" % (r.run_id.encode(), r.commit.encode(), r.summary) for r in runs)
    oid = repo.create_blob(data)
    return f"{oid}.runs", oid


def _commit(repo: pygit2.Repository, tree: pygit2.Oid, parents: list[pygit2.Oid], message: str) -> pygit2.Oid:
    name, email = identity(repo)
    who = signature(name, email, now_ms())
    return repo.create_commit(None, who, who, message, tree, parents)


def _tree_with(repo: pygit2.Repository, base: pygit2.Oid | None, batches: dict[str, pygit2.Oid]) -> pygit2.Oid:
    """The index tree ``base`` (None: empty) with ``batches`` (name -> blob) added to ``runs/``."""
    import pygit2

    from gittrack._store.trees import apply_changes

    changes: dict[str, tuple[pygit2.Oid, int] | None] = {
        f"{BATCH_DIR}/{name}": (oid, pygit2.GIT_FILEMODE_BLOB) for name, oid in batches.items()
    }
    changes["FORMAT"] = (repo.create_blob(FORMAT), pygit2.GIT_FILEMODE_BLOB)
    return apply_changes(repo, base, changes)


def append(
    repo: pygit2.Repository, experiment: str, tip: pygit2.Oid | None, runs: list[PackedRun]
) -> pygit2.Oid | None:
    """Index commits on top of ``tip`` (None: a new root commit) adding ``runs``, one per
    ``BATCH_RUNS``; returns the new tip (``tip`` itself when there is nothing to add). Refs are
    not touched."""
    import pygit2

    if not runs:
        return tip
    if tip is None:  # a root commit first, so the first-parent chain holds only index commits
        tip = _commit(repo, _tree_with(repo, None, {}), [], f"gittrack: start the run index of {experiment}")
    for start in range(0, len(runs), BATCH_RUNS):
        chunk = runs[start : start + BATCH_RUNS]
        name, blob = _blob_for(repo, chunk)
        tree = _tree_with(repo, repo[tip].peel(pygit2.Commit).tree_id, {name: blob})
        parents = [tip] + [pygit2.Oid(hex=r.commit) for r in chunk]
        tip = _commit(repo, tree, parents, f"gittrack: pack {len(chunk)} runs of {experiment}")
    return tip


def union(repo: pygit2.Repository, experiment: str, ours: pygit2.Oid | None, theirs: pygit2.Oid) -> pygit2.Oid:
    """The union of two index tips (theirs checked run by run already): theirs when it holds ours,
    ours when it holds theirs, else a merge commit whose tree has both sides' batches."""
    import pygit2

    if ours is not None and (ours == theirs or repo.descendant_of(ours, theirs)):
        return ours
    if ours is None or repo.descendant_of(theirs, ours):
        return theirs
    ref_name = index_ref(experiment)
    have = {entry.name for entry in _batches(repo, ours, ref_name) or ()}
    added = {
        entry.name: entry.id
        for entry in _batches(repo, theirs, ref_name) or ()
        if entry.name is not None and entry.name not in have
    }
    tree = _tree_with(repo, repo[ours].peel(pygit2.Commit).tree_id, added)
    return _commit(repo, tree, [ours, theirs], f"gittrack: merge run indexes of {experiment}")


def move(repo: pygit2.Repository, ref_name: str, old: pygit2.Oid | None, new: pygit2.Oid) -> None:
    """Point ``ref_name`` at ``new`` only if it still points at ``old`` (None: does not exist)."""
    import pygit2

    if old == new:
        return
    try:
        if old is None:
            repo.references.create(ref_name, new, force=False)
            return
        ref = repo.references[ref_name]
        if ref.target == old:
            ref.set_target(new, f"gittrack: index {str(new)[:12]}")
            return
    except (pygit2.AlreadyExistsError, KeyError, GittrackError):
        pass
    raise ConflictError(f"{ref_name} changed while gittrack was updating it; run the command again")
