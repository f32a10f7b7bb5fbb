"""``mlflow.entities.view_type`` for gittrack."""

from gittrack.mlflow.entities import ViewType

__all__ = ["ViewType"]
