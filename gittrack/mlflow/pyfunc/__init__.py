"""``mlflow.pyfunc`` for gittrack: ``load_model`` gives every flavor a ``predict``, and
``log_model(python_model=...)`` logs a ``PythonModel`` (or a function) with its artifacts.

``log_model`` and ``save_model`` take MLflow 3's arguments, in MLflow's order; each is used, or
refused in one line naming it (see docs/mlflow.md).
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any

from gittrack.mlflow import _flavor, _loading
from gittrack.mlflow.exceptions import MlflowException, translate
from gittrack.mlflow.models.model import Model, ModelInfo

FLAVOR_NAME = "python_function"


class PythonModelContext:
    """What ``load_context`` and ``predict`` receive: ``artifacts`` (name -> local path) and the
    ``model_config``."""

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

        # a property in MLflow, which its annotations give as the function it wraps
        return MlflowPythonModel.predict_type_hints.fget(self)  # type: ignore[attr-defined]


class _FunctionModel(PythonModel):
    """A function given as ``python_model`` (MLflow 3): its predictions are the function's."""

    def __init__(self, function: Any) -> None:
        self.function = function

    # MLflow 3's function models take no context
    def predict(self, model_input: Any, params: dict | None = None) -> Any:  # type: ignore[override]
        """The function applied to the input."""
        return self.function(model_input)


def _takes_context(python_model: Any) -> bool:
    try:
        names = list(inspect.signature(python_model.predict).parameters)
    except (TypeError, ValueError):
        return True
    return bool(names) and names[0] == "context"


class PyFuncModel:
    """A loaded model of any flavor with MLflow's ``predict(data, params=None)``; ``metadata`` is its
    ``MLmodel`` (``run_id``, ``model_id``, ``signature``...)."""

    def __init__(
        self,
        model: Any,
        flavor: str,
        metadata: Model,
        context: PythonModelContext | None = None,
        folder: Path | None = None,
    ) -> None:
        self._model = model
        self._flavor = flavor
        self._context = context
        self._folder = folder
        self.metadata = metadata

    @property
    def loader_module(self) -> str | None:
        """The ``python_function`` loader MLflow would use (``mlflow.sklearn``...)."""
        return (self.metadata.flavors.get(FLAVOR_NAME) or {}).get("loader_module")

    @property
    def model_config(self) -> dict:
        """The model's configuration (``model_config``), as its context has it."""
        return dict(self._context.model_config) if self._context is not None else {}

    @property
    def model_id(self) -> str | None:
        """The logged model's id."""
        return self.metadata.model_id

    @property
    def input_example(self) -> Any:
        """The input example saved with the model (a DataFrame, an array or JSON data), or None."""
        import json

        info = self.metadata.saved_input_example_info or {}
        if self._folder is None or not info.get("artifact_path"):
            return None
        data = json.loads((self._folder / str(info["artifact_path"])).read_text(encoding="utf-8"))
        if info.get("type") == "dataframe":
            import pandas as pd

            return pd.DataFrame(data["data"], columns=data["columns"])
        if info.get("type") == "ndarray":
            import numpy as np

            return np.asarray(data)
        return data

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
        method = (self.metadata.flavors.get(FLAVOR_NAME) or {}).get("predict_fn") or "predict"
        if not callable(getattr(model, method, None)):
            raise MlflowException(f"this {flavor} model has no {method} method")
        return getattr(model, method)(data)

    def unwrap_python_model(self) -> Any:
        """The ``PythonModel`` itself."""
        if not isinstance(self._model, PythonModel) and not hasattr(self._model, "load_context"):
            raise MlflowException("this model was not logged with python_model=")
        return self._model

    def get_raw_model(self) -> Any:
        """The flavor's own model object."""
        return self._model

    def __repr__(self) -> str:
        return f"<PyFuncModel {self._flavor}: run_id={self.metadata.run_id}, model_id={self.metadata.model_id}>"


