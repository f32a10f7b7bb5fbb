"""scikit-learn autologging: ``fit`` of every estimator, searches as parent and child runs, post-training metrics.

Patched: ``fit``, ``fit_transform`` and ``fit_predict`` of every class of scikit-learn's own
modules that defines them (classes of modules imported later are patched as those modules are
imported); ``predict``-like methods and ``score`` for post-training metrics; and the metric
functions of ``sklearn.metrics``. Nothing here imports scikit-learn: it is patched once the
script imports it.
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
import sys
import threading
import weakref
from collections.abc import Callable
from types import ModuleType
from typing import Any

from gittrack.autologging import _common, _runs
from gittrack.autologging._call import call
from gittrack.autologging._patch import is_patched, patch, safely, settings, warn_once
from gittrack.autologging._runs import Session, Target

LIBRARY = "sklearn"
TRIGGERS = [("sklearn", True)]
FIT_METHODS = ("fit", "fit_transform", "fit_predict")
PREDICT_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function")
METRIC_SUFFIXES = ("_score", "_error", "_loss")
log = logging.getLogger("gittrack")
_quiet = threading.local()  # inside score(): its own predict and metric calls are not logged again


# -- patching ------------------------------------------------------------------------------
def on_import(module: ModuleType) -> None:
    """A ``sklearn.*`` module has been imported: patch its estimator classes (and the metrics)."""
    if module.__name__ == "sklearn.metrics":
        _patch_metrics(module)
    estimator = getattr(sys.modules.get("sklearn.base"), "BaseEstimator", None)
    if estimator is None:
        return  # scikit-learn is still importing its base module: no estimator class exists yet
    for value in list(vars(module).values()):
        if isinstance(value, type) and value.__module__ == module.__name__ and issubclass(value, estimator):
            _patch_class(value)


def patch_loaded() -> None:
    """Patch every scikit-learn estimator class already defined, and the metrics if imported."""
    base = sys.modules.get("sklearn.base")
    if base is not None:
        for cls in _common.with_subclasses(base.BaseEstimator):
            if cls.__module__.startswith("sklearn."):
                _patch_class(cls)
    metrics = sys.modules.get("sklearn.metrics")
    if metrics is not None:
        _patch_metrics(metrics)


def _patch_class(estimator: type) -> None:
    """Patch the methods an estimator class has from scikit-learn's own classes (itself and its mixins)."""
    if estimator.__module__.startswith("sklearn."):  # xgboost's, lightgbm's... have their own integration
        for cls in estimator.__mro__:
            if cls.__module__.startswith("sklearn."):
                _patch_methods(cls)


def _patch_methods(cls: type) -> None:
    for name in FIT_METHODS:
        if inspect.isfunction(cls.__dict__.get(name)):
            patch(LIBRARY, cls, name, functools.partial(_fit_wrapper, name))
    for name in (*PREDICT_METHODS, "score"):
        raw = cls.__dict__.get(name)
        make = _score_wrapper if name == "score" else _predict_wrapper
        if inspect.isfunction(raw):
            patch(LIBRARY, cls, name, make)
        elif inspect.isfunction(getattr(raw, "fn", None)) and hasattr(raw, "check"):  # sklearn's available_if
            patch(LIBRARY, raw, "fn", make)


def _patch_metrics(metrics: ModuleType) -> None:
    for name in getattr(metrics, "__all__", []):
        function = getattr(metrics, name, None)
        if inspect.isfunction(function) and name.endswith(METRIC_SUFFIXES) and not is_patched(LIBRARY, metrics, name):
            patch(LIBRARY, metrics, name, functools.partial(_metric_wrapper, name))


def _fit_wrapper(method: str, original: Callable) -> Callable:
    def fit(self, *args, **kwargs):
        X = args[0] if args else kwargs.get("X")
        y = args[1] if len(args) > 1 else kwargs.get("y")
        before = functools.partial(log_estimator_params, estimator=self)
        after = functools.partial(_after_fit, estimator=self, X=X, y=y, sample_weight=kwargs.get("sample_weight"))
        return call(LIBRARY, original, (self, *args), kwargs, before=before, after=after)

    return fit


