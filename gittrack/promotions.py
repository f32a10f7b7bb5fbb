"""Promotions reviewed in pull requests: a request branch with a report, a CI check, and apply.

The desired registry state and the promotion policy live in ``registry.yaml`` (see
``gittrack.registry.desired``). Policy is always read from the default branch, never from the
branch under review, so a request cannot loosen its own policy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gittrack.errors import GittrackError, NotFoundError, UsageError
from gittrack.registry import desired as desired_file
from gittrack.registry.desired import Desired, Policy
from gittrack.registry.state import registry_state
from gittrack.store.repo import identity, signature
from gittrack.store.timefmt import now_ms
from gittrack.store.trees import apply_changes

if TYPE_CHECKING:
    import pygit2

    from gittrack.entities import Run


def default_branch(repo: pygit2.Repository) -> str:
    """``gittrack.defaultBranch``, else the remote's HEAD, else ``init.defaultBranch``, main or master."""
    if "gittrack.defaultBranch" in repo.config:
        return repo.config["gittrack.defaultBranch"]
    head = repo.references.get("refs/remotes/origin/HEAD")
    if head is not None and isinstance(head.target, str):
        return head.target.rpartition("/")[2]
    candidates = [repo.config["init.defaultBranch"]] if "init.defaultBranch" in repo.config else []
    for name in [*candidates, "main", "master"]:
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
    from gittrack.registry import tags

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
    no_worse: list[str] = (),
    thresholds: list[str] = (),
    guard: list[str] = (),
    clear: bool = False,
) -> tuple[Policy, Path]:
    """Change the policy of ``model`` (``*``: every model) in the work tree's registry.yaml."""
    from gittrack.registry import tags

    if model != desired_file.ALL:
        tags.validate_model(model)
    path = Path(repo.workdir) / desired_file.FILE
    state = (
        desired_file.parse(path.read_bytes(), str(path))
        if path.exists()
        else desired_file.read_at(repo, default_tip(repo))
    )
    policy = Policy() if clear else state.policies.get(model, Policy())
    policy.no_worse += [desired_file.parse_no_worse(r) for r in no_worse]
    policy.thresholds += [desired_file.parse_threshold(r) for r in thresholds]
    policy.guard += [tags.validate_stage(s) for s in guard if s not in policy.guard]
    state.policies[model] = policy
    path.write_bytes(state.to_bytes())
    return policy, path


# -- evaluating a candidate ------------------------------------------------------------------
@dataclass
class Check:
    """One rule applied to a candidate."""

    rule: str
    metric: str
    candidate: float | None
    reference: float | None
    ok: bool
    note: str = ""


def evaluate(policy: Policy, candidate: Run, holder: Run | None) -> list[Check]:
    """Apply the policy's rules: no metric worse than the holder's (beyond its tolerance), thresholds."""
    checks = []
    metrics = candidate.data.metrics
    for rule in policy.no_worse:
        key, direction, tolerance = rule["metric"], rule["direction"], rule["tolerance"]
        mine = metrics.get(key)
        theirs = holder.data.metrics.get(key) if holder else None
        if holder is None or theirs is None or (isinstance(theirs, float) and math.isnan(theirs)):
            checks.append(Check(f"no worse ({direction})", key, mine, theirs, True, "no current value to compare"))
            continue
        if mine is None or math.isnan(mine):
            checks.append(Check(f"no worse ({direction})", key, mine, theirs, False, "the candidate lacks it"))
            continue
        ok = mine <= theirs + tolerance if direction == "min" else mine >= theirs - tolerance
        checks.append(Check(f"no worse ({direction}, tolerance {tolerance:g})", key, mine, theirs, ok))
    for rule in policy.thresholds:
        key, op, value = rule["metric"], rule["op"], rule["value"]
        mine = metrics.get(key)
        ok = mine is not None and not math.isnan(mine) and desired_file.OPS[op](mine, value)
        checks.append(
            Check(f"{op} {value:g}", key, mine, value, ok, "" if mine is not None else "the candidate lacks it")
        )
    return checks


