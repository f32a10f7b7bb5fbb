"""What XGBoost and LightGBM autologging share: the native ``train`` and the sklearn wrappers' ``fit``.

``train`` is patched in every module that holds a reference to it (the package, its training
module and its sklearn module, whose ``fit`` calls it). As in MLflow, ``train`` logs the params
(the ``params`` dict and ``train``'s own arguments, defaults included), the training and
evaluation data as datasets, each iteration's metrics, early stopping and feature importance;
a wrapper's ``fit`` gets all of that from the ``train`` underneath it, and adds the fitted
wrapper as the model.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from gittrack.integrations import _common, _runs
from gittrack.integrations._call import call
from gittrack.integrations._patch import patch, safely, settings
from gittrack.integrations._runs import Session

WRAPPER_PREDICT_METHODS = ("predict", "predict_proba")


class Library:
    """How one boosting library's ``train`` and booster are read."""

    name: str
    flavor: str
    not_params: frozenset[str]  # arguments of ``train`` MLflow does not log as params

    def callback(self) -> Any:
        """A training callback that logs each iteration's evaluation metrics into the current session."""
        raise NotImplementedError

    def datasets(self, arguments: Mapping[str, Any]) -> Iterator[tuple[Any, Any, str, str | None]]:
        """The data ``train`` got: (features, targets, context, name) per data set."""
        raise NotImplementedError

    def early_stopping(self, booster: Any, arguments: Mapping[str, Any], history: list) -> tuple[dict, int] | None:
        """MLflow's ``stopped_iteration`` and ``best_iteration``, and the index of the best iteration
        in ``history`` (whose metrics are logged again after the last one); None without early stopping."""
        raise NotImplementedError

    def importance(self, booster: Any) -> dict[str, dict[str, float]]:
        raise NotImplementedError


def metric_key(name: str) -> str:
    """MLflow's name of a boosting metric: ``ndcg@5`` becomes ``ndcg_at_5``."""
    return name.replace("@", "_at_")


def log_iteration(library: str, metrics: Mapping[str, float], step: int) -> None:
    """One iteration's evaluation metrics, from inside ``train`` (the session says where they go)."""
    session = _runs.current()
    if session is None or session.library != library or session.target is None:
        return
    values = _common.finite_metrics(metrics)
    session.data.setdefault("history", []).append(values)
    safely(library, "iteration metrics", session.target.log_metrics, values, step)


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


def _arguments(original: Callable, args: tuple, kwargs: dict) -> dict[str, Any]:
    """Every argument of the call by name, defaults included (MLflow logs those too)."""
    bound = inspect.signature(original).bind_partial(*args, **kwargs)
    bound.apply_defaults()
    return dict(bound.arguments)


def _train_wrapper(lib: Library, original: Callable) -> Callable:
    def train(*args, **kwargs):
        if settings(lib.name) is None:
            return original(*args, **kwargs)
        try:
            args, kwargs = _with_callback(lib, original, args, kwargs)
            arguments = _arguments(original, args, kwargs)
        except Exception as exc:  # noqa: BLE001 - then the call goes through untouched
            safely(lib.name, "iteration metrics", _raise, exc)
            return original(*args, **kwargs)
        before = functools.partial(_before_train, lib, arguments)
        after = functools.partial(_after_train, lib, arguments)
        inner = functools.partial(_inner, lib, arguments)
        return call(lib.name, original, args, kwargs, before=before, after=after, inner=inner)

    return train


def _raise(exc: BaseException) -> None:
    raise exc


def _inner(lib: Library, arguments: Mapping[str, Any], session: Session, original: Callable, args: tuple,
           kwargs: dict) -> Any:  # fmt: skip
    """``train`` under a call already autologged: under the library's own wrapper's ``fit``, it logs
    what a native ``train`` logs before training and keeps the booster for the wrapper; under any
    other call (a scikit-learn search fitting wrappers), it trains and logs nothing."""
    if session.library != lib.name or session.target is None or "booster" in session.data:
        return original(*args, **kwargs)
    safely(lib.name, "params", _before_train, lib, arguments, session)
    result = original(*args, **kwargs)
    session.data["booster"], session.data["arguments"] = result, arguments
    return result


def _before_train(lib: Library, arguments: Mapping[str, Any], session: Session) -> None:
    """The ``params`` dict and ``train``'s other arguments as params; the data as datasets."""
    params = dict(arguments.get("params") or {})
    params.update({k: v for k, v in arguments.items() if k != "params" and k not in lib.not_params})
    _common.log_params(session, params)
    found = safely(lib.name, "the datasets", lambda: list(lib.datasets(arguments))) or []
    for features, targets, context, name in found:
        safely(lib.name, "the datasets", _common.log_dataset, session, features, targets, context, name)


def _after_train(lib: Library, arguments: Mapping[str, Any], session: Session, booster: Any) -> None:
    log_booster(lib, session, booster, arguments)
    safely(lib.name, "the model", _common.log_model, session, booster, None, "model", lib.flavor)


def log_booster(lib: Library, session: Session, booster: Any, arguments: Mapping[str, Any]) -> None:
    """Early stopping results and feature importance (JSON, and a PNG when matplotlib is installed)."""
    assert session.target is not None
    history = session.data.get("history", [])
    stopping = safely(lib.name, "early stopping results", lib.early_stopping, booster, arguments, history)
    if stopping:
        iterations, best = stopping
        session.target.log_metrics(_common.finite_metrics(iterations), step=0)
        if 0 <= best < len(history):
            session.target.log_metrics(history[best], step=len(history))
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
    """Patch ``fit`` of the sklearn wrapper ``base`` and of its subclasses that define their own, and
    their ``predict``/``predict_proba`` (post-training metrics and evaluation datasets)."""
    from gittrack.integrations import _autolog_sklearn as sk

    for cls in _common.with_subclasses(base):
        if inspect.isfunction(cls.__dict__.get("fit")):
            patch(lib.name, cls, "fit", functools.partial(_fit_wrapper, lib))
        for name in WRAPPER_PREDICT_METHODS:
            if inspect.isfunction(cls.__dict__.get(name)):
                patch(lib.name, cls, name, sk.predict_wrapper)


def _fit_wrapper(lib: Library, original: Callable) -> Callable:
    def fit(self, *args, **kwargs):
        X = args[0] if args else kwargs.get("X")

        def after(session: Session, result: Any) -> None:
            from gittrack.integrations import _autolog_sklearn as sk

            booster, arguments = session.data.get("booster"), session.data.get("arguments") or {}
            if booster is not None:
                log_booster(lib, session, booster, arguments)
            safely(lib.name, "the model", _common.log_model, session, self, X)
            config = settings(lib.name)
            if config is not None and config.log_post_training_metrics and session.target is not None:
                safely(lib.name, "post-training metrics", sk.track_model, self, session.target, lib.name)

        return call(lib.name, original, (self, *args), kwargs, after=after)

    return fit
