"""Packing ended runs into their experiment's index ref, and taking in indexes from a remote.

Packing writes the index commits first and moves the index ref with compare-and-swap; only then
are the packed runs' own refs removed, each only if it still points at the packed commit. A
crash in between leaves runs both packed and with a ref, which readers treat as one run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gittrack._store import naming, packs, rules, runfiles
from gittrack._store.limits import MAX_PROBLEMS
from gittrack._store.record import ENDED
from gittrack._store.refbatch import delete_refs
from gittrack._store.repo import ref_oid
from gittrack._store.runstore import RunRef, RunStore
from gittrack.errors import GittrackError

if TYPE_CHECKING:
    import pygit2

Progress = Callable[[int, int], None]


@dataclass
class PackReport:
    """What a pack did: runs packed per experiment, refs removed, runs left out and why."""

    packed: dict[str, int] = field(default_factory=dict)
    refs_removed: int = 0
    skipped: list[str] = field(default_factory=list)


def pack_runs(
    repo: pygit2.Repository, experiments: list[str] | None = None, progress: Progress | None = None
) -> PackReport:
    """Pack every ended run with a ref of its own (of ``experiments`` if given) into index refs."""
    store = RunStore(repo)
    report = PackReport()
    refs, problems = store.refs(packed=False)
    report.skipped.extend(problems)
    wanted = None if experiments is None else {naming.validate_experiment(e) for e in experiments}
    by_experiment: dict[str, list[RunRef]] = {}
    for ref in refs:
        if wanted is None or ref.experiment in wanted:
            by_experiment.setdefault(ref.experiment, []).append(ref)
    total = sum(len(v) for v in by_experiment.values())
    done = 0
    for experiment, candidates in sorted(by_experiment.items()):
        name = packs.index_ref(experiment)
        current = repo.references.get(name)
        tip = ref_oid(current) if current is not None else None
        index = packs.read_index(repo, name, tip) if tip is not None else None
        if index is not None and index.problems:
            report.skipped.extend(index.problems)
        held = index.runs if index is not None else {}
        new, removable = [], []
        for ref in sorted(candidates, key=lambda r: r.run_id):
            done += 1
            if progress is not None:
                progress(done, total)
            packed = held.get(ref.run_id)
            if packed is not None:
                if packed.commit == str(ref.commit):
                    removable.append(ref)
                else:
                    report.skipped.append(f"{ref.name}: its index holds another commit ({packed.commit[:12]})")
                continue
            try:
                record, raw = runfiles.read_summary_json(repo, ref.commit)
                rules.check_named(record, experiment, ref.run_id)
            except GittrackError as exc:
                report.skipped.append(f"{ref.name}: {exc}")
                continue
            if record.status not in ENDED:
                continue  # RUNNING runs still move; they are packed once they end
            new.append(packs.PackedRun(ref.run_id, str(ref.commit), raw))
            removable.append(ref)
        if new:
            new_tip = packs.append(repo, experiment, tip, new)
            assert new_tip is not None  # runs were added
            packs.move(repo, name, tip, new_tip)
            report.packed[experiment] = len(new)
        report.refs_removed += delete_refs(repo, {r.name: r.commit for r in removable})
    return report


@dataclass
class IndexMerge:
    """What merging a fetched run index into ours did: runs added, refused (with why), in conflict."""

    experiment: str
    added: int = 0
    rejected: list[str] = field(default_factory=list)
    conflicts: list[tuple[str, str, str]] = field(default_factory=list)  # (run ref, our commit, theirs)
    unreported: int = 0  # refused runs past the report's limit
    claims: dict[str, tuple[str, ...]] = field(default_factory=dict)  # run id -> commits their index packs it with


def merge_fetched(
    repo: pygit2.Repository, ref_name: str, fetched: pygit2.Oid, progress: Progress | None = None
) -> tuple[pygit2.Oid | None, IndexMerge]:
    """Check a fetched index (untrusted) run by run and merge it with ours; returns the new local
    tip (not yet stored in the ref) and what was taken in.

    A packed run is accepted only if its commit is a readable run commit of that id and
    experiment whose ``summary.json`` is exactly the packed summary. A run whose id we hold with
    another commit is a conflict: ours stays."""
    experiment = packs.experiment_of(ref_name)
    intake = IndexMerge(experiment)
    theirs = packs.read_index(repo, ref_name, fetched)
    intake.rejected.extend(theirs.problems)
    if theirs.problems and not theirs.runs:
        return None, intake
    local_ref = repo.references.get(ref_name)
    ours_tip = ref_oid(local_ref) if local_ref is not None else None
    ours = packs.read_index(repo, ref_name, ours_tip).runs if ours_tip is not None else {}
    store = RunStore(repo)
    explicit = {r.run_id: r for r in store.refs(experiment, packed=False)[0]}
    added = []
    for done, run in enumerate(theirs.runs.values(), start=1):
        if progress is not None:
            progress(done, len(theirs.runs))
        mine = ours.get(run.run_id)
        own = explicit.get(run.run_id)
        lines = theirs.lines_of(run.run_id)  # a run listed twice: every line is checked before one is chosen
        claimed = intake.claims[run.run_id] = tuple(line.commit for line in lines)
        if mine is not None and mine in lines:
            continue
        if mine is not None or (own is not None and str(own.commit) not in claimed):
            if mine is not None:
                ours_commit = mine.commit
            else:
                assert own is not None  # the condition above
                ours_commit = str(own.commit)
            if ours_commit in claimed:
                _reject(intake, f"{ref_name}: run {run.run_id}: its packed summary differs from ours")
            else:
                intake.conflicts.append((naming.run_ref(experiment, run.run_id), ours_commit, run.commit))
            continue
        problem = None
        for line in lines:
            if own is not None and str(own.commit) != line.commit:
                continue
            problem = rules.packed_problem(repo, experiment, line)
            if problem is None:
                added.append(line)
                break
        if problem is not None:
            _reject(intake, f"{ref_name}: run {run.run_id}: {problem}")
    intake.added = len(added)
    if intake.unreported:
        intake.rejected.append(f"{ref_name}: {intake.unreported} more runs refused")
    if not theirs.problems and not intake.rejected and not intake.conflicts:
        return packs.union(repo, experiment, ours_tip, fetched), intake
    # anything refused: nothing of their index is kept but the runs that passed, packed anew on ours
    ordered = sorted(added, key=lambda r: r.run_id)
    return packs.append(repo, experiment, ours_tip, ordered) if ordered else ours_tip, intake


def _reject(intake: IndexMerge, line: str) -> None:
    """Note a refused run; past the report's limit only count it (a hostile index may hold many)."""
    if len(intake.rejected) < MAX_PROBLEMS:
        intake.rejected.append(line)
    else:
        intake.unreported += 1
