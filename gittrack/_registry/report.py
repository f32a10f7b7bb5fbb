"""The Markdown report of a promotion request: candidate against the current holder, metric by
metric, with the policy's checks, params, data and environment changes, and the code's diffstat."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gittrack._compare import diff
from gittrack._entities import Run
from gittrack._registry import desired as desired_file
from gittrack._registry.desired import Desired, Policy
from gittrack._registry.service import resolve, version_of_run
from gittrack._registry.state import registry_state
from gittrack._store.runstore import RunStore
from gittrack.errors import NotFoundError

if TYPE_CHECKING:
    import pygit2


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


def run_of_version(repo: pygit2.Repository, model: str, version: str) -> Run:
    """The run of a registered version, which must be here (pulled)."""
    found = resolve(repo, f"{model}@{version}")
    stored = RunStore(repo).get(found.run_id) if found.run_id else None
    if stored is None or not version_of_run(found, stored):
        raise NotFoundError(f"the run of {model} {version} ({found.commit[:12]}) is not here; run 'gittrack pull'")
    return Run.from_stored(stored)


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
    candidate = run_of_version(repo, model, version)
    current = _holder(repo, base, model, stage)
    holder = run_of_version(repo, model, current) if current and current != version else None
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
