"""``mlflow.entities.run_tag`` for gittrack."""

from gittrack.mlflow.entities import RunTag

__all__ = ["RunTag"]
