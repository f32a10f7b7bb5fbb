"""``mlflow.entities.experiment`` for gittrack."""

from gittrack.mlflow.entities import Experiment

__all__ = ["Experiment"]
