"""Timestamps: epoch milliseconds in memory and in metric files, ISO 8601 UTC in run.yaml."""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime


def now_ms() -> int:
    """The current time in epoch milliseconds."""
    return time.time_ns() // 1_000_000


@functools.lru_cache(maxsize=256)  # a record's times are written several times each
def ms_to_iso(ms: int) -> str:
    """Render epoch milliseconds as ``2026-11-27T11:25:13.123Z``."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def iso_to_ms(text: str) -> int:
    """Parse an ISO 8601 timestamp (``Z`` or an offset; naive means UTC) into epoch milliseconds."""
    value = datetime.fromisoformat(text)  # Python 3.11+ reads the Z suffix
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return round(value.timestamp() * 1000)
