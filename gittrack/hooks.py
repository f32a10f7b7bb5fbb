"""The git hooks gittrack ships (``hooks/``): what they do, and installing them.

Client ``pre-push``: when branches are pushed, also push the runs recorded from their commits.
Client ``post-merge`` (opt-in, ``gittrack.applyOnMerge``): apply merged promotions locally.
Server ``pre-receive`` (self-hosted bare remotes): refuse stage tags for guarded stages that the
protected branch's registry.yaml does not ask for, deleting or rewriting finished runs and
registry tags, malformed refs under ``refs/runs/``, and run index updates that drop runs or
hold runs their commits do not back.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from gittrack.errors import GittrackError
from gittrack.store.packs import INDEX_NAMESPACE

if TYPE_CHECKING:
    import pygit2

ZERO = "0" * 40
CLIENT_HOOKS = ("pre-push", "post-merge")
SERVER_HOOKS = ("pre-receive",)


def script(name: str, python: str | None = None) -> str:
    """The hook script: a shim that hands over to ``gittrack hooks run NAME``."""
    runner = f'"{python}" -m gittrack' if python else "gittrack"
    return f'#!/bin/sh\n# gittrack {name} hook (see docs/promotions.md)\nexec {runner} hooks run {name} "$@"\n'


def install(path: str | os.PathLike, server: bool = False) -> list[str]:
    """Write the client hooks into the repository at ``path`` (or the server hook into a bare one),
    calling this Python so the hooks work whatever is on PATH. Returns the files written."""
    import pygit2

    found = pygit2.discover_repository(str(path))
    if found is None:
        raise GittrackError(f"'{path}' is not a git repository")
    repo = pygit2.Repository(found)
    if server and not repo.is_bare:
        raise GittrackError(f"'{path}' is not a bare repository; the server hook belongs on the remote")
    folder = Path(repo.path) / "hooks"
    folder.mkdir(exist_ok=True)
    written = []
    for name in SERVER_HOOKS if server else CLIENT_HOOKS:
        target = folder / name
        target.write_text(script(name, sys.executable))
        target.chmod(target.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
        written.append(str(target))
    return written


def _flag(repo: pygit2.Repository, key: str, default: bool) -> bool:
    try:
        return repo.config.get_bool(key)
    except (KeyError, ValueError):
        return default


def pre_push(repo: pygit2.Repository, remote: str, lines: Iterable[str]) -> list[str]:
    """Push the runs recorded from the commits of the branches being pushed; returns their ids."""
    import pygit2

    from gittrack.search import find_rows
    from gittrack.sharing import push

    if os.environ.get("GITTRACK_IN_HOOK") or not _flag(repo, "gittrack.pushRuns", True):
        return []
    commits: set[str] = set()
    for line in lines:
        parts = line.split()
        if len(parts) != 4 or not parts[0].startswith("refs/heads/") or parts[1] == ZERO:
            continue
        walker = repo.walk(pygit2.Oid(hex=parts[1]), pygit2.enums.SortMode.TOPOLOGICAL)
        if parts[3] != ZERO and pygit2.Oid(hex=parts[3]) in repo.odb:
            walker.hide(pygit2.Oid(hex=parts[3]))
        for count, commit in enumerate(walker):
            if count >= 10_000:
                break
            commits.add(str(commit.id))
    if not commits:
        return []
    runs = [row.run_id for row in find_rows(repo).rows if row.source_commit in commits]
    if runs:
        os.environ["GITTRACK_IN_HOOK"] = "1"
        push(repo, remote, runs=runs)
    return runs


def post_merge(repo: pygit2.Repository) -> list[str]:
    """Apply merged promotions locally when ``gittrack.applyOnMerge`` is true."""
    from gittrack.promotions import apply

    if not _flag(repo, "gittrack.applyOnMerge", False):
        return []
    return apply(repo)


def _open_server_repo() -> pygit2.Repository:
    """The bare repository a server hook runs in, seeing the pushed objects in quarantine."""
    import pygit2

    repo = pygit2.Repository(os.environ.get("GIT_DIR", "."))
    for variable in ("GIT_QUARANTINE_PATH", "GIT_OBJECT_DIRECTORY"):
        folder = os.environ.get(variable)
        if folder and os.path.isdir(folder):
            repo.odb.add_disk_alternate(folder)
    return repo


def pre_receive(lines: Iterable[str], repo: pygit2.Repository | None = None) -> list[str]:
    """Check a push on the server; returns one reason per refused ref (empty: accept)."""
    from gittrack.registry import desired as desired_file
    from gittrack.registry.state import read_registry, read_tag
    from gittrack.registry.tags import ASSIGN, looks_like_registry_tag, parse_tag

    repo = repo or _open_server_repo()
    updates = [tuple(line.split()) for line in lines if len(line.split()) == 3]
    default = repo.references["HEAD"].target if not repo.head_is_unborn else "refs/heads/main"
    protected = next((new for _, new, ref in updates if ref == default), None)
    if protected is None:
        current = repo.references.get(default)
        protected = str(current.target) if current is not None else None
    wanted = desired_file.read_at(repo, protected if protected and protected != ZERO else None)
    registry = None
    refused = []
    index_tips = {ref: new for _, new, ref in updates if ref.startswith(INDEX_NAMESPACE)}
    for old, new, ref in updates:
        if ref.startswith("refs/runs/"):
            reason = _check_run(repo, old, new, ref, index_tips)
        elif ref.startswith(INDEX_NAMESPACE):
            reason = _check_index(repo, old, new, ref)
        elif ref.startswith("refs/tags/") and looks_like_registry_tag(ref[len("refs/tags/") :]):
            if old != ZERO:
                reason = "registry tags are never moved or deleted; write a new event instead"
            else:
                parsed = parse_tag(ref[len("refs/tags/") :])
                reason = None
                if parsed is not None and parsed.kind == ASSIGN and parsed.stage in wanted.policy(parsed.model).guard:
                    registry = registry or read_registry(repo)
                    read = read_tag(repo, new)
                    commit = read[0] if not isinstance(read, str) else None
                    model = registry.models.get(parsed.model)
                    version = (
                        next((v.version for v in model.versions.values() if v.commit == commit), None)
                        if model
                        else None
                    )
                    asked = wanted.models.get(parsed.model, {}).get(parsed.stage)
                    if version is None or asked != version:
                        reason = (f"stage {parsed.stage!r} of {parsed.model} is guarded and the protected branch's "
                                  f"registry.yaml asks for {asked or 'nothing'}, not {version or 'this commit'}; "
                                  "open a promotion request")  # fmt: skip
        else:
            reason = None
        if reason:
            refused.append(f"{ref}: {reason}")
    return refused


def _check_index(repo: pygit2.Repository, old: str, new: str, ref: str) -> str | None:
    """Why a push to a run index is refused: a deletion, a malformed index, a run dropped or
    changed, or a packed run that its commit does not back."""
    import pygit2

    from gittrack.store import packs
    from gittrack.store.packing import check_packed

    if new == ZERO:
        return "run indexes are never deleted"
    try:
        experiment = packs.experiment_of(ref)
        index = packs.read_index(repo, ref, pygit2.Oid(hex=new))
    except GittrackError as exc:
        return f"not a valid run index ({exc})"
    if index.problems:
        return f"not a valid run index ({index.problems[0]})"
    before = packs.read_index(repo, ref, pygit2.Oid(hex=old)).runs if old != ZERO else {}
    for run_id, run in before.items():
        kept = index.runs.get(run_id)
        if kept is None or kept.commit != run.commit:
            return f"the update drops or changes packed run {run_id}; indexes only grow (pull, then push)"
    for run_id, run in index.runs.items():
        if run_id not in before and (problem := check_packed(repo, experiment, run)) is not None:
            return f"packed run {run_id}: {problem}"
    return None


def _packed_commit(repo: pygit2.Repository, experiment: str, run_id: str, index_tips: dict[str, str]) -> str | None:
    """The commit the run index holds for a run, after this push's index updates (None: not packed)."""
    import pygit2

    from gittrack.store import packs

    name = packs.index_ref(experiment)
    tip = index_tips.get(name)
    if tip is None:
        current = repo.references.get(name)
        tip = str(current.target) if current is not None else ZERO
    if tip == ZERO:
        return None
    run = packs.read_index(repo, name, pygit2.Oid(hex=tip)).runs.get(run_id)
    return run.commit if run is not None else None


