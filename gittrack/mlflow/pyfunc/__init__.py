"""``mlflow.pyfunc`` for gittrack: ``load_model`` gives every flavor a ``predict``, and
``log_model(python_model=...)`` logs a ``PythonModel`` with its artifacts."""

from __future__ import annotations

import inspect
from typing import Any

from gittrack.mlflow import _flavor
from gittrack.mlflow.exceptions import MlflowException, translate

FLAVOR_NAME = "python_function"


class PythonModelContext:
    """What ``load_context`` and ``predict`` receive: ``artifacts`` (name -> local path)."""

    def __init__(self, artifacts: dict[str, str] | None = None, model_config: dict | None = None) -> None:
        self.artifacts = dict(artifacts or {})
        self.model_config = dict(model_config or {})


class PythonModel:
    """Base of custom models: override ``predict(context, model_input, params=None)`` (or
    ``predict(model_input, params=None)``) and optionally ``load_context(context)``."""

    def load_context(self, context: PythonModelContext) -> None:
        """Called once when the model is loaded, with its artifacts."""

    def predict(self, context: Any, model_input: Any, params: dict | None = None) -> Any:
        """The model's predictions."""
        raise NotImplementedError

    @property
    def predict_type_hints(self) -> Any:
        """What real MLflow asks of a PythonModel it loads (it computes it from ``predict``)."""
        from mlflow.pyfunc.model import PythonModel as MlflowPythonModel  # only where real MLflow loads it

        return MlflowPythonModel.predict_type_hints.fget(self)


def _takes_context(python_model: Any) -> bool:
    try:
        names = list(inspect.signature(python_model.predict).parameters)
    except (TypeError, ValueError):
        return True
    return bool(names) and names[0] == "context"


class PyFuncModel:
    """A loaded model of any flavor with MLflow's ``predict(data, params=None)``."""

    def __init__(self, model: Any, flavor: str, uri: str, context: PythonModelContext | None = None) -> None:
        self._model = model
        self._flavor = flavor
        self._context = context
        self.metadata = {"flavor": flavor, "model_uri": uri}

    def predict(self, data: Any, params: dict | None = None) -> Any:
        """Predictions for a DataFrame, an array or what the model takes."""
        model, flavor = self._model, self._flavor
        if isinstance(model, PythonModel) or (flavor == "python" and hasattr(model, "load_context")):
            if _takes_context(model):
                return (
                    model.predict(self._context, data, params=params) if params else model.predict(self._context, data)
                )
            return model.predict(data, params=params) if params else model.predict(data)
        if flavor == "xgboost" and type(model).__name__ == "Booster":
            import xgboost

            return model.predict(xgboost.DMatrix(data))
        if flavor == "pytorch":
            import numpy as np
            import torch

            values = data.to_numpy() if hasattr(data, "to_numpy") else np.asarray(data)
            model.eval()
            with torch.no_grad():
                output = model(torch.as_tensor(np.asarray(values, dtype=np.float32)))
            return output.numpy()
        if not callable(getattr(model, "predict", None)):
            raise MlflowException(f"this {flavor} model has no predict method")
        return model.predict(data)

    def unwrap_python_model(self) -> Any:
        """The ``PythonModel`` itself."""
        if not isinstance(self._model, PythonModel) and not hasattr(self._model, "load_context"):
            raise MlflowException("this model was not logged with python_model=")
        return self._model

    def get_raw_model(self) -> Any:
        """The flavor's own model object."""
        return self._model

    def __repr__(self) -> str:
        return f"<PyFuncModel {self._flavor}: {self.metadata['model_uri']}>"


@translate
def load_model(model_uri: str, suppress_warnings: bool = False, dst_path: str | None = None, **_: Any) -> PyFuncModel:
    """Any model a runs:/ or models:/ URI names, with a ``predict`` method."""
    from gittrack.errors import GittrackError

    client, run_id, path, flavor = _flavor.flavor_of(model_uri)
    uri = f"runs:/{run_id}/{path}"
    if flavor == "pytorch":
        from gittrack.mlflow.pytorch import load_model as load_torch

        return PyFuncModel(load_torch(uri), flavor, model_uri)
    try:
        model = client.load_model(uri)
    except GittrackError:
        raise
    context = None
    if flavor == "python" and hasattr(model, "load_context"):
        context = _context(client, run_id, path)
        model.load_context(context)
    return PyFuncModel(model, flavor, model_uri, context)


def _context(client: Any, run_id: str, path: str) -> PythonModelContext:
    """The artifacts of a python_model, downloaded, as its context."""
    import yaml

    from gittrack.mlflow.tracking.client import download

    folder = download(client, run_id, path)
    from pathlib import Path

    meta = yaml.safe_load((Path(folder) / "model.yaml").read_text()) or {}
    artifacts = {key: str(Path(folder) / rel) for key, rel in (meta.get("artifacts") or {}).items()}
    return PythonModelContext(artifacts)


@translate
def log_model(
    artifact_path: str | None = None,
    loader_module: str | None = None,
    data_path: str | None = None,
    code_paths: Any = None,
    conda_env: Any = None,
    python_model: Any = None,
    artifacts: dict[str, str] | None = None,
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
    """Log a ``PythonModel`` (cloudpickled, so classes of ``__main__`` travel) and its ``artifacts``
    (name -> local path or runs:/ URI, copied into the model)."""
    if python_model is None:
        raise MlflowException.invalid_parameter_value(
            "gittrack.mlflow.pyfunc.log_model needs python_model= (loader_module= models are not supported)"
        )
    return _flavor.log_model(
        "python",
        python_model,
        artifact_path,
        name,
        signature,
        input_example,
        registered_model_name,
        pip_requirements,
        "cloudpickle",
        artifacts,
        metadata,
        extra_pip_requirements,
    )


__all__ = ["PyFuncModel", "PythonModel", "PythonModelContext", "load_model", "log_model"]
