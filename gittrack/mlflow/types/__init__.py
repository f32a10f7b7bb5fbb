"""``mlflow.types`` for gittrack: the schema pieces of a ``ModelSignature``."""

from __future__ import annotations

import json
from typing import Any


class ColSpec:
    """A named (or unnamed) column of a type: ``double``, ``long``, ``string``..."""

    def __init__(self, type: Any, name: str | None = None, optional: bool = False, required: bool = True) -> None:
        self.type = getattr(type, "name", type)
        self.name = name
        self.required = required and not optional

    def to_dict(self) -> dict[str, Any]:
        """MLflow's JSON form."""
        out: dict[str, Any] = {"type": str(self.type)}
        if self.name is not None:
            out["name"] = self.name
        out["required"] = self.required
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ColSpec) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"{self.name!r}: {self.type!r}" if self.name else repr(self.type)


class TensorSpec:
    """An array of a dtype and shape (``-1`` for the batch dimension)."""

    def __init__(self, type: Any, shape: tuple, name: str | None = None) -> None:
        self.type = str(getattr(type, "name", type))
        self.shape = tuple(shape)
        self.name = name

    def to_dict(self) -> dict[str, Any]:
        """MLflow's JSON form."""
        out: dict[str, Any] = {"type": "tensor", "tensor-spec": {"dtype": self.type, "shape": list(self.shape)}}
        if self.name is not None:
            out["name"] = self.name
        return out

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TensorSpec) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"Tensor({self.type!r}, {self.shape!r})"


class Schema:
    """A list of ``ColSpec`` or ``TensorSpec``."""

    def __init__(self, inputs: list) -> None:
        self.inputs = list(inputs)

    def input_names(self) -> list[str]:
        """The named columns."""
        return [i.name for i in self.inputs if i.name is not None]

    def to_dict(self) -> list[dict[str, Any]]:
        """MLflow's JSON form (a list)."""
        return [i.to_dict() for i in self.inputs]

    def to_json(self) -> str:
        """As the ``MLmodel`` file stores it."""
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Schema:
        """Back from :meth:`to_json`."""
        items: list[ColSpec | TensorSpec] = []
        for item in json.loads(text):
            if item.get("type") == "tensor":
                spec = item["tensor-spec"]
                items.append(TensorSpec(spec["dtype"], tuple(spec["shape"]), item.get("name")))
            else:
                items.append(ColSpec(item["type"], item.get("name"), required=item.get("required", True)))
        return cls(items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schema) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"[{', '.join(map(repr, self.inputs))}]"


class DataType:
    """MLflow's column types by name."""

    boolean, integer, long, float, double, string, binary, datetime = (
        "boolean",
        "integer",
        "long",
        "float",
        "double",
        "string",
        "binary",
        "datetime",
    )


__all__ = ["ColSpec", "DataType", "Schema", "TensorSpec"]
