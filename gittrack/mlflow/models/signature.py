"""``mlflow.models.signature`` for gittrack: ``ModelSignature`` and ``infer_signature``."""

from __future__ import annotations

import json
from typing import Any

from gittrack.mlflow.types import ColSpec, Schema, TensorSpec

_DTYPES = {
    "float64": "double",
    "float32": "float",
    "int64": "long",
    "int32": "integer",
    "bool": "boolean",
    "object": "string",
    "str": "string",
    "string": "string",
    "datetime64[ns]": "datetime",
}


class ModelSignature:
    """What a model takes and returns: ``inputs`` and ``outputs`` schemas (and ``params``)."""

    def __init__(self, inputs: Schema | None = None, outputs: Schema | None = None, params: Any = None) -> None:
        self.inputs, self.outputs, self.params = inputs, outputs, params

    def to_dict(self) -> dict[str, Any]:
        """MLflow's form: each schema as a JSON string (as in the ``MLmodel`` file)."""
        return {
            "inputs": self.inputs.to_json() if self.inputs is not None else None,
            "outputs": self.outputs.to_json() if self.outputs is not None else None,
            "params": None,
        }

    def to_gittrack(self) -> dict[str, Any]:
        """gittrack's ``model.yaml`` form."""
        return {"mlflow": self.to_dict()}

    @classmethod
    def from_dict(cls, signature_dict: dict[str, Any]) -> ModelSignature:
        """Back from :meth:`to_dict`."""
        inputs = signature_dict.get("inputs")
        outputs = signature_dict.get("outputs")
        return cls(Schema.from_json(inputs) if inputs else None, Schema.from_json(outputs) if outputs else None)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ModelSignature) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"inputs: {self.inputs!r}\noutputs: {self.outputs!r}"


def _schema(data: Any) -> Schema | None:
    """The schema of a DataFrame (columns), a Series, an array (tensor) or a list/dict of them."""
    if data is None:
        return None
    import numpy as np

    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency of gittrack
        pd = None
    if pd is not None and isinstance(data, pd.DataFrame):
        return Schema([ColSpec(_DTYPES.get(str(t), "string"), str(c)) for c, t in data.dtypes.items()])
    if pd is not None and isinstance(data, pd.Series):
        return Schema([ColSpec(_DTYPES.get(str(data.dtype), "string"), None if data.name is None else str(data.name))])
    if isinstance(data, dict):
        return Schema([ColSpec(_DTYPES.get(str(np.asarray(v).dtype), "string"), str(k)) for k, v in data.items()])
    array = np.asarray(data)
    if array.dtype == object or array.dtype.kind in "US":
        return Schema([ColSpec("string")])
    return Schema([TensorSpec(array.dtype, (-1, *array.shape[1:]))])


def infer_signature(model_input: Any = None, model_output: Any = None, params: Any = None) -> ModelSignature:
    """A signature from example inputs (and outputs): DataFrame columns, or array shapes."""
    return ModelSignature(_schema(model_input), _schema(model_output), params)


def signature_json(signature: Any) -> str:
    """A signature as JSON text (tests, debugging)."""
    return json.dumps(signature.to_dict() if isinstance(signature, ModelSignature) else signature)
