"""Promotions reviewed in pull requests: a request branch with a report, a CI check, and apply.

The desired registry state and the promotion policy live in ``registry.yaml`` (see
``gittrack._registry.desired``). Policy is always read from the default branch, never from the
branch under review, so a request cannot loosen its own policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gittrack._data import dvcstore
from gittrack._registry import desired as desired_file
from gittrack._registry.policy import default_branch, default_tip
from gittrack._registry.report import report, run_of_version
from gittrack._registry.service import check_stage, promote, resolve
from gittrack._registry.state import registry_state
from gittrack._store import transport
from gittrack._store.remote import remote_runs
from gittrack._store.repo import identity, signature
from gittrack._store.timefmt import now_ms
from gittrack._store.trees import apply_changes
from gittrack._sync import push
from gittrack.errors import GittrackError, RemoteError, UsageError

if TYPE_CHECKING:
    import pygit2


# -- the request, the check, apply -----------------------------------------------------------
def request(repo: pygit2.Repository, model: str, version: str, stage: str) -> tuple[str, str]:
    """Create branch ``promote/<model>/<stage>/<version>`` from the default branch with one commit
    changing registry.yaml; returns (branch, Markdown report). The work tree is not touched."""
    import pygit2

    check_stage(repo, stage)
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
    base_tree = repo[base_tip].peel(pygit2.Commit).tree_id
    tree = apply_changes(repo, base_tree, {desired_file.FILE: (blob, pygit2.GIT_FILEMODE_BLOB)})
    who = signature(*identity(repo), now_ms())
    message = f"Promote {model} {version} to {stage}\n\nRequested with gittrack; see the report in the pull request.\n"
    commit = repo.create_commit(None, who, who, message, tree, [base_tip])
    branch = f"promote/{model}/{stage}/{version}"
    if repo.branches.local.get(branch) is not None:
        raise UsageError(f"branch {branch!r} exists already; delete it or push it as it is")
    repo.branches.local.create(branch, repo[commit].peel(pygit2.Commit))
    return branch, text


def push_request(repo: pygit2.Repository, branch: str, remote: str | None = None) -> str:
    """Push a request branch with everything a reviewer needs: the runs, their artifact data and
    the registry tags. Returns the remote used."""

    remote = transport.resolve_remote(repo, remote)
    push(repo, remote)
    results = transport.push(repo.workdir, remote, [f"refs/heads/{branch}:refs/heads/{branch}"])
    refused = [f"{r.ref}: {r.why}" for r in results if not r.ok]
    if refused:
        raise RemoteError(f"the remote refused {refused[0]}")
    return transport.redact(remote)


def push_tags(repo: pygit2.Repository, names: list[str], remote: str | None = None) -> list[str]:
    """Push registry tags (e.g. those ``apply`` created); returns the ones the remote refused."""

    remote = transport.resolve_remote(repo, remote)
    results = transport.push(repo.workdir, remote, [f"refs/tags/{t}:refs/tags/{t}" for t in names])
    return [f"{r.ref}: {r.why}" for r in results if not r.ok]


@dataclass
class CheckResult:
    """What ``promotions check`` found."""

    ok: bool
    report: str
    reasons: list[str]


def check(
    repo: pygit2.Repository, base: str | None = None, head: str = "HEAD", remote: str | None = None
) -> CheckResult:
    """Validate the desired-state change from ``base`` (default branch) to ``head``: versions exist,
    their runs and model data are reachable, and the default branch's policy holds."""
    import pygit2

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
            candidate = run_of_version(repo, model, version)
            if shared is not None and shared.get(candidate.info.ref) != candidate.info.commit:
                reasons.append(
                    f"{model} {version}: run {candidate.info.run_id} is not on {transport.redact(str(remote))}; push it"
                )
            artifact = next(a for a in candidate.details.artifacts if a.get("kind") == "model")
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
