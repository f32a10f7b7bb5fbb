"""Finding runs, in one package: the filter grammar (``filter``), ordering (``order``), the Python
and SQL evaluation paths (``evaluate``, ``sql``) that must agree, the flat rows both work on
(``rows``), the SQLite search cache (``cache``), DataFrames (``frame``) and the searches
themselves (``service``). ``gittrack.search.search_runs`` and the other names of the former
``gittrack.search`` module still resolve here (from ``service``, on first use)."""

from __future__ import annotations

import importlib
from typing import Any

_SERVICE = ("RunsTable", "SearchResult", "find_rows", "paused_gc", "runs_of", "runs_table", "search_runs")


def __getattr__(name: str) -> Any:
    if name not in _SERVICE:
        raise AttributeError(f"module 'gittrack.search' has no attribute {name!r}")
    return getattr(importlib.import_module("gittrack.search.service"), name)
