"""LightGBM autologging: ``lightgbm.train`` and the sklearn wrappers (``LGBMClassifier``, ``LGBMRegressor``...).

Logged, as MLflow: the params (``params`` and ``train``'s arguments), the training and validation
``Dataset`` data as datasets, each iteration's evaluation metrics (``<dataset>-<metric>``, step =
iteration), ``best_iteration``/``stopped_iteration`` when early stopping, feature importance as
``feature_importance_split.json`` and ``feature_importance_gain.json`` (and ``.png``), and the
model: a ``Booster`` in the ``lightgbm`` flavor, a wrapper in the ``sklearn`` flavor. Nothing
here imports lightgbm.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import ModuleType
from typing import Any

from gittrack.integrations import _boosting

LIBRARY = "lightgbm"
TRIGGERS = [("lightgbm", False)]


def _callback(env: Any) -> None:
    metrics = {f"{item[0]}-{_boosting.metric_key(item[1])}": item[2] for item in env.evaluation_result_list or []}
    _boosting.log_iteration(LIBRARY, metrics, env.iteration)


_callback.order = 25  # type: ignore[attr-defined] # after LightGBM's own recording, before early stopping


class _LightGBM(_boosting.Library):
    name = LIBRARY
    flavor = "lightgbm"
    not_params = frozenset({"params", "train_set", "valid_sets", "valid_names", "fobj", "feval", "init_model",
                            "learning_rates", "callbacks"})  # fmt: skip

    def callback(self) -> Any:
        return _callback

    def datasets(self, arguments: Mapping[str, Any]) -> Iterator[tuple[Any, Any, str, str | None]]:
        train_set = arguments.get("train_set")
        if train_set is not None:
            yield train_set.data, train_set.label, "train", None
        names = arguments.get("valid_names")
        for i, valid_set in enumerate(arguments.get("valid_sets") or ()):
            yield valid_set.data, valid_set.label, "eval", names[i] if names is not None and i < len(names) else None

    def early_stopping(self, booster: Any, arguments: Mapping[str, Any], history: list) -> tuple[dict, int] | None:
        if not booster.best_iteration:
            return None
        # LightGBM counts iterations from 1; MLflow logs its numbers as they are
        return {"stopped_iteration": len(history), "best_iteration": booster.best_iteration}, booster.best_iteration - 1

    def importance(self, booster: Any) -> dict[str, dict[str, float]]:
        names = booster.feature_name()
        return {kind: dict(zip(names, booster.feature_importance(kind).tolist(), strict=True))
                for kind in ("split", "gain")}  # fmt: skip


LIGHTGBM = _LightGBM()


def on_import(module: ModuleType) -> None:
    patch_loaded()


def patch_loaded() -> None:
    _boosting.patch_loaded(LIGHTGBM, "lightgbm", "lightgbm.engine", "LGBMModel")
