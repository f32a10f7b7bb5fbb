"""One scoring call: input enforced against the signature, the model's predict, the predictions as
MLflow's JSON (``{"predictions": ...}``), serialised with orjson."""

from __future__ import annotations

import base64
import datetime
import logging
from typing import Any

import orjson

from gittrack.serving.inputs import ScoringError
from gittrack.serving.schema import SchemaError, enforce
from gittrack.serving.source import Loaded

log = logging.getLogger("gittrack")


def predict(loaded: Loaded, data: Any, params: dict | None) -> Any:
    """The model's predictions for ``data`` (parsed input), after enforcing the signature."""
    if loaded.schema is not None:
        try:
            data = enforce(data, loaded.schema)
        except SchemaError as exc:
            raise ScoringError(
                f"Failed to enforce schema of data with schema '{loaded.schema}'. Error: {exc}",
                "INVALID_PARAMETER_VALUE",
            ) from None
    try:
        if params and loaded.takes_params:
            return loaded.model.predict(data, params=params)
        return loaded.model.predict(data)
    except Exception as exc:  # noqa: BLE001 - the model's error is the request's, as in MLflow
        log.warning("gittrack: the model failed on a request: %s: %s", type(exc).__name__, exc)
        raise ScoringError(
            "Encountered an unexpected error while evaluating the model. Verify that the serialized input "
            f"Dataframe is compatible with the model for inference. Error: {type(exc).__name__}: {exc}"
        ) from None


def jsonable(predictions: Any) -> Any:
    """MLflow's ``_get_jsonable_obj``: arrays as they are (orjson writes them), DataFrames as
    records, a Series as the records of a one-column DataFrame."""
    import numpy as np

    if isinstance(predictions, np.ndarray):
        if predictions.dtype in (np.float64, np.int64, np.int32, np.bool_) and predictions.flags.c_contiguous:
            return predictions
        return predictions.tolist()
    pandas = _pandas()
    if pandas is not None and isinstance(predictions, pandas.DataFrame):
        return predictions.to_dict(orient="records")
    if pandas is not None and isinstance(predictions, pandas.Series):
        return pandas.DataFrame(predictions).to_dict(orient="records")
    return predictions


def _pandas() -> Any:
    import sys

    return sys.modules.get("pandas")


def _default(value: Any) -> Any:
    """What orjson cannot write itself, as MLflow's NumpyEncoder writes it."""
    import numpy as np

    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes | bytearray):
        return base64.encodebytes(value).decode("ascii")
    if isinstance(value, datetime.date | datetime.time) or hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> bytes:
    """``value`` (made :func:`jsonable`) as JSON bytes."""
    return orjson.dumps(value, default=_default, option=_OPTIONS)


def to_json(predictions: Any) -> bytes:
    """``{"predictions": ...}`` as bytes."""
    try:
        return dumps({"predictions": jsonable(predictions)})
    except TypeError as exc:
        raise ScoringError(f"the model's predictions cannot be written as JSON: {exc}", "INTERNAL_ERROR", 500) from None


def error_json(error: ScoringError) -> bytes:
    """MLflow's error body: ``{"error_code": ..., "message": ...}``."""
    return orjson.dumps({"error_code": error.error_code, "message": error.message})
