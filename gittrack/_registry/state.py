"""Reading the registry: annotated tags -> events -> the state of each model, with GTO's semantics.

Events are ordered by the tagger date (GTO's only ordering key, 1-second resolution); ties are
broken by the counter, then the tag name. Only annotated tags count; a tag in the registry's
namespace that does not parse, is not annotated, or does not point at a commit is reported as a
problem and ignored.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gittrack._registry.tags import (
    ASSIGN,
    DEPRECATE,
    DEREGISTER,
    REGISTER,
    UNASSIGN,
    looks_like_registry_tag,
    parse_tag,
    semver_key,
)
from gittrack._store import rules, runfiles
from gittrack._store.runstore import RunStore
from gittrack.errors import GittrackError

if TYPE_CHECKING:
    import pygit2

_TRAILER = re.compile(r"^Gittrack-(Run|Artifact|Merge): (.+)$", re.M)
MAX_TAG_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Event:
    """One registry tag."""

    kind: str
    model: str
    version: str | None
    stage: str | None
    counter: int | None
    tag: str
    commit: str
    time: int
    author: str
    author_email: str
    message: str

    @property
    def run_id(self) -> str | None:
        """The run the tag message names (gittrack writes it on registration)."""
        return _trailers(self.message).get("Run")

    @property
    def artifact(self) -> str | None:
        """The model's artifact path the tag message names."""
        return _trailers(self.message).get("Artifact")

    def order(self) -> tuple[Any, ...]:
        """GTO's order: tagger date, then (for ties) counter and name."""
        return (self.time, self.counter or 0, self.tag)


def _trailers(message: str) -> dict[str, str]:
    return {key: value.strip() for key, value in _TRAILER.findall(message)}


@dataclass
class Version:
    """A registered version of a model."""

    model: str
    version: str
    commit: str
    registered: Event
    active: bool = True
    stages: dict[str, Event] = field(default_factory=dict)  # stage -> the assignment that put it there
    run: str | None = None  # the run whose commit the version tags, when the reader knew the runs
    problem: str | None = None  # why the version is invalid (its commit is not a run here)

    @property
    def run_id(self) -> str | None:
        """The run that produced this version: the run at its commit, else the one its tag names."""
        return self.run or self.registered.run_id

    @property
    def usable(self) -> bool:
        """Active and valid: the only versions that stages, ``latest`` and loading resolve to."""
        return self.active and self.problem is None

    @property
    def artifact(self) -> str:
        """The model artifact inside the run (``model`` unless the tag says otherwise)."""
        return self.registered.artifact or "model"


@dataclass
class Model:
    """Everything the registry says about one model."""

    name: str
    events: list[Event] = field(default_factory=list)
    versions: dict[str, Version] = field(default_factory=dict)
    deprecated: bool = False

    @property
    def latest(self) -> Version | None:
        """The highest active semver (GTO's ``latest``)."""
        active = [v for v in self.versions.values() if v.usable]
        return max(active, key=lambda v: semver_key(v.version)) if active else None

    def holders(self, stage: str) -> list[Version]:
        """Versions in ``stage``, the most recently assigned first (GTO shows the first)."""
        held = [v for v in self.versions.values() if v.usable and stage in v.stages]
        return sorted(held, key=lambda v: v.stages[stage].order(), reverse=True)

    def stages(self) -> list[str]:
        """Every stage some active version is in."""
        return sorted({s for v in self.versions.values() if v.usable for s in v.stages})

    def next_counter(self) -> int:
        """1 + the highest counter on any of the model's tags (GTO's rule)."""
        return 1 + max((e.counter or 0 for e in self.events), default=0)

    def last_time(self) -> int:
        """The tagger date of the model's newest event."""
        return max((e.time for e in self.events), default=0)


@dataclass
class Registry:
    """All models, and one line per registry tag that could not be used."""

    models: dict[str, Model]
    problems: list[str]


def read_tag(repo: pygit2.Repository, target: pygit2.Oid | str) -> tuple[str, int, str, str, str] | str:
    """(commit, time, tagger name, email, message) of an annotated tag, or why it is unusable."""
    import pygit2

    try:
        kind, size = repo.odb.read_header(target)
    except (KeyError, ValueError):
        return "its object is missing"
    if kind != pygit2.enums.ObjectType.TAG:
        return "not an annotated tag (GTO ignores lightweight tags)"
    if size > MAX_TAG_BYTES:
        return "tag object too large"
    _, raw = repo.odb.read(target)
    head, _, message = raw.partition(b"\n\n")
    fields = dict(line.split(b" ", 1) for line in head.split(b"\n") if b" " in line)
    if fields.get(b"type") != b"commit":
        return "does not point at a commit"
    tagger = fields.get(b"tagger", b"")
    match = re.match(rb"^(.*) <(.*)> (-?\d+) [+-]\d{4}$", tagger)
    if match is None:
        return "has no valid tagger"
    text = message.decode("utf-8", "replace")
    return (
        fields[b"object"].decode(),
        int(match.group(3)),
        match.group(1).decode("utf-8", "replace"),
        match.group(2).decode("utf-8", "replace"),
        text,
    )


