"""scikit-learn autologging: ``fit`` of every estimator, searches as parent and child runs, post-training metrics.

What a fit records is what MLflow's ``mlflow.sklearn.autolog`` records: params, the estimator
tags, training metrics and plots, ``estimator.html``, the model, the training data as a dataset
input, and for searches the best params, ``cv_results.csv`` and a child run per candidate.
Patched: ``fit``, ``fit_transform`` and ``fit_predict`` of every class of scikit-learn's own
modules that defines them (classes of modules imported later are patched as those modules are
imported); ``predict``-like methods and ``score`` for post-training metrics and evaluation
datasets; and the metric functions of ``sklearn.metrics``. Nothing here imports scikit-learn:
it is patched once the script imports it.
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
from types import FrameType, ModuleType
from typing import Any

from gittrack.integrations import _common, _runs
from gittrack.integrations._call import call
from gittrack.integrations._patch import is_patched, patch, safely, settings, warn_once
from gittrack.integrations._runs import Session, Target

LIBRARY = "sklearn"
TRIGGERS = [("sklearn", True)]
FIT_METHODS = ("fit", "fit_transform", "fit_predict")
PREDICT_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function")
EVAL_METHODS = ("predict", "predict_proba", "predict_log_proba")  # whose input MLflow logs as an eval dataset
_LIBRARY_PACKAGES = ("gittrack", "sklearn", "xgboost", "lightgbm")  # frames skipped to find the user's variables
METRIC_SUFFIXES = ("_score", "_error", "_loss")
# as MLflow: data preparation is not a training of its own (unless inside a pipeline, which logs it)
NOT_AUTOLOGGED_MODULES = ("sklearn.preprocessing", "sklearn.impute", "sklearn.feature_extraction",
                          "sklearn.feature_selection")  # fmt: skip
NOT_AUTOLOGGED_CLASSES = ("sklearn.compose._column_transformer.ColumnTransformer",)
# as MLflow: the fits these functions make are not logged
UNLOGGED_FUNCTIONS = ("cross_validate", "cross_val_predict", "cross_val_score", "learning_curve",
                      "permutation_test_score", "validation_curve")  # fmt: skip
log = logging.getLogger("gittrack")
_quiet = threading.local()  # inside a tracked score() or predict(): the calls it makes are not logged again


# -- patching ------------------------------------------------------------------------------
def on_import(module: ModuleType) -> None:
    """A ``sklearn.*`` module has been imported: patch its estimator classes (and the metrics)."""
    if module.__name__ == "sklearn.metrics":
        _patch_metrics(module)
    if module.__name__ == "sklearn.model_selection":
        _patch_unlogged(module)
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
    model_selection = sys.modules.get("sklearn.model_selection")
    if model_selection is not None:
        _patch_unlogged(model_selection)


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
        make = _score_wrapper if name == "score" else functools.partial(predict_wrapper, log_eval=name in EVAL_METHODS)
        if inspect.isfunction(raw):
            patch(LIBRARY, cls, name, make)
        elif inspect.isfunction(getattr(raw, "fn", None)) and hasattr(raw, "check"):  # sklearn's available_if
            patch(LIBRARY, raw, "fn", make)


def _patch_metrics(metrics: ModuleType) -> None:
    for name in getattr(metrics, "__all__", []):
        function = getattr(metrics, name, None)
        if inspect.isfunction(function) and name.endswith(METRIC_SUFFIXES) and not is_patched(LIBRARY, metrics, name):
            patch(LIBRARY, metrics, name, functools.partial(_metric_wrapper, name))


def _patch_unlogged(model_selection: ModuleType) -> None:
    for name in UNLOGGED_FUNCTIONS:
        if inspect.isfunction(getattr(model_selection, name, None)):
            patch(LIBRARY, model_selection, name, _unlogged_wrapper)


def _unlogged_wrapper(original: Callable) -> Callable:
    def unlogged(*args, **kwargs):
        session, token = _runs.enter(LIBRARY, None)  # a call in progress that logs nothing: fits inside are its own
        try:
            return original(*args, **kwargs)
        finally:
            _runs.leave(session, token, None)

    return unlogged


def _autologged(estimator: Any) -> bool:
    cls = type(estimator)
    return not cls.__module__.startswith(NOT_AUTOLOGGED_MODULES) and (
        f"{cls.__module__}.{cls.__qualname__}" not in NOT_AUTOLOGGED_CLASSES
    )


def _fit_wrapper(method: str, original: Callable) -> Callable:
    def fit(self, *args, **kwargs):
        if not _autologged(self) and _runs.current() is None:
            return original(self, *args, **kwargs)
        X = args[0] if args else kwargs.get("X")
        y = args[1] if len(args) > 1 else kwargs.get("y")
        before = functools.partial(log_pretraining, estimator=self, X=X, y=y)
        after = functools.partial(_after_fit, estimator=self, X=X, y=y, sample_weight=kwargs.get("sample_weight"))
        return call(LIBRARY, original, (self, *args), kwargs, before=before, after=after)

    return fit


# -- logging at fit --------------------------------------------------------------------------
def estimator_tags(estimator: Any) -> dict[str, str]:
    """MLflow's ``estimator_name`` and ``estimator_class`` tags."""
    cls = type(estimator)
    return {"estimator_name": cls.__name__, "estimator_class": f"{cls.__module__}.{cls.__name__}"}


