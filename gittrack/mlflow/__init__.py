"""MLflow's API on gittrack: ``import gittrack.mlflow as mlflow`` and MLflow code runs unchanged,
recording git-native runs, GTO registry tags and DVC artifacts (see docs/mlflow.md).

Everything is loaded on first use (PEP 562): ``import gittrack.mlflow`` loads no library, and
``mlflow.sklearn``, ``mlflow.entities``... are attributes that import their module when read.
"""

from __future__ import annotations

import importlib
from typing import Any

from gittrack.mlflow.version import VERSION

__version__ = VERSION  # the MLflow API implemented, as libraries checking mlflow.__version__ expect

_SUBMODULES = frozenset(
    (
        "artifacts",
        "client",
        "data",
        "entities",
        "exceptions",
        "lightgbm",
        "models",
        "protos",
        "pyfunc",
        "pytorch",
        "sklearn",
        "store",
        "tracking",
        "types",
        "utils",
        "version",
        "xgboost",
    )
)
_FLUENT = (
    "ActiveRun",
    "active_run",
    "autolog",
    "create_experiment",
    "delete_experiment",
    "delete_run",
    "delete_tag",
    "end_run",
    "flush_async_logging",
    "get_artifact_uri",
    "get_experiment",
    "get_experiment_by_name",
    "get_logged_model",
    "get_parent_run",
    "get_registry_uri",
    "get_run",
    "get_tracking_uri",
    "is_tracking_uri_set",
    "last_active_run",
    "last_logged_model",
    "list_experiments",
    "list_run_infos",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_table",
    "log_text",
    "register_model",
    "search_experiments",
    "search_logged_models",
    "search_runs",
    "set_experiment",
    "set_experiment_tag",
    "set_experiment_tags",
    "set_registry_uri",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
)
_WHERE: dict[str, str | None] = dict.fromkeys(_FLUENT, "gittrack.mlflow.tracking.fluent")
_WHERE.update(
    MlflowClient="gittrack.mlflow.tracking.client",
    MlflowException="gittrack.mlflow.exceptions",
    log_model=None,  # MLflow has no top-level log_model: use a flavor's
)


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        value = importlib.import_module(f"gittrack.mlflow.{name}")
    elif where := _WHERE.get(name):
        value = getattr(importlib.import_module(where), name)
    else:
        raise AttributeError(f"module 'gittrack.mlflow' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = sorted([*_SUBMODULES, *_FLUENT, "MlflowClient", "MlflowException", "__version__"])
