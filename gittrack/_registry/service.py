"""The model registry API: register run models as versions, move them through stages, read it all.

Versions and stages are annotated git tags in GTO's format on the run commits (see
docs/registry.md), so ``gto show`` reads the same registry and lineage needs no side file.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gittrack._entities import Run
from gittrack._registry import tags
from gittrack._registry.desired import read_at
from gittrack._registry.guard import guard_problem
from gittrack._registry.policy import default_tip
from gittrack._registry.state import Model, Version, registry_state
from gittrack._registry.write import write_event
from gittrack._store.ids import short_id
from gittrack._store.runstore import RunStore
from gittrack._store.yamlio import load_yaml
from gittrack.errors import GittrackError, InvalidNameError, NotFoundError, UsageError

if TYPE_CHECKING:
    import pygit2


def allowed_stages(repo: pygit2.Repository) -> list[str] | None:
    """The stages this repository restricts itself to: GTO's ``.gto`` ``stages`` list if present,
    else git config ``gittrack.stages`` (comma-separated); None when neither names any, which
    allows every valid stage name, as GTO does (MLflow aliases such as ``champion`` among them)."""
    gto = Path(repo.workdir) / ".gto" if repo.workdir else None
    if gto is not None and gto.is_file():
        config = load_yaml(gto.read_bytes(), ".gto") or {}
        stages = config.get("stages") if isinstance(config, dict) else None
        if isinstance(stages, list) and stages:
            return [str(s) for s in stages]
    try:
        configured = [s.strip() for s in (repo.config["gittrack.stages"] or "").split(",") if s.strip()]
    except KeyError:
        return None
    return configured or None


def check_stage(repo: pygit2.Repository, stage: str) -> str:
    """``stage`` if it is a valid stage name the repository allows; else a one-line error."""
    tags.validate_stage(stage)
    stages = allowed_stages(repo)
    if stages is not None and stage not in stages:
        raise UsageError(
            f"stage {stage!r} is not allowed here; allowed stages: {', '.join(stages)} "
            "(set in .gto or git config gittrack.stages)"
        )
    return stage


def _model(repo: pygit2.Repository, name: str, must_exist: bool = True) -> Model:
    tags.validate_model(name)
    registry = registry_state(repo, only=name)
    model = registry.models.get(name)
    if model is None:
        if must_exist:
            raise NotFoundError(f"no model named {name!r}; see 'gittrack models list'")
        model = Model(name)
    return model


def _version(model: Model, version: str, valid: bool = True) -> Version:
    found = model.versions.get(version)
    if found is None:
        known = ", ".join(sorted(model.versions, key=tags.semver_key)) or "none"
        raise NotFoundError(f"{model.name} has no version {version}; its versions: {known}")
    if valid and found.problem is not None:
        raise NotFoundError(found.problem)
    return found


def register(
    repo: pygit2.Repository,
    run_spec: str,
    artifact: str,
    name: str,
    version: str | None = None,
    bump: str = "patch",
    message: str | None = None,
) -> Version:
    """Register the model ``artifact`` logged by run ``run_spec`` as a new version of model ``name``."""
    tags.validate_model(name)
    stored = RunStore(repo).get(run_spec)
    found = [a for a in stored.record.artifacts if a.get("path") == artifact]
    if not found or found[0].get("kind") != "model":
        raise NotFoundError(f"run {stored.record.name} has no logged model {artifact!r}; log it with log_model first")
    model = _model(repo, name, must_exist=False)
    commit = str(stored.ref.commit)
    for existing in model.versions.values():
        if existing.commit == commit or (existing.run == stored.record.id and existing.artifact == artifact):
            raise UsageError(f"run {short_id(stored.record.id)} is already {name} {existing.version}")
    if version is not None:
        tags.validate_version(version)
        if version in model.versions:
            raise UsageError(f"{name} {version} exists already; choose another version")
    else:
        latest = model.latest
        version = tags.bump(latest.version if latest else None, bump)
        while version in model.versions:
            version = tags.bump(version, "patch")
    text = (message or f"Registering artifact {name} version {version}").strip()
    trailer = f"\n\nGittrack-Run: {stored.record.id}\nGittrack-Artifact: {artifact}\n"
    write_event(repo, model, tags.REGISTER, commit, text + trailer, version=version)
    return _model(repo, name).versions[version]


def promote(
    repo: pygit2.Repository,
    name: str,
    version: str,
    stage: str,
    archive_existing: bool = False,
    note: str = "",
    enforce_guard: bool = True,
) -> list[str]:
    """Assign ``stage`` to a version (a rollback is just promoting an older version again);
    ``archive_existing`` unassigns the stage from every other version. Returns the tags written.
    Stages the policy guards need a reviewed request (``promotions apply`` passes ``enforce_guard=False``)."""
    check_stage(repo, stage)
    model = _model(repo, name)
    target = _version(model, version)
    if enforce_guard:
        _check_guard(repo, tags.TagName(tags.ASSIGN, name, stage=stage), model, target)
    if not target.active:
        raise UsageError(f"{name} {version} is deprecated; register a new version or promote another one")
    written = []
    if archive_existing:
        for holder in model.holders(stage):
            if holder.version != version:
                if enforce_guard:
                    _check_guard(repo, tags.TagName(tags.UNASSIGN, name, stage=stage), model, holder)
                message = f"Unassigning stage '{stage}' to artifact '{name}' version '{holder.version}'{note}"
                written.append(write_event(repo, model, tags.UNASSIGN, holder.commit, message, stage=stage)[0])
    message = f"Assigning stage {stage} to artifact {name} version {version}{note}"
    written.append(write_event(repo, model, tags.ASSIGN, target.commit, message, stage=stage)[0])
    return written


def demote(repo: pygit2.Repository, name: str, version: str, stage: str) -> str:
    """Unassign ``stage`` from a version (GTO's unassign tag)."""
    model = _model(repo, name)
    target = _version(model, version)
    if stage not in target.stages:
        raise UsageError(f"{name} {version} is not in stage {stage!r}")
    _check_guard(repo, tags.TagName(tags.UNASSIGN, name, stage=stage), model, target)
    message = f"Unassigning stage '{stage}' to artifact '{name}' version '{version}'"
    return write_event(repo, model, tags.UNASSIGN, target.commit, message, stage=stage)[0]


def deprecate(repo: pygit2.Repository, name: str, version: str | None = None) -> str:
    """Deprecate one version (GTO's deregister tag) or, without a version, the whole model."""
    model = _model(repo, name)
    if version is not None:
        target = _version(model, version, valid=False)
        if not target.active:
            raise UsageError(f"{name} {version} is deprecated already")
        _check_guard(repo, tags.TagName(tags.DEREGISTER, name, version=version), model, target)
        message = f"Deregistering artifact {name} version {version}"
        return write_event(repo, model, tags.DEREGISTER, target.commit, message, version=version)[0]
    if model.deprecated:
        raise UsageError(f"{name} is deprecated already")
    _check_guard(repo, tags.TagName(tags.DEPRECATE, name), model, None)
    newest = max(model.events, key=lambda e: e.order())
    return write_event(repo, model, tags.DEPRECATE, newest.commit, f"Deprecating artifact '{name}'")[0]


def _check_guard(repo: pygit2.Repository, event: tags.TagName, model: Model, version: Version | None) -> None:
    """Refuse ``event`` when the one guard rule (``registry.guard``) refuses it against the policy and
    the desired holders in force (the default branch's registry.yaml), as the server hook would."""
    wanted = read_at(repo, default_tip(repo))
    problem = guard_problem(event, model, version, wanted.policy(event.model).guard, wanted.models.get(event.model, {}))
    if problem is not None:
        raise UsageError(problem)


def version_of_run(version: Version, stored) -> bool:
    """Whether ``stored`` (a run read here) is the run of ``version``: the run at the tagged commit,
    or the run a checkpoint of which the tag names (registered while it was running)."""
    return str(stored.ref.commit) == version.commit or (version.problem is None and version.run == stored.ref.run_id)


def split_spec(spec: str) -> tuple[str, str]:
    """``MODEL@v1.2.0`` / ``MODEL@production`` / ``MODEL@latest`` -> (model, selector)."""
    name, sep, selector = spec.partition("@") if isinstance(spec, str) else ("", "", "")
    if not sep or not name or not selector:
        raise InvalidNameError(f"{spec!r} is not MODEL@VERSION, MODEL@STAGE or MODEL@latest")
    return name, selector


def resolve(repo: pygit2.Repository, spec: str) -> Version:
    """The version a ``MODEL@...`` spec names: an exact version, the newest holder of a stage, or latest."""
    name, selector = split_spec(spec)
    model = _model(repo, name)
    if selector in ("latest", "greatest"):
        if model.latest is None:
            raise NotFoundError(f"{name} has no active version")
        return model.latest
    if selector.startswith("v") and selector[1:2].isdigit():
        return _version(model, tags.validate_version(selector))
    holders = model.holders(tags.validate_stage(selector))
    if not holders:
        raise NotFoundError(
            f"no version of {name} is in stage {selector!r}; stages in use: {', '.join(model.stages()) or 'none'}"
        )
    return holders[0]


def _run_summary(repo: pygit2.Repository, version: Version) -> dict[str, Any]:

    try:
        stored = RunStore(repo).get(version.run_id or version.commit)
    except GittrackError:
        return {"run_id": version.run_id, "available": False}
    run = Run.from_stored(stored)
    return {"run_id": run.info.run_id, "run_name": run.info.run_name, "available": True, "metrics": run.data.metrics,
            "params": run.data.params, "source_commit": run.info.source_commit, "dirty": run.info.dirty}  # fmt: skip


def version_dict(repo: pygit2.Repository, version: Version, with_run: bool = True) -> dict[str, Any]:
    """A JSON-ready view of one version."""
    event = version.registered
    out = {
        "model": version.model,
        "version": version.version,
        "active": version.active,
        "commit": version.commit,
        "run_id": version.run_id,
        "artifact": version.artifact,
        "registered_at": event.time,
        "registered_by": event.author,
        "tag": event.tag,
        "valid": version.problem is None,
        "problem": version.problem,
        "stages": {s: {"tag": e.tag, "at": e.time, "by": e.author} for s, e in sorted(version.stages.items())},
    }
    if with_run:
        out["run"] = _run_summary(repo, version)
    return out


def list_models(repo: pygit2.Repository) -> tuple[list[dict[str, Any]], list[str]]:
    """Every model: latest version and the version holding each stage; plus registry problems."""
    registry = registry_state(repo)
    out = []
    for name in sorted(registry.models):
        model = registry.models[name]
        if not model.versions and not model.events:
            continue
        latest = model.latest
        out.append({
            "model": name,
            "latest": latest.version if latest else None,
            "deprecated": model.deprecated,
            "stages": {stage: model.holders(stage)[0].version for stage in model.stages()},
            "versions": len(model.versions),
        })  # fmt: skip
    return out, registry.problems


def show(repo: pygit2.Repository, name: str) -> dict[str, Any]:
    """One model: every version with its stages, dates, people and run (with key metrics)."""
    model = _model(repo, name)
    versions = sorted(model.versions.values(), key=lambda v: tags.semver_key(v.version), reverse=True)
    return {
        "model": name,
        "deprecated": model.deprecated,
        "latest": model.latest.version if model.latest else None,
        "stages": {stage: [v.version for v in model.holders(stage)] for stage in model.stages()},
        "versions": [version_dict(repo, v) for v in versions],
    }


def history(repo: pygit2.Repository, name: str) -> list[dict[str, Any]]:
    """Every event of a model, oldest first."""
    model = _model(repo, name)
    by_commit = {v.commit: v.version for v in model.versions.values()}
    return [
        {
            "time": e.time,
            "event": e.kind,
            "version": e.version or by_commit.get(e.commit),
            "stage": e.stage,
            "tag": e.tag,
            "author": e.author,
            "author_email": e.author_email,
            "commit": e.commit,
            "message": e.message.split("\n\n")[0],
        }
        for e in model.events
    ]


def lineage(repo: pygit2.Repository, spec: str) -> dict[str, Any]:
    """version -> run (params, metrics) -> source commit (dirty or not) -> data inputs, each link
    with whether it is available locally."""
    import pygit2

    version = resolve(repo, spec)
    run = _run_summary(repo, version)
    out: dict[str, Any] = {"version": version_dict(repo, version, with_run=False), "run": run}
    source = run.get("source_commit")
    try:
        available = source is not None and isinstance(repo[pygit2.Oid(hex=source)], pygit2.Commit)
    except (KeyError, ValueError):
        available = False
    out["source"] = {"commit": source, "dirty": run.get("dirty"), "available": available}
    inputs = []
    if run.get("available"):
        stored = RunStore(repo).get(run["run_id"])
        record = stored.record
        from gittrack._data import dvcstore

        dvc = dvcstore.open_dvc(repo.workdir.rstrip("/")) if dvcstore.has_dvc(repo.workdir) else None
        snapshot = repo[stored.ref.commit].peel(pygit2.Commit).tree
        for item in record.inputs:
            entry = dvcstore.DataEntry(str(item.get("md5")), item.get("size"), item.get("nfiles"))
            inputs.append({
                **item,
                "in_cache": bool(dvc and item.get("md5") and dvcstore.in_cache(dvc, entry)),
                "in_git": _in_snapshot(repo, snapshot, item),
            })  # fmt: skip
    out["inputs"] = inputs
    return out


def _in_snapshot(repo: pygit2.Repository, tree: pygit2.Tree, item: dict[str, Any]) -> bool:
    """Whether an input is held by git in the run's snapshot (a git-tracked file with the recorded
    content, or a folder), rather than by DVC."""
    import hashlib

    import pygit2

    path = item.get("path")
    if not isinstance(path, str) or not path or path.startswith(("/", "..")) or path.startswith(".gittrack/"):
        return False
    try:
        found = tree[path]
    except (KeyError, ValueError):
        return False
    if found.type_str == "tree":
        return True
    blob = repo[found.id]
    return isinstance(blob, pygit2.Blob) and hashlib.md5(blob.data).hexdigest() == item.get("md5")  # noqa: S324


def verify(repo: pygit2.Repository, spec: str) -> list[tuple[str, bool, str]]:
    """Check with git the signatures of the tags behind ``MODEL@STAGE|VERSION``: (tag, ok, git's words)."""
    version = resolve(repo, spec)
    _, selector = split_spec(spec)
    names = [version.registered.tag]
    if selector in version.stages:
        names.append(version.stages[selector].tag)
    results = []
    for name in names:
        done = subprocess.run(["git", "verify-tag", name], cwd=repo.workdir, capture_output=True, text=True)
        words = (done.stderr or done.stdout).strip().splitlines()
        results.append((name, done.returncode == 0, words[-1] if words else ""))
    return results


def load(repo: pygit2.Repository, spec: str) -> Any:
    """Load the model a ``MODEL@...`` spec resolves to."""
    from gittrack._flavors import load as load_model

    version = resolve(repo, spec)
    if version.run_id is None:
        stored = next((r for r in RunStore(repo).runs()[0] if str(r.ref.commit) == version.commit), None)
    else:
        stored = RunStore(repo).get(version.run_id)
    if stored is None or not version_of_run(version, stored):
        raise NotFoundError(
            f"{version.model} {version.version} points at {version.commit[:12]}, which is not a run here; "
            "pull its run ('gittrack pull') or check the tag"
        )
    return load_model(repo, Run.from_stored(stored), version.artifact)
