"""Hugging Face transformers autologging: every ``Trainer`` gets a ``GittrackCallback``.

What the callback records is in ``gittrack.integrations.transformers``. Nothing here imports
transformers: ``Trainer`` is patched once the script imports ``transformers.trainer``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from gittrack.integrations._patch import patch, safely, settings

LIBRARY = "transformers"
TRIGGERS = [("transformers.trainer", False)]


def on_import(module: ModuleType) -> None:
    patch_loaded()


def patch_loaded() -> None:
    module = sys.modules.get("transformers.trainer")
    trainer = getattr(module, "Trainer", None)
    if isinstance(trainer, type):
        patch(LIBRARY, trainer, "__init__", _init_wrapper)


def _add_callback(trainer: Any) -> None:
    import gittrack
    from gittrack.integrations.transformers import GittrackCallback

    config = settings(LIBRARY)
    if config is None or (config.exclusive and gittrack.active_run() is not None):
        return
    if any(isinstance(c, GittrackCallback) for c in trainer.callback_handler.callbacks):
        return
    trainer.add_callback(GittrackCallback(log_model=config.log_models))


def _init_wrapper(original: Callable) -> Callable:
    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if settings(LIBRARY) is not None:
            safely(LIBRARY, "the callback", _add_callback, self)

    return __init__
