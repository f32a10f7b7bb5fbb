"""Writing registry events as annotated tags, in GTO's format.

Each new event of a model gets a tagger date strictly later than the model's previous event
(GTO orders by that date alone, at 1-second resolution) and the counter GTO would give it.
Tags are signed when git's config asks for it (``tag.gpgSign``), through ``git tag -s``.
"""

from __future__ import annotations

import os
import subprocess
import time
from typing import TYPE_CHECKING

from gittrack._registry.state import Event, Model, read_registry, read_tag
from gittrack._registry.tags import ASSIGN, UNASSIGN, format_tag, parse_tag
from gittrack._store.repo import identity
from gittrack._store.rules import in_future
from gittrack.errors import ConflictError, GittrackError

if TYPE_CHECKING:
    import pygit2


def wants_signing(repo: pygit2.Repository) -> bool:
    """Whether git's config asks for signed tags."""
    try:
        return repo.config.get_bool("tag.gpgSign")
    except (KeyError, ValueError):
        return False


def event_time(model: Model, floor: int = 0) -> int:
    """Now, or one second after the model's newest event (and ``floor``) if that is later."""
    return max(int(time.time()), model.last_time() + 1, floor)


def create_tag(repo: pygit2.Repository, name: str, commit: str, message: str, when: int) -> str:
    """Create the annotated tag ``name`` on ``commit`` dated ``when``; refuses to overwrite."""
    import pygit2

    if repo.references.get(f"refs/tags/{name}") is not None:
        raise ConflictError(f"tag {name!r} exists already; re-read the registry and try again")
    author, email = identity(repo)
    if wants_signing(repo):
        env = {**os.environ, "GIT_COMMITTER_DATE": f"{when} +0000", "GIT_COMMITTER_NAME": author,
               "GIT_COMMITTER_EMAIL": email}  # fmt: skip
        result = subprocess.run(
            ["git", "tag", "-s", "-m", message, name, commit], cwd=repo.workdir, env=env, capture_output=True, text=True
        )
        if result.returncode != 0:
            raise GittrackError(f"git could not sign tag {name!r}: {(result.stderr or '').strip().splitlines()[-1:]}")
        return name
    tagger = pygit2.Signature(author, email, when, 0)
    repo.create_tag(name, pygit2.Oid(hex=commit), pygit2.enums.ObjectType.COMMIT, tagger, message)
    return name


def write_event(
    repo: pygit2.Repository,
    model: Model,
    kind: str,
    commit: str,
    message: str,
    version: str | None = None,
    stage: str | None = None,
    floor: int = 0,
) -> tuple[str, int]:
    """Create one event tag with GTO's default name for it; returns (tag name, tagger date)."""
    counter = model.next_counter()
    name = format_tag(kind, model.name, version, stage, counter if kind in (ASSIGN, UNASSIGN) else None)
    if repo.references.get(f"refs/tags/{name}") is not None:  # e.g. a version deregistered twice
        name = format_tag(kind, model.name, version, stage, counter)
    when = event_time(model, floor)
    create_tag(repo, name, commit, message, when)
    author, email = identity(repo)
    model.events.append(Event(kind, model.name, version, stage, counter, name, commit, when, author, email, message))
    return name, when


def renumber(repo: pygit2.Repository, tag: str, taken: dict[str, int]) -> str | None:
    """Give a local stage event that collided with another on the remote the next free counter and a
    date after every known event of its model; returns the new tag name (None: not a stage event).

    ``taken`` maps the remote's tag names of the model to their tagger dates; dates ahead of this
    clock are not followed (one poisoned tag must not date every later event in the future)."""
    parsed = parse_tag(tag)
    if parsed is None or parsed.kind not in (ASSIGN, UNASSIGN):
        return None
    ref = repo.references.get(f"refs/tags/{tag}")
    if ref is None:
        return None
    read = read_tag(repo, ref.target)
    if isinstance(read, str):
        return None
    commit, _, _, _, message = read
    now = int(time.time())
    model = read_registry(repo, only=parsed.model, now=now).models.get(parsed.model) or Model(parsed.model)
    counters = [t.counter or 0 for t in (parse_tag(n) for n in taken) if t is not None]
    counters += [e.counter or 0 for e in model.events]
    floor = max([*(t for t in taken.values() if not in_future(t, now)), model.last_time()]) + 1
    repo.references.delete(f"refs/tags/{tag}")
    name = format_tag(parsed.kind, parsed.model, stage=parsed.stage, counter=max(counters, default=0) + 1)
    create_tag(repo, name, commit, message, max(floor, now))
    return name
