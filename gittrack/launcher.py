"""Deprecated import path: ``gittrack run`` is ``Client().run_command`` (``gittrack.runner``). Kept for one release."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from typing import Any

from gittrack.client import Client
from gittrack.entities import Run
from gittrack.runner import CappedCapture, check_command  # noqa: F401

warnings.warn("gittrack.launcher is deprecated: use gittrack.Client().run_command", DeprecationWarning, stacklevel=2)


def run_command(
    command: list[str],
    experiment: str | None = None,
    run_name: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    repo: str | os.PathLike | None = None,
    *rest: Any,
    **options: Any,
) -> tuple[Run, int]:
    """The old signature of ``Client(repo).run_command`` (``repo`` sixth); the rest as there."""
    return Client(repo).run_command(command, experiment, run_name, params, tags, *rest, **options)
