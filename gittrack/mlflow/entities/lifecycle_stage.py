"""``mlflow.entities.lifecycle_stage`` for gittrack."""

from gittrack.mlflow.entities import LifecycleStage

__all__ = ["LifecycleStage"]
