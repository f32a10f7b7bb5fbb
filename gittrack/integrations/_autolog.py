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
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import TYPE_CHECKING, Any

from gittrack.integrations import _hooks, _patch, _runs
from gittrack.integrations._patch import Settings

if TYPE_CHECKING:
    from gittrack._fluent import ActiveRun

# library -> the module of gittrack that patches it
INTEGRATIONS = {
    "sklearn": "gittrack.integrations._autolog_sklearn",
    "xgboost": "gittrack.integrations._autolog_xgboost",
    "lightgbm": "gittrack.integrations._autolog_lightgbm",
    "lightning": "gittrack.integrations._autolog_lightning",
    "optuna": "gittrack.integrations._autolog_optuna",
    "hyperopt": "gittrack.integrations._autolog_hyperopt",
    "transformers": "gittrack.integrations._autolog_transformers",
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


def _unsupported(library: str, silent: bool, **given: Any) -> None:
    """Say which of MLflow's arguments, given a value, gittrack's autologging accepts but ignores."""
    for name, value in given.items():
        if value is not None and not silent:
            _patch.log.warning("gittrack: autologging (%s) ignores %s=%r (MLflow's argument, not supported here)",
                               library, name, value)  # fmt: skip


class Autolog:
    """Callable as ``gittrack.autolog(...)``; one method per library. The arguments are MLflow's, in
    MLflow's order (``mlflow.autolog``, ``mlflow.sklearn.autolog``...), so positional calls mean
    the same thing; gittrack's own additions are keyword-only."""

    def __call__(
        self,
        log_input_examples: bool = False,
        log_model_signatures: bool = True,
        log_models: bool = True,
        log_datasets: bool = True,
        log_traces: bool = True,
        disable: bool = False,
        exclusive: bool = False,
        disable_for_unsupported_versions: bool = False,
        silent: bool = False,
        extra_tags: Mapping[str, Any] | None = None,
        exclude_flavors: list[str] | None = None,
        *,
        max_tuning_runs: int | None = 5,
        log_post_training_metrics: bool = True,
    ) -> None:
        """Autolog every supported library, installed now or imported later (MLflow's ``mlflow.autolog``).

        ``log_input_examples``: keep a few training rows with the model; ``log_model_signatures``:
        record the model's inputs and outputs; ``log_models``: save trained models;
        ``log_datasets``: record the training and evaluation data as dataset inputs; ``exclusive``:
        log nothing into runs the script started itself; ``silent``: no warnings; ``extra_tags``:
        tags of every run autologging starts; ``exclude_flavors``: libraries left alone
        (``["lightgbm"]``); ``max_tuning_runs``: child runs per hyperparameter search (None: all);
        ``log_post_training_metrics``: sklearn metrics computed on an autologged model's
        predictions. ``disable=True`` undoes all patching. ``log_traces`` and
        ``disable_for_unsupported_versions`` are accepted and have no effect.
        """
        settings = Settings(log_models=log_models, log_input_examples=log_input_examples, log_datasets=log_datasets,
                            exclusive=exclusive, silent=silent, max_tuning_runs=max_tuning_runs,
                            log_post_training_metrics=log_post_training_metrics,
                            log_model_signatures=log_model_signatures, extra_tags=dict(extra_tags or {}))  # fmt: skip
        excluded = {"lightning" if name == "pytorch" else name for name in exclude_flavors or ()}
        for library in INTEGRATIONS:
            if library not in excluded or disable:
                _configure(library, disable, settings)
        if disable:
            _runs.end_open_runs()

    def sklearn(
        self,
        log_input_examples: bool = False,
        log_model_signatures: bool = True,
        log_models: bool = True,
        log_datasets: bool = True,
        disable: bool = False,
        exclusive: bool = False,
        disable_for_unsupported_versions: bool = False,
        silent: bool = False,
        max_tuning_runs: int | None = 5,
        log_post_training_metrics: bool = True,
        serialization_format: str | None = None,
        registered_model_name: str | None = None,
        pos_label: Any = None,
        extra_tags: Mapping[str, Any] | None = None,
    ) -> None:
        """scikit-learn (``mlflow.sklearn.autolog``): params, training metrics and plots, the model,
        datasets, searches, post-training metrics. ``serialization_format``: ``pickle`` or
        ``cloudpickle`` (default: joblib); ``registered_model_name``: register every model trained
        as a new version of that model; ``pos_label``: the positive class of binary training
        metrics."""
        from gittrack._flavors import SERIALIZATIONS

        if serialization_format is not None and serialization_format not in SERIALIZATIONS:
            _unsupported("sklearn", silent, serialization_format=serialization_format)
            serialization_format = None
        extra = {"serialization": serialization_format, "pos_label": pos_label,
                 "registered_model_name": registered_model_name}  # fmt: skip
        settings = Settings(log_models=log_models, log_input_examples=log_input_examples, log_datasets=log_datasets,
                            exclusive=exclusive, silent=silent, max_tuning_runs=max_tuning_runs,
                            log_post_training_metrics=log_post_training_metrics,
                            log_model_signatures=log_model_signatures, extra_tags=dict(extra_tags or {}),
                            extra={k: v for k, v in extra.items() if v is not None})  # fmt: skip
        _configure("sklearn", disable, settings)

    def xgboost(
        self,
        importance_types: Sequence[str] | None = None,
        log_input_examples: bool = False,
        log_model_signatures: bool = True,
        log_models: bool = True,
        log_datasets: bool = True,
        disable: bool = False,
        exclusive: bool = False,
        disable_for_unsupported_versions: bool = False,
        silent: bool = False,
        registered_model_name: str | None = None,
        model_format: str = "ubj",
        extra_tags: Mapping[str, Any] | None = None,
    ) -> None:
        """XGBoost (``mlflow.xgboost.autolog``; ``xgboost.train`` and the sklearn wrappers): params,
        datasets, metrics per iteration, feature importance (``importance_types``, default
        ``["weight"]``), the model (UBJSON: another ``model_format`` is not supported), registered
        as a new version of ``registered_model_name`` when given."""
        _unsupported("xgboost", silent, model_format=None if model_format == "ubj" else model_format)
        kinds = ("weight",) if importance_types is None else tuple(importance_types)
        extra = {"importance_types": kinds, "registered_model_name": registered_model_name}
        settings = Settings(log_models=log_models, log_input_examples=log_input_examples, log_datasets=log_datasets,
                            exclusive=exclusive, silent=silent, log_model_signatures=log_model_signatures,
                            extra_tags=dict(extra_tags or {}), extra=extra)  # fmt: skip
        _configure("xgboost", disable, settings)

    def lightgbm(
        self,
        log_input_examples: bool = False,
        log_model_signatures: bool = True,
        log_models: bool = True,
        log_datasets: bool = True,
        disable: bool = False,
        exclusive: bool = False,
        disable_for_unsupported_versions: bool = False,
        silent: bool = False,
        registered_model_name: str | None = None,
        extra_tags: Mapping[str, Any] | None = None,
    ) -> None:
        """LightGBM (``mlflow.lightgbm.autolog``; ``lightgbm.train`` and the sklearn wrappers): params,
        datasets, metrics per iteration, feature importance, the model, registered as a new version
        of ``registered_model_name`` when given."""
        settings = Settings(log_models=log_models, log_input_examples=log_input_examples, log_datasets=log_datasets,
                            exclusive=exclusive, silent=silent, log_model_signatures=log_model_signatures,
                            extra_tags=dict(extra_tags or {}),
                            extra={"registered_model_name": registered_model_name})  # fmt: skip
        _configure("lightgbm", disable, settings)

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


def turn_off() -> list[ActiveRun]:
    """Undo every library's patching, leaving the runs autologging kept open to the caller
    (``gittrack.reset_state`` ends them); returns those runs."""
    runs = _runs.take_open_runs()
    for library in INTEGRATIONS:
        _configure(library, True, Settings())
    return runs
