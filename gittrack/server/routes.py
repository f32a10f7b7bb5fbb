"""Every endpoint the server answers: method, path, handler, and what a user needs to call it
(the resource a permission is checked on, and the level: READ, EDIT or MANAGE)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gittrack.server import models
from gittrack.server import registry as reg
from gittrack.server import tracking as tr

API = "/api/2.0/mlflow"


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Callable
    resource: str  # experiment, run, model, model-of (a logged model's run), experiments, any (a user), public
    level: str = "READ"


def _e(method: str, path: str, handler: Callable, resource: str, level: str = "READ") -> Endpoint:
    return Endpoint(method, API + path, handler, resource, level)


ENDPOINTS: list[Endpoint] = [
    _e("POST", "/experiments/create", tr.create_experiment, "any"),
    _e("GET", "/experiments/get", tr.get_experiment, "experiment"),
    _e("GET", "/experiments/get-by-name", tr.get_experiment_by_name, "experiment"),
    _e("POST", "/experiments/search", tr.search_experiments, "any"),
    _e("GET", "/experiments/search", tr.search_experiments, "any"),
    _e("POST", "/experiments/update", tr.update_experiment, "experiment", "EDIT"),
    _e("POST", "/experiments/delete", tr.delete_experiment, "experiment", "MANAGE"),
    _e("POST", "/experiments/restore", tr.restore_experiment, "experiment", "MANAGE"),
    _e("POST", "/experiments/set-experiment-tag", tr.set_experiment_tag, "experiment", "EDIT"),
    _e("POST", "/experiments/delete-experiment-tag", tr.delete_experiment_tag, "experiment", "EDIT"),
    _e("POST", "/runs/create", tr.create_run, "experiment", "EDIT"),
    _e("GET", "/runs/get", tr.get_run, "run"),
    _e("POST", "/runs/update", tr.update_run, "run", "EDIT"),
    _e("POST", "/runs/delete", tr.delete_run, "run", "MANAGE"),
    _e("POST", "/runs/restore", tr.restore_run, "run", "MANAGE"),
    _e("POST", "/runs/set-tag", tr.set_tag, "run", "EDIT"),
    _e("POST", "/runs/delete-tag", tr.delete_tag, "run", "EDIT"),
    _e("POST", "/runs/log-parameter", tr.log_param, "run", "EDIT"),
    _e("POST", "/runs/log-metric", tr.log_metric, "run", "EDIT"),
    _e("POST", "/runs/log-batch", tr.log_batch, "run", "EDIT"),
    _e("POST", "/runs/log-inputs", tr.log_inputs, "run", "EDIT"),
    _e("POST", "/runs/search", tr.search_runs, "experiments"),
    _e("GET", "/metrics/get-history", tr.get_metric_history, "run"),
    _e("POST", "/runs/outputs", models.outputs, "run", "EDIT"),
    _e("POST", "/runs/log-model", tr.log_model_history, "run", "EDIT"),
    _e("POST", "/logged-models", models.create, "experiment", "EDIT"),
    _e("POST", "/logged-models/search", models.search, "experiments"),
    _e("GET", "/logged-models/{model_id}", models.get, "model-of"),
    _e("PATCH", "/logged-models/{model_id}", models.finalize, "model-of", "EDIT"),
    _e("DELETE", "/logged-models/{model_id}", models.delete, "model-of", "EDIT"),
    _e("PATCH", "/logged-models/{model_id}/tags", models.set_tags, "model-of", "EDIT"),
    _e("DELETE", "/logged-models/{model_id}/tags/{tag_key}", models.delete_tag, "model-of", "EDIT"),
    _e("POST", "/logged-models/{model_id}/params", models.log_params, "model-of", "EDIT"),
    _e("POST", "/registered-models/create", reg.create_registered_model, "any"),
    _e("GET", "/registered-models/get", reg.get_registered_model, "model"),
    _e("GET", "/registered-models/search", reg.search_registered_models, "any"),
    _e("PATCH", "/registered-models/update", reg.update_registered_model, "model", "EDIT"),
    _e("POST", "/registered-models/rename", reg.rename_registered_model, "model", "MANAGE"),
    _e("DELETE", "/registered-models/delete", reg.delete_registered_model, "model", "MANAGE"),
    _e("POST", "/registered-models/set-tag", reg.set_registered_model_tag, "model", "EDIT"),
    _e("DELETE", "/registered-models/delete-tag", reg.delete_registered_model_tag, "model", "EDIT"),
    _e("POST", "/registered-models/get-latest-versions", reg.get_latest_versions, "model"),
    _e("GET", "/registered-models/get-latest-versions", reg.get_latest_versions, "model"),
    _e("POST", "/registered-models/alias", reg.set_alias, "model", "EDIT"),
    _e("DELETE", "/registered-models/alias", reg.delete_alias, "model", "EDIT"),
    _e("GET", "/registered-models/alias", reg.get_by_alias, "model"),
    _e("POST", "/model-versions/create", reg.create_model_version, "model", "EDIT"),
    _e("GET", "/model-versions/get", reg.get_model_version, "model"),
    _e("GET", "/model-versions/search", reg.search_model_versions, "any"),
    _e("PATCH", "/model-versions/update", reg.update_model_version, "model", "EDIT"),
    _e("DELETE", "/model-versions/delete", reg.delete_model_version, "model", "MANAGE"),
    _e("POST", "/model-versions/transition-stage", reg.transition_stage, "model", "EDIT"),
    _e("GET", "/model-versions/get-download-uri", reg.get_download_uri, "model"),
    _e("POST", "/model-versions/set-tag", reg.set_model_version_tag, "model", "EDIT"),
    _e("DELETE", "/model-versions/delete-tag", reg.delete_model_version_tag, "model", "EDIT"),
    Endpoint("GET", "/api/3.0/mlflow/server-info", tr.server_info, "public"),
]
