"""Metric histories as TSV: one ``step<TAB>timestamp_ms<TAB>value`` line per point, in segments.

A history is the sealed segments ``metrics/<name>.segments/<n>.tsv`` (``SEGMENT_POINTS`` points
each, numbered from 1) followed by the tail ``metrics/<name>.tsv``. A checkpoint rewrites only
the tail, so its cost grows with the points added since the last one, not with the history.
"""

from __future__ import annotations

from gittrack.errors import MalformedRunError
from gittrack.store.limits import INT64_MAX, INT64_MIN, MAX_TIMESTAMP_MS

HEADER = b"step\ttimestamp_ms\tvalue\n"
SEGMENT_POINTS = 4096
MAX_SEGMENT_BYTES = 4 * 1024 * 1024

Point = tuple[int, int, float]


def format_point(step: int, timestamp: int, value: float) -> bytes:
    """One TSV line; ``repr`` gives the shortest exact float text (``nan``, ``inf``, ``-inf`` too)."""
    return f"{step}\t{timestamp}\t{value!r}\n".encode()


def encode_points(lines: list[bytes]) -> bytes:
    """A segment's bytes from already formatted lines."""
    return HEADER + b"".join(lines)


def decode_points(data: bytes, what: str) -> list[Point]:
    """Parse a segment; any malformed line raises ``MalformedRunError`` naming the line."""
    if len(data) > MAX_SEGMENT_BYTES:
        raise MalformedRunError(f"{what} is larger than {MAX_SEGMENT_BYTES} bytes")
    lines = data.split(b"\n")
    if lines[0] + b"\n" != HEADER:
        raise MalformedRunError(f"{what} does not start with the header 'step timestamp_ms value'")
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


def split_lines(data: bytes) -> list[bytes]:
    """The point lines of a segment (header dropped), each with its newline, for appending."""
    return [line + b"\n" for line in data.split(b"\n")[1:] if line]


def segment_dir(filename: str) -> str:
    """The folder of sealed segments that belongs to tail file ``filename`` (``x.tsv``)."""
    return filename[: -len(".tsv")] + ".segments"


def segment_name(number: int) -> str:
    """The file name of sealed segment ``number`` (1-based, zero-padded so names sort)."""
    return f"{number:08d}.tsv"
