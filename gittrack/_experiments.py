"""Experiments as entities: a name (which is also its id), tags, a description and a lifecycle.

An experiment exists once it has runs or metadata. Its metadata is a git note
(``gittrack._store.notes``) on a blob naming it, so it travels with ``gittrack push``/``pull``.
Deleting an experiment deletes its runs (restorable, as ``gittrack runs delete``, and like it
here only) and marks it deleted; restoring brings both back. The lifecycle is a note of this
clone's own (``notes.LOCAL_REF``): anyone can push lines to the shared notes, so a ``lifecycle``
line there is ignored, and only descriptions and tags come from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gittrack._store import notes
from gittrack._store.naming import validate_experiment, validate_key
from gittrack._store.timefmt import now_ms
from gittrack.errors import InvalidValueError, NotFoundError, UsageError

if TYPE_CHECKING:
    import pygit2

ACTIVE, DELETED = "active", "deleted"
VIEWS = (ACTIVE, DELETED, "all")
_TAG = "tag."
_LIFECYCLE = "lifecycle"
MAX_TAG_CHARS = 8000


@dataclass(frozen=True)
class Experiment:
    """One experiment: ``experiment_id`` is its name (stable across clones)."""

    name: str
    tags: dict[str, str] = field(default_factory=dict)
    description: str | None = None
    lifecycle_stage: str = ACTIVE
    creation_time: int | None = None
    last_update_time: int | None = None
    runs: int = 0
    deleted_runs: int = 0

    @property
    def experiment_id(self) -> str:
        """The id MLflow-style calls take: the name itself."""
        return self.name

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "name": self.name,
            "experiment_id": self.experiment_id,
            "tags": dict(self.tags),
            "description": self.description,
            "lifecycle_stage": self.lifecycle_stage,
            "creation_time": self.creation_time,
            "last_update_time": self.last_update_time,
            "runs": self.runs,
            "deleted_runs": self.deleted_runs,
        }


def _counts(repo: pygit2.Repository) -> tuple[dict[str, tuple[int, int, int | None, int | None]], int]:
    """experiment -> (active runs, deleted runs, first start, last start), from the search index."""
    from gittrack._search.service import find_rows

    counts: dict[str, list] = {}
    for view, slot in (("active", 0), ("deleted", 1)):
        for row in find_rows(repo, run_view=view).rows:
            entry = counts.setdefault(row.experiment, [0, 0, None, None])
            entry[slot] += 1
            entry[2] = row.start_time if entry[2] is None else min(entry[2], row.start_time)
            entry[3] = row.start_time if entry[3] is None else max(entry[3], row.start_time)
    return {name: tuple(v) for name, v in counts.items()}, 0


def _build(name: str, data: bytes, counts: tuple | None, local: bytes = b"") -> Experiment:
    fields, first, last = notes.state(data)
    lifecycle = notes.state(local)[0].get(_LIFECYCLE)
    active, deleted, first_run, last_run = counts or (0, 0, None, None)
    created = min(t for t in (first, first_run) if t is not None) if (first or first_run) else None
    updated = max(t for t in (last, last_run) if t is not None) if (last or last_run) else None
    return Experiment(
        name=name,
        tags={k[len(_TAG) :]: v for k, v in fields.items() if k.startswith(_TAG)},
        description=fields.get("description"),
        lifecycle_stage=DELETED if lifecycle == DELETED else ACTIVE,
        creation_time=created,
        last_update_time=updated,
        runs=active,
        deleted_runs=deleted,
    )


def list_experiments(repo: pygit2.Repository, view: str = ACTIVE) -> list[Experiment]:
    """Every experiment that has runs or metadata (``view``: active, deleted or all), by name."""
    if view not in VIEWS:
        raise UsageError(f"view must be one of {', '.join(VIEWS)}, got {view!r}")
    counts, _ = _counts(repo)
    metadata, local = _notes(repo, notes.NOTES_REF), _notes(repo, notes.LOCAL_REF)
    out = []
    for name in sorted(set(counts) | set(metadata) | set(local)):
        experiment = _build(name, metadata.get(name, b""), counts.get(name), local.get(name, b""))
        if view == "all" or experiment.lifecycle_stage == view:
            out.append(experiment)
    return out


def _notes(repo: pygit2.Repository, ref: str) -> dict[str, bytes]:
    """Experiment name -> its note on ``ref``."""
    found: dict[str, bytes] = {}
    for target, data in notes.all_notes(repo, ref).items():
        subject = notes.subject_name(repo, target)
        if subject is not None and subject[0] == notes.EXPERIMENT:
            found[subject[1]] = data
    return found


def get_experiment(repo: pygit2.Repository, name: str) -> Experiment:
    """The experiment ``name``; ``NotFoundError`` when it has neither runs nor metadata."""
    validate_experiment(name)
    target = notes.subject(repo, notes.EXPERIMENT, name)
    data, local = notes.read(repo, target), notes.read(repo, target, notes.LOCAL_REF)
    counts = _counts(repo)[0].get(name)
    if not data and not local and counts is None:
        raise NotFoundError(f"no experiment named {name!r}; create it, or start a run in it")
    return _build(name, data, counts, local)


def find_experiment(repo: pygit2.Repository, name: str) -> Experiment | None:
    """:func:`get_experiment`, or None when it does not exist."""
    try:
        return get_experiment(repo, name)
    except NotFoundError:
        return None


def _write(repo: pygit2.Repository, name: str, changes: dict[str, str | None], ref: str = notes.NOTES_REF) -> None:
    t = now_ms()
    notes.append(repo, notes.subject(repo, notes.EXPERIMENT, name), [(t, k, v) for k, v in changes.items()], ref)


def create_experiment(
    repo: pygit2.Repository, name: str, tags: dict[str, Any] | None = None, description: str | None = None
) -> Experiment:
    """Create an experiment (refused when it exists, deleted or not)."""
    validate_experiment(name)
    existing = find_experiment(repo, name)
    if existing is not None:
        state = " (deleted: restore it instead)" if existing.lifecycle_stage == DELETED else ""
        raise UsageError(f"experiment {name!r} exists already{state}")
    changes: dict[str, str | None] = {"name": name}
    for key, value in (tags or {}).items():
        changes[_TAG + validate_key(key, "tag key")] = _text(value)
    if description is not None:
        changes["description"] = _text(description)
    _write(repo, name, changes)
    return get_experiment(repo, name)


def ensure_experiment(repo: pygit2.Repository, name: str) -> Experiment:
    """The experiment ``name``, created when missing; a deleted one is refused."""
    found = find_experiment(repo, name)
    if found is None:
        return create_experiment(repo, name)
    if found.lifecycle_stage == DELETED:
        raise UsageError(f"experiment {name!r} is deleted; restore it first or use another name")
    return found


def set_tags(repo: pygit2.Repository, name: str, tags: dict[str, Any]) -> None:
    """Set (or with None, remove) tags of an existing experiment."""
    get_experiment(repo, name)
    changes = {_TAG + validate_key(k, "tag key"): None if v is None else _text(v) for k, v in tags.items()}
    _write(repo, name, changes)


def set_description(repo: pygit2.Repository, name: str, description: str | None) -> None:
    """Set (or with None, remove) the description of an existing experiment."""
    get_experiment(repo, name)
    _write(repo, name, {"description": None if description is None else _text(description)})


def delete_experiment(repo: pygit2.Repository, name: str) -> int:
    """Delete the experiment's runs (restorable) and mark it deleted; returns how many runs moved."""
    from gittrack._store.runstore import RunStore

    experiment = get_experiment(repo, name)
    if experiment.lifecycle_stage == DELETED:
        raise UsageError(f"experiment {name!r} is deleted already")
    store = RunStore(repo)
    refs, _ = store.refs(name)
    for ref in refs:
        store.delete(ref)
    _write(repo, name, {_LIFECYCLE: DELETED}, notes.LOCAL_REF)
    return len(refs)


def restore_experiment(repo: pygit2.Repository, name: str) -> int:
    """Undo :func:`delete_experiment`: the experiment and every deleted run of it; returns how many runs."""
    from gittrack._store.runstore import DELETED_NAMESPACE, RunStore

    experiment = get_experiment(repo, name)
    if experiment.lifecycle_stage != DELETED:
        raise UsageError(f"experiment {name!r} is not deleted")
    store = RunStore(repo)
    refs, _ = store.refs(name, namespace=DELETED_NAMESPACE)
    for ref in refs:
        store.restore(ref.run_id)
    _write(repo, name, {_LIFECYCLE: ACTIVE}, notes.LOCAL_REF)
    return len(refs)


def _text(value: Any) -> str:
    text = str(value)
    if len(text) > MAX_TAG_CHARS or "\x00" in text:
        raise InvalidValueError(f"experiment tag or description is over {MAX_TAG_CHARS} characters or has a NUL")
    return text