def log_pretraining(session: Session, estimator: Any, X: Any, y: Any) -> None:
    """Before ``fit``, as MLflow: ``get_params(deep=True)`` as params (a search's own params only:
    its estimator's are the candidates'), the estimator tags, and the training data as a dataset."""
    assert session.target is not None
    _common.log_params(session, estimator.get_params(deep=not _is_search_class(estimator)))
    session.target.set_tags(estimator_tags(estimator))
    safely(session.library, "the training dataset", _common.log_dataset, session, X, y, "train")


def _after_fit(session: Session, result: Any, estimator: Any, X: Any, y: Any, sample_weight: Any) -> None:
    log_fitted(session, estimator, X, y, sample_weight)


def log_fitted(session: Session, estimator: Any, X: Any, y: Any, sample_weight: Any = None) -> None:
    """Everything logged once an estimator is fitted: training metrics and plots, its HTML view,
    search runs, the model, and the model's tracking for post-training metrics."""
    library = session.library
    safely(library, "training metrics", _log_training_metrics, session, estimator, X, y, sample_weight)
    safely(library, "training plots", _log_training_plots, session, estimator, X, y, sample_weight)
    safely(library, "estimator.html", _log_estimator_html, session, estimator)
    if _is_search(estimator):
        safely(library, "the search results", _log_search, session, estimator, X, y)
    safely(library, "the model", _common.log_model, session, estimator, X)
    config = settings(library)
    if config is not None and config.log_post_training_metrics and session.target is not None:
        safely(library, "post-training metrics", track_model, estimator, session.target, library)


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
                add(name, functools.partial(function, y, y_pred, zero_division=0, **averaging, **weights))
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


def _log_training_plots(session: Session, estimator: Any, X: Any, y: Any, sample_weight: Any) -> None:
    """MLflow's plots of a classifier on its training data: ``training_confusion_matrix.png``, and
    for two classes ``training_roc_curve.png`` and ``training_precision_recall_curve.png``."""
    import importlib.util

    from sklearn.base import is_classifier

    if y is None or not is_classifier(estimator) or importlib.util.find_spec("matplotlib") is None:
        return
    from sklearn import metrics

    plots = [("confusion_matrix", "Normalized confusion matrix", metrics.ConfusionMatrixDisplay.from_estimator,
              {"normalize": "true", "cmap": "Blues"})]  # fmt: skip
    if len(set(_common.as_list(y))) == 2:
        plots += [("roc_curve", "ROC curve", metrics.RocCurveDisplay.from_estimator, {}),
                  ("precision_recall_curve", "Precision recall curve", metrics.PrecisionRecallDisplay.from_estimator,
                   {})]  # fmt: skip
    for name, title, draw, options in plots:
        plot = functools.partial(draw, estimator, X, y, sample_weight=sample_weight, **options)
        safely(session.library, f"training_{name}.png", _log_plot, session, f"training_{name}.png", title, plot)


