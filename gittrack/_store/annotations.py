"""Edits of ended runs: tags and the name, kept as a note on the run's commit.

An ended run's commit never changes (packing and deleting keep it), so its later edits live in
the metadata notes (``refs/notes/gittrack``, the event-log format of ``gittrack._store.notes``)
on that commit: one event a line, ``tag:<key>`` (value, or null to remove the tag) and ``name``
(a new name, or null for the recorded one). Readers replay the note over the record; the record
and the commit are never rewritten.

Notes come from remotes: every event is checked as a tag or a name written by a run is, and one
that fails is skipped; a note can change nothing but tags and the name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gittrack._store import notes
from gittrack._store.ids import checked_run_name
from gittrack._store.naming import validate_key
from gittrack._store.record import MAX_TAG_LENGTH, checked_text
from gittrack._store.timefmt import now_ms
from gittrack.errors import InvalidValueError, UsageError

if TYPE_CHECKING:
    import pygit2

    from gittrack._store.record import RunRecord

NAME, TAG = "name", "tag:"
# tags gittrack derives from the record itself (``gittrack.mlflow`` shows them): a note never sets them
SYSTEM_TAGS = frozenset(("mlflow.runName", "mlflow.user", "mlflow.parentRunId", "mlflow.source.git.commit",
                         "mlflow.source.git.branch"))  # fmt: skip
SYSTEM_PREFIX = "gittrack."


@dataclasses.dataclass(frozen=True)
class Edits:
    """What a note changes: tags (None: removed) and the name (None: as recorded)."""

    tags: dict[str, str | None] = dataclasses.field(default_factory=dict)
    name: str | None = None

    def __bool__(self) -> bool:
        return bool(self.tags) or self.name is not None


def check_tag_key(key: Any) -> str:
    """A tag key an edit may set: a valid key that is not one gittrack derives."""
    checked = validate_key(key, "tag key")
    if checked in SYSTEM_TAGS or checked.startswith(SYSTEM_PREFIX):
        raise InvalidValueError(f"tag {checked!r} is recorded by gittrack itself and cannot be edited")
    return checked


def _event(key: str, value: str | None) -> tuple[str, str | None] | None:
    """The checked ``(field, value)`` of one event, or None when it is not a valid edit."""
    try:
        if key == NAME:
            return key, None if value is None else checked_run_name(value)
        if key.startswith(TAG):
            check_tag_key(key[len(TAG) :])
            return key, None if value is None else checked_text("tag", value, MAX_TAG_LENGTH)
    except UsageError:  # InvalidNameError and InvalidValueError too
        return None
    return None


def parse(data: bytes) -> Edits:
    """The edits a note holds: its valid events replayed in order; anything else is skipped."""
    if not data:
        return Edits()
    tags: dict[str, str | None] = {}
    name = None
    for _, key, value, _ in notes.current_lines(data):
        checked = _event(key, value)
        if checked is None:
            continue
        if key == NAME:
            name = checked[1]
        else:
            tags[key[len(TAG) :]] = checked[1]
    return Edits(tags, name)


def events(tags: dict[str, str | None] | None = None, name: str | None = None) -> list[tuple[str, str | None]]:
    """The checked events of an edit (a tag value of None removes the tag); ``InvalidValueError`` or
    ``InvalidNameError`` for a value a reader would skip."""
    out: list[tuple[str, str | None]] = []
    if name is not None:
        out.append((NAME, checked_run_name(name)))
    for key, value in (tags or {}).items():
        check_tag_key(key)
        out.append((TAG + key, None if value is None else checked_text(f"tag {key!r}", value, MAX_TAG_LENGTH)))
    return out


def applied(tags: dict[str, str], name: str, edits: Edits) -> tuple[dict[str, str], str]:
    """``(tags, name)`` as readers show them: ``edits`` over the recorded ones."""
    if not edits:
        return tags, name
    out = dict(tags)
    for key, value in edits.tags.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out, edits.name or name


def apply(record: RunRecord, edits: Edits) -> RunRecord:
    """The record as readers show it: ``edits`` over the recorded tags and name (a new object)."""
    if not edits:
        return record
    tags, name = applied(record.tags, record.name, edits)
    return dataclasses.replace(record, tags=tags, name=name)


def tip(repo: pygit2.Repository) -> str | None:
    """The notes ref's commit (hex), None when there are no notes."""
    ref = repo.references.get(notes.NOTES_REF)
    return None if ref is None else str(ref.target)


def read(repo: pygit2.Repository, commit: Any) -> Edits:
    """The edits of the run whose commit is ``commit``."""
    if repo.references.get(notes.NOTES_REF) is None:
        return Edits()
    return parse(notes.read(repo, commit))


def reader(repo: pygit2.Repository) -> Callable[[Any], Edits]:
    """:func:`read` for many runs: the notes ref is looked up once, not once a run, and measured
    first (``MalformedRunError`` when it is over the limits: many runs may share one huge note)."""
    if repo.references.get(notes.NOTES_REF) is None:
        return lambda commit: Edits()
    notes.check(repo)
    return lambda commit: parse(notes.read(repo, commit))


def overlay(repo: pygit2.Repository, record: RunRecord, commit: Any, edits: Edits | None = None) -> RunRecord:
    """``record`` (of run commit ``commit``) with its edits (read if not given) applied."""
    return apply(record, read(repo, commit) if edits is None else edits)


def write(repo: pygit2.Repository, commit: Any, tags: dict[str, str | None] | None = None,
          name: str | None = None) -> None:  # fmt: skip
    """Record edits of the ended run whose commit is ``commit``."""
    changes = events(tags, name)
    if changes:
        _, _, last = notes.state(notes.read(repo, commit))
        t = max(now_ms(), (last or 0) + 1)  # after every earlier edit, even within one millisecond
        notes.append(repo, commit, [(t, key, value) for key, value in changes])


def changed_since(repo: pygit2.Repository, old_tip: str | None, new_tip: str | None) -> set[str] | None:
    """The objects (hex) whose note differs between two commits of the notes ref; None when the
    older one cannot be read (then every note must be looked at)."""
    import pygit2

    new_tree = None if new_tip is None else repo[pygit2.Oid(hex=new_tip)].peel(pygit2.Tree)
    if old_tip is None:
        old_tree = None
    else:
        try:
            old_tree = repo[pygit2.Oid(hex=old_tip)].peel(pygit2.Tree)
        except (KeyError, ValueError):
            return None
    if old_tree is not None and new_tree is not None:
        diff = old_tree.diff_to_tree(new_tree)
    elif new_tree is not None:
        diff = new_tree.diff_to_tree(swap=True)
    elif old_tree is not None:
        diff = old_tree.diff_to_tree()
    else:
        return set()
    out = set()
    for delta in diff.deltas:
        for path in (delta.old_file.path, delta.new_file.path):
            name = path.replace("/", "")
            if len(name) == 40:
                out.add(name)
    return out
