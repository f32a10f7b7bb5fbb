"""``mlflow.autolog`` and ``mlflow.<flavor>.autolog``: gittrack's autologging (``gittrack.autolog``),
found when called, so ``import gittrack.mlflow`` never loads it."""

from __future__ import annotations

import importlib
from typing import Any

from gittrack.mlflow.exceptions import MlflowException


def _target() -> Any:
    import gittrack

    try:
        target = gittrack.autolog
    except AttributeError:
        target = None
    if target is None:
        try:
            target = importlib.import_module("gittrack.autolog")
        except ImportError:
            target = None
    return target


def call(library: str | None, kwargs: dict[str, Any]) -> Any:
    """Call ``gittrack.autolog(**kwargs)``, or ``gittrack.autolog.<library>(**kwargs)``."""
    target = _target()
    what = "mlflow.autolog()" if library is None else f"mlflow.{library}.autolog()"
    if target is None:
        raise MlflowException(
            f"{what} needs gittrack's autologging (gittrack.autolog), which this gittrack does not have; "
            "upgrade gittrack, or log params and metrics explicitly"
        )
    if library is not None:
        function = getattr(target, library, None)
        if not callable(function):
            raise MlflowException(
                f"{what}: gittrack's autologging does not support {library} (gittrack.autolog.{library})"
            )
        return function(**kwargs)
    function = target if callable(target) else getattr(target, "autolog", None)
    if not callable(function):
        raise MlflowException(f"{what}: gittrack.autolog is not callable in this gittrack; upgrade gittrack")
    return function(**kwargs)
