"""``mlflow.pytorch`` for gittrack: ``torch.nn.Module`` models (gittrack's state_dict, plus the
pickled module MLflow loads)."""

from __future__ import annotations

import logging
from typing import Any

from gittrack.mlflow import _flavor
from gittrack.mlflow.exceptions import translate

FLAVOR_NAME = "pytorch"


@translate
def log_model(
    pytorch_model: Any,
    artifact_path: str | None = None,
    conda_env: Any = None,
    code_paths: Any = None,
    pickle_module: Any = None,
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
    """Log the module in the active run; with ``registered_model_name``, also register it."""
    return _flavor.log_model(
        "pytorch",
        pytorch_model,
        artifact_path,
        name,
        signature,
        input_example,
        registered_model_name,
        pip_requirements,
        None,
        metadata=metadata,
        extra_pip_requirements=extra_pip_requirements,
    )


@translate
def load_model(model_uri: str, dst_path: str | None = None, **kwargs: Any) -> Any:
    """The module a URI names: rebuilt from its state_dict when its class builds without arguments
    into that state (no pickle), else unpickled from the saved module as MLflow does (runs its code)."""
    from gittrack.errors import NotFoundError

    try:
        return _flavor.load_native(model_uri)
    except NotFoundError:
        raise
    except Exception as exc:  # noqa: BLE001 - the class cannot be rebuilt from its state_dict: unpickle it
        logging.getLogger("gittrack").debug("gittrack.mlflow: unpickling the module (%s)", exc)
    import torch

    from gittrack.mlflow.tracking.client import download

    client, run_id, path = _flavor.resolve(model_uri)
    local = download(client, run_id, f"{path}/data/model.pth", dst_path)
    return torch.load(local, weights_only=False, **kwargs)


def autolog(**kwargs: Any) -> Any:
    """gittrack's autologging for PyTorch (``gittrack.autolog.pytorch``)."""
    from gittrack.mlflow._autolog import call

    return call("pytorch", kwargs)
