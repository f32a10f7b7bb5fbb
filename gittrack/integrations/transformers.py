"""Hugging Face transformers: ``GittrackCallback``, a ``TrainerCallback`` that records a ``Trainer`` run.

```python
from gittrack.integrations.transformers import GittrackCallback

trainer = Trainer(model=model, args=args, train_dataset=train, callbacks=[GittrackCallback()])
```

(or ``gittrack.autolog()``, which adds it to every ``Trainer``). At the start of training the
``TrainingArguments`` and the model's config become params (the arguments win where both have
a key), every ``logs`` dict the trainer reports (``loss``, ``learning_rate``, ``grad_norm``,
``eval_loss``...) is logged with ``step`` = the global step, and at the end the model is
logged as ``model`` in the ``transformers`` flavor (``save_pretrained``; loaded back with
``from_pretrained``). The callback logs into the active run, or starts one at the start of
training and ends it at the end. Only the main process logs.
"""

from __future__ import annotations

import os
from typing import Any

from transformers import TrainerCallback

from gittrack.integrations import _common
from gittrack.integrations._patch import safely

LIBRARY = "transformers"


class GittrackCallback(TrainerCallback):
    """Records a ``Trainer``'s params, logged metrics and final model in a gittrack run."""

    def __init__(self, log_model: bool = True, experiment: str | None = None,
                 repo: str | os.PathLike | None = None) -> None:  # fmt: skip
        self.log_model = log_model
        self.experiment = experiment
        self.repo = repo
        self._active: Any = None
        self._run_id: str | None = None
        self._created = False

    @property
    def run_id(self) -> str | None:
        """The run's id once training has started (also after it has ended)."""
        return self._run_id

    def _start(self) -> Any:
        import gittrack

        if self._active is None:
            active = gittrack.active_run()
            if active is None:
                active = gittrack.start_run(self.experiment, repo=self.repo)
                self._created = True
            self._active = active
            self._run_id = active.run_id
        return self._active

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if not state.is_world_process_zero:
            return
        active = safely(LIBRARY, "the run", self._start)
        if active is None:
            return
        params: dict[str, Any] = {}
        config = getattr(model, "config", None)
        if config is not None and hasattr(config, "to_dict"):
            params.update(config.to_dict())
        params.update(args.to_dict())
        cleaned = {_common.key(k): _common.param_value(v) for k, v in params.items()}
        safely(LIBRARY, "params", _log_params, active, cleaned)

    def on_log(self, args, state, control, logs=None, model=None, **kwargs):
        if self._active is None or not state.is_world_process_zero or not logs:
            return
        metrics = {k: v for k, v in logs.items() if isinstance(v, int | float) and not isinstance(v, bool)}
        safely(LIBRARY, "metrics", self._active.client.log_metrics, self._active.run_id,
               _common.finite_metrics(metrics), state.global_step)  # fmt: skip

    def on_train_end(self, args, state, control, model=None, **kwargs):
        if self._active is None or not state.is_world_process_zero:
            return
        active = self._active
        if self.log_model and model is not None:
            safely(LIBRARY, "the model", active.client.log_model, active.run_id, model, "model", "transformers")
        if self._created:
            from gittrack._fluent import close_run, release_run

            self._active = None
            release_run(active)
            safely(LIBRARY, "the run", close_run, active, "FINISHED")


def _log_params(active: Any, params: dict[str, Any]) -> None:
    for key, value in params.items():
        try:
            active.client.log_param(active.run_id, key, value)
        except Exception:  # noqa: BLE001, S112 - a param logged before with another value is kept
            continue


__all__ = ["GittrackCallback"]
