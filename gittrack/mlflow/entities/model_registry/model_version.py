"""``mlflow.entities.model_registry.model_version`` for gittrack."""

from gittrack.mlflow.entities.model_registry import ModelVersion

__all__ = ["ModelVersion"]
