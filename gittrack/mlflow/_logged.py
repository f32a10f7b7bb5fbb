"""MLflow 3's logged models on gittrack: every model a run logged (an artifact of kind ``model``).

A logged model's id is ``m-<run id>-<8 hex digits of the artifact path's hash>``: derived from
what the run records, so it is the same in every clone, needs no side file, and names its run
(``models:/<id>`` resolves without a scan). Its params, tags, type and step are what
``log_model(params=, tags=, model_type=, step=)`` recorded in the model's entry of the run
record; its metrics are its run's at the model's step, as MLflow 3 links them (the run's
metrics logged at that step, and those logged with ``model_id=``, which go to the run).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from gittrack.errors import NotFoundError, UsageError
from gittrack.mlflow.entities import LoggedModel, LoggedModelOutput, Metric

_ID = re.compile(r"^m-(?P<run>[0-9a-z]+)-(?P<hash>[0-9a-f]{8})$")
# fields of a model's entry in the run record that log_model fills (docs/format.md)
ENTRY_FIELDS = ("model_params", "model_tags", "model_type", "model_step", "model_time")


def model_id(run_id: str, path: str) -> str:
    """The logged-model id of the model at ``path`` of run ``run_id``."""
    return f"m-{run_id}-{hashlib.sha256(path.encode()).hexdigest()[:8]}"


def is_model_id(text: str) -> bool:
    """Whether ``text`` has the shape of a logged-model id."""
    return _ID.match(text) is not None


def models_of(run: Any) -> list[dict[str, Any]]:
    """The model entries of a gittrack run's record."""
    return [a for a in run.details.artifacts if a.get("kind") == "model" and isinstance(a.get("path"), str)]


def find(client: Any, identifier: str) -> tuple[Any, dict[str, Any]]:
    """(gittrack run, model entry) of a logged-model id."""
    match = _ID.match(identifier)
    if match is None:
        raise UsageError(f"{identifier!r} is not a logged model id (m-<run id>-<8 hex digits>)")
    try:
        run = client.get_run(match["run"])
    except NotFoundError:
        raise NotFoundError(f"logged model {identifier!r} not found: its run {match['run']} is not here") from None
    for entry in models_of(run):
        if model_id(run.info.run_id, entry["path"]) == identifier:
            return run, entry
    raise NotFoundError(f"logged model {identifier!r} not found: run {run.info.run_name} logged no such model")


def _metrics_at(client: Any, run: Any, step: int, identifier: str) -> list[Metric]:
    """The run's metrics with a point at ``step`` (the latest such point of each), linked to the model."""
    found = []
    for key in sorted(run.data.metrics):
        points = [m for m in client.get_metric_history(run.info.run_id, key) if m.step == step]
        if points:
            last = points[-1]
            found.append(Metric(key, last.value, last.timestamp, step, model_id=identifier, run_id=run.info.run_id))
    return found


def to_logged_model(client: Any, run: Any, entry: dict[str, Any]) -> LoggedModel:
    """MLflow's ``LoggedModel`` of one model entry of a gittrack run (``client``: gittrack's)."""
    from gittrack.mlflow._locations import artifact_uri

    info = run.info
    identifier = model_id(info.run_id, entry["path"])
    created = entry.get("model_time") if isinstance(entry.get("model_time"), int) else info.start_time
    tags = {"mlflow.user": info.user}
    tags.update({k: v for k, v in run.data.tags.items() if k in ("mlflow.source.name", "mlflow.source.type")})
    tags.update(_strings(entry.get("model_tags")))
    raw_step = entry.get("model_step")
    step = raw_step if isinstance(raw_step, int) else 0
    return LoggedModel(
        experiment_id=info.experiment,
        model_id=identifier,
        name=entry["path"],
        artifact_location=artifact_uri(client.repo_path, info.run_id, entry["path"]),
        creation_timestamp=created,
        last_updated_timestamp=max(created or 0, info.end_time or 0) or created,
        model_type=entry.get("model_type") if isinstance(entry.get("model_type"), str) else None,
        source_run_id=info.run_id,
        tags=tags,
        params=_strings(entry.get("model_params")),
        metrics=_metrics_at(client, run, step, identifier),
    )


def outputs_of(run: Any) -> list[LoggedModelOutput]:
    """A run's logged models as MLflow's ``run.outputs.model_outputs``."""
    found = []
    for entry in models_of(run):
        step = entry.get("model_step")
        found.append(LoggedModelOutput(model_id(run.info.run_id, entry["path"]), step if isinstance(step, int) else 0))
    return found


def _strings(value: Any) -> dict[str, str]:
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}
