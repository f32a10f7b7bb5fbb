"""gittrack: ML experiment tracking and model management where git is the store.

Every run is a commit on ``refs/runs/<experiment>/<run-id>``; see docs/tracking.md.
Heavy libraries (pygit2, pandas, dvc) are imported only by the calls that need them.
"""

from gittrack._version import __version__
from gittrack.client import Client
from gittrack.entities import Metric, Run, RunData, RunInfo
from gittrack.errors import (
    AmbiguousRunError,
    ConflictError,
    GittrackError,
    ImmutableRunError,
    InvalidNameError,
    InvalidValueError,
    MalformedRunError,
    NotARepositoryError,
    NotFoundError,
    UsageError,
)
from gittrack.fluent import (
    ActiveRun,
    active_run,
    end_run,
    get_metric_history,
    get_run,
    list_runs,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    set_experiment,
    set_tag,
    set_tags,
    start_run,
)

__all__ = [
    "ActiveRun",
    "AmbiguousRunError",
    "Client",
    "ConflictError",
    "GittrackError",
    "ImmutableRunError",
    "InvalidNameError",
    "InvalidValueError",
    "MalformedRunError",
    "Metric",
    "NotARepositoryError",
    "NotFoundError",
    "Run",
    "RunData",
    "RunInfo",
    "UsageError",
    "__version__",
    "active_run",
    "end_run",
    "get_metric_history",
    "get_run",
    "list_runs",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "set_experiment",
    "set_tag",
    "set_tags",
    "start_run",
]