# -- logging at fit --------------------------------------------------------------------------
def log_estimator_params(session: Session, estimator: Any) -> None:
    """``get_params(deep=True)`` as params."""
    _common.log_params(session, estimator.get_params(deep=True))


def _after_fit(session: Session, result: Any, estimator: Any, X: Any, y: Any, sample_weight: Any) -> None:
    log_fitted(session, estimator, X, y, sample_weight)


def log_fitted(session: Session, estimator: Any, X: Any, y: Any, sample_weight: Any = None) -> None:
    """Everything logged once an estimator is fitted: training metrics, search runs, model, data, tracking."""
    library = session.library
    safely(library, "training metrics", _log_training_metrics, session, estimator, X, y, sample_weight)
    if _is_search(estimator):
        safely(library, "the search results", _log_search, session, estimator, X)
    safely(library, "the model", _common.log_model, session, estimator, X)
    safely(library, "the training data hash", _common.log_dataset, session, X, y)
    config = settings(library)
    if config is not None and config.log_post_training_metrics and session.target is not None:
        safely(library, "post-training metrics", _track_model, estimator, session.target)


def training_metrics(estimator: Any, X: Any, y: Any, sample_weight: Any = None, prefix: str = "training_",
                     pos_label: Any = None) -> dict:  # fmt: skip
    """MLflow's training metrics: classifier and regressor scores on the training data, and ``score``
    (precision, recall and F1 weighted over the classes, or of ``pos_label``'s class when given)."""
    from sklearn import metrics
    from sklearn.base import is_classifier, is_regressor

    out: dict[str, float] = {}

    def add(name: str, compute: Callable[[], Any]) -> None:
        try:
            value = float(compute())
        except Exception as exc:  # noqa: BLE001 - a metric that does not apply to this estimator is left out
            log.debug("gittrack: no %s%s: %s", prefix, name, exc)
            return
        out[prefix + name] = value

    weights = {"sample_weight": sample_weight} if sample_weight is not None else {}
    if y is not None and (is_classifier(estimator) or is_regressor(estimator)):
        y_pred = estimator.predict(X)
        if is_classifier(estimator):
            add("accuracy_score", lambda: metrics.accuracy_score(y, y_pred, **weights))
            averaging = {"average": "weighted"} if pos_label is None else {"average": "binary", "pos_label": pos_label}
            for name, function in (("precision_score", metrics.precision_score),
                                   ("recall_score", metrics.recall_score), ("f1_score", metrics.f1_score)):  # fmt: skip
                add(name, lambda f=function: f(y, y_pred, zero_division=0, **averaging, **weights))
            if hasattr(estimator, "predict_proba"):
                proba = estimator.predict_proba(X)
                labels = getattr(estimator, "classes_", None)
                add("log_loss", lambda: metrics.log_loss(y, proba, labels=labels, **weights))
                if proba.shape[1] == 2:
                    add("roc_auc", lambda: metrics.roc_auc_score(y, proba[:, 1], **weights))
                else:
                    add("roc_auc", lambda: metrics.roc_auc_score(y, proba, multi_class="ovr", average="weighted",
                                                                 labels=labels, **weights))  # fmt: skip
        else:
            add("mean_squared_error", lambda: metrics.mean_squared_error(y, y_pred, **weights))
            add("root_mean_squared_error", lambda: math.sqrt(metrics.mean_squared_error(y, y_pred, **weights)))
            add("mean_absolute_error", lambda: metrics.mean_absolute_error(y, y_pred, **weights))
            add("r2_score", lambda: metrics.r2_score(y, y_pred, **weights))
    if callable(getattr(estimator, "score", None)) and (y is not None or not is_classifier(estimator)):
        add("score", lambda: estimator.score(X, y, **weights) if y is not None else estimator.score(X))
    return out


