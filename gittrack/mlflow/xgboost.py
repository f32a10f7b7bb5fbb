"""``mlflow.xgboost`` for gittrack: XGBoost models (Booster or sklearn wrapper, saved as UBJSON)
as gittrack models with an MLflow ``MLmodel``; MLflow 3's arguments, each used or refused."""

from __future__ import annotations

from typing import Any

from gittrack.mlflow import _flavor
from gittrack.mlflow.exceptions import translate
from gittrack.mlflow.models.model import ModelInfo

FLAVOR_NAME = "xgboost"
_UBJ = "gittrack saves XGBoost models in UBJSON (model_format='ubj')"


@translate
def log_model(
    xgb_model: Any,
    artifact_path: str | None = None,
    conda_env: Any = None,
    code_paths: list | None = None,
    registered_model_name: str | None = None,
    signature: Any = None,
    input_example: Any = None,
    await_registration_for: int = 300,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    model_format: str = "ubj",
    metadata: dict | None = None,
    extra_files: list | None = None,
    name: str | None = None,
    params: dict | None = None,
    tags: dict | None = None,
    model_type: str | None = None,
    step: int = 0,
    model_id: str | None = None,
) -> ModelInfo:
    """Log an XGBoost model in the active run (artifact ``name``, default ``model``); with
    ``registered_model_name``, also register it at once as that model's next version."""
    _flavor.refuse("mlflow.xgboost.log_model", "model_format", model_format, _UBJ, ("ubj",))
    _flavor.refuse("mlflow.xgboost.log_model", "model_id", model_id, _flavor.NO_MODEL_ID)
    opts = _flavor.Options(
        conda_env, code_paths, signature, input_example, pip_requirements, extra_pip_requirements, metadata,
        extra_files, registered_model_name, await_registration_for, params, tags, model_type, step,
    )  # fmt: skip
    return _flavor.log_model("xgboost", xgb_model, _flavor.path_of(artifact_path, name), opts)


@translate
def save_model(
    xgb_model: Any,
    path: str,
    conda_env: Any = None,
    code_paths: list | None = None,
    mlflow_model: Any = None,
    signature: Any = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    model_format: str = "ubj",
    metadata: dict | None = None,
    extra_files: list | None = None,
) -> None:
    """Save an XGBoost model into the local folder ``path`` (MLflow's layout and gittrack's)."""
    _flavor.refuse("mlflow.xgboost.save_model", "model_format", model_format, _UBJ, ("ubj",))
    _flavor.refuse("mlflow.xgboost.save_model", "mlflow_model", mlflow_model, _flavor.NO_MLFLOW_MODEL)
    opts = _flavor.Options(
        conda_env, code_paths, signature, input_example, pip_requirements, extra_pip_requirements, metadata,
        extra_files,
    )  # fmt: skip
    _flavor.save_model("xgboost", xgb_model, path, opts)


load_model = _flavor.native_loader()
autolog = _flavor.autologger("xgboost")
