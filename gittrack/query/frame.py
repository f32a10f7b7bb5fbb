"""Search results as flat rows and pandas DataFrames with MLflow's column names, in a stable order.

Columns: the info columns below, then ``params.*``, ``metrics.*`` and ``tags.*``, each sorted
by key (MLflow leaves them in arbitrary order).
"""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any

from gittrack.store.rows import RunRow

if TYPE_CHECKING:
    import pandas as pd

INFO_COLUMNS = (
    "run_id", "run_name", "experiment", "status", "start_time", "end_time", "duration",
    "user", "source_commit", "dirty", "parent_run_id", "ref",
)  # fmt: skip
_GROUPS = ("params", "metrics", "tags")


def columns_of(rows: list[RunRow]) -> list[str]:
    """Every column the rows have, in the stable order."""
    keys: dict[str, set[str]] = {group: set() for group in _GROUPS}
    for row in rows:
        keys["params"].update(row.params)
        keys["metrics"].update(row.metrics)
        keys["tags"].update(row.tags)
    return list(INFO_COLUMNS) + [f"{group}.{key}" for group in _GROUPS for key in sorted(keys[group])]


def select_columns(columns: list[str], patterns: list[str] | None) -> list[str]:
    """Columns matching any glob pattern (``params.*``, ``metrics.val_*``), in the stable order."""
    if not patterns:
        return columns
    return [c for c in columns if any(fnmatch.fnmatchcase(c, p) for p in patterns)]


def _info(row: RunRow) -> dict[str, Any]:
    return {
        "run_id": row.run_id, "run_name": row.run_name, "experiment": row.experiment, "status": row.status,
        "start_time": row.start_time, "end_time": row.end_time,
        "duration": None if row.end_time is None else row.end_time - row.start_time,
        "user": row.user, "source_commit": row.source_commit, "dirty": row.dirty,
        "parent_run_id": row.parent_run_id, "ref": row.ref,
    }  # fmt: skip


def flat_row(row: RunRow) -> dict[str, Any]:
    """One run as ``{column: value}``; times in epoch ms, duration in ms."""
    flat = _info(row)
    for group in _GROUPS:
        for key, value in getattr(row, group).items():
            flat[f"{group}.{key}"] = value
    return flat


def to_frame(rows: list[RunRow]) -> pd.DataFrame:
    """A DataFrame, one row per run: times as UTC datetimes, duration as timedelta, metrics as floats."""
    import numpy as np
    import pandas as pd

    start = np.array([r.start_time for r in rows], dtype="float64")
    end = np.array([np.nan if r.end_time is None else r.end_time for r in rows], dtype="float64")
    frame: dict[str, Any] = {
        "run_id": [r.run_id for r in rows],
        "run_name": [r.run_name for r in rows],
        "experiment": [r.experiment for r in rows],
        "status": [r.status for r in rows],
        "start_time": pd.to_datetime(start, unit="ms", utc=True),
        "end_time": pd.to_datetime(end, unit="ms", utc=True),
        "duration": pd.to_timedelta(end - start, unit="ms"),
        "user": [r.user for r in rows],
        "source_commit": [r.source_commit for r in rows],
        "dirty": np.array([r.dirty for r in rows], dtype=bool),
        "parent_run_id": [r.parent_run_id for r in rows],
        "ref": [r.ref for r in rows],
    }
    for group in _GROUPS:
        maps = [getattr(r, group) for r in rows]
        keys: set[str] = set()
        for mapping in maps:
            keys.update(mapping)
        for key in sorted(keys):
            if group == "metrics":
                frame[f"metrics.{key}"] = np.array([m.get(key, np.nan) for m in maps], dtype="float64")
            else:
                frame[f"{group}.{key}"] = pd.Series([m.get(key) for m in maps], dtype="object")
    return pd.DataFrame({name: (list(v) if isinstance(v, list) else v) for name, v in frame.items()})
