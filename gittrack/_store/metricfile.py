"""Metric histories as TSV: one ``step<TAB>timestamp_ms<TAB>value`` line per point, in segments.

A history is the sealed segments ``metrics/<name>.segments/<n>.tsv`` (``SEGMENT_POINTS`` points
each, numbered from 1) followed by the tail ``metrics/<name>.tsv``. A checkpoint rewrites only
the tail, so its cost grows with the points added since the last one, not with the history.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

from gittrack._store.limits import INT64_MAX, INT64_MIN, MAX_TIMESTAMP_MS
from gittrack.errors import MalformedRunError

HEADER = b"step\ttimestamp_ms\tvalue\n"
SEGMENT_POINTS = 4096
MAX_SEGMENT_BYTES = 4 * 1024 * 1024

if TYPE_CHECKING:
    import numpy as np

Point = tuple[int, int, float]


_DTYPES = ("int64", "int64", "float64")
_CHUNK = 64  # segments parsed at once: 262,144 points, about 9 MB of text


class Columns(NamedTuple):
    """A history as three numpy arrays of equal length: steps and timestamps (int64), values (float64)."""

    step: np.ndarray
    timestamp: np.ndarray
    value: np.ndarray


def format_point(step: int, timestamp: int, value: float) -> bytes:
    """One TSV line; ``repr`` gives the shortest exact float text (``nan``, ``inf``, ``-inf`` too)."""
    return f"{step}\t{timestamp}\t{value!r}\n".encode()


def format_points(points: Iterable[Point]) -> list[bytes]:
    """The lines of many points, each as :func:`format_point` writes it (made as one text, then split)."""
    text = "".join([f"{step}\t{timestamp}\t{value!r}\n" for step, timestamp, value in points]).encode()
    return text.splitlines(keepends=True)


def encode_points(lines: list[bytes]) -> bytes:
    """A segment's bytes from already formatted lines."""
    return HEADER + b"".join(lines)


def decode_points(data: bytes, what: str) -> list[Point]:
    """Parse a segment; any malformed line raises ``MalformedRunError`` naming the line."""
    _check_segment(data, what)
    lines = data.split(b"\n")
    points = []
    for number, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        try:
            step, timestamp, value = line.split(b"\t")
            point = (int(step), int(timestamp), float(value))
        except ValueError:
            raise MalformedRunError(f"{what} line {number} is not 'step<TAB>timestamp_ms<TAB>value'") from None
        if not (INT64_MIN <= point[0] <= INT64_MAX and 0 <= point[1] <= MAX_TIMESTAMP_MS):
            raise MalformedRunError(f"{what} line {number} has a step or timestamp out of range")
        points.append(point)
    return points


def _check_segment(data: bytes, what: str) -> None:
    if len(data) > MAX_SEGMENT_BYTES:
        raise MalformedRunError(f"{what} is larger than {MAX_SEGMENT_BYTES} bytes")
    if data.split(b"\n", 1)[0] + b"\n" != HEADER:
        raise MalformedRunError(f"{what} does not start with the header 'step timestamp_ms value'")


def decode_columns(segments: Iterable[bytes], what: str) -> Columns:
    """Parse segments, in order, into ``Columns``: exactly the points of ``decode_points``, about
    six times faster and without a Python object per point, for charts and frames of long
    histories. pandas' C reader parses (it rounds exactly, as ``float`` does) once a check of the
    bytes has ruled out any text where the two could disagree; anything else (a blank line, a
    stray character, a number out of range) goes through ``decode_points``, so errors match too.
    Segments are read and parsed ``_CHUNK`` at a time, so a huge history's text is never all in memory."""
    import numpy as np

    parts = [Columns(*(np.array([], dtype=dtype) for dtype in _DTYPES))]
    segments = iter(segments)
    while chunk := list(itertools.islice(segments, _CHUNK)):
        for data in chunk:
            _check_segment(data, what)
        text = b"".join(data[len(HEADER) :].rstrip(b"\n") + b"\n" for data in chunk if len(data) > len(HEADER))
        columns = _fast_columns(text) if text else None
        if columns is None:
            points = [point for data in chunk for point in decode_points(data, what)]
            columns = Columns(*(np.array([point[i] for point in points], dtype=_DTYPES[i]) for i in range(3)))
        parts.append(columns)
    if len(parts) == 2:
        return parts[1]
    return Columns(*(np.concatenate([part[i] for part in parts]) for i in range(3)))


def _fast_columns(text: bytes) -> Columns | None:
    """Columns of well-formed point lines ending in a newline, or None where ``decode_points``
    must decide: lines need exactly two tabs, steps and timestamps only digits and a sign, values
    only the characters of decimal numbers, ``nan`` and ``inf``; ranges are checked after."""
    import io

    import numpy as np
    import pandas as pd

    raw = np.frombuffer(text, dtype=np.uint8)
    ends = np.flatnonzero(raw == 10)
    tabs = np.flatnonzero(raw == 9)
    allowed, value_only = _byte_tables()
    if len(tabs) != 2 * len(ends) or not allowed[raw].all():
        return None
    second_tabs = tabs[1::2]
    first_tabs = tabs[0::2]
    starts = np.r_[0, ends[:-1] + 1]
    if not ((starts < first_tabs) & (first_tabs < second_tabs - 1) & (second_tabs < ends - 1)).all():
        return None  # a line without exactly two tabs, or an empty field
    in_values_only = np.flatnonzero(value_only[raw])
    if (in_values_only < second_tabs[np.searchsorted(ends, in_values_only)]).any():
        return None  # a '.', 'e', 'nan' or 'inf' in a step or timestamp
    try:
        frame = pd.read_csv(
            io.BytesIO(text), sep="\t", header=None, names=["step", "timestamp", "value"],
            dtype={"step": "int64", "timestamp": "int64", "value": "float64"},
            keep_default_na=False, na_values={"value": ["nan"]}, engine="c",
        )  # fmt: skip
    except (ValueError, OverflowError):
        return None
    steps, timestamps, values = (frame[name].to_numpy() for name in ("step", "timestamp", "value"))
    if len(steps) != len(ends) or timestamps.min() < 0 or timestamps.max() > MAX_TIMESTAMP_MS:
        return None
    return Columns(steps, timestamps, values)


@functools.cache
def _byte_tables() -> tuple[np.ndarray, np.ndarray]:
    """Lookup tables by byte value: allowed anywhere in point lines; allowed in values only."""
    import numpy as np

    allowed, value_only = np.zeros(256, dtype=bool), np.zeros(256, dtype=bool)
    allowed[list(b"0123456789+-\t\n.eEnaif")] = True
    value_only[list(b".eEnaif")] = True
    return allowed, value_only


def split_lines(data: bytes) -> list[bytes]:
    """The point lines of a segment (header dropped), each with its newline, for appending."""
    return [line + b"\n" for line in data.split(b"\n")[1:] if line]


def segment_dir(filename: str) -> str:
    """The folder of sealed segments that belongs to tail file ``filename`` (``x.tsv``)."""
    return filename[: -len(".tsv")] + ".segments"


def segment_name(number: int) -> str:
    """The file name of sealed segment ``number`` (1-based, zero-padded so names sort)."""
    return f"{number:08d}.tsv"
