"""XGBoost autologging: ``xgboost.train`` and the sklearn wrappers (``XGBClassifier``, ``XGBRegressor``...).

Logged, as MLflow: the params (``params`` and ``train``'s arguments), the training and evaluation
``DMatrix`` data as datasets, each iteration's evaluation metrics (``<eval name>-<metric>``, step =
iteration), ``best_iteration``/``stopped_iteration`` when early stopping, feature importance as
``feature_importance_<type>.json`` (and ``.png``), and the model: a ``Booster`` in the ``xgboost``
flavor, a wrapper in the ``sklearn`` flavor. Nothing here imports xgboost.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from types import ModuleType
from typing import Any

from gittrack.integrations import _boosting
from gittrack.integrations._patch import settings

LIBRARY = "xgboost"
TRIGGERS = [("xgboost", False)]


class _XGBoost(_boosting.Library):
    name = LIBRARY
    flavor = "xgboost"
    not_params = frozenset({"params", "dtrain", "evals", "obj", "feval", "evals_result", "xgb_model", "callbacks",
                            "learning_rates"})  # fmt: skip

    def callback(self) -> Any:
        return _callback_class()()

    def datasets(self, arguments: Mapping[str, Any]) -> Iterator[tuple[Any, Any, str, str | None]]:
        if arguments.get("dtrain") is not None:
            yield _data(arguments["dtrain"]), None, "train", None
        for matrix, name in arguments.get("evals") or ():
            yield _data(matrix), None, "eval", name

    def early_stopping(self, booster: Any, arguments: Mapping[str, Any], history: list) -> tuple[dict, int] | None:
        if not arguments.get("early_stopping_rounds"):
            return None
        best = int(booster.best_iteration)
        return {"stopped_iteration": len(history) - 1, "best_iteration": best}, best

    def importance(self, booster: Any) -> dict[str, dict[str, float]]:
        config = settings(LIBRARY)
        kinds = config.extra.get("importance_types", ("weight",)) if config is not None else ("weight",)
        return {kind: booster.get_score(importance_type=kind) for kind in kinds}


def _data(matrix: Any) -> Any:
    """A ``DMatrix``'s features (a sparse matrix), or None when it does not give them back."""
    try:
        return matrix.get_data()
    except Exception:  # noqa: BLE001 - a DMatrix read from a file or an external memory iterator
        return None


XGBOOST = _XGBoost()


@functools.cache
def _callback_class() -> type:
    import xgboost

    class GittrackIterationMetrics(xgboost.callback.TrainingCallback):
        """Logs the evaluation metrics of each iteration into the autologged run."""

        def after_iteration(self, model, epoch, evals_log) -> bool:
            metrics = {}
            for data, results in evals_log.items():
                for metric, values in results.items():
                    last = values[-1]
                    metrics[f"{data}-{_boosting.metric_key(metric)}"] = last[0] if isinstance(last, tuple) else last
            _boosting.log_iteration(LIBRARY, metrics, epoch)
            return False

    return GittrackIterationMetrics


def on_import(module: ModuleType) -> None:
    patch_loaded()


def patch_loaded() -> None:
    _boosting.patch_loaded(XGBOOST, "xgboost", "xgboost.training", "XGBModel")
