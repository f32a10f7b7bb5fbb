"""``mlflow.entities.run_info`` for gittrack."""

from gittrack.mlflow.entities import RunInfo

__all__ = ["RunInfo"]
