"""Scoring input as MLflow's scoring server reads it: JSON with exactly one of ``dataframe_split``,
``dataframe_records``, ``instances`` or ``inputs`` (and optional ``params``), or CSV.

Values are only ever parsed as data (JSON with orjson, CSV with pandas): nothing in a request is
imported, unpickled or evaluated. With a column signature, each column is converted to its declared
type while it is built (one numpy conversion per column), as MLflow casts parsed input to the schema.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

import orjson

from gittrack.serving.schema import NUMPY_TYPES, InputSchema

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
REQUIRED_INPUT_FORMAT = (
    "The input must be a JSON dictionary with exactly one of the input fields "
    "{'dataframe_split', 'dataframe_records', 'instances', 'inputs'}"
)
CONTENT_TYPES = ("application/json", "text/csv")


class ScoringError(Exception):
    """A request the server refuses: ``message``, MLflow's ``error_code`` and the HTTP ``status``."""

    def __init__(self, message: str, error_code: str = "BAD_REQUEST", status: int = 400) -> None:
        super().__init__(message)
        self.message, self.error_code, self.status = message, error_code, status


def invalid(message: str) -> ScoringError:
    """MLflow's ``MlflowInvalidInputException``: 400, ``BAD_REQUEST``, "Invalid input. ..."."""
    return ScoringError(f"Invalid input. {message}")


def media_type(content_type: str | None) -> str:
    """``application/json`` or ``text/csv`` from a Content-Type header (415 for anything else,
    a charset but UTF-8, or other parameters)."""
    parts = [p.strip() for p in (content_type or "").split(";")]
    params = dict(p.partition("=")[::2] for p in parts[1:] if p)
    if params.get("charset", "utf-8").strip('"').lower() != "utf-8":
        raise ScoringError("The scoring server only supports UTF-8", "BAD_REQUEST", 415)
    unexpected = set(params) - {"charset"}
    if unexpected:
        raise ScoringError(f"Unrecognized content type parameters: {', '.join(sorted(unexpected))}.", status=415)
    if parts[0].lower() not in CONTENT_TYPES:
        raise ScoringError(
            f"This predictor only supports the following content types: Types: {list(CONTENT_TYPES)}. "
            f"Got '{content_type or ''}'.",
            status=415,
        )
    return parts[0].lower()


def parse(body: bytes, mime: str, schema: InputSchema | None) -> tuple[Any, dict | None]:
    """(model input, params) of a request body of media type ``mime``."""
    if mime == "text/csv":
        return parse_csv(body, schema), None
    return parse_json(body, schema)


