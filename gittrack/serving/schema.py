"""A model's input signature, and enforcing it on scoring input as MLflow's ``_enforce_schema`` does.

Two forms are read: MLflow's (``{"inputs": "<JSON list of ColSpec/TensorSpec>"}``, in the
``MLmodel`` file or under ``mlflow:`` in ``model.yaml``) and gittrack's own (``{"inputs": {"type":
"dataframe", "columns": [{"name", "dtype"}]}}`` or ``{"type": "ndarray", "shape", "dtype"}``).

The rules are MLflow's: required columns must be there (extra ones are dropped), a column converts
only when nothing is lost (int32 -> long, float -> double, small ints -> double, 0/1 longs ->
double, anything -> string), tensors must match their shape and dtype. One deliberate difference:
a JSON float with a fraction sent for an integer column is refused instead of truncated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# MLflow's DataType -> numpy dtype name
NUMPY_TYPES = {
    "string": "object",
    "binary": "object",
    "boolean": "bool",
    "integer": "int32",
    "long": "int64",
    "float": "float32",
    "double": "float64",
    "datetime": "datetime64[ns]",
}
# pandas dtype (as gittrack's own signatures record it) -> MLflow's DataType
_FROM_PANDAS = {
    "float64": "double", "float32": "float", "int64": "long", "int32": "integer", "int16": "integer",
    "int8": "integer", "bool": "boolean", "object": "string", "str": "string", "string": "string",
    "datetime64[ns]": "datetime", "datetime64[us]": "datetime",
}  # fmt: skip


class SchemaError(Exception):
    """Input that does not fit the signature (a 400 with MLflow's ``INVALID_PARAMETER_VALUE``)."""


@dataclass(frozen=True)
class Column:
    """A column of a column-based signature; ``type`` is MLflow's name (``double``, ``string``...),
    or ``any`` for the nested types (arrays, objects, maps), which are passed through unchecked."""

    name: str | None
    type: str
    required: bool = True

    def __str__(self) -> str:
        kind = f"{self.type} ({'required' if self.required else 'optional'})"
        return f"{self.name!r}: {kind}" if self.name is not None else kind


@dataclass(frozen=True)
class Tensor:
    """A tensor input: numpy dtype name and shape (``-1``: any size)."""

    name: str | None
    dtype: str
    shape: tuple[int, ...]

    def __str__(self) -> str:
        return f"{self.name + ': ' if self.name else ''}Tensor({self.dtype!r}, {self.shape!r})"


@dataclass(frozen=True)
class InputSchema:
    """A model's inputs: columns, or tensors (never both)."""

    columns: tuple[Column, ...] = ()
    tensors: tuple[Tensor, ...] = ()

    @property
    def named(self) -> bool:
        return any(c.name is not None for c in self.columns) or any(t.name is not None for t in self.tensors)

    def names(self) -> list[str]:
        return [c.name for c in self.columns if c.name is not None]

    def types(self) -> dict[str, str]:
        """Column name -> numpy dtype name, for the typed columns (CSV parsing)."""
        return {c.name: NUMPY_TYPES[c.type] for c in self.columns if c.name is not None and c.type in NUMPY_TYPES}

    def __str__(self) -> str:
        return "[" + ", ".join(str(x) for x in (self.columns or self.tensors)) + "]"


def from_signature(signature: Any) -> InputSchema | None:
    """The input schema of a ``model.yaml`` or ``MLmodel`` signature, None when it has none."""
    if not isinstance(signature, dict):
        return None
    if isinstance(signature.get("mlflow"), dict):
        signature = signature["mlflow"]
    inputs = signature.get("inputs")
    if isinstance(inputs, str):  # MLflow's form: a JSON list
        try:
            inputs = json.loads(inputs)
        except ValueError:
            return None
    if isinstance(inputs, list):
        return _from_mlflow(inputs)
    if isinstance(inputs, dict) and inputs.get("type") == "dataframe":
        columns = inputs.get("columns") or []
        return InputSchema(columns=tuple(Column(str(c.get("name")), _FROM_PANDAS.get(str(c.get("dtype")), "any"))
                                         for c in columns))  # fmt: skip
    if isinstance(inputs, dict) and inputs.get("type") == "ndarray":
        shape = tuple(int(x) for x in inputs.get("shape") or [-1])
        return InputSchema(tensors=(Tensor(None, str(inputs.get("dtype")), shape),))
    return None


def _from_mlflow(items: list) -> InputSchema | None:
    columns, tensors = [], []
    for item in items:
        if not isinstance(item, dict):
            return None
        name = item.get("name")
        if item.get("type") == "tensor":
            spec = item.get("tensor-spec") or {}
            tensors.append(Tensor(name, str(spec.get("dtype")), tuple(int(x) for x in spec.get("shape") or [-1])))
        else:
            kind = item.get("type")
            columns.append(Column(name, kind if kind in NUMPY_TYPES else "any", bool(item.get("required", True))))
    if columns and tensors:
        return None
    return InputSchema(tuple(columns), tuple(tensors))


# -- enforcing ------------------------------------------------------------------------------


def enforce(data: Any, schema: InputSchema) -> Any:
    """``data`` (a DataFrame, a dict of columns, an array or a list) made to fit ``schema``: a
    DataFrame with the signature's columns in its order, or the tensor(s). Raises SchemaError."""
    import numpy as np
    import pandas as pd

    if schema.tensors:
        return _enforce_tensors(data, schema)
    if isinstance(data, dict):
        try:
            if all(np.isscalar(v) or v is None for v in data.values()):
                data = pd.DataFrame([data])
            else:
                data = pd.DataFrame({k: v.tolist() if isinstance(v, np.ndarray) and v.ndim > 1 else v
                                     for k, v in data.items()})  # fmt: skip
        except ValueError as exc:
            raise SchemaError(
                "This model contains a column-based signature, which suggests a DataFrame input. "
                f"There was an error casting the input data to a DataFrame: {exc}"
            ) from None
    elif isinstance(data, list | np.ndarray | pd.Series):
        data = pd.DataFrame(data)
    elif np.isscalar(data):
        data = pd.DataFrame([data])
    if not isinstance(data, pd.DataFrame):
        raise SchemaError(f"Expected input to be DataFrame. Found: {type(data).__name__}")
    if schema.named:
        return _enforce_named(data, schema)
    if len(data.columns) < len(schema.columns):
        raise SchemaError(
            f"Model inference is missing inputs. The model signature declares {len(schema.columns)} inputs "
            f"but the provided value only has {len(data.columns)} inputs. Note: the inputs were not named "
            "in the signature so we can only verify their count."
        )
    return pd.DataFrame({name: enforce_column(name, data[name], column.type)
                         for name, column in zip(data.columns, schema.columns, strict=False)})  # fmt: skip


def _enforce_named(data: Any, schema: InputSchema) -> Any:
    import pandas as pd

    present = set(data.columns)
    missing = [c.name for c in schema.columns if c.required and c.name not in present]
    if missing:
        known = {c.name for c in schema.columns}
        extra = [c for c in data.columns if c not in known]
        note = f" Note that there were extra inputs: {extra}." if extra else ""
        raise SchemaError(f"Model is missing inputs {missing}.{note}")
    if list(data.columns) == [c.name for c in schema.columns] and all(
        _fits(dtype, c.type) for dtype, c in zip(data.dtypes, schema.columns, strict=True)
    ):
        return data  # the common case (input built to the signature): no second frame
    out = {}
    for column in schema.columns:
        if column.name in present:
            out[column.name] = enforce_column(column.name, data[column.name], column.type)
    return pd.DataFrame(out, index=data.index, copy=False)


def _fits(dtype: Any, kind: str) -> bool:
    """Whether a column of ``dtype`` is already what MLflow type ``kind`` asks (nothing to do)."""
    import pandas as pd

    if kind == "any":
        return True
    if kind in ("string", "binary"):
        return str(dtype) == "object" or isinstance(dtype, pd.StringDtype)
    return str(dtype) == NUMPY_TYPES[kind]


def enforce_column(name: Any, values: Any, kind: str) -> Any:
    """One column (a pandas Series) of MLflow type ``kind``, converted where nothing is lost."""
    import numpy as np
    import pandas as pd

    if kind == "any":
        return values
    dtype = values.dtype
    if dtype == np.object_ and kind not in ("string", "binary"):
        values = values.infer_objects()
        dtype = values.dtype
    if kind in ("string", "binary") and (dtype == np.object_ or isinstance(dtype, pd.StringDtype)):
        return values
    target = np.dtype(NUMPY_TYPES[kind])
    if dtype == target:
        return values
    if kind == "datetime" and (dtype.kind == "M" or dtype == np.object_):
        try:
            return values.astype("datetime64[ns]")
        except (TypeError, ValueError) as exc:
            raise SchemaError(f"Failed to convert column {name} from type {dtype} to datetime: {exc}") from None
    if kind == "boolean" and dtype == np.object_:
        return values  # as MLflow: None must not become False
    kind_of = getattr(dtype, "kind", "O")
    if kind_of == target.kind:
        upcast = dtype.itemsize <= target.itemsize
    elif kind_of == "u" and target.kind == "i":
        upcast = dtype.itemsize < target.itemsize
    elif kind_of in "iu" and target == np.float64:
        upcast = dtype.itemsize <= 6
    else:
        upcast = False
    if upcast or (dtype == np.int64 and target.kind == "f" and bool(values.isin((0, 1)).all())):
        return values.astype(target)
    hint = ""
    if dtype == np.float64 and target.kind in "iu" and values.hasnans:
        hint = (
            " Hint: the type mismatch is likely caused by missing values. Integer columns can not "
            "represent missing values and are therefore encoded as floats; declare such columns as doubles."
        )
    raise SchemaError(f"Incompatible input types for column {name}. Can not safely convert {dtype} to {target}.{hint}")


def _enforce_tensors(data: Any, schema: InputSchema) -> Any:
    import numpy as np
    import pandas as pd

    if (schema.named and len(schema.tensors) > 1) or (schema.named and isinstance(data, dict)):
        if not isinstance(data, dict):
            raise SchemaError(
                "This model contains a tensor-based model signature with input names, which suggests a "
                f"dictionary input mapping input name to tensor, but an input of type {type(data).__name__} was found."
            )
        missing = [t.name for t in schema.tensors if t.name not in data]
        if missing:
            raise SchemaError(f"Model is missing inputs {missing}.")
        return {t.name: check_tensor(np.asarray(data[t.name]), t) for t in schema.tensors}
    spec = schema.tensors[0]
    if isinstance(data, pd.DataFrame):
        if data.empty:
            raise SchemaError("Input DataFrame is empty.")
        data = data.to_numpy()
    elif isinstance(data, dict) and len(data) == 1:
        data = next(iter(data.values()))
    try:
        array = np.asarray(data, dtype=None if spec.dtype in ("object", "None") else spec.dtype)
    except (TypeError, ValueError) as exc:
        raise SchemaError(f"Failed to convert the input to a {spec.dtype} tensor: {exc}") from None
    return check_tensor(array, spec)


def check_tensor(array: Any, spec: Tensor) -> Any:
    """``array`` if its shape fits ``spec`` (``-1`` matches any size), else SchemaError."""
    if len(spec.shape) != array.ndim or any(e not in (-1, a) for e, a in zip(spec.shape, array.shape, strict=True)):
        raise SchemaError(f"Shape of input {array.shape} does not match expected shape {spec.shape}.")
    if spec.dtype not in ("object", "None") and str(array.dtype) != spec.dtype:
        raise SchemaError(f"dtype of input {array.dtype} does not match expected dtype {spec.dtype}")
    return array
