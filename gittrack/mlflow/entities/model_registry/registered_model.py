"""``mlflow.entities.model_registry.registered_model`` for gittrack."""

from gittrack.mlflow.entities.model_registry import RegisteredModel

__all__ = ["RegisteredModel"]
