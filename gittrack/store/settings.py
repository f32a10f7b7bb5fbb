"""Tunable settings, from the environment first, then git config (``gittrack.*``), then defaults."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from gittrack.errors import UsageError
from gittrack.store.snapshot import DEFAULT_MAX_FILE_BYTES
from gittrack.store.writer import DEFAULT_CHECKPOINT_INTERVAL

if TYPE_CHECKING:
    import pygit2

_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def _lookup(repo: pygit2.Repository, env: str, key: str) -> str | None:
    value = os.environ.get(env)
    if value:
        return value
    try:
        return repo.config[key]
    except KeyError:
        return None


def checkpoint_interval(repo: pygit2.Repository) -> float:
    """Seconds between checkpoints: ``$GITTRACK_CHECKPOINT_INTERVAL`` or ``gittrack.checkpointInterval``."""
    raw = _lookup(repo, "GITTRACK_CHECKPOINT_INTERVAL", "gittrack.checkpointInterval")
    if raw is None:
        return DEFAULT_CHECKPOINT_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0.05 <= value <= 86_400:
        raise UsageError(f"checkpoint interval {raw!r} must be a number of seconds between 0.05 and 86400")
    return value


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
    raw = _lookup(repo, "GITTRACK_AUTO_PACK", "gittrack.autoPack")
    if raw is None:
        return DEFAULT_AUTO_PACK
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise UsageError(f"gittrack.autoPack {raw!r} must be a number of runs (0: never pack on push)")
    return value
