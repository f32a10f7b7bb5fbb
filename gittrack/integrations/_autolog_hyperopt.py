"""hyperopt autologging: ``hyperopt.fmin`` becomes ``gittrack.integrations.hyperopt.fmin``.

What it records is in ``gittrack.integrations.hyperopt``. Nothing here imports hyperopt.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType

from gittrack.integrations import _runs
from gittrack.integrations._patch import patch, settings

LIBRARY = "hyperopt"
TRIGGERS = [("hyperopt", False)]


def on_import(module: ModuleType) -> None:
    patch_loaded()


def patch_loaded() -> None:
    hyperopt = sys.modules.get("hyperopt")
    if hyperopt is None or not callable(getattr(hyperopt, "fmin", None)):
        return
    patch(LIBRARY, hyperopt, "fmin", _fmin_wrapper)
    module = sys.modules.get("hyperopt.fmin")
    if module is not None and callable(getattr(module, "fmin", None)):
        patch(LIBRARY, module, "fmin", _fmin_wrapper)


def _fmin_wrapper(original: Callable) -> Callable:
    def fmin(*args, **kwargs):
        config = settings(LIBRARY)
        if config is None or _runs.current() is not None:
            return original(*args, **kwargs)
        from gittrack.integrations.hyperopt import tracked_fmin

        return tracked_fmin(original, args, kwargs, exclusive=config.exclusive)

    return fmin