def parse_json(body: bytes | str, schema: InputSchema | None) -> tuple[Any, dict | None]:
    """(model input, params) of a JSON scoring request."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise invalid(f"Ensure that input is a valid JSON formatted string. Error: '{exc}'") from None
    if isinstance(document, list):
        raise invalid(f"{REQUIRED_INPUT_FORMAT}. Received a list.")
    if not isinstance(document, dict):
        raise invalid(f"{REQUIRED_INPUT_FORMAT}. Received unexpected input type '{type(document).__name__}'.")
    found = [key for key in document if key in FORMATS]
    if len(found) != 1:
        raise ScoringError(f"{REQUIRED_INPUT_FORMAT}. Received dictionary with input fields: {list(document)}.")
    params = document.get("params")
    if params is not None and not isinstance(params, dict):
        raise invalid(f"'params' must be a JSON object, got {type(params).__name__}.")
    key = found[0]
    value = document[key]
    if key == "dataframe_split":
        return from_split(value, schema), params
    if key == "dataframe_records":
        if not isinstance(value, list):
            kind = "dictionary" if isinstance(value, dict) else f"type {type(value).__name__}"
            raise invalid(f"Dataframe records format must be a list of records. Got {kind}.")
        return from_records(value, schema, "dataframe_records"), params
    if key == "instances" and isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
        return from_records(value, schema, "instances"), params
    return from_tensor_input(value, schema), params


def from_split(value: Any, schema: InputSchema | None) -> Any:
    """``{"columns": [...], "data": [[...], ...], "index": [...]}`` -> DataFrame."""
    if not isinstance(value, dict):
        kind = "list" if isinstance(value, list) else f"type {type(value).__name__}"
        raise invalid(f"Dataframe split format must be a dictionary. Got {kind}.")
    keys = set(value)
    if "data" not in keys or keys - {"columns", "data", "index"}:
        raise invalid(f"Dataframe split format must have 'data' field and optionally 'columns' and 'index' fields. "
                      f"Got {sorted(keys)}.")  # fmt: skip
    rows, names = value["data"], value.get("columns")
    if not isinstance(rows, list) or (names is not None and not isinstance(names, list)):
        raise invalid("Provided dataframe_split field is not a valid dataframe representation in 'split' format.")
    if schema is None or not schema.columns or any(not isinstance(r, list) for r in rows):
        return _plain_frame(rows, names, value.get("index"))
    width = len(names) if names is not None else (len(rows[0]) if rows else 0)
    if any(len(row) != width for row in rows):
        raise invalid(
            "Provided dataframe_split field is not a valid dataframe representation in 'split' format. "
            f"Error: '{width} columns passed, passed data had rows of another length'"
        )
    names = names if names is not None else list(range(width))
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
    return typed_frame(dict(zip(names, columns, strict=True)), schema, value.get("index"), len(rows))


def _plain_frame(rows: Any, names: Any, index: Any) -> Any:
    import pandas as pd

    try:
        return pd.DataFrame(data=rows, columns=names, index=index)
    except (ValueError, TypeError) as exc:
        raise invalid(f"Provided dataframe_split field is not a valid dataframe representation in 'split' "
                      f"format. Error: '{exc}'") from None  # fmt: skip


def from_records(rows: list, schema: InputSchema | None, field: str) -> Any:
    """``[{"col": value, ...}, ...]`` -> DataFrame."""
    import pandas as pd

    if schema is None or not schema.columns or any(not isinstance(r, dict) for r in rows):
        try:
            return pd.DataFrame(data=rows)
        except (ValueError, TypeError) as exc:
            raise invalid(f"Provided {field} field is not a valid dataframe representation in 'records' "
                          f"format. Error: '{exc}'") from None  # fmt: skip
    names: dict[str, None] = {}
    for row in rows:
        names.update(dict.fromkeys(row))
    return typed_frame({name: [row.get(name) for row in rows] for name in names}, schema, None, len(rows))


def from_tensor_input(value: Any, schema: InputSchema | None) -> Any:
    """``instances`` / ``inputs`` as TF serving has them: a dict of columns, a list (a tensor), or a
    scalar. Dicts of equal-length lists become a DataFrame for a column signature."""

    if isinstance(value, dict):
        if schema is not None and schema.columns:
            lists = {k: v for k, v in value.items() if isinstance(v, list)}
            if len(lists) == len(value) and len({len(v) for v in lists.values()}) <= 1:
                count = len(next(iter(lists.values()))) if lists else 0
                return typed_frame(lists, schema, None, count)
            return value
        dtypes = {t.name: t.dtype for t in schema.tensors} if schema is not None else {}
        return {k: _array(v, dtypes.get(k)) for k, v in value.items()}
    if isinstance(value, list):
        single = schema is not None and len(schema.columns) == 1 and schema.columns[0].name is not None
        if single and schema is not None and not any(isinstance(v, dict) for v in value):
            return typed_frame({schema.columns[0].name: value}, schema, None, len(value))
        dtype = schema.tensors[0].dtype if schema is not None and len(schema.tensors) == 1 else None
        return _array(value, dtype)
    return value  # a scalar: JSON holds nothing else


def _array(value: Any, dtype: str | None) -> Any:
    import numpy as np

    try:
        return np.asarray(value, dtype=None if dtype in (None, "object", "None") else dtype)
    except (TypeError, ValueError) as exc:
        raise invalid(f"Ensure that the input is a valid JSON-formatted string.\nError: {exc!r}") from None


def typed_frame(columns: dict[Any, Any], schema: InputSchema, index: Any, count: int) -> Any:
    """A DataFrame of ``columns`` (name -> values), each signature column converted to its type."""
    import pandas as pd

    types = {c.name: c.type for c in schema.columns if c.name is not None}
    if not schema.named:  # an unnamed signature types the columns by position
        types = {name: c.type for name, c in zip(columns, schema.columns, strict=False)}
    out = {}
    for name, values in columns.items():
        kind = types.get(name)
        out[name] = convert(name, values, kind) if kind is not None else list(values)
    try:
        return pd.DataFrame(out, index=index if index is not None else pd.RangeIndex(count), copy=False)
    except (ValueError, TypeError) as exc:
        raise invalid(f"Provided input is not a valid dataframe representation. Error: '{exc}'") from None


def convert(name: Any, values: Any, kind: str) -> Any:
    """The values of column ``name`` as an array of MLflow type ``kind`` (MLflow's
    ``MlflowFailedTypeConversion`` message when they do not convert; a float with a fraction never
    becomes an integer)."""
    import numpy as np
    import pandas as pd

    if kind == "any":
        return list(values)
    dtype = NUMPY_TYPES[kind]
    try:
        if kind in ("string", "binary"):
            return np.array(values, dtype=object)
        if kind == "datetime":
            return pd.to_datetime(list(values)).as_unit("ns")
        if kind == "boolean":
            if all(isinstance(v, bool) for v in values):
                return np.array(values, dtype=bool)
            return np.array(values, dtype=object)
        if kind in ("long", "integer"):
            for v in values:
                if v is None or (isinstance(v, float) and not v.is_integer()) or isinstance(v, str):
                    raise ValueError(f"{v!r} is not an integer")
        return np.array(values, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise invalid(f"Data is not compatible with model signature. Failed to convert column {name} to type "
                      f"'{dtype}'. Error: '{exc!r}'") from None  # fmt: skip


def parse_csv(body: bytes | Any, schema: InputSchema | None) -> Any:
    """A CSV body (bytes or a file) -> DataFrame, the signature's columns read as their types."""
    import pandas as pd

    source = BytesIO(body) if isinstance(body, bytes | bytearray) else body
    try:
        return pd.read_csv(source, dtype=schema.types() if schema is not None else None)
    except (ValueError, TypeError, pd.errors.ParserError) as exc:
        raise ScoringError(
            "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid CSV-formatted Pandas "
            f"DataFrame produced using the `pandas.DataFrame.to_csv()` method. Error: '{exc}'"
        ) from None
