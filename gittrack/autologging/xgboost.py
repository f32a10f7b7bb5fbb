"""XGBoost autologging: ``xgboost.train`` and the sklearn wrappers (``XGBClassifier``, ``XGBRegressor``...).

Logged: params, each iteration's evaluation metrics (``<eval name>-<metric>``, step = iteration),
``best_iteration``/``stopped_iteration``/``best_score`` when early stopping, feature importance
as ``feature_importance_<type>.json`` (and ``.png``), and the model: a ``Booster`` in the
``xgboost`` flavor, a wrapper in the ``sklearn`` flavor. Nothing here imports xgboost.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from gittrack.autologging import _boosting
from gittrack.autologging._patch import settings

LIBRARY = "xgboost"
TRIGGERS = [("xgboost", False)]


class _XGBoost(_boosting.Library):
    name = LIBRARY
    flavor = "xgboost"
    not_params = frozenset({"dtrain", "evals", "obj", "custom_metric", "feval", "callbacks", "xgb_model",
                            "evals_result"})  # fmt: skip

    def callback(self) -> Any:
        return _callback_class()()

    def early_stopping(self, booster: Any, arguments: Mapping[str, Any], history: dict) -> dict[str, float]:
        best = booster.attr("best_iteration")
        if best is None:
            return {}
        out = {"best_iteration": int(best), "stopped_iteration": booster.num_boosted_rounds() - 1}
        if booster.attr("best_score") is not None:
            out["best_score"] = float(booster.attr("best_score"))
        return out

    def importance(self, booster: Any) -> dict[str, dict[str, float]]:
        config = settings(LIBRARY)
        kinds = config.extra.get("importance_types", ("weight",)) if config is not None else ("weight",)
        return {kind: booster.get_score(importance_type=kind) for kind in kinds}


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
                    metrics[f"{data}-{metric}"] = last[0] if isinstance(last, tuple) else last
            _boosting.log_iteration(LIBRARY, metrics, epoch)
            return False

    return GittrackIterationMetrics


def on_import(module: ModuleType) -> None:
    patch_loaded()


def patch_loaded() -> None:
    _boosting.patch_loaded(XGBOOST, "xgboost", "xgboost.training", "XGBModel")
