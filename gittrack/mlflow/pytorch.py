"""``mlflow.pytorch`` for gittrack: ``torch.nn.Module`` models (gittrack's state_dict, plus the
pickled module MLflow loads)."""

from __future__ import annotations

import logging
from typing import Any

from gittrack.mlflow import _flavor
from gittrack.mlflow.exceptions import translate

FLAVOR_NAME = "pytorch"


log_model = _flavor.model_logger("pytorch", "pytorch_model", own_args=("pickle_module",))


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


autolog = _flavor.autologger("pytorch")
