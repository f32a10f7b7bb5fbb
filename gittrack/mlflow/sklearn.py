"""``mlflow.sklearn`` for gittrack: scikit-learn models as gittrack models with an MLflow ``MLmodel``.

``log_model`` and ``save_model`` take MLflow 3's arguments, in MLflow's order; each is used, or
refused in one line naming it (see docs/mlflow.md).
"""

from __future__ import annotations

from typing import Any

from gittrack.mlflow import _flavor
from gittrack.mlflow.exceptions import translate
from gittrack.mlflow.models.model import ModelInfo

FLAVOR_NAME = "sklearn"
SERIALIZATION_FORMAT_PICKLE, SERIALIZATION_FORMAT_CLOUDPICKLE = "pickle", "cloudpickle"
SUPPORTED_SERIALIZATION_FORMATS = [SERIALIZATION_FORMAT_PICKLE, SERIALIZATION_FORMAT_CLOUDPICKLE]


def _checked(function: str, serialization_format: Any, pyfunc_predict_fn: Any, skops_trusted_types: Any) -> None:
    _flavor.refuse(function, "serialization_format", serialization_format,
                   "gittrack pickles scikit-learn models with cloudpickle (default) or pickle, not skops",
                   (None, *SUPPORTED_SERIALIZATION_FORMATS))  # fmt: skip
    _flavor.refuse(function, "skops_trusted_types", skops_trusted_types, "gittrack does not save skops models")
    if not isinstance(pyfunc_predict_fn, str) or not pyfunc_predict_fn:
        raise TypeError("pyfunc_predict_fn must be the name of the model's method pyfunc's predict calls")


@translate
def log_model(
    sk_model: Any,
    artifact_path: str | None = None,
    conda_env: Any = None,
    code_paths: list | None = None,
    serialization_format: str | None = None,
    registered_model_name: str | None = None,
    signature: Any = None,
    input_example: Any = None,
    await_registration_for: int = 300,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    pyfunc_predict_fn: str = "predict",
    metadata: dict | None = None,
    extra_files: list | None = None,
    params: dict | None = None,
    tags: dict | None = None,
    model_type: str | None = None,
    step: int = 0,
    model_id: str | None = None,
    name: str | None = None,
    skops_trusted_types: list[str] | None = None,
) -> ModelInfo:
    """Log a scikit-learn model in the active run (artifact ``name``, default ``model``); with
    ``registered_model_name``, also register it at once as that model's next version."""
    _checked("mlflow.sklearn.log_model", serialization_format, pyfunc_predict_fn, skops_trusted_types)
    _flavor.refuse("mlflow.sklearn.log_model", "model_id", model_id, _flavor.NO_MODEL_ID)
    opts = _flavor.Options(
        conda_env, code_paths, signature, input_example, pip_requirements, extra_pip_requirements, metadata,
        extra_files, registered_model_name, await_registration_for, params, tags, model_type, step,
        serialization=serialization_format, predict_fn=pyfunc_predict_fn,
    )  # fmt: skip
    return _flavor.log_model("sklearn", sk_model, _flavor.path_of(artifact_path, name), opts)


@translate
def save_model(
    sk_model: Any,
    path: str,
    conda_env: Any = None,
    code_paths: list | None = None,
    mlflow_model: Any = None,
    serialization_format: str | None = None,
    signature: Any = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    pyfunc_predict_fn: str = "predict",
    metadata: dict | None = None,
    skops_trusted_types: list[str] | None = None,
    extra_files: list | None = None,
) -> None:
    """Save a scikit-learn model into the local folder ``path`` (MLflow's layout and gittrack's)."""
    _checked("mlflow.sklearn.save_model", serialization_format, pyfunc_predict_fn, skops_trusted_types)
    _flavor.refuse("mlflow.sklearn.save_model", "mlflow_model", mlflow_model, _flavor.NO_MLFLOW_MODEL)
    opts = _flavor.Options(
        conda_env, code_paths, signature, input_example, pip_requirements, extra_pip_requirements, metadata,
        extra_files, serialization=serialization_format, predict_fn=pyfunc_predict_fn,
    )  # fmt: skip
    _flavor.save_model("sklearn", sk_model, path, opts)


load_model = _flavor.native_loader()
autolog = _flavor.autologger("sklearn")
