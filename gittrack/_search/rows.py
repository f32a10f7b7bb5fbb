"""The flat view of a run that searches filter and order (info fields plus params, metrics, tags),
and the same for many runs column by column, as DataFrames are built from."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gittrack._store.ids import short_id

METRIC, PARAM, TAG, ATTRIBUTE, DATASET = "metric", "param", "tag", "attribute", "dataset"
DATASET_FIELDS = ("name", "digest", "context")  # a dataset of a run: one of its inputs


@dataclass(slots=True)
class RunRow:
    """One run as searched; ``status`` is the effective status (a vanished RUNNING run is KILLED)."""

    commit: str
    ref: str
    run_id: str
    run_name: str
    experiment: str
    status: str
    user: str
    source_commit: str | None
    source_branch: str | None
    parent_run_id: str | None
    host: str
    start_time: int
    end_time: int | None
    dirty: bool
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]
    datasets: tuple[tuple[str | None, str | None, str | None], ...] = ()  # (name, digest, context) per input

    @property
    def artifact_uri(self) -> str:
        """Where the run's artifacts are, as MLflow's ``artifact_uri`` names it: ``runs:/<run id>``."""
        return f"runs:/{self.run_id}"

    @property
    def short_id(self) -> str:
        """The run id as shown to people (``gittrack._store.ids.short_id``)."""
        return short_id(self.run_id)


def datasets_of(inputs: Sequence[Any]) -> tuple[tuple[str | None, str | None, str | None], ...]:
    """The (name, digest, context) of each input a run recorded: the name given (else the path), the
    dataset digest (else the DVC md5) and the context (``training``...) if any."""
    out: list[tuple[str | None, str | None, str | None]] = []
    for item in inputs:
        if isinstance(item, dict):
            name = item.get("name") or item.get("path")
            digest = item.get("digest") or item.get("md5")
            context = item.get("context")
            out.append((_text(name), _text(digest), _text(context)))
    return tuple(out)


INFO_COLUMNS = (
    "run_id", "run_name", "experiment", "status", "start_time", "end_time", "duration",
    "user", "source_commit", "dirty", "parent_run_id", "ref",
)  # fmt: skip


@dataclass
class RunColumns:
    """Search results column by column, as DataFrames are built: ``info`` maps each info column
    but ``duration`` to its values (times in epoch ms); then each run's params, metrics, tags."""

    info: Mapping[str, Sequence[Any]]
    params: Sequence[Mapping[str, str]]
    metrics: Sequence[Mapping[str, float | None]]
    tags: Sequence[Mapping[str, str]]


STORED_INFO = tuple(name for name in INFO_COLUMNS if name != "duration")  # each is a RunRow attribute too


def as_number(text: str) -> float | None:
    """A param or tag value read as a number, or None if it is not one (NaN counts as none)."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def value_of(row: RunRow, kind: str, key: str) -> Any:
    """The value a filter or an ordering sees for ``<kind>.<key>`` (None when absent)."""
    if kind == METRIC:
        return row.metrics.get(key)
    if kind == PARAM:
        return row.params.get(key)
    if kind == ATTRIBUTE:
        return getattr(row, key)
    if kind == DATASET:
        return None  # a run has several datasets: see ``dataset_values``
    return row.tags.get(key)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def dataset_values(row: RunRow, key: str) -> list[str]:
    """The values of one dataset field (``name``, ``digest``, ``context``) over a run's datasets."""
    slot = DATASET_FIELDS.index(key)
    return [value for d in row.datasets if (value := d[slot]) is not None]


def has_key(row: RunRow, kind: str, key: str) -> bool:
    """Whether the run has the key at all (IS NULL / IS NOT NULL)."""
    if kind == ATTRIBUTE:
        return getattr(row, key) is not None
    if kind == DATASET:
        return bool(dataset_values(row, key))
    return key in (row.metrics if kind == METRIC else row.params if kind == PARAM else row.tags)


class LikePattern:
    """SQL LIKE (``%`` any run of characters, ``_`` one character, the rest literal), matched in
    linear time: the pattern is split at ``%`` into pieces of fixed length; the first must start
    the text, the last end it, and each other piece is found at its leftmost place after the one
    before (greedy, never reconsidered, which is always right for ``%``). A translation to a
    regex (``.*`` for ``%``) backtracks: ``%a%a%a...b`` over a long value took seconds a run."""

    def __init__(self, pattern: str, case_insensitive: bool) -> None:
        flags = re.DOTALL | (re.IGNORECASE if case_insensitive else 0)
        self._pieces = [
            (re.compile("".join("." if c == "_" else re.escape(c) for c in piece), flags), len(piece))
            for piece in pattern.split("%")
        ]

    def matches(self, text: str) -> bool:
        """Whether the whole of ``text`` matches the pattern."""
        pieces = self._pieces
        (first, first_len), (last, last_len) = pieces[0], pieces[-1]
        if len(pieces) == 1:
            return len(text) == first_len and first.match(text) is not None
        end = len(text) - last_len
        if end < first_len or first.match(text) is None or last.match(text, end) is None:
            return False
        position = first_len
        for piece, length in pieces[1:-1]:
            if length:
                found = piece.search(text, position, end)
                if found is None:
                    return False
                position = found.end()
        return True


def like_pattern(pattern: str, case_insensitive: bool) -> LikePattern:
    """A matcher of SQL LIKE (ILIKE with ``case_insensitive``) in linear time (:class:`LikePattern`)."""
    return LikePattern(pattern, case_insensitive)