def _log_training_metrics(session: Session, estimator: Any, X: Any, y: Any, sample_weight: Any) -> None:
    assert session.target is not None
    config = settings(session.library)
    pos_label = config.extra.get("pos_label") if config is not None else None
    values = training_metrics(estimator, X, y, sample_weight, pos_label=pos_label)
    session.target.log_metrics(_common.finite_metrics(values), step=0)


# -- hyperparameter searches -----------------------------------------------------------------
def _is_search(estimator: Any) -> bool:
    search = sys.modules.get("sklearn.model_selection._search")
    return search is not None and isinstance(estimator, search.BaseSearchCV) and hasattr(estimator, "cv_results_")


def _log_search(session: Session, search: Any, X: Any) -> None:
    """Best params and score on the parent, ``cv_results.csv``, the best estimator, and a child run per candidate."""
    import pandas as pd

    target = session.target
    assert target is not None
    if hasattr(search, "best_params_"):
        _common.log_params(session, {f"best_{k}": v for k, v in search.best_params_.items()})
    if hasattr(search, "best_score_"):
        target.log_metrics(_common.finite_metrics({"best_cv_score": search.best_score_}), step=0)
    results = pd.DataFrame(search.cv_results_)
    with _tempdir() as folder:
        path = f"{folder}/cv_results.csv"
        results.to_csv(path, index=False)
        target.client.log_artifact(target.run_id, path)
    if hasattr(search, "best_estimator_"):
        safely(session.library, "the best estimator", _common.log_model, session, search.best_estimator_, X,
               "best_estimator")  # fmt: skip
    safely(session.library, "the search's child runs", _log_candidates, session, search, results)


def _log_candidates(session: Session, search: Any, results: Any) -> None:
    """A nested run per candidate, best first, up to ``max_tuning_runs``: its params and every numeric CV column."""
    import gittrack

    config = settings(session.library)
    limit = config.max_tuning_runs if config is not None else 5
    rank = "rank_test_score" if "rank_test_score" in results else next(
        (c for c in results.columns if c.startswith("rank_test_")), None)  # fmt: skip
    order = results.sort_values(rank, kind="stable").index if rank else results.index
    if limit is not None:
        order = order[: max(0, limit)]
    metric_columns = [c for c in results.columns if not c.startswith("param") and results[c].dtype.kind in "biuf"]
    parent = session.target
    assert parent is not None
    name = _safe_name(parent)
    for position, index in enumerate(order):
        params = results.at[index, "params"]
        child = gittrack.start_run(nested=True, run_name=f"{name}-candidate-{index}")
        try:
            child_session = Session(session.library, Target(child.client, child.run_id, created=True, active=child))
            _common.log_params(child_session, params)
            metrics = {c: results.at[index, c] for c in metric_columns}
            child_session.target.log_metrics(_common.finite_metrics(metrics), step=0)
            child_session.target.set_tags({"gittrack.search.rank": position + 1, "gittrack.search.candidate": index})
        finally:
            gittrack.end_run()


def _safe_name(target: Target) -> str:
    try:
        return target.client.get_run(target.run_id).info.run_name or "search"
    except Exception:  # noqa: BLE001 - the name is only a prefix for the children's names
        return "search"


class _tempdir:
    def __enter__(self) -> str:
        import tempfile

        self._dir = tempfile.TemporaryDirectory(prefix="gittrack-autolog-")
        return self._dir.name

    def __exit__(self, *exc: object) -> None:
        self._dir.cleanup()


