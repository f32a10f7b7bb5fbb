"""Serving models: ``gittrack models serve`` (MLflow's scoring protocol on uvicorn) and
``gittrack models predict`` (batch scoring of files, in chunks).

Everything here calls the public :class:`gittrack.Client`. The web stack (starlette, uvicorn,
orjson) comes with the ``serve`` extra and is imported only by these modules, on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "ServeOptions": "gittrack.serving.app",
    "create_app": "gittrack.serving.app",
    "Follower": "gittrack.serving.source",
    "Puller": "gittrack.serving.source",
    "TagWatch": "gittrack.serving.source",
    "parse_spec": "gittrack.serving.source",
    "predict_file": "gittrack.serving.batch",
}


def __getattr__(name: str) -> Any:
    """The app factory, the options, the model follower and the batch scorer, loaded on first use."""
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'gittrack.serving' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
