"""``mlflow.entities.run_data`` for gittrack."""

from gittrack.mlflow.entities import RunData

__all__ = ["RunData"]
