"""The ``gittrack`` command line: argument parsing and presentation over the Python API.

Importing the command modules registers their commands on ``main`` (``gittrack.cli.app``).
"""

from __future__ import annotations

from gittrack.cli import (
    artifacts,
    commands,
    gitserver,
    metrics,
    migrate,
    models,
    promotions,
    runs,
    serving,
    sweep,
    sync,
    tracking_server,
    ui,
)
from gittrack.cli.app import main

__all__ = [
    "artifacts",
    "commands",
    "gitserver",
    "main",
    "metrics",
    "migrate",
    "models",
    "promotions",
    "runs",
    "serving",
    "sweep",
    "sync",
    "tracking_server",
    "ui",
]