def _run_of_version(repo: pygit2.Repository, model: str, version: str) -> Run:
    from gittrack.client import _to_run
    from gittrack.modelregistry import resolve
    from gittrack.store.runstore import RunStore

    found = resolve(repo, f"{model}@{version}")
    stored = RunStore(repo).get(found.run_id) if found.run_id else None
    if stored is None or str(stored.ref.commit) != found.commit:
        raise NotFoundError(f"the run of {model} {version} ({found.commit[:12]}) is not here; run 'gittrack pull'")
    return _to_run(stored)


def _holder(repo: pygit2.Repository, base: Desired, model: str, stage: str) -> str | None:
    """The version holding ``stage`` now: the default branch's desired state, else the registry."""
    named = base.models.get(model, {}).get(stage)
    if named:
        return named
    state = registry_state(repo, only=model).models.get(model)
    holders = state.holders(stage) if state else []
    return holders[0].version if holders else None


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def report(repo: pygit2.Repository, model: str, version: str, stage: str, base: Desired) -> tuple[str, list[Check]]:
    """The Markdown report for promoting ``model`` ``version`` to ``stage``, and the policy checks."""
    from gittrack.compare import diff

    candidate = _run_of_version(repo, model, version)
    current = _holder(repo, base, model, stage)
    holder = _run_of_version(repo, model, current) if current and current != version else None
    checks = evaluate(base.policy(model), candidate, holder)
    lines = [f"## Promote `{model}` {version} to `{stage}`", ""]
    lines += ["| | candidate | current holder |", "| --- | --- | --- |"]
    lines.append(f"| version | {version} | {current or '(none)'} |")
    lines.append(f"| run | {candidate.info.run_name} (`{candidate.info.run_id}`) | "
                 + (f"{holder.info.run_name} (`{holder.info.run_id}`)" if holder else "-") + " |")  # fmt: skip
    lines.append(f"| ref | `{candidate.info.ref}` | " + (f"`{holder.info.ref}`" if holder else "-") + " |")
    lines += [
        "",
        "### Metrics",
        "",
        "| metric | candidate | current | delta | policy |",
        "| --- | --- | --- | --- | --- |",
    ]
    ruled = {c.metric: c for c in checks if not c.rule.startswith(tuple(desired_file.OPS))}
    keys = sorted(set(candidate.data.metrics) | set(holder.data.metrics if holder else {}))
    for key in keys:
        mine, theirs = candidate.data.metrics.get(key), holder.data.metrics.get(key) if holder else None
        delta = mine - theirs if isinstance(mine, float) and isinstance(theirs, float) else None
        mark = ruled.get(key)
        verdict = "" if mark is None else ("✅ " if mark.ok else "❌ ") + mark.rule
        lines.append(f"| {key} | {_fmt(mine)} | {_fmt(theirs)} | {_fmt(delta)} | {verdict} |")
    thresholds = [c for c in checks if c.rule.startswith(tuple(desired_file.OPS))]
    if thresholds:
        lines += ["", "### Thresholds", "", "| metric | rule | candidate | |", "| --- | --- | --- | --- |"]
        lines += [f"| {c.metric} | {c.rule} | {_fmt(c.candidate)} | {'✅' if c.ok else '❌'} |" for c in thresholds]
    if holder is not None:
        changes = diff(repo, holder, candidate)
        for title, values in (
            ("Params", changes.params),
            ("Data inputs", changes.inputs),
            ("Environment", changes.packages),
        ):
            if values:
                lines += [
                    "",
                    f"### {title} (current -> candidate)",
                    "",
                    "| | current | candidate |",
                    "| --- | --- | --- |",
                ]
                lines += [f"| {k} | {_fmt(a)} | {_fmt(b)} |" for k, (a, b) in values.items()]
        lines += ["", "### Code (diffstat between the two runs' snapshots)", ""]
        lines += [f"- `{f.path}` {f.status} +{f.additions} -{f.deletions}" for f in changes.files] or ["- identical"]
    failed = [c for c in checks if not c.ok]
    lines += ["", f"**Policy: {'FAIL' if failed else 'PASS'}**" + (" (no rules)" if not checks else "")]
    lines += [
        f"- {c.metric}: {c.rule} failed ({_fmt(c.candidate)} vs {_fmt(c.reference)}) {c.note}".rstrip() for c in failed
    ]
    return "\n".join(lines) + "\n", checks


