"""``mlflow.entities.file_info`` for gittrack."""

from gittrack.mlflow.entities import FileInfo

__all__ = ["FileInfo"]
