"""PyTorch Lightning: ``GittrackLogger``, a Lightning ``Logger`` that writes a gittrack run.

```python
from gittrack.integrations.lightning import GittrackLogger

trainer = lightning.pytorch.Trainer(max_epochs=5, logger=GittrackLogger(experiment="mnist"))
trainer.fit(model, train_loader, val_loader)
```

Hyperparameters (``save_hyperparameters``) become params, every ``self.log`` metric is logged
with ``step`` = the trainer's global step, the checkpoints saved by ``ModelCheckpoint`` become
artifacts under ``checkpoints/``, and the best checkpoint (else the final module) is logged as
the model ``model`` in the ``lightning`` flavor. The logger logs into the active run, or starts
one on first use and ends it when training ends (FINISHED, or FAILED when training failed).
"""

from __future__ import annotations

import os
import tempfile
from argparse import Namespace
from collections.abc import Mapping
from pathlib import Path
from typing import Any

try:
    import lightning.pytorch as pl
except ImportError:  # the older package name
    import pytorch_lightning as pl  # type: ignore[no-redef]  # the same API under its older name

from gittrack.integrations import _common
from gittrack.integrations._patch import safely


def _logger_class(base: Any) -> type:
    """The logger class for one Lightning package (``lightning.pytorch`` or ``pytorch_lightning``)."""
    rank_zero_only = base.utilities.rank_zero_only

    class GittrackLogger(base.loggers.Logger):
        """A Lightning ``Logger`` that records the training as a gittrack run."""

        LIBRARY = "lightning"

        def __init__(
            self,
            experiment: str | None = None,
            run_name: str | None = None,
            tags: Mapping[str, Any] | None = None,
            log_model: bool = True,
            checkpoints: bool = True,
            repo: str | os.PathLike | None = None,
        ) -> None:
            super().__init__()
            self._experiment_name = experiment
            self._run_name = run_name
            self._tags = dict(tags or {})
            self._log_model = log_model
            self._checkpoints = checkpoints
            self._repo = repo
            self._active: Any = None
            self._run_id: str | None = None
            self._created = False
            self._module: Any = None
            self._checkpoint_callback: Any = None
            self._save_dir = tempfile.mkdtemp(prefix="gittrack-lightning-")

        # -- the run ------------------------------------------------------------------------
        @property
        def run(self) -> Any:
            """The ``ActiveRun`` this logger writes (started on first use)."""
            if self._active is None:
                import gittrack

                active = gittrack.active_run()
                if active is None:
                    active = gittrack.start_run(self._experiment_name, self._run_name, tags=self._tags, repo=self._repo)
                    self._created = True
                elif self._tags:
                    active.client.set_tags(active.run_id, self._tags)
                self._active = active
                self._run_id = active.run_id
            return self._active

        @property
        def experiment(self) -> Any:
            """The ``gittrack.Client`` writing the run (``logger.experiment.log_metric(logger.run_id, ...)``)."""
            return self.run.client

        @property
        def run_id(self) -> str:
            """The run's id (also once training has ended it)."""
            return self._run_id or self.run.run_id

        @property
        def name(self) -> str:
            return self._experiment_name or "gittrack"

        @property
        def version(self) -> str:
            return self.run_id[:12]

        @property
        def save_dir(self) -> str:
            """Where ``ModelCheckpoint`` writes before the checkpoints are stored in the run (a temporary folder)."""
            return self._save_dir

        # -- what Lightning calls -----------------------------------------------------------
        @rank_zero_only
        def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
            if isinstance(params, Namespace):
                params = vars(params)
            flat = _common.flatten(dict(params or {}))
            safely(self.LIBRARY, "hyperparameters", self._log_params, flat)

        def _log_params(self, params: dict[str, Any]) -> None:
            cleaned = {_common.key(k): _common.param_value(v) for k, v in params.items()}
            for key, value in cleaned.items():
                try:
                    self.run.client.log_param(self.run_id, key, value)
                except Exception:  # noqa: BLE001, S112 - a param logged before with another value is kept
                    continue

        @rank_zero_only
        def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
            values = {k: float(v.item() if hasattr(v, "item") else v) for k, v in metrics.items()}
            safely(self.LIBRARY, "metrics", self.run.client.log_metrics, self.run_id,
                   _common.finite_metrics(values), step)  # fmt: skip

        @rank_zero_only
        def log_graph(self, model: Any, input_array: Any = None) -> None:
            self._module = model  # the class to rebuild the best checkpoint with

        def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
            self._checkpoint_callback = checkpoint_callback

        @rank_zero_only
        def finalize(self, status: str) -> None:
            if self._active is None:
                return
            if self._checkpoints:
                safely(self.LIBRARY, "checkpoints", self._log_checkpoints)
            if self._log_model and self._module is not None and status == "success":
                safely(self.LIBRARY, "the model", self._log_best_model)
            if self._created:
                from gittrack._fluent import close_run, release_run

                active, self._active = self._active, None
                release_run(active)
                close_run(active, "FINISHED" if status == "success" else "FAILED")

        # -- checkpoints and the model ------------------------------------------------------
        def _checkpoint_files(self) -> list[Path]:
            callback = self._checkpoint_callback
            if callback is None:
                return []
            paths = {*getattr(callback, "best_k_models", {}), getattr(callback, "last_model_path", "")}
            paths.add(getattr(callback, "best_model_path", ""))
            return sorted(Path(p) for p in paths if p and Path(p).is_file())

        def _log_checkpoints(self) -> None:
            for path in self._checkpoint_files():
                self.run.client.log_artifact(self.run_id, path, "checkpoints")

        def _log_best_model(self) -> None:
            callback = self._checkpoint_callback
            best = getattr(callback, "best_model_path", "") if callback is not None else ""
            model = self._module
            if best and Path(best).is_file():
                model = type(self._module).load_from_checkpoint(best, map_location="cpu")
            self.run.client.log_model(self.run_id, model, "model", flavor="lightning")

    return GittrackLogger


GittrackLogger = _logger_class(pl)

__all__ = ["GittrackLogger"]
