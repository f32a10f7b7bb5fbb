"""``gittrack.autolog()``: record what training frameworks know, without a line per value.

``gittrack.autolog(...)`` turns autologging on for every supported library: those already
imported are patched at once, the others when the script imports them (a post-import hook; no
framework is imported here). ``gittrack.autolog.sklearn(...)``, ``.xgboost``, ``.lightgbm``,
``.lightning`` (alias ``.pytorch``), ``.optuna``, ``.hyperopt`` and ``.transformers`` do the
same for one library; ``disable=True`` puts back everything that was patched. What each
library records is in docs/autolog.md.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from gittrack.autologging import _hooks, _patch, _runs
from gittrack.autologging._patch import Settings

# library -> the module of gittrack that patches it
INTEGRATIONS = {
    "sklearn": "gittrack.autologging.sklearn",
    "xgboost": "gittrack.autologging.xgboost",
    "lightgbm": "gittrack.autologging.lightgbm",
    "lightning": "gittrack.autologging.lightning",
    "optuna": "gittrack.autologging.optuna",
    "hyperopt": "gittrack.autologging.hyperopt",
    "transformers": "gittrack.autologging.transformers",
}


def _integration(library: str) -> ModuleType:
    return importlib.import_module(INTEGRATIONS[library])


def _configure(library: str, disable: bool, settings: Settings) -> None:
    module = _integration(library)
    if disable:
        _hooks.remove(module.on_import)
        _patch.unpatch(library)
        _patch.set_settings(library, None)
        return
    _patch.set_settings(library, settings)
    for name, submodules in module.TRIGGERS:
        _hooks.on_import(name, module.on_import, submodules)
    _patch.safely(library, "(patching)", module.patch_loaded)


class Autolog:
    """Callable as ``gittrack.autolog(...)``; one method per library."""

    def __call__(
        self,
        log_models: bool = True,
        log_input_examples: bool = False,
        log_datasets: bool = True,
        disable: bool = False,
        exclusive: bool = False,
        silent: bool = False,
        max_tuning_runs: int | None = 5,
        log_post_training_metrics: bool = True,
    ) -> None:
        """Autolog every supported library, installed now or imported later (MLflow's ``mlflow.autolog``).

        ``log_models``: save trained models; ``log_input_examples``: keep a few training rows with
        the model; ``log_datasets``: record the training data's hash as an input; ``exclusive``:
        log nothing into runs the script started itself; ``silent``: no warnings;
        ``max_tuning_runs``: child runs per hyperparameter search (None: all);
        ``log_post_training_metrics``: sklearn metrics computed on an autologged model's predictions.
        ``disable=True`` undoes all patching.
        """
        settings = Settings(log_models, log_input_examples, log_datasets, exclusive, silent, max_tuning_runs,
                            log_post_training_metrics)  # fmt: skip
        for library in INTEGRATIONS:
            _configure(library, disable, settings)
        if disable:
            _runs.end_open_runs()

    def sklearn(
        self,
        log_models: bool = True,
        log_input_examples: bool = False,
        log_datasets: bool = True,
        disable: bool = False,
        exclusive: bool = False,
        silent: bool = False,
        max_tuning_runs: int | None = 5,
        log_post_training_metrics: bool = True,
    ) -> None:
        """scikit-learn: params, training metrics, model, training data hash, searches, post-training metrics."""
        settings = Settings(log_models, log_input_examples, log_datasets, exclusive, silent, max_tuning_runs,
                            log_post_training_metrics)  # fmt: skip
        _configure("sklearn", disable, settings)

    def xgboost(
        self,
        log_models: bool = True,
        log_input_examples: bool = False,
        log_datasets: bool = True,
        disable: bool = False,
        exclusive: bool = False,
        silent: bool = False,
        importance_types: tuple[str, ...] = ("weight",),
    ) -> None:
        """XGBoost (``xgboost.train`` and the sklearn wrappers): params, metrics per iteration, importance, model."""
        settings = Settings(log_models, log_input_examples, log_datasets, exclusive, silent,
                            extra={"importance_types": tuple(importance_types)})  # fmt: skip
        _configure("xgboost", disable, settings)

    def lightgbm(
        self,
        log_models: bool = True,
        log_input_examples: bool = False,
        log_datasets: bool = True,
        disable: bool = False,
        exclusive: bool = False,
        silent: bool = False,
    ) -> None:
        """LightGBM (``lightgbm.train`` and the sklearn wrappers): params, metrics per iteration, importance, model."""
        _configure("lightgbm", disable, Settings(log_models, log_input_examples, log_datasets, exclusive, silent))

    def lightning(
        self,
        log_models: bool = True,
        disable: bool = False,
        exclusive: bool = False,
        silent: bool = False,
        checkpoints: bool = True,
    ) -> None:
        """PyTorch Lightning: a ``GittrackLogger`` on every ``Trainer.fit`` that has none."""
        settings = Settings(log_models, exclusive=exclusive, silent=silent, extra={"checkpoints": checkpoints})
        _configure("lightning", disable, settings)

    pytorch = lightning  # MLflow's name: mlflow.pytorch.autolog

    def optuna(self, disable: bool = False, exclusive: bool = False, silent: bool = False) -> None:
        """Optuna: ``Study.optimize`` gets a ``GittrackCallback`` (a nested run per trial)."""
        _configure("optuna", disable, Settings(exclusive=exclusive, silent=silent))

    def hyperopt(self, disable: bool = False, exclusive: bool = False, silent: bool = False) -> None:
        """hyperopt: ``fmin`` logs a nested run per evaluation and the best point on the parent."""
        _configure("hyperopt", disable, Settings(exclusive=exclusive, silent=silent))

    def transformers(self, log_models: bool = True, disable: bool = False, exclusive: bool = False,
                     silent: bool = False) -> None:  # fmt: skip
        """Hugging Face transformers: every ``Trainer`` gets a ``GittrackCallback``."""
        _configure("transformers", disable, Settings(log_models, exclusive=exclusive, silent=silent))

    @staticmethod
    def last_run_id() -> str | None:
        """The run the latest autologged call logged into (MLflow's ``last_active_run``)."""
        return _runs.last_run_id()

    def __repr__(self) -> str:
        on = [name for name in INTEGRATIONS if _patch.settings(name) is not None]
        return f"<gittrack.autolog: {', '.join(on) or 'off'}>"


autolog = Autolog()

__all__ = ["Autolog", "Settings", "autolog"]
