"""Descriptions and tags of registered models and model versions, as git notes (store/notes.py).

A version's metadata is a note on its registration tag object (``git notes --ref=gittrack show
churn@v0.0.1`` shows it); a model's is a note on a blob naming the model, so a model can have a
description before it has versions. Both travel with ``gittrack push``/``pull``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gittrack._registry import tags as grammar
from gittrack._store import notes
from gittrack._store.naming import validate_key
from gittrack._store.timefmt import now_ms
from gittrack.errors import InvalidValueError, NotFoundError

if TYPE_CHECKING:
    import pygit2

_TAG = "tag."
MAX_TEXT_CHARS = 8000


@dataclass(frozen=True)
class Metadata:
    """What a note says: description, tags and when it was first and last written (epoch ms)."""

    description: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    created: int | None = None
    updated: int | None = None


def _metadata(data: bytes) -> Metadata:
    fields, first, last = notes.state(data)
    tags = {k[len(_TAG) :]: v for k, v in fields.items() if k.startswith(_TAG)}
    return Metadata(fields.get("description"), tags, first, last)


def _tag_object(repo: pygit2.Repository, tag: str) -> pygit2.Oid:
    ref = repo.references.get(f"refs/tags/{tag}")
    if ref is None:
        raise NotFoundError(f"registry tag {tag!r} does not exist")
    target = ref.target
    if isinstance(target, str):  # a symbolic ref: not a tag gittrack or GTO writes
        raise NotFoundError(f"registry tag {tag!r} is a symbolic ref, not a tag")
    return target


def _changes(description: Any = ..., tags: dict[str, Any] | None = None) -> list[tuple[str, str | None]]:
    out: list[tuple[str, str | None]] = []
    if description is not ...:
        out.append(("description", None if description is None else _text(description)))
    for key, value in (tags or {}).items():
        out.append((_TAG + validate_key(key, "tag key"), None if value is None else _text(value)))
    return out


def _text(value: Any) -> str:
    text = str(value)
    if len(text) > MAX_TEXT_CHARS or "\x00" in text:
        raise InvalidValueError(f"a description or tag is over {MAX_TEXT_CHARS} characters or has a NUL character")
    return text


def _write(repo: pygit2.Repository, target: pygit2.Oid, changes: list[tuple[str, str | None]]) -> None:
    t = now_ms()
    notes.append(repo, target, [(t, key, value) for key, value in changes])


def version_metadata(repo: pygit2.Repository, tag: str) -> Metadata:
    """The metadata of the version registered by ``tag`` (``churn@v0.0.1``)."""
    return _metadata(notes.read(repo, _tag_object(repo, tag)))


def update_version(
    repo: pygit2.Repository, tag: str, description: Any = ..., tags: dict[str, Any] | None = None
) -> None:
    """Set the description (None removes it) and tags (a None value removes the tag) of a version."""
    _write(repo, _tag_object(repo, tag), _changes(description, tags))


def model_metadata(repo: pygit2.Repository, name: str) -> Metadata:
    """The metadata of registered model ``name`` (empty when none was written)."""
    grammar.validate_model(name)
    return _metadata(notes.read(repo, notes.subject(repo, notes.MODEL, name)))


def update_model(
    repo: pygit2.Repository, name: str, description: Any = ..., tags: dict[str, Any] | None = None
) -> None:
    """Set the description and tags of registered model ``name``; creates its record when missing."""
    grammar.validate_model(name)
    changes = _changes(description, tags)
    target = notes.subject(repo, notes.MODEL, name)
    if not notes.read(repo, target):
        changes.insert(0, ("name", name))
    _write(repo, target, changes)


def models_with_metadata(repo: pygit2.Repository) -> dict[str, Metadata]:
    """Every registered model that has a metadata note (some may have no version yet)."""
    found = {}
    for target, data in notes.all_notes(repo).items():
        subject = notes.subject_name(repo, target)
        if subject is not None and subject[0] == notes.MODEL:
            found[subject[1]] = _metadata(data)
    return found
