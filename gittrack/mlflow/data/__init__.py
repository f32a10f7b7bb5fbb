"""``mlflow.data`` for gittrack: datasets for ``log_input`` (name, digest, source, context), with
MLflow's digests, schemas and profiles (``gittrack._data.datasets``)."""

from __future__ import annotations

import json
import os
from typing import Any

from gittrack._data import datasets


class DatasetSource:
    """Where a dataset came from: a URI or path (a local file is hashed by DVC when logged), or the
    code that built it (no URI: MLflow's ``code`` source)."""

    def __init__(self, uri: str | None) -> None:
        self.uri = uri

    @property
    def source_type(self) -> str:
        """MLflow's type of the source: ``code``, ``http`` or ``local``."""
        if self.uri is None:
            return "code"
        return "http" if self.uri.startswith(("http://", "https://")) else "local"

    def to_dict(self) -> dict[str, Any]:
        """MLflow's form."""
        if self.source_type == "code":
            return {"tags": {"mlflow.source.name": datasets.entry_point(), "mlflow.source.type": "LOCAL"}}
        return {"url" if self.source_type == "http" else "uri": self.uri}

    def to_json(self) -> str:
        """MLflow's form as JSON text."""
        return json.dumps(self.to_dict())


class Dataset:
    """A dataset: ``name``, ``digest`` (8 hex characters of its content's hash), ``source``."""

    def __init__(self, name: str | None, digest: str, source: str | None, targets: str | None = None,
                 description: datasets.Description | None = None) -> None:  # fmt: skip
        self.name = name or "dataset"
        self.digest = digest
        self.source = DatasetSource(source)
        self.targets = targets
        self._description = description

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

    @property
    def source_type(self) -> str:
        """MLflow's type of the source (``code``, ``http``, ``local``)."""
        return self.source.source_type

    def to_dict(self) -> dict[str, Any]:
        """MLflow's form: name, digest, source and source type, schema and profile (JSON texts)."""
        described = self._description
        return {"name": self.name, "digest": self.digest, "source": self.source.to_json(),
                "source_type": self.source_type, "schema": described.schema if described else None,
                "profile": described.profile if described else None}  # fmt: skip


class PandasDataset(Dataset):
    """A DataFrame as a dataset (``df``, ``targets``, ``profile``)."""

    def __init__(self, df: Any, source: str | None, name: str | None, digest: str | None, targets: str | None) -> None:
        self.df = df
        described = datasets.describe_frame(df)
        super().__init__(name, digest or described.digest, source, targets, described)

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
        described = datasets.describe_arrays(self.features, self.targets_array)
        super().__init__(name, digest or described.digest, source, description=described)

    @property
    def profile(self) -> dict[str, Any]:
        """Shapes, sizes and byte counts of the features (and targets)."""
        return json.loads(self._description.profile) if self._description and self._description.profile else {}


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
