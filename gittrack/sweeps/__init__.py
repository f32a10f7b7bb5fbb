"""Sweeps: hyperparameter searches on Optuna where every trial is a run (docs/sweeps.md).

``gittrack.sweep(objective, space, ...)`` and ``gittrack sweep -- COMMAND`` start one;
``sweep_status``, ``stop_sweep`` and ``trials_of`` read and steer it; ``report`` lets a Python
objective report intermediate values for pruning.
"""

from __future__ import annotations

from gittrack.sweeps.service import (
    SweepResult,
    list_sweeps,
    param_importances,
    stop_sweep,
    sweep,
    sweep_details,
    sweep_status,
    trials_of,
)
from gittrack.sweeps.space import SpaceError, load_space, parse_space
from gittrack.sweeps.trials import TrialPruned, report

__all__ = ["SpaceError", "SweepResult", "TrialPruned", "list_sweeps", "load_space", "param_importances",
           "parse_space", "report", "stop_sweep", "sweep", "sweep_details", "sweep_status", "trials_of"]  # fmt: skip
