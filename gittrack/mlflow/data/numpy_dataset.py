"""``mlflow.data.numpy_dataset`` for gittrack."""

from gittrack.mlflow.data import NumpyDataset, from_numpy

__all__ = ["NumpyDataset", "from_numpy"]
