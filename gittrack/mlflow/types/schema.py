"""``mlflow.types.schema`` for gittrack."""

from gittrack.mlflow.types import ColSpec, DataType, Schema, TensorSpec

__all__ = ["ColSpec", "DataType", "Schema", "TensorSpec"]
