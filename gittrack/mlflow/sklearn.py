"""``mlflow.sklearn`` for gittrack: scikit-learn models as gittrack models with an MLflow ``MLmodel``."""

from __future__ import annotations

from typing import Any

from gittrack.mlflow import _flavor
from gittrack.mlflow.exceptions import translate

FLAVOR_NAME = "sklearn"


@translate
def log_model(
    sk_model: Any,
    artifact_path: str | None = None,
    conda_env: Any = None,
    code_paths: Any = None,
    registered_model_name: str | None = None,
    signature: Any = None,
    input_example: Any = None,
    await_registration_for: int = 300,
    pip_requirements: list[str] | None = None,
    extra_pip_requirements: list[str] | None = None,
    metadata: dict | None = None,
    name: str | None = None,
    **_: Any,
) -> _flavor.ModelInfo:
    """Log the model in the active run (artifact ``name``, default ``model``); with
    ``registered_model_name``, also register it as that model's next version."""
    return _flavor.log_model(
        "sklearn",
        sk_model,
        artifact_path,
        name,
        signature,
        input_example,
        registered_model_name,
        pip_requirements,
        serialization="cloudpickle",
        metadata=metadata,
        extra_pip_requirements=extra_pip_requirements,
    )


@translate
def load_model(model_uri: str, dst_path: str | None = None) -> Any:
    """The model a runs:/ or models:/ URI names, as the library's own object."""
    return _flavor.load_native(model_uri)


def autolog(**kwargs: Any) -> Any:
    """gittrack's autologging for sklearn (``gittrack.autolog.sklearn``)."""
    from gittrack.mlflow._autolog import call

    return call("sklearn", kwargs)
