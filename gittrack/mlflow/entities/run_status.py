"""``mlflow.entities.run_status`` for gittrack."""

from gittrack.mlflow.entities import RunStatus

__all__ = ["RunStatus"]
