"""``mlflow.autolog`` and ``mlflow.<flavor>.autolog``: gittrack's autologging (``gittrack.autolog``),
found when called, so ``import gittrack.mlflow`` never loads it."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from gittrack.mlflow.exceptions import MlflowException


def _target() -> Any:
    import gittrack

    target: Any
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


def call(library: str | None, kwargs: dict[str, Any], args: tuple = ()) -> Any:
    """Call ``gittrack.autolog(*args, **kwargs)``, or ``gittrack.autolog.<library>(*args, **kwargs)``
    (MLflow's arguments in MLflow's order). The runs autologging starts get the tags MLflow gives a
    run started from a script (``mlflow.source.name``, ``mlflow.source.type``), as ``start_run`` does."""
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
    else:
        function = target if callable(target) else getattr(target, "autolog", None)
        if not callable(function):
            raise MlflowException(f"{what}: gittrack.autolog is not callable in this gittrack; upgrade gittrack")
    return function(*args, **_with_source_tags(function, args, kwargs))


def _with_source_tags(function: Any, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``kwargs`` with the script's source tags under the caller's ``extra_tags``, when ``function``
    takes ``extra_tags`` and the caller did not pass it positionally."""
    try:
        parameters = list(inspect.signature(function).parameters)
    except (TypeError, ValueError):
        return kwargs
    if "extra_tags" not in parameters or parameters.index("extra_tags") < len(args):
        return kwargs
    from gittrack.mlflow.tracking.client import source_tags

    return {**kwargs, "extra_tags": {**source_tags(), **(kwargs.get("extra_tags") or {})}}
