"""Downsampling long metric histories for display: the lowest and highest point of each bucket.

A chart is a few hundred pixels wide, so 100,000 points draw as the same picture as 2,000 when
every bucket keeps its extremes (spikes and dips survive, unlike plain striding or averaging).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

DEFAULT_POINTS = 2000


def min_max(
    steps: Sequence[int], times: Sequence[int], values: Sequence[float], points: int = DEFAULT_POINTS
) -> dict[str, Any]:
    """``{"step", "timestamp", "value", "total", "downsampled"}`` (lists): at most ``points``
    points, the first and last point always, and per bucket its lowest and highest value (NaN kept
    as gaps only where a whole bucket is NaN), in their original order. Takes lists or numpy arrays."""
    import numpy as np

    s, t, v = np.asarray(steps), np.asarray(times), np.asarray(values, dtype=float)
    total = len(v)
    if total <= points or points < 4:
        return {"step": s.tolist(), "timestamp": t.tolist(), "value": v.tolist(), "total": total, "downsampled": False}
    buckets = (points - 2) // 2
    ids = (np.arange(total, dtype=np.int64) * buckets) // total
    lows = np.where(np.isnan(v), np.inf, v)
    highs = np.where(np.isnan(v), -np.inf, v)
    by_low = np.lexsort((lows, ids))  # per bucket, ascending: the first of each bucket is its lowest
    by_high = np.lexsort((-highs, ids))
    starts = np.flatnonzero(np.r_[True, ids[by_low][1:] != ids[by_low][:-1]])
    keep = np.unique(np.r_[0, total - 1, by_low[starts], by_high[starts]])
    return {"step": s[keep].tolist(), "timestamp": t[keep].tolist(), "value": v[keep].tolist(), "total": total,
            "downsampled": True}  # fmt: skip
