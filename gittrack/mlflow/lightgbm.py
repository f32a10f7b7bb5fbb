"""``mlflow.lightgbm`` for gittrack: LightGBM models (a Booster as text, sklearn wrappers pickled)
as gittrack models with an MLflow ``MLmodel``; MLflow 3's arguments, each used or refused."""

from __future__ import annotations

from typing import Any

from gittrack.mlflow import _flavor
from gittrack.mlflow.exceptions import translate
from gittrack.mlflow.models.model import ModelInfo

FLAVOR_NAME = "lightgbm"
_PICKLED = "gittrack pickles LightGBM's sklearn wrappers with cloudpickle (default) or pickle, not skops"


def _checked(function: str, serialization_format: Any, skops_trusted_types: Any) -> None:
    _flavor.refuse(function, "serialization_format", serialization_format, _PICKLED, (None, "cloudpickle", "pickle"))
    _flavor.refuse(function, "skops_trusted_types", skops_trusted_types, "gittrack does not save skops models")


@translate
def log_model(
    lgb_model: Any,
    artifact_path: str | None = None,
    conda_env: Any = None,
    code_paths: list | None = None,
    registered_model_name: str | None = None,
    signature: Any = None,
    input_example: Any = None,
    await_registration_for: int = 300,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: dict | None = None,
    extra_files: list | None = None,
    name: str | None = None,
    params: dict | None = None,
    tags: dict | None = None,
    model_type: str | None = None,
    step: int = 0,
    model_id: str | None = None,
    serialization_format: str | None = None,
    skops_trusted_types: list[str] | None = None,
) -> ModelInfo:
    """Log a LightGBM model in the active run (artifact ``name``, default ``model``); with
    ``registered_model_name``, also register it at once as that model's next version."""
    _checked("mlflow.lightgbm.log_model", serialization_format, skops_trusted_types)
    _flavor.refuse("mlflow.lightgbm.log_model", "model_id", model_id, _flavor.NO_MODEL_ID)
    opts = _flavor.Options(
        conda_env, code_paths, signature, input_example, pip_requirements, extra_pip_requirements, metadata,
        extra_files, registered_model_name, await_registration_for, params, tags, model_type, step,
        serialization=serialization_format,
    )  # fmt: skip
    return _flavor.log_model("lightgbm", lgb_model, _flavor.path_of(artifact_path, name), opts)


@translate
def save_model(
    lgb_model: Any,
    path: str,
    conda_env: Any = None,
    code_paths: list | None = None,
    mlflow_model: Any = None,
    signature: Any = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: dict | None = None,
    serialization_format: str | None = None,
    skops_trusted_types: list[str] | None = None,
    extra_files: list | None = None,
) -> None:
    """Save a LightGBM model into the local folder ``path`` (MLflow's layout and gittrack's)."""
    _checked("mlflow.lightgbm.save_model", serialization_format, skops_trusted_types)
    _flavor.refuse("mlflow.lightgbm.save_model", "mlflow_model", mlflow_model, _flavor.NO_MLFLOW_MODEL)
    opts = _flavor.Options(
        conda_env, code_paths, signature, input_example, pip_requirements, extra_pip_requirements, metadata,
        extra_files, serialization=serialization_format,
    )  # fmt: skip
    _flavor.save_model("lightgbm", lgb_model, path, opts)


load_model = _flavor.native_loader()
autolog = _flavor.autologger("lightgbm")
