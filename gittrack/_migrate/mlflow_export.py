"""``gittrack export mlflow``: runs, artifacts, models and the registry into an MLflow store.

Runs are written through MLflow's client: params, every metric point (value, step, timestamp),
tags, start and end times, status, user, parent runs, and artifacts (models as folders; a model
imported from MLflow keeps its MLmodel file and so loads with ``mlflow.<flavor>.load_model``).
Each exported run gets the tag ``gittrack.run_id``; exporting again skips the runs that have it.
Registered versions become MLflow model versions in semver order, and each stage's current
holder an alias of the stage's name. Deleted runs are not exported.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gittrack._migrate.common import mlflow_client
from gittrack._migrate.report import MigrationReport
from gittrack._registry.tags import semver_key
from gittrack.errors import UsageError

if TYPE_CHECKING:
    from gittrack._services.registry import RegistryService
    from gittrack._services.runs import RunService

EXPORTED_RUN_TAG = "gittrack.run_id"
_BATCH_METRICS, _BATCH_PARAMS, _BATCH_TAGS = 1000, 100, 100


def _chunks(items: list, size: int) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _exported(mlflow, experiment_ids: list[str]) -> dict[str, str]:
    """gittrack run id -> MLflow run id of the runs exported before."""
    from mlflow.entities import ViewType

    found: dict[str, str] = {}
    if not experiment_ids:
        return found
    token = None
    while True:
        page = mlflow.search_runs(
            experiment_ids, f"tags.`{EXPORTED_RUN_TAG}` != ''", ViewType.ALL, 1000, page_token=token
        )
        found.update({r.data.tags[EXPORTED_RUN_TAG]: r.info.run_id for r in page})
        token = page.token
        if not token:
            return found


def _experiment_id(mlflow, name: str, tracking_uri: str) -> str:
    """The MLflow experiment ``name``, created if needed: for a database store, with its artifacts
    in ``mlruns/`` beside the database (MLflow's default would be the current folder)."""
    from gittrack._store.naming import encode_component

    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = None
    if tracking_uri.startswith("sqlite:///"):
        folder = Path(tracking_uri[len("sqlite:///") :]).resolve().parent / "mlruns" / encode_component(name)
        location = folder.as_uri()
    return mlflow.create_experiment(name, artifact_location=location)


def _export_run(runs_of, mlflow, run, experiment_id: str, parent: str | None, report: MigrationReport) -> str:
    from mlflow.entities import Metric, Param

    info = run.info
    tags = {**run.data.tags, EXPORTED_RUN_TAG: info.run_id}
    tags.setdefault("mlflow.user", info.user)
    tags.pop("mlflow.parentRunId", None)
    if parent is not None:
        tags["mlflow.parentRunId"] = parent
    created = mlflow.create_run(experiment_id, start_time=info.start_time, tags=tags, run_name=info.run_name)
    run_id = created.info.run_id
    points = [
        Metric(key, m.value, m.timestamp, m.step)
        for key in run.data.metrics
        for m in runs_of.get_metric_history(info.run_id, key)
    ]
    params = [Param(k, v) for k, v in run.data.params.items()]
    for batch in _chunks(points, _BATCH_METRICS):
        mlflow.log_batch(run_id, metrics=batch)
    for batch in _chunks(params, _BATCH_PARAMS):
        mlflow.log_batch(run_id, params=batch)
    report.metric_points += len(points)
    report.params += len(params)
    report.tags += len(tags)
    artifacts = runs_of.list_artifacts(info.run_id)
    if artifacts:
        with tempfile.TemporaryDirectory(prefix="gittrack-export-") as tmp:
            for artifact in artifacts:
                local = Path(runs_of.download_artifacts(info.run_id, artifact["path"], Path(tmp) / artifact["path"]))
                folder = artifact["path"].rpartition("/")[0] or None
                if local.is_dir():
                    mlflow.log_artifacts(run_id, str(local), artifact["path"])
                else:
                    mlflow.log_artifact(run_id, str(local), folder)
                report.artifacts += 1
                report.artifact_bytes += int(artifact.get("size") or 0)
                report.models += artifact.get("kind") == "model"
    mlflow.set_terminated(run_id, info.status, end_time=info.end_time)
    report.runs += 1
    return run_id


def _export_registry(registry: RegistryService, mlflow, mapping: dict[str, str], report: MigrationReport) -> None:
    models, _problems = registry.list()
    for summary in models:
        name = summary["model"]
        shown = registry.show(name)
        try:
            mlflow.get_registered_model(name)
        except Exception:  # noqa: BLE001 - MLflow raises its own exception for "not found"
            mlflow.create_registered_model(name)
        present = {v.tags.get("gittrack.version") for v in mlflow.search_model_versions(f"name='{name}'")}
        numbers: dict[str, str] = {}
        for version in sorted(shown["versions"], key=lambda v: semver_key(v["version"])):
            run_id = mapping.get(version.get("run_id") or "")
            if run_id is None:
                report.skip(f"{name} {version['version']}", "its run is not exported (deleted, or not a run here)")
                continue
            if version["version"] in present:
                continue
            artifact = version.get("artifact") or "model"
            created = mlflow.create_model_version(
                name, f"runs:/{run_id}/{artifact}", run_id, tags={"gittrack.version": version["version"]}
            )
            numbers[version["version"]] = created.version
            report.versions += 1
        for stage, holders in shown["stages"].items():
            if holders and holders[0] in numbers:
                mlflow.set_registered_model_alias(name, stage, numbers[holders[0]])
                report.stage_events += 1
        report.registered_models += 1


def export_mlflow(
    runs_of: RunService,
    models: RegistryService,
    tracking_uri: str,
    experiments: Iterable[str] | None = None,
    registry: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> MigrationReport:
    """Write the runs of ``runs_of``'s repository (of ``experiments``, default all) and its registry
    (``models``) into the MLflow store at ``tracking_uri``; runs exported before are skipped."""
    if not tracking_uri:
        raise UsageError("give the MLflow store to export to with --tracking-uri (a folder or sqlite:///mlflow.db)")
    mlflow = mlflow_client(tracking_uri, create=True)
    report = MigrationReport()
    names = list(experiments) if experiments else runs_of.repo.experiment_names()
    known = set(runs_of.repo.experiment_names())
    missing = [n for n in names if n not in known]
    if missing:
        raise UsageError(f"no experiment named {', '.join(map(repr, missing))} here; known: {', '.join(sorted(known))}")
    ids = {name: _experiment_id(mlflow, name, tracking_uri) for name in names}
    mapping = _exported(mlflow, list(ids.values()))
    report.runs_present = len(mapping)
    runs: list[Any] = sorted((r for n in names for r in runs_of.list_runs(n)), key=lambda r: r.info.start_time)
    todo = [r for r in runs if r.info.run_id not in mapping and r.info.status != "RUNNING"]
    for run in runs:
        if run.info.status == "RUNNING":
            report.skip(f"run {run.info.run_id}", "it is still running; export it once it ends")
    by_id = {r.info.run_id: r for r in todo}
    for done, run in enumerate(_parents_first(todo, by_id), 1):
        parent = mapping.get(run.info.parent_run_id or "")
        mapping[run.info.run_id] = _export_run(runs_of, mlflow, run, ids[run.info.experiment], parent, report)
        if progress is not None:
            progress(done, len(todo))
    if registry:
        _export_registry(models, mlflow, mapping, report)
    return report


def _parents_first(runs: list, by_id: dict[str, Any]) -> list:
    ordered, seen = [], set()

    def visit(run) -> None:
        if run.info.run_id in seen:
            return
        seen.add(run.info.run_id)
        parent = by_id.get(run.info.parent_run_id or "")
        if parent is not None:
            visit(parent)
        ordered.append(run)

    for run in runs:
        visit(run)
    return ordered