# -- the request, the check, apply -----------------------------------------------------------
def request(repo: pygit2.Repository, model: str, version: str, stage: str) -> tuple[str, str]:
    """Create branch ``promote/<model>/<stage>/<version>`` from the default branch with one commit
    changing registry.yaml; returns (branch, Markdown report). The work tree is not touched."""
    import pygit2

    from gittrack.modelregistry import allowed_stages, resolve

    if stage not in allowed_stages(repo):
        raise UsageError(f"stage {stage!r} is not allowed here; allowed stages: {', '.join(allowed_stages(repo))}")
    found = resolve(repo, f"{model}@{version}")
    if not found.active:
        raise UsageError(f"{model} {version} is deprecated; it cannot be promoted")
    base_tip = default_tip(repo)
    if base_tip is None:
        raise UsageError(f"there is no default branch ({default_branch(repo)}) to base the request on; commit first")
    base = desired_file.read_at(repo, base_tip)
    text, _ = report(repo, model, version, stage, base)
    wanted = desired_file.read_at(repo, base_tip)
    wanted.models.setdefault(model, {})[stage] = version
    blob = repo.create_blob(wanted.to_bytes())
    tree = apply_changes(repo, repo[base_tip].tree_id, {desired_file.FILE: (blob, pygit2.GIT_FILEMODE_BLOB)})
    who = signature(*identity(repo), now_ms())
    message = f"Promote {model} {version} to {stage}\n\nRequested with gittrack; see the report in the pull request.\n"
    commit = repo.create_commit(None, who, who, message, tree, [base_tip])
    branch = f"promote/{model}/{stage}/{version}"
    if repo.branches.local.get(branch) is not None:
        raise UsageError(f"branch {branch!r} exists already; delete it or push it as it is")
    repo.branches.local.create(branch, repo[commit])
    return branch, text


def push_request(repo: pygit2.Repository, branch: str, remote: str | None = None) -> str:
    """Push a request branch with everything a reviewer needs: the runs, their artifact data and
    the registry tags. Returns the remote used."""
    from gittrack.sharing import push
    from gittrack.store import transport

    remote = transport.resolve_remote(repo, remote)
    push(repo, remote)
    results = transport.push(repo.workdir, remote, [f"refs/heads/{branch}:refs/heads/{branch}"])
    refused = [f"{r.ref}: {r.why}" for r in results if not r.ok]
    if refused:
        raise transport.RemoteError(f"the remote refused {refused[0]}")
    return remote


def push_tags(repo: pygit2.Repository, names: list[str], remote: str | None = None) -> list[str]:
    """Push registry tags (e.g. those ``apply`` created); returns the ones the remote refused."""
    from gittrack.store import transport

    remote = transport.resolve_remote(repo, remote)
    results = transport.push(repo.workdir, remote, [f"refs/tags/{t}:refs/tags/{t}" for t in names])
    return [f"{r.ref}: {r.why}" for r in results if not r.ok]


@dataclass
class CheckResult:
    """What ``registry check`` found."""

    ok: bool
    report: str
    reasons: list[str]


def check(
    repo: pygit2.Repository, base: str | None = None, head: str = "HEAD", remote: str | None = None
) -> CheckResult:
    """Validate the desired-state change from ``base`` (default branch) to ``head``: versions exist,
    their runs and model data are reachable, and the default branch's policy holds."""
    import pygit2

    from gittrack.data import dvcstore
    from gittrack.sharing import remote_runs

    base_tip = default_tip(repo, base)
    head_tip = repo.revparse_single(head).peel(pygit2.Commit).id
    before, after = desired_file.read_at(repo, base_tip), desired_file.read_at(repo, head_tip)
    changes = [(m, s, v) for m, stages in sorted(after.models.items()) for s, v in sorted(stages.items())
               if before.models.get(m, {}).get(s) != v]  # fmt: skip
    if not changes:
        return CheckResult(True, "No promotion requested: registry.yaml names the same stage holders.\n", [])
    shared = remote_runs(repo, remote) if remote else None
    parts, reasons = [], []
    for model, stage, version in changes:
        try:
            candidate = _run_of_version(repo, model, version)
            if shared is not None and shared.get(candidate.info.ref) != candidate.info.commit:
                reasons.append(f"{model} {version}: run {candidate.info.run_id} is not on {remote}; push it")
            artifact = next(a for a in candidate.record.artifacts if a.get("kind") == "model")
            if dvcstore.has_dvc(repo.workdir):
                entry = dvcstore.DataEntry(artifact["md5"], artifact.get("size"), artifact.get("nfiles"))
                dvcstore.fetch(dvcstore.open_dvc(repo.workdir.rstrip("/")), [entry])
            text, checks = report(repo, model, version, stage, before)
        except (GittrackError, StopIteration) as exc:
            reasons.append(f"{model} {version} to {stage}: {exc or 'its run has no model artifact'}")
            continue
        parts.append(text)
        reasons += [f"{model} {version} to {stage}: {c.metric} {c.rule} failed" for c in checks if not c.ok]
    summary = "\n".join(parts) + (
        "\n**Check: FAIL**\n" + "".join(f"- {r}\n" for r in reasons) if reasons else "\n**Check: PASS**\n"
    )
    return CheckResult(not reasons, summary, reasons)


