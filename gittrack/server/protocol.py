"""MLflow's REST JSON <-> ``gittrack.mlflow``'s entities: the field names and shapes of MLflow's
protos as its server writes them (numbers for int64, ``"NaN"``/``"Infinity"`` for such floats,
key/value lists for params and tags, empty fields left out)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from gittrack.server.errors import ServerError

ARTIFACT_SCHEME = "mlflow-artifacts:/"


def run_artifact_uri(run_id: str) -> str:
    """Where the client sends a run's artifacts: the artifact proxy of this server."""
    return f"{ARTIFACT_SCHEME}runs/{run_id}/artifacts"


def model_artifact_uri(model_id: str) -> str:
    """Where the client sends a logged model's files."""
    return f"{ARTIFACT_SCHEME}models/{model_id}/artifacts"


MODEL_STATUS = {
    "PENDING": "LOGGED_MODEL_PENDING",
    "READY": "LOGGED_MODEL_READY",
    "FAILED": "LOGGED_MODEL_UPLOAD_FAILED",
}


def model_id(run_id: str, name: str) -> str:
    """A logged model's id: ``m-<run id>-<8 hex digits>`` from its run and artifact path, the id
    ``gittrack.mlflow`` derives for the same model (docs/mlflow.md)."""
    import hashlib

    return f"m-{run_id}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def number(value: float) -> float | str:
    """A float as protobuf's JSON writes it."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def to_float(value: Any) -> float:
    """A float from protobuf's JSON (numbers, or ``"NaN"``, ``"Infinity"``...)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ServerError(f"{value!r} is not a number") from None


def key_values(items: Mapping[str, Any]) -> list[dict[str, str]]:
    return [{"key": str(k), "value": str(v)} for k, v in items.items()]