def _log_plot(session: Session, filename: str, title: str, draw: Callable[..., Any]) -> None:
    import matplotlib
    from matplotlib.figure import Figure

    assert session.target is not None
    with matplotlib.rc_context({"savefig.dpi": 175, "figure.autolayout": True, "font.size": 8}), _tempdir() as tmp:
        figure = Figure(figsize=(6.0, 4.0))
        axes = figure.subplots()
        draw(ax=axes)
        axes.set_title(title)
        path = f"{tmp}/{filename}"
        figure.savefig(path, format="png")
        session.target.client.log_artifact(session.target.run_id, path)


def _log_estimator_html(session: Session, estimator: Any) -> None:
    """``estimator.html``: scikit-learn's HTML view of the estimator in a page of its own, as MLflow."""
    from sklearn.utils import estimator_html_repr

    page = ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="UTF-8"/>\n</head>\n<body>\n'
            f"{estimator_html_repr(estimator)}\n</body>\n</html>\n")  # fmt: skip
    _common.log_text(session, "estimator.html", page)


# -- hyperparameter searches -----------------------------------------------------------------
def _is_search_class(estimator: Any) -> bool:
    search = sys.modules.get("sklearn.model_selection._search")
    return search is not None and isinstance(estimator, search.BaseSearchCV)


def _is_search(estimator: Any) -> bool:
    return _is_search_class(estimator) and hasattr(estimator, "cv_results_")


def _log_search(session: Session, search: Any, X: Any, y: Any) -> None:
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
    safely(session.library, "the search's child runs", _log_candidates, session, search, results, X, y)


def _log_candidates(session: Session, search: Any, results: Any, X: Any, y: Any) -> None:
    """A nested run per candidate, best first, up to ``max_tuning_runs``, as MLflow's: the search's
    estimator's params with the candidate's, the aggregate CV columns as metrics (not the per-split
    ones), the estimator tags, and the training dataset."""
    import gittrack
    from gittrack._data.datasets import describe

    config = settings(session.library)
    limit = config.max_tuning_runs if config is not None else 5
    rank = "rank_test_score" if "rank_test_score" in results else next(
        (c for c in results.columns if "rank_test_" in c), None)  # fmt: skip
    order = results.sort_values(rank, kind="stable").index if rank else results.index
    if limit is not None:
        order = order[: max(0, limit)]
    metric_columns = [c for c in results.columns
                      if not c.startswith(("param", "split")) and results[c].dtype.kind in "biuf"]  # fmt: skip
    parent = session.target
    assert parent is not None
    seed = search.estimator
    base = seed.get_params(deep=not _is_search_class(seed))
    parent_run = parent.client.get_run(parent.run_id)
    name = parent_run.info.run_name or "search"
    tags = {k: v for k, v in parent_run.data.tags.items() if k in ("mlflow.source.name", "mlflow.source.type")}
    tags.update({"mlflow.autologging": session.library, **estimator_tags(seed)})
    described = safely(session.library, "the training dataset", describe, X, y)
    for position, index in enumerate(order):
        child = gittrack.start_run(nested=True, run_name=f"{name}-candidate-{index}", tags=tags)
        try:
            child_target = Target(child.client, child.run_id, created=True, active=child)
            child_session = Session(session.library, child_target)
            _common.log_params(child_session, {**base, **results.at[index, "params"]})
            metrics = {c: results.at[index, c] for c in metric_columns}
            child_target.log_metrics(_common.finite_metrics(metrics), step=0)
            child_target.set_tags({"gittrack.search.rank": position + 1, "gittrack.search.candidate": index})
            safely(session.library, "the training dataset", _common.log_dataset, child_session, X, y, "train",
                   described=described)  # fmt: skip
        finally:
            gittrack.end_run()


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
        self.models: dict[int, tuple[weakref.ref, Target, str]] = {}  # id -> (model, its run, library)
        self.outputs: dict[int, tuple[weakref.ref, Target, str]] = {}
        self.dataset_names: dict[tuple[str, str], int] = {}  # (run, name) -> id of the data the name stands for
        self.calls: dict[tuple[str, str], int] = {}  # (run, metric) -> how many times it was logged
        self.commands: dict[str, dict[str, str]] = {}  # run -> metric key -> the call that made it

    def target_of(self, estimator: Any) -> tuple[Target, str] | None:
        with self.lock:
            entry = self.models.get(id(estimator))
        if entry is None or entry[0]() is not estimator:
            return None
        return entry[1], entry[2]

    def output(self, value: Any) -> tuple[Target, str] | None:
        try:
            entry = self.outputs.get(id(value))
        except TypeError:
            return None
        if entry is None or entry[0]() is not value:
            return None
        return entry[1], entry[2]


