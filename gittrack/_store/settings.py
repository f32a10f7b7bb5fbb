"""Tunable settings, from the environment first, then git config (``gittrack.*``), then defaults.

The environment is read at every call; git config once per process, until a config file changes
(``repo.config_value``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from gittrack._store.repo import config_value
from gittrack._store.snapshot import DEFAULT_MAX_FILE_BYTES
from gittrack._store.writer import DEFAULT_CHECKPOINT_INTERVAL
from gittrack.errors import UsageError

if TYPE_CHECKING:
    import pygit2

T = TypeVar("T", int, float)
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def _lookup(repo: pygit2.Repository, env: str, key: str) -> str | None:
    value = os.environ.get(env)
    if value:
        return value
    return config_value(repo, key)


def _number(repo: pygit2.Repository, env: str, key: str, default: T, parse: Callable[[str], T], low: T,
            high: T | None, error: str) -> T:  # fmt: skip
    """A numeric setting in ``[low, high]``, or ``UsageError(error)`` (formatted with the raw text)."""
    raw = _lookup(repo, env, key)
    if raw is None:
        return default
    try:
        value = parse(raw)
    except ValueError:
        raise UsageError(error.format(raw=raw)) from None
    if not (low <= value and (high is None or value <= high)):
        raise UsageError(error.format(raw=raw))
    return value


def checkpoint_interval(repo: pygit2.Repository) -> float:
    """Seconds between checkpoints: ``$GITTRACK_CHECKPOINT_INTERVAL`` or ``gittrack.checkpointInterval``."""
    error = "checkpoint interval {raw!r} must be a number of seconds between 0.05 and 86400"
    return _number(repo, "GITTRACK_CHECKPOINT_INTERVAL", "gittrack.checkpointInterval", DEFAULT_CHECKPOINT_INTERVAL,
                   float, 0.05, 86_400.0, error)  # fmt: skip


def max_file_bytes(repo: pygit2.Repository) -> int:
    """Snapshot size cap per file: ``$GITTRACK_MAX_FILE_SIZE`` or ``gittrack.maxFileSize`` (10m...)."""
    raw = _lookup(repo, "GITTRACK_MAX_FILE_SIZE", "gittrack.maxFileSize")
    if raw is None:
        return DEFAULT_MAX_FILE_BYTES
    text = raw.strip().lower().removesuffix("b")
    unit = text[-1:] if text[-1:] in _UNITS and not text[-1:].isdigit() else ""
    try:
        return int(float(text[: len(text) - len(unit)]) * _UNITS[unit])
    except ValueError:
        raise UsageError(f"max file size {raw!r} must be a size such as 10m, 500k or 1048576") from None


DEFAULT_AUTO_PACK = 1000


def auto_pack(repo: pygit2.Repository) -> int:
    """How many runs with a ref of their own make ``gittrack push`` pack the ended ones first:
    ``$GITTRACK_AUTO_PACK`` or ``gittrack.autoPack`` (default 1000; 0 never packs by itself)."""
    error = "gittrack.autoPack {raw!r} must be a number of runs (0: never pack on push)"
    return _number(repo, "GITTRACK_AUTO_PACK", "gittrack.autoPack", DEFAULT_AUTO_PACK, int, 0, None, error)
