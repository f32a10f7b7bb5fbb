"""``mlflow.entities.param`` for gittrack."""

from gittrack.mlflow.entities import Param

__all__ = ["Param"]