def _check_run(repo: pygit2.Repository, old: str, new: str, ref: str, index_tips: dict[str, str]) -> str | None:
    """Why a push to a run ref is refused: a malformed name or commit, a deletion (unless the run is
    packed with that commit), a rewritten finished run."""
    import pygit2

    from gittrack.store import naming, runfiles
    from gittrack.store.record import ENDED

    try:
        experiment, run_id = naming.parse_run_ref(ref)
    except GittrackError as exc:
        return f"not a valid run ref ({exc})"
    previous = None
    if old != ZERO:
        try:
            previous = runfiles.read_summary(repo, pygit2.Oid(hex=old))
        except GittrackError:
            previous = None
    if new == ZERO:
        if old != ZERO and _packed_commit(repo, experiment, run_id, index_tips) == old:
            return None  # packed: the index holds it now
        return "deleting runs is refused on this remote" if previous is None or previous.status in ENDED else None
    try:
        record = runfiles.read_summary(repo, pygit2.Oid(hex=new))
    except GittrackError as exc:
        return f"not a valid run commit ({exc})"
    if record.id != run_id or record.experiment != experiment:
        return f"the commit records run {record.id} of {record.experiment!r}, not the run its name says"
    if previous is not None and previous.status in ENDED:
        return f"run {run_id} is {previous.status}; finished runs are never rewritten"
    if previous is not None and previous.id != record.id:
        return "the update replaces the run with another one"
    return None