def read_registry(
    repo: pygit2.Repository, only: str | None = None, runs: dict[str, str] | None = None, now: int | None = None
) -> Registry:
    """Parse every registry tag (of model ``only``, if given) and compute each model's state.

    ``runs`` (run commit -> run id, packed runs included): a version whose commit is neither one
    of them nor an earlier checkpoint of one of those runs still holding the same model (see
    :func:`checkpoint_run`) is invalid (reported, never resolved). Tags dated further ahead of
    ``now`` (default: this clock) than the allowed skew are ignored, so one poisoned date cannot
    push later events on."""
    now = int(time.time()) if now is None else now
    models: dict[str, Model] = {}
    problems = []
    for ref in repo.references.iterator():
        full = ref.name
        if not full.startswith("refs/tags/"):
            continue
        name = full[len("refs/tags/") :]
        if not looks_like_registry_tag(name):
            continue
        parsed = parse_tag(name)
        if parsed is None:
            problems.append(f"tag {name!r} is not in GTO's format (e.g. model@v1.2.0, model#stage#3); ignored")
            continue
        if only is not None and parsed.model != only:
            continue
        read = read_tag(repo, ref.target)
        if isinstance(read, str):
            problems.append(f"tag {name!r} is {read}; ignored" if read.startswith("not") else f"tag {name!r}: {read}")
            continue
        commit, when, author, email, message = read
        if rules.in_future(when, now):
            problems.append(f"tag {name!r} is dated in the future ({when}); ignored")
            continue
        event = Event(parsed.kind, parsed.model, parsed.version, parsed.stage, parsed.counter, name, commit, when,
                      author, email, message.strip())  # fmt: skip
        models.setdefault(parsed.model, Model(parsed.model)).events.append(event)
    known = runs or {}
    tips = {run_id: commit for commit, run_id in known.items()}
    for model in models.values():
        _replay(model, problems)
        for version in model.versions.values() if runs is not None else ():
            version.run = known.get(version.commit) or checkpoint_run(repo, version, tips)
            if version.run is None:
                version.problem = (
                    f"{model.name} {version.version} points at {version.commit[:12]}, which is not a run here; "
                    "pull its run ('gittrack pull') or deprecate the version"
                )
                problems.append(version.problem)
    return Registry(models, problems)


def checkpoint_run(repo: pygit2.Repository, version: Version, tips: dict[str, str]) -> str | None:
    """The run of a version registered while its run was running: the tag is on a checkpoint
    commit the run has since moved past. That run is the version's when the checkpoint records
    the run the tag names, the run is here (``tips``: run id -> its commit), and its commit
    holds the same model (the same DVC pointer at the version's artifact); else None."""
    import pygit2

    run_id = version.registered.run_id
    tip = tips.get(run_id) if run_id else None
    if tip is None:
        return None
    try:
        if rules.read_record(repo, pygit2.Oid(hex=version.commit)).id != run_id:
            return None
        tagged = runfiles.read_artifact_pointer(repo, pygit2.Oid(hex=version.commit), version.artifact)
        current = runfiles.read_artifact_pointer(repo, pygit2.Oid(hex=tip), version.artifact)
    except (GittrackError, KeyError, ValueError):
        return None
    return run_id if tagged is not None and tagged == current else None


def registry_state(repo: pygit2.Repository, only: str | None = None) -> Registry:
    """The registry as read from the tags, each version checked against the runs here."""
    return read_registry(repo, only=only, runs=RunStore(repo).commits())


def _replay(model: Model, problems: list[str]) -> None:
    model.events.sort(key=Event.order)
    by_commit: dict[str, Version] = {}
    for event in model.events:
        if event.kind == REGISTER:
            assert event.version is not None  # the tag grammar: a registration names its version
            existing = model.versions.get(event.version)
            if existing is None:
                if event.commit in by_commit:
                    held = by_commit[event.commit].version
                    problems.append(
                        f"tag {event.tag!r}: {event.commit[:12]} already holds {held}; one version per commit"
                    )
                    continue
                existing = model.versions[event.version] = Version(model.name, event.version, event.commit, event)
                by_commit[event.commit] = existing
            existing.active = True
        elif event.kind == DEREGISTER:
            if event.version in model.versions:
                model.versions[event.version].active = False
        elif event.kind in (ASSIGN, UNASSIGN):
            assert event.stage is not None  # the tag grammar: an assignment names its stage
            version = by_commit.get(event.commit)
            if version is None:
                problems.append(
                    f"tag {event.tag!r} points at {event.commit[:12]}, which has no version of {model.name}"
                )
                continue
            if event.kind == ASSIGN:
                version.stages[event.stage] = event
            else:
                version.stages.pop(event.stage, None)
        if event.kind == DEPRECATE:
            model.deprecated = True
        else:
            model.deprecated = False  # a newer event re-activates the model (GTO)
