"""What XGBoost and LightGBM autologging share: the native ``train`` and the sklearn wrappers' ``fit``.

``train`` is patched in every module that holds a reference to it (the package, its training
module and its sklearn module, whose ``fit`` calls it), so the wrappers' ``fit`` gets the
per-iteration metrics of the ``train`` underneath it.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, Mapping
from typing import Any

from gittrack.autologging import _common, _runs
from gittrack.autologging._call import call
from gittrack.autologging._patch import patch, safely, settings
from gittrack.autologging._runs import Session


class Library:
    """How one boosting library's ``train`` and booster are read."""

    name: str
    flavor: str
    not_params: frozenset[str]

    def callback(self) -> Any:
        """A training callback that logs each iteration's evaluation metrics into the current session."""
        raise NotImplementedError

    def early_stopping(self, booster: Any, arguments: Mapping[str, Any], history: dict) -> dict[str, float]:
        raise NotImplementedError

    def importance(self, booster: Any) -> dict[str, dict[str, float]]:
        raise NotImplementedError


def log_iteration(library: str, metrics: Mapping[str, float], step: int) -> None:
    """One iteration's evaluation metrics, from inside ``train`` (the session says where they go)."""
    session = _runs.current()
    if session is None or session.library != library or session.target is None:
        return
    history = session.data.setdefault("history", {})
    for key, value in metrics.items():
        history.setdefault(key, []).append(value)
    safely(library, "iteration metrics", session.target.log_metrics, _common.finite_metrics(metrics), step)


def patch_train(lib: Library, modules: list[Any]) -> None:
    """Patch ``train`` wherever ``modules`` hold it."""
    for module in modules:
        if module is not None and callable(getattr(module, "train", None)):
            patch(lib.name, module, "train", functools.partial(_train_wrapper, lib))


def _with_callback(lib: Library, original: Callable, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    bound = inspect.signature(original).bind_partial(*args, **kwargs)
    callbacks = list(bound.arguments.get("callbacks") or [])
    callbacks.append(lib.callback())
    bound.arguments["callbacks"] = callbacks
    return bound.args, bound.kwargs


def _train_wrapper(lib: Library, original: Callable) -> Callable:
    def train(*args, **kwargs):
        if settings(lib.name) is None:
            return original(*args, **kwargs)
        try:
            args, kwargs = _with_callback(lib, original, args, kwargs)
            arguments = dict(inspect.signature(original).bind_partial(*args, **kwargs).arguments)
        except Exception as exc:  # noqa: BLE001 - then the call goes through untouched
            safely(lib.name, "iteration metrics", _raise, exc)
            return original(*args, **kwargs)
        before = functools.partial(_log_train_params, lib, arguments)
        after = functools.partial(_after_train, lib, arguments)
        return call(lib.name, original, args, kwargs, before=before, after=after, inner=_inner)

    return train


def _raise(exc: BaseException) -> None:
    raise exc


def _inner(session: Session, original: Callable, args: tuple, kwargs: dict) -> Any:
    """``train`` under a wrapper's ``fit``: its callback logs into the wrapper's run; nothing else."""
    result = original(*args, **kwargs)
    session.data["booster"] = result
    return result


def _log_train_params(lib: Library, arguments: Mapping[str, Any], session: Session) -> None:
    params = dict(arguments.get("params") or {})
    for name, value in arguments.items():
        if name != "params" and name not in lib.not_params:
            params.setdefault(name, value)
    _common.log_params(session, params)


def _after_train(lib: Library, arguments: Mapping[str, Any], session: Session, booster: Any) -> None:
    log_booster(lib, session, booster, arguments)
    safely(lib.name, "the model", _common.log_model, session, booster, None, "model", lib.flavor)


def log_booster(lib: Library, session: Session, booster: Any, arguments: Mapping[str, Any]) -> None:
    """Early stopping results and feature importance (JSON, and a PNG when matplotlib is installed)."""
    assert session.target is not None
    history = session.data.get("history", {})
    stopping = safely(lib.name, "early stopping results", lib.early_stopping, booster, arguments, history)
    if stopping:
        session.target.log_metrics(_common.finite_metrics(stopping), step=0)
    importance = safely(lib.name, "feature importance", lib.importance, booster) or {}
    for kind, values in importance.items():
        safely(lib.name, "feature importance", _common.log_json, session, f"feature_importance_{kind}.json", values)
        safely(lib.name, "the feature importance plot", _common.log_importance_plot, session,
               f"feature_importance_{kind}.png", values, f"feature importance ({kind})")  # fmt: skip


def patch_loaded(lib: Library, package: str, train_module: str, wrapper_base: str) -> None:
    """Patch a boosting library if it is imported: ``train`` where it is defined and re-exported
    (``package``, ``train_module``, the sklearn module), and ``fit`` of its sklearn wrappers
    (``wrapper_base`` in ``<package>.sklearn`` and its subclasses)."""
    module = sys.modules.get(package)
    if module is None or not hasattr(module, "train"):
        return
    wrappers = sys.modules.get(f"{package}.sklearn")
    patch_train(lib, [module, sys.modules.get(train_module), wrappers])
    if wrappers is not None:
        patch_wrappers(lib, getattr(wrappers, wrapper_base))


def patch_wrappers(lib: Library, base: type) -> None:
    """Patch ``fit`` of the sklearn wrapper ``base`` and of its subclasses that define their own."""
    for cls in _common.with_subclasses(base):
        if inspect.isfunction(cls.__dict__.get("fit")):
            patch(lib.name, cls, "fit", functools.partial(_fit_wrapper, lib))


def _fit_wrapper(lib: Library, original: Callable) -> Callable:
    def fit(self, *args, **kwargs):
        from gittrack.autologging import sklearn as sk

        X = args[0] if args else kwargs.get("X")
        y = args[1] if len(args) > 1 else kwargs.get("y")
        before = functools.partial(sk.log_estimator_params, estimator=self)

        def after(session: Session, result: Any) -> None:
            sk.log_fitted(session, self, X, y, kwargs.get("sample_weight"))
            booster = session.data.get("booster")
            if booster is not None:
                log_booster(lib, session, booster, kwargs)

        return call(lib.name, original, (self, *args), kwargs, before=before, after=after)

    return fit
