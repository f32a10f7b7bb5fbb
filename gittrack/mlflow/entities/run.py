"""``mlflow.entities.run`` for gittrack."""

from gittrack.mlflow.entities import Run

__all__ = ["Run"]