# -- post-training metrics -----------------------------------------------------------------
class _Models:
    """Fitted autologged estimators and the predictions they made, by object identity."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.models: dict[int, tuple[weakref.ref, Target]] = {}
        self.outputs: dict[int, tuple[weakref.ref, Target, str]] = {}
        self.dataset_names: dict[tuple[str, str], int] = {}  # (run, name) -> id of the data the name stands for

    def target_of(self, estimator: Any) -> Target | None:
        with self.lock:
            entry = self.models.get(id(estimator))
        if entry is None or entry[0]() is not estimator:
            return None
        return entry[1]

    def output(self, value: Any) -> tuple[Target, str] | None:
        try:
            entry = self.outputs.get(id(value))
        except TypeError:
            return None
        if entry is None or entry[0]() is not value:
            return None
        return entry[1], entry[2]


_tracked = _Models()


def _track_model(estimator: Any, target: Target) -> None:
    with _tracked.lock:
        key = id(estimator)
        _tracked.models[key] = (weakref.ref(estimator, lambda _, k=key: _tracked.models.pop(k, None)), target)


def _dataset_name(data: Any, target: Target) -> str:
    """The name of the caller's variable holding ``data`` (``X_test``), ``-2``, ``-3``... when that name
    already stood for other data in this run; ``unknown_dataset`` when no variable holds it."""
    name = "unknown_dataset"
    frame = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not (module.startswith(("gittrack.", "sklearn.")) or module in ("gittrack", "sklearn")):
            found = [n for n, v in frame.f_locals.items() if v is data and not n.startswith("_")]
            if found:
                name = found[0]
            break
        frame = frame.f_back
    with _tracked.lock:
        candidate, n = name, 1
        while _tracked.dataset_names.setdefault((target.run_id, candidate), id(data)) != id(data):
            n += 1
            candidate = f"{name}-{n}"
    return candidate


def _post_training_on(estimator: Any) -> Target | None:
    config = settings(LIBRARY)
    if config is None or not config.log_post_training_metrics or getattr(_quiet, "on", False):
        return None
    if _runs.current() is not None:
        return None
    return _tracked.target_of(estimator)


def _predict_wrapper(original: Callable) -> Callable:
    def predict(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        target = _post_training_on(self)
        if target is not None:
            X = args[0] if args else next(iter(kwargs.values()), None)
            safely(LIBRARY, "post-training metrics", _remember_output, result, X, target)
        return result

    return predict


def _remember_output(result: Any, X: Any, target: Target) -> None:
    name = _dataset_name(X, target)
    with _tracked.lock:
        key = id(result)
        _tracked.outputs[key] = (weakref.ref(result, lambda _, k=key: _tracked.outputs.pop(k, None)), target, name)


def _score_wrapper(original: Callable) -> Callable:
    def score(self, *args, **kwargs):
        target = _post_training_on(self)
        if target is None:
            return original(self, *args, **kwargs)
        _quiet.on = True
        try:
            result = original(self, *args, **kwargs)
        finally:
            _quiet.on = False
        X = args[0] if args else kwargs.get("X")
        safely(LIBRARY, "post-training metrics", _log_post_metric, target,
               f"{type(self).__name__}_score", X, result)  # fmt: skip
        return result

    return score


def _metric_wrapper(name: str, original: Callable) -> Callable:
    def metric(*args, **kwargs):
        result = original(*args, **kwargs)
        if _tracked.outputs and not getattr(_quiet, "on", False) and _runs.current() is None:
            safely(LIBRARY, "post-training metrics", _log_metric_call, name, args, kwargs, result)
        return result

    return metric


def _log_metric_call(name: str, args: tuple, kwargs: dict, result: Any) -> None:
    config = settings(LIBRARY)
    if config is None or not config.log_post_training_metrics:
        return
    for value in (*args, *kwargs.values()):
        found = _tracked.output(value)
        if found is not None:
            target, dataset = found
            _write(target, f"{name}_{dataset}", result)
            return


def _log_post_metric(target: Target, metric: str, X: Any, result: Any) -> None:
    _write(target, f"{metric}_{_dataset_name(X, target)}", result)


def _write(target: Target, metric: str, result: Any) -> None:
    values = _common.finite_metrics({metric: result})
    if not values:
        return  # per-class arrays and reports are not single numbers
    try:
        target.log_metrics(values)
    except Exception as exc:
        from gittrack.errors import ImmutableRunError

        if isinstance(exc, ImmutableRunError):
            warn_once(LIBRARY, "post-training metrics", ImmutableRunError(
                f"the model's run {target.run_id[:12]} has ended; compute metrics before the next fit"))  # fmt: skip
            return
        raise
