"""``mlflow.store.entities`` for gittrack."""

from gittrack.mlflow.store.entities.paged_list import PagedList

__all__ = ["PagedList"]
