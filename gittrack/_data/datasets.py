"""In-memory datasets described as MLflow describes them: an 8-character digest, a schema and a profile.

The digest follows MLflow's recipe (``mlflow.data``: an MD5 of pandas' hashes of the first 10,000
values or rows, the shape or length, and the column names), so the same data gets the same digest
in gittrack and in MLflow. The schema and the profile are the JSON texts MLflow stores with a
dataset input: ``{"mlflow_tensorspec": ...}`` and shapes for arrays, ``{"mlflow_colspec": ...}``
and row counts for DataFrames. Nothing here imports numpy or pandas until a dataset is described.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from typing import Any

MAX_ROWS = 10_000  # values (arrays) or rows (DataFrames) the digest reads, as MLflow
MAX_SCHEMA_CHARS = 64 * 1024  # a wider schema is left out (a DataFrame of thousands of columns)
MAX_DENSE_BYTES = 256 * 1024 * 1024  # a sparse matrix larger than this once dense is not described


@dataclass(frozen=True)
class Description:
    """What a dataset input records besides its name and context (JSON texts, as MLflow's)."""

    digest: str
    schema: str | None
    profile: str | None


def describe(features: Any, targets: Any = None) -> Description | None:
    """A DataFrame, an array or a scipy sparse matrix (with optional targets) described as MLflow's
    autologging describes training data; None for other types. A DataFrame's targets are not part
    of it (MLflow's ``from_pandas`` keeps the target as a column name)."""
    pandas = sys.modules.get("pandas")
    numpy = sys.modules.get("numpy")
    if pandas is not None and isinstance(features, pandas.DataFrame):
        return describe_frame(features)
    sparse = sys.modules.get("scipy.sparse")
    if sparse is not None and sparse.issparse(features):
        if features.shape[0] * features.shape[1] * features.dtype.itemsize > MAX_DENSE_BYTES:
            return None  # MLflow describes the dense array; this one would not fit in memory comfortably
        features = features.toarray()
        if targets is not None and sparse.issparse(targets):
            targets = targets.toarray()
    if numpy is not None and isinstance(features, numpy.ndarray):
        return describe_arrays(features, None if targets is None else numpy.asarray(targets))
    return None


def describe_arrays(features: Any, targets: Any = None) -> Description:
    """Arrays: MLflow's ``from_numpy`` digest, tensor schema and shapes."""
    import numpy as np
    import pandas as pd

    parts: list[Any] = []
    for array in (features, targets):
        if array is None:
            continue
        head = array.flatten()[:MAX_ROWS]
        try:
            parts.append(pd.util.hash_array(head))
        except TypeError:  # values pandas cannot hash: their count stands for them
            parts.append(np.int64(head.size))
        parts.extend(np.int64(n) for n in array.shape)
    schema = {"features": _tensor_spec(features), "targets": None if targets is None else _tensor_spec(targets)}
    profile = {"features_shape": list(features.shape), "features_size": int(features.size),
               "features_nbytes": int(features.nbytes)}  # fmt: skip
    if targets is not None:
        profile.update(targets_shape=list(targets.shape), targets_size=int(targets.size),
                       targets_nbytes=int(targets.nbytes))  # fmt: skip
    return Description(_digest(parts), _bounded({"mlflow_tensorspec": schema}), json.dumps(profile))


def describe_frame(frame: Any) -> Description:
    """A DataFrame: MLflow's ``from_pandas`` digest, column schema and row count."""
    import numpy as np
    import pandas as pd

    head = frame.head(MAX_ROWS)
    strings = [c for c in frame.columns if _all_strings(frame[c])]
    numbers = list(head.select_dtypes(include=[np.number]).columns)
    kept = pd.Index(strings).union(pd.Index(numbers)) if strings or numbers else pd.Index([])
    parts = [pd.util.hash_pandas_object(head[kept]).values, np.int64(len(frame))]
    parts += [str(c).encode() for c in frame.columns]
    columns = [_column_spec(frame[c], c) for c in frame.columns]
    schema = None if any(c is None for c in columns) else _bounded({"mlflow_colspec": columns})
    profile = json.dumps({"num_rows": len(frame), "num_elements": int(frame.size)})
    return Description(_digest(parts), schema, profile)


def code_source(user: str, entry_point: str) -> str:
    """MLflow's source of data that came from code (its ``code`` source type): the user and the
    script that logged it, as JSON."""
    return json.dumps({"tags": {"mlflow.user": user, "mlflow.source.name": entry_point, "mlflow.source.type": "LOCAL"}})


def entry_point() -> str:
    """The script this process runs, as ``mlflow.source.name`` names it."""
    import os

    return os.path.abspath(sys.argv[0]) if sys.argv and sys.argv[0] not in ("", "-c") else "<console>"


def _digest(parts: list[Any]) -> str:
    md5 = hashlib.md5(usedforsecurity=False)
    for part in parts:
        md5.update(part)
    return md5.hexdigest()[:8]


def _bounded(schema: dict[str, Any]) -> str | None:
    text = json.dumps(schema)
    return text if len(text) <= MAX_SCHEMA_CHARS else None


def _tensor_spec(array: Any) -> str:
    kind = array.dtype.char
    dtype = "str" if kind == "U" else "bytes" if kind == "S" else str(array.dtype)  # sizes dropped, as MLflow
    return json.dumps([{"type": "tensor", "tensor-spec": {"dtype": dtype, "shape": [-1, *array.shape[1:]]}}])


def _all_strings(column: Any) -> bool:
    """Whether every value is a ``str`` (MLflow hashes such columns with the numeric ones)."""
    if column.dtype.kind in "biufcmM":
        return len(column) == 0
    return all(type(value) is str for value in column)


_NUMPY_TYPES = {"b": "boolean", "U": "string", "S": "binary", "M": "datetime"}


def _column_type(column: Any) -> str | None:
    """MLflow's type of a DataFrame column (``double``, ``long``, ``string``...); None when unknown."""
    dtype = column.dtype
    if dtype.kind == "O":
        column = column.infer_objects()
        dtype = column.dtype
    if dtype.kind == "O":
        values = column.dropna()
        if all(isinstance(v, str) for v in values):
            return "string"
        if all(isinstance(v, bytes) for v in values):
            return "binary"
        return None
    if dtype.kind in "iu":
        small = dtype.itemsize < 4 or (dtype.kind == "i" and dtype.itemsize == 4)
        return "integer" if small else "long" if dtype.itemsize <= 8 else None
    if dtype.kind == "f":
        return "float" if dtype.itemsize <= 4 else "double" if dtype.itemsize <= 8 else None
    return _NUMPY_TYPES.get(dtype.kind)


def _column_spec(column: Any, name: Any) -> dict[str, Any] | None:
    kind = _column_type(column)
    if kind is None:
        return None
    label = name if type(name) in (str, int, float, bool) else str(name)
    return {"type": kind, "name": label, "required": not bool(column.isna().any())}


__all__ = ["Description", "code_source", "describe", "describe_arrays", "describe_frame", "entry_point"]
