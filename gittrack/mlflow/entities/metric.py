"""``mlflow.entities.metric`` for gittrack."""

from gittrack.mlflow.entities import Metric

__all__ = ["Metric"]
