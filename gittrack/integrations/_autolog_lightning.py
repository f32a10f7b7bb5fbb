"""PyTorch Lightning autologging: every ``Trainer.fit`` gets a ``GittrackLogger`` unless it has one.

What the logger records is in ``gittrack.integrations.lightning``. Both package names are
handled: ``lightning.pytorch`` and ``pytorch_lightning``. Nothing here imports Lightning.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from gittrack._state import STATE
from gittrack.integrations import _runs
from gittrack.integrations._patch import patch, safely, settings

LIBRARY = "lightning"
PACKAGES = ("lightning.pytorch", "pytorch_lightning")
TRIGGERS = [(name, False) for name in PACKAGES]


def on_import(module: ModuleType) -> None:
    patch_loaded()


def patch_loaded() -> None:
    for name in PACKAGES:
        package = sys.modules.get(name)
        trainer = getattr(package, "Trainer", None)
        if isinstance(trainer, type):
            patch(LIBRARY, trainer, "fit", functools.partial(_fit_wrapper, name))


@functools.cache
def _logger_class(package: str) -> type:
    from gittrack.integrations import lightning

    if package == "lightning.pytorch" or sys.modules.get("lightning.pytorch") is None:
        return lightning.GittrackLogger
    return lightning._logger_class(sys.modules[package])


def _attach(trainer: Any, package: str) -> None:
    import gittrack

    config = settings(LIBRARY)
    if config is None or (config.exclusive and gittrack.active_run() is not None):
        return
    cls = _logger_class(package)
    if any(type(logger).__name__ == "GittrackLogger" for logger in trainer.loggers):
        return
    logger = cls(log_model=config.log_models, checkpoints=config.extra.get("checkpoints", True))
    trainer.loggers = [*trainer.loggers, logger]
    STATE.autolog.last_run_id = logger.run_id


def _fit_wrapper(package: str, original: Callable) -> Callable:
    def fit(self, *args, **kwargs):
        if settings(LIBRARY) is not None and _runs.current() is None:
            safely(LIBRARY, "the logger", _attach, self, package)
        return original(self, *args, **kwargs)

    return fit
