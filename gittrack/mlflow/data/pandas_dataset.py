"""``mlflow.data.pandas_dataset`` for gittrack."""

from gittrack.mlflow.data import PandasDataset, from_pandas

__all__ = ["PandasDataset", "from_pandas"]
