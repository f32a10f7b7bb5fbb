"""The promotion policy in force: read from the default branch's ``registry.yaml`` (never from a
branch under review, so a request cannot loosen its own policy), shown, and edited in the work tree."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gittrack._registry import desired as desired_file
from gittrack._registry import tags
from gittrack._registry.desired import Desired, Policy
from gittrack._store.repo import config_value
from gittrack.errors import NotFoundError

if TYPE_CHECKING:
    import pygit2


def default_branch(repo: pygit2.Repository) -> str:
    """``gittrack.defaultBranch``, else the remote's HEAD, else ``init.defaultBranch``, main or master."""
    configured = config_value(repo, "gittrack.defaultBranch")
    if configured is not None:
        return configured
    head = repo.references.get("refs/remotes/origin/HEAD")
    if head is not None and isinstance(head.target, str):
        return head.target.rpartition("/")[2]
    candidates = [repo.config["init.defaultBranch"]] if "init.defaultBranch" in repo.config else []
    for name in [*(c for c in candidates if c is not None), "main", "master"]:
        if repo.references.get(f"refs/heads/{name}") or repo.references.get(f"refs/remotes/origin/{name}"):
            return name
    return "main"


def default_tip(repo: pygit2.Repository, base: str | None = None) -> pygit2.Oid | None:
    """The commit policy is read from: ``base`` if given, else the default branch: its
    remote-tracking copy (what a pull request merges into), or the local branch when that is ahead
    of it (commits not pushed yet, such as a policy just committed), or whichever exists."""
    import pygit2

    if base:
        try:
            return repo.revparse_single(base).peel(pygit2.Commit).id
        except (KeyError, ValueError):
            raise NotFoundError(f"base {base!r} is not a commit here; fetch it first") from None
    name = default_branch(repo)
    tips = []
    for ref in (f"refs/remotes/origin/{name}", f"refs/heads/{name}"):
        found = repo.references.get(ref)
        if found is not None:
            tips.append(found.peel(pygit2.Commit).id)
    if len(tips) == 2 and tips[0] != tips[1] and repo.descendant_of(tips[1], tips[0]):
        return tips[1]
    return tips[0] if tips else None


def policy_of(repo: pygit2.Repository, model: str) -> Policy:
    """The policy in force for ``model``: from the default branch."""
    return desired_file.read_at(repo, default_tip(repo)).policy(model)


def show_policy(repo: pygit2.Repository, model: str) -> dict[str, Any]:
    """The policy of ``model`` (``*``: the default one) without writing anything: as in force
    (the default branch's registry.yaml) and, when it differs, as the work tree's registry.yaml
    has it. Keys: ``model``, ``branch``, ``commit``, ``in_force``, ``work_tree`` (None when the
    same); each policy has ``applies`` (the entry used: the model, ``*`` or None), ``guard``,
    ``no_worse`` and ``thresholds``."""
    if model != desired_file.ALL:
        tags.validate_model(model)
    tip = default_tip(repo)
    in_force = _policy_view(desired_file.read_at(repo, tip), model)
    path = Path(repo.workdir) / desired_file.FILE
    work_tree = _policy_view(desired_file.parse(path.read_bytes(), str(path)), model) if path.exists() else None
    return {
        "model": model,
        "branch": default_branch(repo),
        "commit": str(tip) if tip is not None else None,
        "in_force": in_force,
        "work_tree": work_tree if work_tree != in_force else None,
    }


def _policy_view(desired: Desired, model: str) -> dict[str, Any]:
    applies = model if model in desired.policies else desired_file.ALL if desired_file.ALL in desired.policies else None
    policy = desired.policy(model)
    return {
        "applies": applies,
        "guard": list(policy.guard),
        "no_worse": [dict(rule) for rule in policy.no_worse],
        "thresholds": [dict(rule) for rule in policy.thresholds],
    }


# -- editing the policy --------------------------------------------------------------------
def set_policy(
    repo: pygit2.Repository,
    model: str,
    no_worse: Sequence[str] = (),
    thresholds: Sequence[str] = (),
    guard: Sequence[str] = (),
    clear: bool = False,
) -> tuple[Policy, Path, list[tuple[str, str, str]]]:
    """Change the policy of ``model`` (``*``: every model) in the work tree's registry.yaml.

    A stage this change guards that a model holds already gets that holder recorded as the
    desired one (when registry.yaml names none): from then on the holder changes only through a
    request, and ``promotions status`` is in sync. Returns the policy, the file and those
    ``(model, stage, version)``."""
    if model != desired_file.ALL:
        tags.validate_model(model)
    path = Path(repo.workdir) / desired_file.FILE
    state = (
        desired_file.parse(path.read_bytes(), str(path))
        if path.exists()
        else desired_file.read_at(repo, default_tip(repo))
    )
    guarded_before = _guarded(state)
    policy = Policy() if clear else state.policies.get(model, Policy())
    for rule in map(desired_file.parse_no_worse, no_worse):  # a rule given again is kept once
        if rule not in policy.no_worse:
            policy.no_worse.append(rule)
    for rule in map(desired_file.parse_threshold, thresholds):
        if rule not in policy.thresholds:
            policy.thresholds.append(rule)
    policy.guard += [tags.validate_stage(s) for s in guard if s not in policy.guard]
    state.policies[model] = policy
    recorded = _record_holders(repo, state, guarded_before)
    path.write_bytes(state.to_bytes())
    return policy, path, recorded


def _guarded(state: Desired) -> Callable[[str], set[str]]:
    """model -> the stages ``state``'s policy guards for it, as of now (later edits do not change it)."""
    policies = {name: list(p.guard) for name, p in state.policies.items()}
    return lambda model: set(policies.get(model, policies.get(desired_file.ALL, [])))


def _record_holders(
    repo: pygit2.Repository, state: Desired, guarded_before: Callable[[str], set[str]]
) -> list[tuple[str, str, str]]:
    """Name, in ``state``, the current holder of each stage that became guarded and that
    registry.yaml names no holder of; returns ``(model, stage, version)`` recorded."""
    from gittrack._registry.state import registry_state

    recorded = []
    for name, model in sorted(registry_state(repo).models.items()):
        wanted = state.models.get(name, {})
        for stage in sorted(set(state.policy(name).guard) - guarded_before(name)):
            holders = model.holders(stage)
            if holders and stage not in wanted:
                state.models.setdefault(name, {})[stage] = holders[0].version
                recorded.append((name, stage, holders[0].version))
    return recorded
