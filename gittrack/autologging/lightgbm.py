"""LightGBM autologging: ``lightgbm.train`` and the sklearn wrappers (``LGBMClassifier``, ``LGBMRegressor``...).

Logged: params, each iteration's evaluation metrics (``<dataset>-<metric>``, step = iteration),
``best_iteration``/``stopped_iteration``/``best_score`` when early stopping, feature importance
as ``feature_importance_split.json`` and ``feature_importance_gain.json`` (and ``.png``), and
the model: a ``Booster`` in the ``lightgbm`` flavor, a wrapper in the ``sklearn`` flavor.
Nothing here imports lightgbm.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

from gittrack.autologging import _boosting

LIBRARY = "lightgbm"
TRIGGERS = [("lightgbm", False)]


def _callback(env: Any) -> None:
    metrics = {f"{item[0]}-{item[1]}": item[2] for item in env.evaluation_result_list or []}
    _boosting.log_iteration(LIBRARY, metrics, env.iteration)


_callback.order = 25  # type: ignore[attr-defined] # after LightGBM's own recording, before early stopping


class _LightGBM(_boosting.Library):
    name = LIBRARY
    flavor = "lightgbm"
    not_params = frozenset({"train_set", "valid_sets", "valid_names", "feval", "init_model", "callbacks",
                            "keep_training_booster"})  # fmt: skip

    def callback(self) -> Any:
        return _callback

    def early_stopping(self, booster: Any, arguments: Mapping[str, Any], history: dict) -> dict[str, float]:
        if not booster.best_iteration:
            return {}
        out = {"best_iteration": booster.best_iteration - 1, "stopped_iteration": booster.current_iteration() - 1}
        training = getattr(booster, "_train_data_name", "training")
        for name, results in booster.best_score.items():
            for value in results.values() if name != training else ():
                out["best_score"] = float(value)  # the first metric of the first validation set, as early stopping uses
                return out
        return out

    def importance(self, booster: Any) -> dict[str, dict[str, float]]:
        names = booster.feature_name()
        return {kind: dict(zip(names, booster.feature_importance(kind).tolist(), strict=True))
                for kind in ("split", "gain")}  # fmt: skip


LIGHTGBM = _LightGBM()


def on_import(module: ModuleType) -> None:
    patch_loaded()


def patch_loaded() -> None:
    _boosting.patch_loaded(LIGHTGBM, "lightgbm", "lightgbm.engine", "LGBMModel")
