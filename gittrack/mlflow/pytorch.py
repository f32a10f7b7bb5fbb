"""``mlflow.pytorch`` for gittrack: ``torch.nn.Module`` models (gittrack's state_dict, plus the
pickled module MLflow loads); MLflow 3's arguments, each used or refused."""

from __future__ import annotations

import importlib
import logging
from pathlib import Path
from typing import Any

from gittrack.mlflow import _flavor, _loading
from gittrack.mlflow.exceptions import translate
from gittrack.mlflow.models.model import ModelInfo

FLAVOR_NAME = "pytorch"
_PICKLED = "gittrack saves the module pickled (serialization_format='pickle'), not as a torch.export program"


def _checked(function: str, pickle_module: Any, export_model: Any, serialization_format: Any) -> None:
    _flavor.refuse(function, "export_model", export_model, _PICKLED)
    _flavor.refuse(function, "serialization_format", serialization_format, _PICKLED, (None, "pickle"))
    if pickle_module is not None and not (callable(getattr(pickle_module, "dump", None)) and
                                          callable(getattr(pickle_module, "load", None))):  # fmt: skip
        raise TypeError("pickle_module must be a module with dump and load, such as pickle or cloudpickle")


@translate
def log_model(
    pytorch_model: Any,
    artifact_path: str | None = None,
    conda_env: Any = None,
    code_paths: list | None = None,
    pickle_module: Any = None,
    registered_model_name: str | None = None,
    signature: Any = None,
    input_example: Any = None,
    await_registration_for: int = 300,
    extra_files: list | None = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: dict | None = None,
    name: str | None = None,
    params: dict | None = None,
    tags: dict | None = None,
    model_type: str | None = None,
    step: int = 0,
    model_id: str | None = None,
    export_model: bool = False,
    serialization_format: str | None = None,
) -> ModelInfo:
    """Log a ``torch.nn.Module`` in the active run (artifact ``name``, default ``model``); with
    ``registered_model_name``, also register it at once as that model's next version."""
    _checked("mlflow.pytorch.log_model", pickle_module, export_model, serialization_format)
    _flavor.refuse("mlflow.pytorch.log_model", "model_id", model_id, _flavor.NO_MODEL_ID)
    opts = _flavor.Options(
        conda_env, code_paths, signature, input_example, pip_requirements, extra_pip_requirements, metadata,
        extra_files, registered_model_name, await_registration_for, params, tags, model_type, step,
        pickle_module=pickle_module,
    )  # fmt: skip
    return _flavor.log_model("pytorch", pytorch_model, _flavor.path_of(artifact_path, name), opts)


@translate
def save_model(
    pytorch_model: Any,
    path: str,
    conda_env: Any = None,
    mlflow_model: Any = None,
    code_paths: list | None = None,
    pickle_module: Any = None,
    signature: Any = None,
    input_example: Any = None,
    extra_files: list | None = None,
    pip_requirements: Any = None,
    extra_pip_requirements: Any = None,
    metadata: dict | None = None,
    export_model: bool = False,
    serialization_format: str | None = None,
) -> None:
    """Save a ``torch.nn.Module`` into the local folder ``path`` (MLflow's layout and gittrack's)."""
    _checked("mlflow.pytorch.save_model", pickle_module, export_model, serialization_format)
    _flavor.refuse("mlflow.pytorch.save_model", "mlflow_model", mlflow_model, _flavor.NO_MLFLOW_MODEL)
    opts = _flavor.Options(
        conda_env, code_paths, signature, input_example, pip_requirements, extra_pip_requirements, metadata,
        extra_files, pickle_module=pickle_module,
    )  # fmt: skip
    _flavor.save_model("pytorch", pytorch_model, path, opts)


@translate
def load_model(model_uri: str, dst_path: str | None = None, **kwargs: Any) -> Any:
    """The module a URI or saved folder names. Without ``kwargs``: rebuilt from its state_dict when
    its class builds without arguments into that state (no pickle), else unpickled from the saved
    module as MLflow does (runs its code). ``kwargs`` go to ``torch.load``, as in MLflow, which
    then unpickles the saved module."""
    from gittrack._flavors import load_folder

    folder, _ = _loading.model_folder(model_uri, dst_path)
    if not kwargs:
        try:
            return load_folder(folder)
        except Exception as exc:  # noqa: BLE001 - the class cannot be rebuilt from its state_dict: unpickle it
            logging.getLogger("gittrack").debug("gittrack.mlflow: unpickling the module (%s)", exc)
    return unpickle(folder / "data", **kwargs)


def unpickle(data: Path, **kwargs: Any) -> Any:
    """``torch.load`` of ``data/model.pth`` with the pickle module it was saved with."""
    import torch

    info = data / "pickle_module_info.txt"
    name = info.read_text().strip() if info.is_file() else "mlflow.pytorch.pickle_module"
    if "pickle_module" not in kwargs:  # cloudpickle (MLflow's default) writes what pickle reads
        kwargs["pickle_module"] = importlib.import_module(
            "pickle" if name in ("mlflow.pytorch.pickle_module", "cloudpickle") else name
        )
    kwargs.setdefault("weights_only", False)
    return torch.load(data / "model.pth", **kwargs)


autolog = _flavor.autologger("pytorch")
