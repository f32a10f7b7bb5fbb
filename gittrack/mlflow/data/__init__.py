"""``mlflow.data`` for gittrack: datasets for ``log_input`` (name, digest, source, context)."""

from __future__ import annotations

import hashlib
import os
from typing import Any


class DatasetSource:
    """Where a dataset came from: a URI or path (a local file is hashed by DVC when logged)."""

    def __init__(self, uri: str | None) -> None:
        self.uri = uri

    def to_dict(self) -> dict[str, Any]:
        """MLflow's form."""
        return {"uri": self.uri}


class Dataset:
    """A dataset: ``name``, ``digest`` (8 hex characters of its content's hash), ``source``."""

    def __init__(self, name: str | None, digest: str, source: str | None, targets: str | None = None) -> None:
        self.name = name or "dataset"
        self.digest = digest
        self.source = DatasetSource(source)
        self.targets = targets

    @property
    def source_uri(self) -> str | None:
        """The source as text."""
        return self.source.uri

    @property
    def local_path(self) -> str | None:
        """The source when it is an existing local file or folder (logged with its DVC hash)."""
        from gittrack.mlflow._state import local_path

        path = local_path(self.source.uri) if self.source.uri else None
        return path if path is not None and os.path.exists(path) else None

    def to_dict(self) -> dict[str, Any]:
        """MLflow's form."""
        return {"name": self.name, "digest": self.digest, "source": self.source.uri, "source_type": "local"}


class PandasDataset(Dataset):
    """A DataFrame as a dataset (``df``, ``targets``, ``profile``)."""

    def __init__(self, df: Any, source: str | None, name: str | None, digest: str | None, targets: str | None) -> None:
        import pandas as pd

        self.df = df
        hashed = pd.util.hash_pandas_object(df.head(10_000), index=False).to_numpy().tobytes()
        super().__init__(name, digest or hashlib.md5(hashed).hexdigest()[:8], source, targets)  # noqa: S324

    @property
    def profile(self) -> dict[str, int]:
        """Row and element counts."""
        return {"num_rows": len(self.df), "num_elements": int(self.df.size)}


class NumpyDataset(Dataset):
    """Arrays as a dataset (``features``, ``targets``)."""

    def __init__(self, features: Any, source: str | None, targets: Any, name: str | None, digest: str | None) -> None:
        import numpy as np

        self.features = np.asarray(features)
        self.targets_array = None if targets is None else np.asarray(targets)
        content = self.features.tobytes()[: 64 * 1024 * 1024]
        super().__init__(name, digest or hashlib.md5(content).hexdigest()[:8], source)  # noqa: S324

    @property
    def profile(self) -> dict[str, Any]:
        """Shapes."""
        return {"features_shape": list(self.features.shape)}


def from_pandas(
    df: Any,
    source: str | None = None,
    targets: str | None = None,
    name: str | None = None,
    digest: str | None = None,
    predictions: str | None = None,
) -> PandasDataset:
    """A dataset of a DataFrame, for ``log_input``."""
    return PandasDataset(df, None if source is None else str(source), name, digest, targets)


def from_numpy(
    features: Any, source: str | None = None, targets: Any = None, name: str | None = None, digest: str | None = None
) -> NumpyDataset:
    """A dataset of arrays, for ``log_input``."""
    return NumpyDataset(features, None if source is None else str(source), targets, name, digest)


__all__ = ["Dataset", "DatasetSource", "NumpyDataset", "PandasDataset", "from_numpy", "from_pandas"]
