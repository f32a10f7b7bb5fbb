"""gittrack's runs and experiments as MLflow's entities, and MLflow's names as gittrack's."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from gittrack.mlflow.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    InputTag,
    LifecycleStage,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunOutputs,
)

if TYPE_CHECKING:
    import gittrack._entities

DEFAULT_EXPERIMENT = "default"
DEFAULT_ID = "0"  # MLflow's id of the Default experiment
DELETED_PREFIX = "refs/runs-deleted/"


def experiment_name(experiment_id: Any) -> str:
    """The gittrack experiment an MLflow experiment id names (the id is the name; "0" is the default)."""
    text = str(experiment_id)
    return DEFAULT_EXPERIMENT if text in (DEFAULT_ID, "Default") else text


def experiment_names(experiment_ids: Any) -> list[str] | None:
    """``search_runs(experiment_ids=...)``: a string or a list of ids, as gittrack experiment names."""
    if experiment_ids is None:
        return None
    if isinstance(experiment_ids, str | int):
        experiment_ids = [experiment_ids]
    return [experiment_name(e) for e in experiment_ids]


def system_tags(run: gittrack._entities.Run) -> dict[str, str]:
    """MLflow's system tags a gittrack run carries."""
    info = run.info
    tags = {"mlflow.runName": info.run_name, "mlflow.user": info.user}
    if info.source_commit:
        tags["mlflow.source.git.commit"] = info.source_commit
    if info.source_branch:
        tags["mlflow.source.git.branch"] = info.source_branch
    if info.parent_run_id:
        tags["mlflow.parentRunId"] = info.parent_run_id
    return tags


def run_info(run: gittrack._entities.Run, repo_path: str | None = None) -> RunInfo:
    """MLflow's ``RunInfo`` of a gittrack run; its ``artifact_uri`` is the run's artifact folder in
    the clone at ``repo_path`` (``runs:/<run id>`` without one)."""
    from gittrack.mlflow._locations import artifact_uri

    info = run.info
    deleted = info.ref.startswith(DELETED_PREFIX)
    return RunInfo(
        run_id=info.run_id,
        run_name=info.run_name,
        experiment_id=info.experiment,
        user_id=info.user,
        status=info.status,
        start_time=info.start_time,
        end_time=info.end_time,
        lifecycle_stage=LifecycleStage.DELETED if deleted else LifecycleStage.ACTIVE,
        artifact_uri=artifact_uri(repo_path, info.run_id) if repo_path else f"runs:/{info.run_id}",
    )


def run_inputs(run: gittrack._entities.Run) -> RunInputs:
    """The run's inputs as MLflow's dataset inputs: a dataset's own fields (source type, source,
    schema, profile) when it was logged with them, else a local source at its path. A URI source
    reads as MLflow's JSON (``{"uri": "data/train.csv"}``)."""
    found = []
    for item in run.details.inputs:
        if not isinstance(item, dict):
            continue
        name = str(item.get("name") or item.get("path") or "")
        digest = str(item.get("digest") or item.get("md5") or "")
        source_type = str(item.get("source_type") or "local")
        source = str(item.get("dataset_source") or item.get("path") or "")
        if source_type != "code":  # MLflow's form of a URI source
            source = json.dumps({"url" if source_type == "http" else "uri": source})
        dataset = Dataset(name, digest, source_type, source, item.get("schema"), item.get("profile"))
        tags = [InputTag("mlflow.data.context", str(item["context"]))] if item.get("context") else []
        own = item.get("tags")
        tags += [InputTag(str(k), str(v)) for k, v in own.items()] if isinstance(own, dict) else []
        found.append(DatasetInput(dataset, tags))
    return RunInputs(found)


def to_mlflow_run(run: gittrack._entities.Run, repo_path: str | None = None) -> Run:
    """MLflow's ``Run`` of a gittrack run of the clone at ``repo_path``: its own tags, and over them
    the system tags derived from the record (name, user, source commit and branch, parent), which
    nothing else may set."""
    from gittrack.mlflow._logged import outputs_of

    tags = {**run.data.tags, **system_tags(run)}
    data = RunData(metrics=dict(run.data.metrics), params=dict(run.data.params), tags=tags)
    return Run(run_info(run, repo_path), data, run_inputs(run), RunOutputs(outputs_of(run)))


def to_mlflow_experiment(experiment: Any) -> Experiment:
    """MLflow's ``Experiment`` of a gittrack experiment (description as ``mlflow.note.content``)."""
    tags = dict(experiment.tags)
    if experiment.description is not None:
        tags["mlflow.note.content"] = experiment.description
    return Experiment(
        experiment_id=experiment.experiment_id,
        name=experiment.name,
        artifact_location=f"runs:/{experiment.name}",
        lifecycle_stage=experiment.lifecycle_stage,
        tags=tags,
        creation_time=experiment.creation_time,
        last_update_time=experiment.last_update_time,
    )
