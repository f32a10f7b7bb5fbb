"""A request's arguments as MLflow's client sends them: the query string of a GET, the JSON body
of the others (the path's own parameters too)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gittrack.server.errors import ServerError


class Args:
    """The arguments of one request, and the authenticated user (None without auth)."""

    def __init__(self, values: Mapping[str, Any], multi: Mapping[str, list[str]] | None = None,
                 user: str | None = None) -> None:  # fmt: skip
        self.values = dict(values)
        self.multi = dict(multi or {})
        self.user = user

    def get(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name, default)
        return default if value is None else value

    def required(self, name: str) -> Any:
        value = self.values.get(name)
        if value is None or value == "":
            raise ServerError(f"Missing value for required parameter '{name}'")
        return value

    def list(self, name: str) -> list[Any]:
        """A repeated field: a JSON list, or the query string's repeated values."""
        if name in self.multi and len(self.multi[name]) > 1:
            return list(self.multi[name])
        value = self.values.get(name)
        if value is None or value == "":
            return []
        return list(value) if isinstance(value, list) else [value]

    def run_id(self) -> str:
        """``run_id``, or MLflow 1's ``run_uuid``."""
        value = self.values.get("run_id") or self.values.get("run_uuid")
        if not value:
            raise ServerError("Missing value for required parameter 'run_id'")
        return str(value)
