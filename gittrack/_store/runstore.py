"""Finding, reading and deleting recorded runs: the read side of the store.

Runs are found through their refs (``refs/runs/<experiment>/<run-id>``); a ref that is not a
well-formed run ref, or whose commit cannot be read, is reported as a problem and skipped, so a
bad run fetched from a remote never hides the others.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gittrack._state import STATE
from gittrack._store import annotations as run_annotations
from gittrack._store import naming, packs, rules, runfiles, starts
from gittrack._store.ids import RUN_ID_LENGTH, looks_like_prefix, short_id
from gittrack._store.record import RunRecord
from gittrack._store.repo import ref_oid
from gittrack.errors import (
    AmbiguousRunError,
    ConflictError,
    GittrackError,
    InvalidNameError,
    MalformedRunError,
    NotFoundError,
)

if TYPE_CHECKING:
    import pygit2

DELETED_NAMESPACE = "refs/runs-deleted/"


@dataclass(frozen=True)
class RunRef:
    """A run's ref: its name, the experiment and id it encodes, and the commit it points at.

    A packed run (``packed``) has no ref of its own: ``name`` is the ref it would have, and the
    commit comes from its experiment's index (``gittrack._store.packs``).
    """

    name: str
    experiment: str
    run_id: str
    commit: pygit2.Oid
    packed: bool = False


def visible_packed(indexes: list[packs.Index], hidden: set[str]) -> list[tuple[RunRef, packs.PackedRun]]:
    """The packed runs readers see: those without a ref of their own under ``refs/runs/`` or
    ``refs/runs-deleted/`` (``hidden``, as ``refs/runs/`` names), which take precedence."""
    import pygit2

    out = []
    for index in indexes:
        prefix = naming.experiment_prefix(index.experiment) if index.experiment else None
        if prefix is None:
            continue
        for run in index.runs.values():
            name = prefix + run.run_id
            if name not in hidden:
                out.append((RunRef(name, index.experiment, run.run_id, pygit2.Oid(hex=run.commit), True), run))
    return out


@dataclass(frozen=True)
class StoredRun:
    """A run as read from its commit, with the edits of its note applied (``store.annotations``)."""

    ref: RunRef
    record: RunRecord


def experiment_names(repo: pygit2.Repository) -> list[str]:
    """The experiments that have runs (active, deleted or packed), sorted, from ref names alone."""
    starts.publish(repo)
    components = set()
    for name in repo.references:
        for namespace in (naming.RUNS_NAMESPACE, DELETED_NAMESPACE, packs.INDEX_NAMESPACE):
            if name.startswith(namespace):
                components.add(name[len(namespace) :].partition("/")[0])
    found = set()
    for component in components:
        with contextlib.suppress(GittrackError):
            found.add(naming.decode_component(component))
    return sorted(found)


class RunStore:
    """Read access to the runs of one repository."""

    def __init__(self, repo: pygit2.Repository) -> None:
        self.repo = repo

    def refs(
        self, experiment: str | None = None, namespace: str = naming.RUNS_NAMESPACE, packed: bool = True
    ) -> tuple[list[RunRef], list[str]]:
        """Every run (of one experiment if given), newest id first, and the malformed ref names.

        Under ``refs/runs/`` packed runs are included (``packed=False``: only runs with a ref).
        """
        starts.publish(self.repo)
        suffix = naming.experiment_prefix(experiment)[len(naming.RUNS_NAMESPACE) :] if experiment is not None else ""
        prefix = namespace + suffix
        with_packs = packed and namespace == naming.RUNS_NAMESPACE
        found, problems = [], []
        hidden = set()
        for ref in self.repo.references.iterator():
            name = ref.name
            if with_packs and name.startswith(DELETED_NAMESPACE + suffix):
                hidden.add(naming.RUNS_NAMESPACE + name[len(DELETED_NAMESPACE) :])
            if not name.startswith(prefix):
                continue
            try:
                exp, run_id = naming.parse_run_ref(naming.RUNS_NAMESPACE + name[len(namespace) :])
                target = ref.target
                if isinstance(target, str):
                    raise InvalidNameError("is a symbolic ref")
            except InvalidNameError as exc:
                problems.append(f"{name}: not a valid run ref ({exc})")
                continue
            found.append(RunRef(name, exp, run_id, target))
        if with_packs:
            indexes = self.indexes(experiment)
            hidden.update(r.name for r in found)
            found.extend(ref for ref, _ in visible_packed(indexes, hidden))
            problems.extend(p for index in indexes for p in index.problems)
        found.sort(key=lambda r: r.run_id, reverse=True)
        return found, problems

    def commits(self) -> dict[str, str]:
        """Every run commit here, packed or not: commit (hex) -> run id (what registry tags may tag)."""
        return {str(ref.commit): ref.run_id for ref in self.refs()[0]}

    def indexes(self, experiment: str | None = None) -> list[packs.Index]:
        """The run indexes (of one experiment if given)."""
        if experiment is None:
            return packs.read_all(self.repo)
        name = packs.index_ref(experiment)
        ref = self.repo.references.get(name)
        return [] if ref is None else [packs.read_index(self.repo, name, ref_oid(ref))]

    def read(self, ref: RunRef, edits: run_annotations.Edits | None = None) -> StoredRun:
        """Read one run's record, with its edits (read if not given); raises ``MalformedRunError``
        if its commit is not a valid run."""
        record = rules.read_record(self.repo, ref.commit)
        try:
            rules.check_named(record, ref.experiment, ref.run_id)
        except MalformedRunError as exc:
            raise MalformedRunError(f"{ref.name} {exc}") from None
        return StoredRun(ref, run_annotations.overlay(self.repo, record, ref.commit, edits))

    def runs(self, experiment: str | None = None) -> tuple[list[StoredRun], list[str]]:
        """Every readable run, newest first, and a problem line for each run that is not."""
        refs, problems = self.refs(experiment)
        runs = []
        edits = run_annotations.reader(self.repo)
        for ref in refs:
            try:
                runs.append(self.read(ref, edits(ref.commit)))
            except GittrackError as exc:
                problems.append(f"{ref.name}: {exc}")
        return runs, problems

    def resolve(self, spec: str, namespace: str = naming.RUNS_NAMESPACE) -> RunRef:
        """Find one run by ref name, full id, unique id prefix, or unique run name (under
        ``refs/runs/``, or the deleted runs with ``namespace=DELETED_NAMESPACE``)."""
        if not isinstance(spec, str) or not spec.strip():
            raise InvalidNameError("a run must be given by id, id prefix, name or ref")
        starts.publish(self.repo)
        if namespace == naming.RUNS_NAMESPACE and len(spec) == RUN_ID_LENGTH:
            known: RunRef | None = STATE.caches.known_runs.get(self.repo.path, {}).get(spec)
            if known is not None and self._still_there(known):
                return known
        matches = self._matches(spec, namespace)
        if not matches:
            deleted = namespace == DELETED_NAMESPACE
            other = self._matches(spec, naming.RUNS_NAMESPACE if deleted else DELETED_NAMESPACE)
            if deleted and other:
                raise NotFoundError(f"run '{spec}' is not deleted: it is {other[0].name}; there is nothing to restore")
            if other:
                found = ", ".join(r.name for r in other[:3]) + (" ..." if len(other) > 3 else "")
                raise NotFoundError(
                    f"run '{spec}' is deleted ({found}); bring it back with "
                    f"'gittrack runs restore {short_id(other[0].run_id) if len(other) == 1 else other[0].name}'"
                )
            listing = "gittrack runs list --deleted" if deleted else "gittrack runs list"
            raise NotFoundError(
                f"no {'deleted ' if deleted else ''}run matches '{spec}'; see '{listing}' for ids and names"
            )
        if len(matches) > 1:
            shown = ", ".join(r.run_id[:16] + "..." for r in matches[:5])
            more = f" and {len(matches) - 5} more" if len(matches) > 5 else ""
            raise AmbiguousRunError(
                f"run '{spec}' is ambiguous: matches {len(matches)} runs ({shown}{more}); "
                "give more characters of the id"
            )
        return matches[0]

    def _still_there(self, ref: RunRef) -> bool:
        """Whether the refs still say what they said when ``ref`` was found: its own ref at the
        same commit, or, packed, no ref of its own and not deleted (an index only ever grows)."""
        own = self.repo.references.get(ref.name)
        if not ref.packed:
            return own is not None and own.target == ref.commit
        return (
            own is None and self.repo.references.get(DELETED_NAMESPACE + ref.name[len(naming.RUNS_NAMESPACE) :]) is None
        )

    def _matches(self, spec: str, namespace: str) -> list[RunRef]:
        """The runs under ``namespace`` that ``spec`` names (a ref name under either namespace)."""
        refs, _ = self.refs(namespace=namespace)
        if namespace == naming.RUNS_NAMESPACE:
            by_id: dict[str, RunRef | None] = {}
            for ref in refs:
                by_id[ref.run_id] = None if ref.run_id in by_id else ref  # an id in two experiments: scan
            STATE.caches.known_runs[self.repo.path] = {run_id: ref for run_id, ref in by_id.items() if ref is not None}
        for space in (naming.RUNS_NAMESPACE, DELETED_NAMESPACE):
            if spec.startswith(space):
                return [r for r in refs if r.name == namespace + spec[len(space) :]]
        matches = [r for r in refs if r.run_id.startswith(spec)] if looks_like_prefix(spec) else []
        if not matches and len(spec) < RUN_ID_LENGTH:
            edits = run_annotations.reader(self.repo)
            matches = [r for r in refs if self._name_of(r, edits) == spec]
        return matches

    def _name_of(self, ref: RunRef, edits: Callable[[Any], run_annotations.Edits]) -> str | None:
        """The run's name as shown (a renamed run is found by its new name)."""
        try:
            record = runfiles.read_record(self.repo, ref.commit)
        except GittrackError:
            return None
        return edits(ref.commit).name or record.name

    def get(self, spec: str) -> StoredRun:
        """Resolve and read one run."""
        return self.read(self.resolve(spec))

    def delete(self, ref: RunRef) -> str:
        """Move a run's ref to ``refs/runs-deleted/`` (restorable); returns the new ref name."""
        target = DELETED_NAMESPACE + ref.name[len(naming.RUNS_NAMESPACE) :]
        self.repo.references.create(target, ref.commit, force=True)
        if self.repo.references.get(ref.name) is not None:  # a packed run has no ref to remove
            self.repo.references.delete(ref.name)
        return target

    def restore(self, spec: str) -> RunRef:
        """Bring a deleted run back to ``refs/runs/``."""
        deleted = self.resolve(spec, namespace=DELETED_NAMESPACE)
        name = naming.RUNS_NAMESPACE + deleted.name[len(DELETED_NAMESPACE) :]
        if self.repo.references.get(name) is not None:
            raise ConflictError(f"{name} exists already; delete it first or keep both")
        self.repo.references.create(name, deleted.commit)
        self.repo.references.delete(deleted.name)
        return RunRef(name, deleted.experiment, deleted.run_id, deleted.commit)