def tags_of(items: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    """``[{"key": k, "value": v}]`` as a dict."""
    found: dict[str, str] = {}
    for item in items or []:
        if not isinstance(item, Mapping) or "key" not in item:
            raise ServerError(f"a tag must be {{'key': ..., 'value': ...}}, not {item!r}")
        found[str(item["key"])] = str(item.get("value", ""))
    return found


def _dropped(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None and v != [] and v != {}}


def experiment(exp: Any) -> dict[str, Any]:
    return _dropped({
        "experiment_id": str(exp.experiment_id),
        "name": exp.name,
        "artifact_location": f"{ARTIFACT_SCHEME}experiments/{exp.experiment_id}",
        "lifecycle_stage": exp.lifecycle_stage,
        "last_update_time": exp.last_update_time,
        "creation_time": exp.creation_time,
        "tags": key_values(exp.tags or {}),
    })  # fmt: skip


def run_info(info: Any) -> dict[str, Any]:
    return _dropped({
        "run_id": info.run_id,
        "run_uuid": info.run_id,
        "run_name": info.run_name,
        "experiment_id": str(info.experiment_id),
        "user_id": info.user_id,
        "status": info.status,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "artifact_uri": run_artifact_uri(info.run_id),
        "lifecycle_stage": info.lifecycle_stage,
    })  # fmt: skip


def metric(m: Any) -> dict[str, Any]:
    return _dropped({"key": m.key, "value": number(float(m.value)), "timestamp": m.timestamp or 0,
                     "step": m.step or 0, "model_id": getattr(m, "model_id", None),
                     "run_id": getattr(m, "run_id", None)})  # fmt: skip


def run(r: Any, latest: Mapping[str, tuple[int, int]] | None = None) -> dict[str, Any]:
    """A run; ``latest``: (step, timestamp) of each metric's latest point, when known."""
    latest = latest or {}
    metrics = []
    for key, value in r.data.metrics.items():
        step, timestamp = latest.get(key, (0, r.info.start_time or 0))
        metrics.append({"key": key, "value": number(float(value)), "timestamp": timestamp, "step": step})
    inputs = [
        _dropped({
            "tags": key_values({t.key: t.value for t in d.tags}),
            "dataset": _dropped({"name": d.dataset.name, "digest": d.dataset.digest,
                                 "source_type": d.dataset.source_type, "source": d.dataset.source,
                                 "schema": d.dataset.schema, "profile": d.dataset.profile}),
        })
        for d in r.inputs.dataset_inputs
    ]  # fmt: skip
    outputs = [{"model_id": o.model_id, "step": o.step} for o in r.outputs.model_outputs]
    return _dropped({
        "info": run_info(r.info),
        "data": _dropped({"metrics": metrics, "params": key_values(r.data.params),
                          "tags": key_values(r.data.tags)}),
        "inputs": _dropped({"dataset_inputs": inputs}),
        "outputs": _dropped({"model_outputs": outputs}),
    })  # fmt: skip


def row(r: Any) -> dict[str, Any]:
    """A run as a search row gives it (``Client.find_rows``): its info, params, latest metrics, tags
    with MLflow's system tags, and its datasets (name, digest, context)."""
    tags = dict(r.tags)
    tags["mlflow.runName"], tags["mlflow.user"] = r.run_name, r.user
    if r.source_commit:
        tags["mlflow.source.git.commit"] = r.source_commit
    if r.source_branch:
        tags["mlflow.source.git.branch"] = r.source_branch
    if r.parent_run_id:
        tags["mlflow.parentRunId"] = r.parent_run_id
    info = {"run_id": r.run_id, "run_uuid": r.run_id, "run_name": r.run_name, "experiment_id": r.experiment,
            "user_id": r.user, "status": r.status, "start_time": r.start_time,
            "artifact_uri": run_artifact_uri(r.run_id),
            "lifecycle_stage": "deleted" if r.ref.startswith("refs/runs-deleted/") else "active"}  # fmt: skip
    if r.end_time is not None:
        info["end_time"] = r.end_time
    data: dict[str, Any] = {}
    if r.metrics:
        data["metrics"] = [{"key": k, "value": number(float(v)), "timestamp": r.start_time, "step": 0}
                           for k, v in r.metrics.items()]  # fmt: skip
    if r.params:
        data["params"] = key_values(r.params)
    data["tags"] = key_values(tags)
    found = {"info": info, "data": data}
    inputs = [
        {"dataset": {"name": name or "", "digest": digest or "", "source_type": "local", "source": ""},
         **({"tags": [{"key": "mlflow.data.context", "value": context}]} if context else {})}
        for name, digest, context in r.datasets
    ]  # fmt: skip
    if inputs:
        found["inputs"] = {"dataset_inputs": inputs}
    return found


def logged_model(m: Any) -> dict[str, Any]:
    info = _dropped({
        "model_id": m.model_id,
        "experiment_id": str(m.experiment_id),
        "name": m.name,
        "creation_timestamp_ms": m.creation_timestamp,
        "last_updated_timestamp_ms": m.last_updated_timestamp,
        "artifact_uri": model_artifact_uri(m.model_id),
        "status": MODEL_STATUS.get(str(m.status), "LOGGED_MODEL_READY"),
        "model_type": m.model_type,
        "source_run_id": m.source_run_id,
        "status_message": m.status_message,
        "tags": key_values(m.tags),
    })  # fmt: skip
    data = _dropped({"params": key_values(m.params), "metrics": [metric(x) for x in m.metrics]})
    return {"info": info, "data": data}


def model_version(mv: Any) -> dict[str, Any]:
    return _dropped({
        "name": mv.name,
        "version": str(mv.version),
        "creation_timestamp": mv.creation_timestamp,
        "last_updated_timestamp": mv.last_updated_timestamp,
        "user_id": mv.user_id,
        "current_stage": mv.current_stage,
        "description": mv.description,
        "source": mv.source,
        "run_id": mv.run_id,
        "status": mv.status,
        "status_message": mv.status_message,
        "tags": key_values(mv.tags or {}),
        "run_link": mv.run_link,
        "aliases": list(mv.aliases or []),
        "model_id": getattr(mv, "model_id", None),
    })  # fmt: skip


def registered_model(rm: Any) -> dict[str, Any]:
    aliases = rm.aliases or {}
    return _dropped({
        "name": rm.name,
        "creation_timestamp": rm.creation_timestamp,
        "last_updated_timestamp": rm.last_updated_timestamp,
        "description": rm.description,
        "latest_versions": [model_version(v) for v in rm.latest_versions or []],
        "tags": key_values(rm.tags or {}),
        "aliases": [{"alias": a, "version": str(v)} for a, v in aliases.items()],
    })  # fmt: skip
