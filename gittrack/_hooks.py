"""The git hooks gittrack ships (``hooks/``): what they do, and installing them.

Client ``pre-push``: when branches are pushed, also push the runs recorded from their commits.
Client ``post-merge`` (opt-in, ``gittrack.applyOnMerge``): apply merged promotions locally.
Server ``pre-receive`` (self-hosted bare remotes): refuse stage tags for guarded stages that the
protected branch's registry.yaml does not ask for, deleting or rewriting finished runs and
registry tags, malformed refs under ``refs/runs/``, run index updates that drop runs or
hold runs their commits do not back, and rewrites or deletions of the metadata notes; with a
permissions file (``GITTRACK_PERMISSIONS``, docs/team-server.md), also what the authenticated
user (gitolite's ``GL_USER``, the web server's ``REMOTE_USER``) may not write.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from gittrack._registry.guard import guard_problem
from gittrack._store import rules
from gittrack._store.notes import NOTES_REF
from gittrack._store.packs import INDEX_NAMESPACE
from gittrack.errors import GittrackError, UsageError

if TYPE_CHECKING:
    import pygit2

    from gittrack._registry.desired import Desired
    from gittrack._registry.state import Registry

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


def install_hooks(path: str | os.PathLike = ".", server: bool = False) -> list[str]:
    """``gittrack hooks install``: the client hooks into the repository at ``path``, or (``server``)
    the pre-receive hook into a bare remote. Returns the files written."""
    return install(path, server)


def run_hook(name: str, args: list[str], lines: list[str]) -> tuple[int, list[str]]:
    """Run hook ``name`` as the shipped scripts do (``lines``: what git wrote on its stdin); returns
    the exit code and the lines to print on stderr."""
    from gittrack._store.repo import open_repo

    if name == "pre-receive":
        refused = pre_receive(lines)
        return (1 if refused else 0), [f"gittrack: refused {reason}" for reason in refused]
    if name == "pre-push":
        pushed = pre_push(open_repo(), args[0] if args else "origin", lines)
        return 0, [f"gittrack: pushed {len(pushed)} run(s) recorded from these commits"] if pushed else []
    if name == "post-merge":
        return 0, [f"gittrack: applied {tag}" for tag in post_merge(open_repo())]
    raise UsageError(f"unknown hook {name!r}; gittrack ships {', '.join(CLIENT_HOOKS + SERVER_HOOKS)}")


def _flag(repo: pygit2.Repository, key: str, default: bool) -> bool:
    try:
        return repo.config.get_bool(key)
    except (KeyError, ValueError):
        return default


def pre_push(repo: pygit2.Repository, remote: str, lines: Iterable[str]) -> list[str]:
    """Push the runs recorded from the commits of the branches being pushed; returns their ids."""
    import pygit2

    from gittrack._search.service import find_rows
    from gittrack._sync import push

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
    from gittrack._registry.promotions import apply

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
    from gittrack._registry import desired as desired_file
    from gittrack._registry.tags import looks_like_registry_tag

    repo = repo or _open_server_repo()
    updates = [tuple(line.split()) for line in lines if len(line.split()) == 3]
    head = repo.references["HEAD"].target
    default = head if isinstance(head, str) and not repo.head_is_unborn else "refs/heads/main"  # detached: main
    protected = next((new for _, new, ref in updates if ref == default), None)
    if protected is None:
        current = repo.references.get(default)
        protected = str(current.target) if current is not None else None
    wanted = desired_file.read_at(repo, protected if protected and protected != ZERO else None)
    registry = None
    refused = _permission_problems(updates)
    index_tips = {ref: new for _, new, ref in updates if ref.startswith(INDEX_NAMESPACE)}
    for old, new, ref in updates:
        if any(line.startswith(f"{ref}: ") for line in refused):
            continue
        if ref.startswith("refs/runs/"):
            reason = _check_run(repo, old, new, ref, index_tips)
        elif ref.startswith(INDEX_NAMESPACE):
            reason = _check_index(repo, old, new, ref)
        elif ref == NOTES_REF:
            reason = _check_notes(repo, old, new)
        elif ref.startswith("refs/tags/") and looks_like_registry_tag(ref[len("refs/tags/") :]):
            if old != ZERO:
                reason = "registry tags are never moved or deleted; write a new event instead"
            else:
                registry = registry or _server_registry(repo)
                reason = _check_registry_tag(repo, new, ref[len("refs/tags/") :], wanted, registry)
        else:
            reason = None
        if reason:
            refused.append(f"{ref}: {reason}")
    return refused


def _permission_problems(updates: list[tuple[str, ...]]) -> list[str]:
    """With a permissions file (``GITTRACK_PERMISSIONS``), the updates the pushing user may not make:
    the user is gitolite's (``GL_USER``) or the web server's (``REMOTE_USER``, basic auth)."""
    from gittrack._gitserver import permissions

    path = os.environ.get("GITTRACK_PERMISSIONS")
    if not path:
        return []
    user = os.environ.get("GL_USER") or os.environ.get("REMOTE_USER")
    if not user:
        return [f"{ref}: no authenticated user; this remote needs one (GL_USER or REMOTE_USER)" for *_, ref in updates]
    perms = permissions.load(path)
    return [f"{ref}: {reason}" for *_, ref in updates if (reason := permissions.ref_problem(perms, user, ref))]


def _server_registry(repo: pygit2.Repository) -> Registry:
    from gittrack._registry.state import read_registry

    return read_registry(repo)


def _check_registry_tag(
    repo: pygit2.Repository, new: str, name: str, wanted: Desired, registry: Registry
) -> str | None:
    """Why a new registry tag is refused: dated ahead of this clock or before its model's
    previous event, or changing a guarded stage in a way the protected registry.yaml does not ask."""
    import time

    from gittrack._registry.state import read_tag
    from gittrack._registry.tags import REGISTER, parse_tag

    parsed = parse_tag(name)
    read = read_tag(repo, new)
    if parsed is None or isinstance(read, str):
        return None  # not an event GTO or gittrack reads: it changes no state
    commit, when = read[0], read[1]
    model = registry.models.get(parsed.model)
    guard = wanted.policy(parsed.model).guard
    asked = wanted.models.get(parsed.model, {})
    version = next((v for v in model.versions.values() if v.commit == commit), None) if model else None
    guarded = guard_problem(parsed, model, version, guard, asked)
    if guarded is not None:
        return guarded
    previous = model.last_time() if model is not None and model.events and parsed.kind != REGISTER else None
    return rules.tag_date_problem(when, int(time.time()), previous)


def _check_notes(repo: pygit2.Repository, old: str, new: str) -> str | None:
    """The metadata notes (experiments, registry metadata, edits of runs) only grow and stay within
    the limits (``rules.notes_update_problem``); a clone merges them before it pushes (``gittrack push``)."""
    import pygit2

    if new == ZERO:
        return "the metadata notes are never deleted"
    return rules.notes_update_problem(repo, None if old == ZERO else pygit2.Oid(hex=old), pygit2.Oid(hex=new))


def _check_index(repo: pygit2.Repository, old: str, new: str, ref: str) -> str | None:
    """Why a push to a run index is refused: a deletion, a malformed index, a run dropped or
    changed, or a packed run that its commit does not back."""
    import pygit2

    from gittrack._store import packs

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
        if index.runs.get(run_id) != run:
            return f"the update drops or changes packed run {run_id}; indexes only grow (pull, then push)"
    for run_id, run in index.runs.items():
        if run_id not in before and (problem := rules.packed_problem(repo, experiment, run)) is not None:
            return f"packed run {run_id}: {problem}"
    return None


def _packed_commit(repo: pygit2.Repository, experiment: str, run_id: str, index_tips: dict[str, str]) -> str | None:
    """The commit the run index holds for a run, after this push's index updates (None: not packed)."""
    import pygit2

    from gittrack._store import packs

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
    packed with that commit), a ref for a packed run at another commit, a rewritten run."""
    import pygit2

    from gittrack._store import naming, runfiles
    from gittrack._store.record import ENDED

    try:
        experiment, run_id = naming.parse_run_ref(ref)
    except GittrackError as exc:
        return f"not a valid run ref ({exc})"
    packed = _packed_commit(repo, experiment, run_id, index_tips)
    if new == ZERO:
        if old != ZERO and packed == old:
            return None  # packed: the index holds it now
        try:
            previous = runfiles.read_summary(repo, pygit2.Oid(hex=old)) if old != ZERO else None
        except GittrackError:
            previous = None
        return "deleting runs is refused on this remote" if previous is None or previous.status in ENDED else None
    if packed is not None and packed != new:
        return f"run {run_id} is packed with commit {packed[:12]}; its ref may only point there"
    try:  # first: is it the run its name says at all (a summary read), then may it replace, then all of it
        rules.read_run(repo, pygit2.Oid(hex=new), experiment, run_id)
    except GittrackError as exc:
        return f"not a valid run commit ({exc})"
    if old != ZERO and (reason := rules.may_replace(repo, pygit2.Oid(hex=old), pygit2.Oid(hex=new))) is not None:
        return reason
    try:
        rules.check_incoming_run(repo, pygit2.Oid(hex=new), experiment, run_id)
    except GittrackError as exc:
        return f"not a valid run commit ({exc})"
    return None
