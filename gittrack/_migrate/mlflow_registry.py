"""MLflow's model registry as GTO tags: versions, current stages and aliases.

MLflow version ``N`` becomes ``vN.0.0``, tagged on its run's commit, in version order. MLflow
keeps no stage history, only each version's current stage (dated by its last update) and the
model's aliases (dated by the model's last update): those become stage tags (``Staging`` ->
``staging``, ``Production`` -> ``production``, an alias -> a stage of its name), in time order.
Tagger dates come from MLflow's timestamps and strictly increase per model, as GTO needs.
Importing again writes only the versions and stage assignments that are missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gittrack._migrate.report import MigrationReport
from gittrack.errors import GittrackError

if TYPE_CHECKING:
    import pygit2

_REGISTER, _ASSIGN = 0, 1


def gto_version(mlflow_version: str | int) -> str:
    """MLflow's integer version as a semantic version GTO accepts (``3`` -> ``v3.0.0``)."""
    return f"v{int(mlflow_version)}.0.0"


def stage_name(mlflow_stage: str) -> str | None:
    """The gittrack stage of an MLflow stage (None for ``None`` and ``Archived``)."""
    return {"staging": "staging", "production": "production"}.get((mlflow_stage or "").lower())


def _versions(client, name: str) -> list:
    found, token = [], None
    while True:
        page = client.search_model_versions(f"name='{name}'", max_results=200, page_token=token)
        found.extend(page)
        token = page.token
        if not token:
            return sorted(found, key=lambda v: int(v.version))


def _registered_models(client) -> list:
    found, token = [], None
    while True:
        page = client.search_registered_models(max_results=200, page_token=token)
        found.extend(page)
        token = page.token
        if not token:
            return sorted(found, key=lambda m: m.name)


def import_registry(
    repo: pygit2.Repository, client, ids: dict[str, str], report: MigrationReport, dry_run: bool
) -> None:
    """Write the registered models of ``client``'s registry whose runs are imported (``ids``:
    MLflow run id -> gittrack run id)."""
    from gittrack._migrate.common import imported_runs, version_artifact
    from gittrack._registry import tags
    from gittrack._registry.state import registry_state

    models = _registered_models(client)
    if not models:
        return
    refs = {mlflow_id: ref for mlflow_id, (_, ref) in imported_runs(repo).items()}
    for summary in models:
        name = summary.name
        try:
            tags.validate_model(name)
        except GittrackError as exc:
            report.skip(f"registered model {name!r}", str(exc))
            continue
        registered = client.get_registered_model(name)
        events = []
        commits = {}
        for version in _versions(client, name):
            number = str(version.version)
            what = f"{name} version {version.version}"
            ref = refs.get(version.run_id or "")
            if ref is None and not (dry_run and version.run_id in ids):
                report.skip(what, "its MLflow run is not imported (another experiment, or still running)")
                continue
            artifact = version_artifact(client, version)
            if artifact is None:
                report.skip(what, f"its source {version.source!r} names no artifact of a run")
                continue
            semver = gto_version(version.version)
            commits[number] = str(repo.references[ref].target) if ref else ""
            text = (version.description or f"Registering artifact {name} version {semver}").strip()
            trailer = f"\n\nGittrack-Run: {ids[version.run_id]}\nGittrack-Artifact: {artifact}\n"
            events.append((int(version.creation_timestamp or 0), _REGISTER, number, semver, text + trailer))
            stage = stage_name(version.current_stage)
            if stage:
                when = int(version.last_updated_timestamp or version.creation_timestamp or 0)
                message = f"Assigning stage {stage} to artifact {name} version {semver}"
                events.append((when, _ASSIGN, number, stage, message))
        for alias, number in sorted((getattr(registered, "aliases", None) or {}).items()):
            number = str(number)
            if number not in commits:
                continue
            try:
                tags.validate_stage(alias)
            except GittrackError as exc:
                report.skip(f"alias {alias!r} of {name}", str(exc))
                continue
            message = f"Assigning stage {alias} to artifact {name} version {gto_version(number)}"
            events.append((int(registered.last_updated_timestamp or 0), _ASSIGN, number, alias, message))
        _write(repo, name, events, commits, report, dry_run, registry_state)
        report.registered_models += 1


def _write(repo, name: str, events: list, commits: dict, report: MigrationReport, dry_run: bool, registry_state):
    from gittrack._registry import tags
    from gittrack._registry.write import create_tag

    model = registry_state(repo, only=name).models.get(name)
    present = dict(model.versions) if model is not None else {}
    last = model.last_time() if model is not None else 0
    counter = (model.next_counter() - 1) if model is not None else 0
    # registrations in MLflow's version order, each no earlier than the one before; then all by time
    ordered, floor = [], 0
    for when, kind, number, target, message in events:
        if kind == _REGISTER:
            floor = max(floor, when)
            ordered.append((floor, kind, int(number), number, target, message))
        else:
            ordered.append((when, kind, int(number), number, target, message))
    ordered.sort(key=lambda e: (e[0], e[1], e[2]))
    for when_ms, kind, _, number, target, message in ordered:
        semver = gto_version(number)
        if kind == _REGISTER:
            if semver in present:
                continue
            tag = tags.format_tag(tags.REGISTER, name, version=semver)
            report.versions += 1
        else:
            held = model is not None and semver in model.versions and target in model.versions[semver].stages
            if held:
                continue
            counter += 1
            tag = tags.format_tag(tags.ASSIGN, name, stage=target, counter=counter)
            report.stage_events += 1
        when = max(when_ms // 1000, last + 1)
        last = when
        if not dry_run:
            create_tag(repo, tag, commits[number], message, when)
