"""``mlflow.client`` for gittrack (``from mlflow.client import MlflowClient``)."""

from gittrack.mlflow.tracking.client import MlflowClient

__all__ = ["MlflowClient"]
