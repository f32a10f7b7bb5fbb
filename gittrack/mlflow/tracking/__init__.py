"""``mlflow.tracking`` for gittrack: ``MlflowClient`` and the tracking URI."""

from gittrack.mlflow.tracking.client import MlflowClient
from gittrack.mlflow.tracking.fluent import get_tracking_uri, is_tracking_uri_set, set_tracking_uri

__all__ = ["MlflowClient", "get_tracking_uri", "is_tracking_uri_set", "set_tracking_uri"]
