"""Search results as flat rows and pandas DataFrames with MLflow's column names, in a stable order.

Columns: the info columns below, then ``params.*``, ``metrics.*`` and ``tags.*``, each sorted
by key (MLflow leaves them in arbitrary order).
"""

from __future__ import annotations

import fnmatch
from typing import TYPE_CHECKING, Any

from gittrack._search.rows import INFO_COLUMNS, STORED_INFO, RunColumns, RunRow
from gittrack.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

_GROUPS = ("params", "metrics", "tags")


def columns_of(rows: list[RunRow]) -> list[str]:
    """Every column the rows have, in the stable order."""
    keys: dict[str, set[str]] = {group: set() for group in _GROUPS}
    for row in rows:
        keys["params"].update(row.params)
        keys["metrics"].update(row.metrics)
        keys["tags"].update(row.tags)
    return list(INFO_COLUMNS) + [f"{group}.{key}" for group in _GROUPS for key in sorted(keys[group])]


def select_columns(columns: list[str], patterns: list[str] | None, strict: bool = False) -> list[str]:
    """Columns matching any glob pattern (``params.*``, ``metrics.val_*``), in the stable order;
    ``strict``: a pattern that matches no column is a ``UsageError`` (a typo, not an empty answer)."""
    if not patterns:
        return columns
    if strict:
        for pattern in patterns:
            if not any(fnmatch.fnmatchcase(c, pattern) for c in columns):
                raise UsageError(_no_column(pattern, columns))
    return [c for c in columns if any(fnmatch.fnmatchcase(c, p) for p in patterns)]


def _no_column(pattern: str, columns: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(pattern, columns, n=3, cutoff=0.6)
    if close:
        return f"column pattern {pattern!r} matches no column; did you mean {', '.join(close)}?"
    logged = [c for c in columns if c not in INFO_COLUMNS]
    shown = ", ".join(logged[:8]) + (f" and {len(logged) - 8} more" if len(logged) > 8 else "")
    return (
        f"column pattern {pattern!r} matches no column (names are case-sensitive); the columns are "
        f"{', '.join(INFO_COLUMNS)}" + (f", and {shown}" if shown else "")
    )


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


def columns_of_rows(rows: list[RunRow]) -> RunColumns:
    """The columns of rows read one by one (the path without the index, or a fresh index)."""
    info = {name: [getattr(r, name) for r in rows] for name in STORED_INFO}
    return RunColumns(info, [r.params for r in rows], [r.metrics for r in rows], [r.tags for r in rows])


def to_frame(columns: RunColumns) -> pd.DataFrame:
    """A DataFrame, one row per run: times as UTC datetimes, duration as timedelta, metrics as
    floats (missing and NaN as NaN), params and tags as strings (missing as None)."""
    import numpy as np
    import pandas as pd

    info = columns.info
    start = np.array(info["start_time"], dtype="float64")
    end = np.array([np.nan if t is None else t for t in info["end_time"]], dtype="float64")
    frame: dict[str, Any] = {}
    for name in INFO_COLUMNS:
        if name in ("start_time", "end_time"):
            frame[name] = pd.to_datetime(start if name == "start_time" else end, unit="ms", utc=True)
        elif name == "duration":
            frame[name] = pd.to_timedelta(end - start, unit="ms")
        elif name == "dirty":
            frame[name] = np.array(info["dirty"], dtype=bool)
        else:
            frame[name] = pd.Series(info[name], dtype="object")
    for group, maps in (("params", columns.params), ("metrics", columns.metrics), ("tags", columns.tags)):
        keys: set[str] = set()
        for mapping in maps:
            keys.update(mapping)
        for key in sorted(keys):
            values = [m.get(key) for m in maps]
            if group == "metrics":
                frame[f"metrics.{key}"] = np.array(values, dtype="float64")  # None (missing, NaN) -> NaN
            else:
                frame[f"{group}.{key}"] = pd.Series(values, dtype="object")
    return pd.DataFrame(frame)