_tracked = _Models()


def track_model(estimator: Any, target: Target, library: str = LIBRARY) -> None:
    """Follow a fitted model's predictions: metrics computed on them, and the data they were made on,
    go to ``target`` while ``library``'s autologging is on (MLflow's post-training metrics)."""
    with _tracked.lock:
        key = id(estimator)
        ref = weakref.ref(estimator, _forget(_tracked.models, key))
        _tracked.models[key] = (ref, target, library)


def _forget(table: dict[int, Any], key: int) -> Callable[[Any], object]:
    """A weakref callback: ``key``'s entry leaves ``table`` once its object is gone."""
    return lambda _: table.pop(key, None)


def _variable_name(value: Any) -> str | None:
    """The name of the variable holding ``value`` in the code that called into the libraries."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.partition(".")[0] not in _LIBRARY_PACKAGES:
            return next((n for n, v in frame.f_locals.items() if v is value and not n.startswith("_")), None)
        frame = frame.f_back
    return None


def _dataset_name(data: Any, target: Target) -> str:
    """The name of the caller's variable holding ``data`` (``X_test``), ``-2``, ``-3``... when that name
    already stood for other data in this run; ``unknown_dataset`` when no variable holds it."""
    name = _variable_name(data) or "unknown_dataset"
    with _tracked.lock:
        candidate, n = name, 1
        while _tracked.dataset_names.setdefault((target.run_id, candidate), id(data)) != id(data):
            n += 1
            candidate = f"{name}-{n}"
    return candidate


def _command(function: str, original: Callable, args: tuple, kwargs: dict, method: bool = False) -> str:
    """How a metric was called, as MLflow's ``metric_info.json`` says it:
    ``accuracy_score(y_true=y_test, y_pred=<ndarray>)`` (variables by name, scalars by value)."""
    names = list(inspect.signature(original).parameters)[1 if method else 0 :]
    given = [*zip(names, args, strict=False), *kwargs.items()]  # args past the named ones are left out
    return f"{function}({', '.join(f'{name}={_argument_text(value)}' for name, value in given)})"


def _argument_text(value: Any) -> str:
    import numpy as np

    if value is None or np.isscalar(value):
        return repr(value[:32] + "...") if isinstance(value, str) and len(value) > 32 else repr(value)
    return _variable_name(value) or f"<{type(value).__name__}>"


def _post_training_on(estimator: Any) -> tuple[Target, str] | None:
    if getattr(_quiet, "on", False) or _runs.current() is not None:
        return None
    found = _tracked.target_of(estimator)
    config = settings(found[1]) if found is not None else None
    if config is None or not config.log_post_training_metrics:
        return None
    return found


def predict_wrapper(original: Callable, log_eval: bool = True) -> Callable:
    """``predict`` (``predict_proba``...) of an autologged model: its output is remembered for
    post-training metrics and, with ``log_eval``, its input is logged as an ``eval`` dataset."""

    def predict(self, *args, **kwargs):
        found = _post_training_on(self)
        if found is None:
            return original(self, *args, **kwargs)
        _quiet.on = True  # the predictions it makes on the way (predict calling predict_proba) are its own
        try:
            result = original(self, *args, **kwargs)
        finally:
            _quiet.on = False
        target, library = found
        X = args[0] if args else next(iter(kwargs.values()), None)
        safely(library, "post-training metrics", _remember_output, result, X, target)
        if log_eval:
            safely(library, "the evaluation dataset", _log_eval_dataset, X, target, library)
        return result

    return predict


def _log_eval_dataset(X: Any, target: Target, library: str) -> None:
    from gittrack.errors import ImmutableRunError

    try:
        _common.log_dataset(Session(library, target), X, None, "eval")
    except ImmutableRunError:
        return  # the model's run has ended (a later fit ended it): MLflow does not log there either


def _remember_output(result: Any, X: Any, target: Target) -> None:
    name = _dataset_name(X, target)
    with _tracked.lock:
        key = id(result)
        _tracked.outputs[key] = (weakref.ref(result, _forget(_tracked.outputs, key)), target, name)


def _score_wrapper(original: Callable) -> Callable:
    def score(self, *args, **kwargs):
        found = _post_training_on(self)
        if found is None:
            return original(self, *args, **kwargs)
        target = found[0]
        _quiet.on = True
        try:
            result = original(self, *args, **kwargs)
        finally:
            _quiet.on = False
        X = args[0] if args else kwargs.get("X")
        safely(LIBRARY, "post-training metrics", _log_score, target, self, original, args, kwargs, X, result)
        return result

    return score


def _log_score(target: Target, model: Any, original: Callable, args: tuple, kwargs: dict, X: Any, result: Any) -> None:
    name = type(model).__name__
    command = _command(f"{name}.score", original, args, kwargs, method=True)
    _write(target, f"{name}_score", _dataset_name(X, target), result, command)


def _metric_wrapper(name: str, original: Callable) -> Callable:
    def metric(*args, **kwargs):
        result = original(*args, **kwargs)
        if _tracked.outputs and not getattr(_quiet, "on", False) and _runs.current() is None:
            safely(LIBRARY, "post-training metrics", _log_metric_call, name, original, args, kwargs, result)
        return result

    return metric


def _log_metric_call(name: str, original: Callable, args: tuple, kwargs: dict, result: Any) -> None:
    config = settings(LIBRARY)
    if config is None or not config.log_post_training_metrics:
        return
    for value in (*args, *kwargs.values()):
        found = _tracked.output(value)
        if found is not None:
            target, dataset = found
            _write(target, name, dataset, result, _command(name, original, args, kwargs))
            return


def _write(target: Target, metric: str, dataset: str, result: Any, command: str) -> None:
    """Log a post-training metric as MLflow names it: ``<metric>_<dataset>``, and ``<metric>-2_<dataset>``,
    ``-3``... for the metric's next calls in the run; ``metric_info.json`` says which call made each."""
    import numpy as np

    if isinstance(result, bool) or not isinstance(result, int | float | np.number):
        return  # per-class arrays and reports are not single numbers
    with _tracked.lock:
        calls = _tracked.calls.get((target.run_id, metric), 0)
        _tracked.calls[(target.run_id, metric)] = calls + 1
        key = f"{metric}{f'-{calls + 1}' if calls else ''}_{dataset}"
        commands = _tracked.commands.setdefault(target.run_id, {})
        commands[key] = command
        info = dict(sorted(commands.items()))
    try:
        target.log_metrics(_common.finite_metrics({key: result}), step=0)
        _common.log_json(Session(LIBRARY, target), "metric_info.json", info)
    except Exception as exc:
        from gittrack.errors import ImmutableRunError

        if isinstance(exc, ImmutableRunError):
            warn_once(LIBRARY, "post-training metrics", ImmutableRunError(
                f"the model's run {target.run_id[:12]} has ended; compute metrics before the next fit"))  # fmt: skip
            return
        raise