def _compare(repo: pygit2.Repository, head: str):
    """(head commit, desired state there, registry, [(model, stage, wanted, actual holder)] that differ)."""
    import pygit2

    tip = repo.revparse_single(head).peel(pygit2.Commit).id
    wanted = desired_file.read_at(repo, tip)
    registry = registry_state(repo)
    differ = []
    for model, stages in sorted(wanted.models.items()):
        state = registry.models.get(model)
        for stage, version in sorted(stages.items()):
            holders = state.holders(stage) if state else []
            actual = holders[0].version if holders else None
            if actual != version:
                differ.append((model, stage, version, actual))
    return tip, wanted, registry, differ


def apply(repo: pygit2.Repository, head: str = "HEAD") -> list[str]:
    """Create the stage tags the desired state at ``head`` asks for and that are not there yet
    (idempotent), with tag messages naming ``head``; returns the tags created."""
    from gittrack.modelregistry import promote

    tip, _, _, differ = _compare(repo, head)
    created = []
    for model, stage, version, _ in differ:
        created += promote(repo, model, version, stage, note=f"\n\nGittrack-Merge: {tip}\n", enforce_guard=False)
    return created


def status(repo: pygit2.Repository, head: str = "HEAD") -> list[str]:
    """Drift between registry.yaml at ``head`` and the registry's tags, both ways."""
    _, wanted, registry, differ = _compare(repo, head)
    drift = [f"{m} {s}: registry.yaml wants {v}, the tags say {a or 'nobody'}" for m, s, v, a in differ]
    for model, state in sorted(registry.models.items()):
        guarded = wanted.policy(model).guard
        for stage in state.stages():
            if stage in guarded and wanted.models.get(model, {}).get(stage) is None:
                drift.append(
                    f"{model} {stage}: the tags say {state.holders(stage)[0].version}, registry.yaml names none"
                )
    return drift


REQUEST_PREFIX = "promote/"


def open_requests(repo: pygit2.Repository) -> list[dict[str, Any]]:
    """The promotion requests not merged into the default branch: local ``promote/*`` branches and
    those of remote-tracking branches, each with its Markdown report (or the reason there is none)."""
    import pygit2

    base_tip = default_tip(repo)
    base = desired_file.read_at(repo, base_tip)
    found: dict[str, dict[str, Any]] = {}
    for prefix in ("refs/heads/", "refs/remotes/"):
        for name in repo.references:
            if not name.startswith(prefix):
                continue
            short = name[len(prefix) :]
            if prefix == "refs/remotes/":
                short = short.partition("/")[2]
            if not short.startswith(REQUEST_PREFIX) or short in found:
                continue
            parts = short[len(REQUEST_PREFIX) :].split("/")
            if len(parts) < 3:
                continue
            model, stage, version = "/".join(parts[:-2]), parts[-2], parts[-1]
            tip = repo.references[name].peel(pygit2.Commit)
            if base_tip is not None and (tip.id == base_tip or repo.descendant_of(base_tip, tip.id)):
                continue  # merged
            item = {"branch": short, "ref": name, "model": model, "stage": stage, "version": version,
                    "commit": str(tip.id), "author": tip.author.name, "time": tip.commit_time,
                    "message": tip.message.strip(), "report": None, "problem": None}  # fmt: skip
            try:
                item["report"] = report(repo, model, version, stage, base)[0]
            except GittrackError as exc:
                item["problem"] = str(exc)
            found[short] = item
    return sorted(found.values(), key=lambda r: (-r["time"], r["branch"]))
