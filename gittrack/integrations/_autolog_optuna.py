"""Optuna autologging: ``Study.optimize`` runs inside a run, with a ``GittrackCallback`` recording each trial.

What the callback records is in ``gittrack.integrations.optuna``. Nothing here imports Optuna.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from types import ModuleType

from gittrack.integrations import _runs
from gittrack.integrations._patch import patch, safely, settings

LIBRARY = "optuna"
TRIGGERS = [("optuna", False)]


def on_import(module: ModuleType) -> None:
    patch_loaded()


def patch_loaded() -> None:
    study = sys.modules.get("optuna.study")
    if study is not None and isinstance(getattr(study, "Study", None), type):
        patch(LIBRARY, study.Study, "optimize", _optimize_wrapper)


def _optimize_wrapper(original: Callable) -> Callable:
    def optimize(self, *args, **kwargs):
        config = settings(LIBRARY)
        if config is None or _runs.current() is not None:
            return original(self, *args, **kwargs)
        prepared = safely(LIBRARY, "the study's run", _prepare, original, self, args, kwargs, config.exclusive)
        if prepared is None:
            return original(self, *args, **kwargs)
        target, args, kwargs = prepared
        try:
            result = original(self, *args, **kwargs)
        except BaseException as exc:
            safely(LIBRARY, "the study's run", _runs.release, target, exc)
            raise
        safely(LIBRARY, "the study's run", _runs.release, target, None)
        return result

    return optimize


def _prepare(original: Callable, study, args: tuple, kwargs: dict, exclusive: bool):
    from gittrack.integrations.optuna import GittrackCallback

    bound = inspect.signature(original).bind(study, *args, **kwargs)
    callbacks = list(bound.arguments.get("callbacks") or [])
    if any(isinstance(c, GittrackCallback) for c in callbacks):
        return None
    target = _runs.open_target(exclusive)
    if target is None:
        return None
    if target.created:
        target.client.rename_run(target.run_id, study.study_name)
    callback = GittrackCallback()
    callback._parent = target.active
    callback._experiment = target.client.get_run(target.run_id).info.experiment
    bound.arguments["callbacks"] = [*callbacks, callback]
    return target, bound.args[1:], bound.kwargs
