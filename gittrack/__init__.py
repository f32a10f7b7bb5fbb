"""gittrack: ML experiment tracking and model management where git is the store.

Every run is a commit on ``refs/runs/<experiment>/<run-id>``; see docs/tracking.md.

``import gittrack`` loads only the error classes: the API below is imported on first use
(PEP 562), and heavy libraries (pygit2, pandas, dvc) only by the calls that need them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gittrack._version import __version__
from gittrack.errors import (
    AmbiguousRunError,
    ConflictError,
    DataError,
    FilterSyntaxError,
    GittrackError,
    ImmutableRunError,
    IndexUnavailable,
    InvalidNameError,
    InvalidValueError,
    MalformedRunError,
    ModelError,
    NotARepositoryError,
    NotFoundError,
    RemoteError,
    UsageError,
)

_LAZY = {
    "gittrack.integrations": ["autolog"],
    "gittrack._reset": ["reset_state"],
    "gittrack._client": ["Client"],
    "gittrack._initialize": ["init"],
    "gittrack.sweeps": ["sweep"],
    "gittrack._hooks": ["install_hooks", "run_hook"],
    "gittrack._gitserver": ["server_rules", "serve_http"],
    "gittrack._entities": ["Metric", "Run", "RunData", "RunInfo"],
    "gittrack._fluent": [
        "ActiveRun",
        "active_run",
        "compare_runs",
        "search_model_versions",
        "get_model_version",
        "register_model",
        "load_model",
        "log_model",
        "download_artifacts",
        "log_artifacts",
        "log_artifact",
        "log_input",
        "end_run",
        "get_metric_history",
        "get_run",
        "list_runs",
        "log_metric",
        "log_metrics",
        "log_param",
        "log_params",
        "pack_runs",
        "search_runs",
        "set_experiment",
        "set_tag",
        "set_tags",
        "start_run",
    ],
}
_WHERE = {name: module for module, names in _LAZY.items() for name in names}

if TYPE_CHECKING:
    from gittrack._client import Client
    from gittrack._entities import Metric, Run, RunData, RunInfo
    from gittrack._fluent import (
        ActiveRun,
        active_run,
        compare_runs,
        download_artifacts,
        end_run,
        get_metric_history,
        get_model_version,
        get_run,
        list_runs,
        load_model,
        log_artifact,
        log_artifacts,
        log_input,
        log_metric,
        log_metrics,
        log_model,
        log_param,
        log_params,
        pack_runs,
        register_model,
        search_model_versions,
        search_runs,
        set_experiment,
        set_tag,
        set_tags,
        start_run,
    )
    from gittrack._gitserver import serve_http, server_rules
    from gittrack._hooks import install_hooks, run_hook
    from gittrack._initialize import init
    from gittrack._reset import reset_state
    from gittrack.integrations import autolog
    from gittrack.sweeps import sweep


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'gittrack' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups are plain module attributes
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "ActiveRun",
    "AmbiguousRunError",
    "Client",
    "ConflictError",
    "DataError",
    "FilterSyntaxError",
    "GittrackError",
    "ImmutableRunError",
    "IndexUnavailable",
    "InvalidNameError",
    "InvalidValueError",
    "MalformedRunError",
    "Metric",
    "ModelError",
    "NotARepositoryError",
    "NotFoundError",
    "RemoteError",
    "Run",
    "RunData",
    "RunInfo",
    "UsageError",
    "__version__",
    "active_run",
    "autolog",
    "compare_runs",
    "download_artifacts",
    "end_run",
    "get_metric_history",
    "get_model_version",
    "get_run",
    "init",
    "install_hooks",
    "list_runs",
    "load_model",
    "log_artifact",
    "log_artifacts",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_model",
    "log_param",
    "log_params",
    "pack_runs",
    "register_model",
    "reset_state",
    "run_hook",
    "search_model_versions",
    "search_runs",
    "serve_http",
    "server_rules",
    "set_experiment",
    "set_tag",
    "set_tags",
    "start_run",
    "sweep",
]