def _config(value: Any) -> dict:
    """``model_config``: a dict, or the path of a YAML or JSON file."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, str | os.PathLike):
        import yaml

        loaded = yaml.safe_load(Path(value).read_text(encoding="utf-8"))
        if isinstance(loaded, dict):
            return loaded
    raise TypeError("model_config must be a dict or the path of a YAML or JSON file holding one")


@translate
def load_model(
    model_uri: str, suppress_warnings: bool = False, dst_path: str | None = None, model_config: Any = None
) -> PyFuncModel:
    """Any model a runs:/ or models:/ URI, artifact location or saved folder names, with a
    ``predict`` method; ``model_config`` overrides the logged one for a ``PythonModel``."""
    import logging

    from gittrack._flavors import load_folder, read_meta

    folder, flavor, logged = _loading.locate(model_uri, dst_path)
    metadata = Model.from_dict(_loading.model_document(folder, logged))
    if flavor == "pytorch":
        from gittrack.mlflow.pytorch import load_model as load_torch

        return PyFuncModel(load_torch(str(folder)), flavor, metadata, folder=folder)
    gittrack_log = logging.getLogger("gittrack")
    level = gittrack_log.level
    if suppress_warnings:
        gittrack_log.setLevel(logging.ERROR)  # the environment warnings of gittrack's loader
    try:
        model = load_folder(folder)
    finally:
        gittrack_log.setLevel(level)
    context = None
    if flavor == "python":
        relative = read_meta(folder).get("artifacts") or {}
        logged_config = (metadata.flavors.get(FLAVOR_NAME) or {}).get("model_config") or {}
        artifacts = {key: str(folder / rel) for key, rel in relative.items()}
        context = PythonModelContext(artifacts, {**logged_config, **_config(model_config)})
        if hasattr(model, "load_context"):
            model.load_context(context)
    elif model_config is not None:
        raise MlflowException.invalid_parameter_value("model_config applies to models logged with python_model=")
    return PyFuncModel(model, flavor, metadata, context, folder)


def _python_options(
    function: str,
    loader_module: Any,
    data_path: Any,
    infer_code_paths: Any,
    python_model: Any,
    resources: Any,
    auth_policy: Any,
    uv_project_path: Any,
    uv_groups: Any,
    uv_extras: Any,
) -> Any:
    """The python model to save (a function wrapped), after refusing what gittrack does not do."""
    _flavor.refuse(function, "loader_module", loader_module, "log a PythonModel with python_model= instead")
    _flavor.refuse(function, "data_path", data_path, "give the model's files as artifacts= of a python_model")
    _flavor.refuse(function, "infer_code_paths", infer_code_paths, "list the model's code in code_paths=")
    for argument, value in (("resources", resources), ("auth_policy", auth_policy)):
        _flavor.refuse(function, argument, value, "Databricks model serving is not part of gittrack")
    for argument, value in (("uv_project_path", uv_project_path), ("uv_groups", uv_groups), ("uv_extras", uv_extras)):
        _flavor.refuse(function, argument, value, "give the requirements with pip_requirements=")
    if python_model is None:
        raise MlflowException.invalid_parameter_value(f"{function} needs python_model= (a PythonModel or a function)")
    if isinstance(python_model, str | os.PathLike):
        raise MlflowException.invalid_parameter_value(
            f"{function}(python_model={os.fspath(python_model)!r}) is not supported: models from code are not "
            "provided; pass the PythonModel instance"
        )
    if not hasattr(python_model, "predict") and callable(python_model):
        return _FunctionModel(python_model)
    return python_model


@translate
def log_model(
    artifact_path: str | None = None,
    loader_module: str | None = None,
    data_path: str | None = None,
    code_paths: list | None = None,
    infer_code_paths: bool = False,
    conda_env: Any = None,
    python_model: Any = None,
    artifacts: dict[str, str] | None = None,
    registered_model_name: str | None = None,
    signature: Any = None,
    input_example: Any = None,
    await_registration_for: int = 300,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: dict | None = None,
    model_config: Any = None,
    streamable: bool | None = None,
    resources: Any = None,
    auth_policy: Any = None,
    uv_project_path: Any = None,
    uv_groups: Any = None,
    uv_extras: Any = None,
    prompts: list | None = None,
    name: str | None = None,
    params: dict | None = None,
    tags: dict | None = None,
    model_type: str | None = None,
    step: int = 0,
    model_id: str | None = None,
) -> ModelInfo:
    """Log a ``PythonModel`` (cloudpickled, so classes of ``__main__`` travel) and its ``artifacts``
    (name -> local path or runs:/ URI, copied into the model); a function is logged as a model
    whose predictions it computes."""
    function = "mlflow.pyfunc.log_model"
    model = _python_options(function, loader_module, data_path, infer_code_paths, python_model, resources,
                            auth_policy, uv_project_path, uv_groups, uv_extras)  # fmt: skip
    _flavor.refuse(function, "prompts", prompts, "the prompt registry is not part of gittrack")
    _flavor.refuse(function, "model_id", model_id, _flavor.NO_MODEL_ID)
    opts = _flavor.Options(
        conda_env, code_paths, signature, input_example, pip_requirements, extra_pip_requirements, metadata, None,
        registered_model_name, await_registration_for, params, tags, model_type, step, artifacts=artifacts,
        model_config=_config(model_config), streamable=streamable,
    )  # fmt: skip
    return _flavor.log_model("python", model, _flavor.path_of(artifact_path, name), opts)


@translate
def save_model(
    path: str,
    loader_module: str | None = None,
    data_path: str | None = None,
    code_paths: list | None = None,
    infer_code_paths: bool = False,
    conda_env: Any = None,
    mlflow_model: Any = None,
    python_model: Any = None,
    artifacts: dict[str, str] | None = None,
    signature: Any = None,
    input_example: Any = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: dict | None = None,
    model_config: Any = None,
    streamable: bool | None = None,
    resources: Any = None,
    auth_policy: Any = None,
    uv_project_path: Any = None,
    uv_groups: Any = None,
    uv_extras: Any = None,
) -> None:
    """Save a ``PythonModel`` (or a function) and its ``artifacts`` into the local folder ``path``."""
    function = "mlflow.pyfunc.save_model"
    model = _python_options(function, loader_module, data_path, infer_code_paths, python_model, resources,
                            auth_policy, uv_project_path, uv_groups, uv_extras)  # fmt: skip
    _flavor.refuse(function, "mlflow_model", mlflow_model, _flavor.NO_MLFLOW_MODEL)
    opts = _flavor.Options(
        conda_env, code_paths, signature, input_example, pip_requirements, extra_pip_requirements, metadata,
        artifacts=artifacts, model_config=_config(model_config), streamable=streamable,
    )  # fmt: skip
    _flavor.save_model("python", model, path, opts)


__all__ = ["PyFuncModel", "PythonModel", "PythonModelContext", "load_model", "log_model", "save_model"]
