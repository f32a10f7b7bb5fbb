"""Ray Tune: ``GittrackCallback`` records each Tune trial as a run nested under one parent run.

```python
from ray import tune
from gittrack.integrations.ray import GittrackCallback

tuner = tune.Tuner(train, param_space={"lr": tune.loguniform(1e-4, 1e-1)},
                   tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=20),
                   run_config=tune.RunConfig(callbacks=[GittrackCallback(experiment="tune")]))
tuner.fit()
```

The callback runs in the Tune driver. Each trial's run has the trial's config as params
(nested keys joined with ``.``), every numeric value it reports as a metric (step =
``training_iteration``, Tune's own bookkeeping left out), and the tags ``gittrack.sweep`` (the
parent's id), ``gittrack.trial`` and ``ray.trial_id``; it ends FINISHED, or FAILED when the trial
errored. The parent is the active run, or one the callback starts (and ends with the
experiment); with ``metric`` and ``mode`` it gets ``best_<metric>`` after each trial.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Mapping
from typing import Any

from ray.tune import Callback

from gittrack.integrations import _common

LIBRARY = "ray"
# keys of Tune's results that describe the bookkeeping, not the model
SKIPPED = {
    "training_iteration", "timestamp", "time_this_iter_s", "time_total_s", "time_since_restore", "pid",
    "iterations_since_restore", "timesteps_since_restore", "done", "trial_id", "date", "hostname", "node_ip",
    "config", "experiment_tag", "should_checkpoint", "checkpoint_dir_name", "timesteps_total", "episodes_total",
}  # fmt: skip


def _flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, name + "."))
        else:
            out[_common.key(name)] = _common.param_value(value)
    return out


class GittrackCallback(Callback):
    """A Ray Tune callback (``RunConfig(callbacks=[GittrackCallback()])``)."""

    def __init__(
        self,
        experiment: str | None = None,
        metric: str | None = None,
        mode: str | None = None,
        tags: Mapping[str, Any] | None = None,
        repo: str | os.PathLike | None = None,
    ) -> None:
        self.experiment, self.metric, self.mode = experiment, metric, mode
        self.tags = dict(tags or {})
        self.repo = repo
        self._lock = threading.Lock()
        self._client: Any = None
        self._parent: str | None = None
        self._owned = False
        self._runs: dict[str, str] = {}  # trial id -> run id
        self._numbers: dict[str, int] = {}
        self._best: float | None = None
        self._finished = 0

    @property
    def parent_run_id(self) -> str | None:
        return self._parent

    def __getstate__(self) -> dict[str, Any]:  # Tune pickles its callbacks with the experiment's state
        state = dict(self.__dict__)
        state["_lock"], state["_client"] = None, None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()
        if self._parent is not None:
            import gittrack

            self._client = gittrack.Client(self.repo)

    def _ensure_parent(self) -> str:
        import gittrack

        if self._parent is None:
            active = gittrack.active_run()
            if active is not None:
                self._client, self._parent = gittrack.Client(active.client.repo_path), active.run_id
            else:
                self._client = gittrack.Client(self.repo)
                run = self._client.create_run(self.experiment, params=None, tags=None)
                self._parent, self._owned = run.info.run_id, True
            if self.experiment is None:
                self.experiment = self._client.get_run(self._parent).info.experiment
            self._client.set_tags(self._parent, {"gittrack.sweep": self._parent, **self.tags})
        return self._parent

    def setup(self, stop: Any = None, num_samples: int | None = None, total_num_samples: int | None = None,
              **info: Any) -> None:  # fmt: skip
        with self._lock:
            self._ensure_parent()

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        with self._lock:
            parent = self._ensure_parent()
            number = self._numbers.setdefault(trial.trial_id, len(self._numbers))
            tags = {**self.tags, "gittrack.sweep": parent, "gittrack.trial": str(number),
                    "ray.trial_id": trial.trial_id}  # fmt: skip
            params = _flatten(trial.config or {})
            run = self._client.create_run(self.experiment, run_name=f"tune-{trial.trial_id}", params=params,
                                          tags=tags, parent_run_id=parent)  # fmt: skip
            self._runs[trial.trial_id] = run.info.run_id

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        with self._lock:
            run_id = self._runs.get(trial.trial_id)
            if run_id is None:
                return
            step = int(result.get("training_iteration") or 0)
            metrics = {_common.key(k): float(v) for k, v in result.items()
                       if k not in SKIPPED and isinstance(v, int | float) and not isinstance(v, bool)}  # fmt: skip
            if metrics:
                self._client.log_metrics(run_id, _common.finite_metrics(metrics), step=step)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._end(trial, "FINISHED")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._end(trial, "FAILED")

    def _end(self, trial: Any, status: str) -> None:
        with self._lock:
            run_id = self._runs.pop(trial.trial_id, None)
            if run_id is None:
                return
            self._client.set_terminated(run_id, status)
            self._finished += 1
            value = (trial.last_result or {}).get(self.metric) if self.metric else None
            if status == "FINISHED" and isinstance(value, int | float) and math.isfinite(value):
                better = self._best is None or (value < self._best if self.mode != "max" else value > self._best)
                if better:
                    self._best = float(value)
                    self._client.set_tags(self._parent, {"gittrack.best_run_id": run_id})
            if self._best is not None and self._parent is not None:
                self._client.log_metric(self._parent, f"best_{self.metric}", self._best, step=self._finished)

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        with self._lock:
            for trial_id, run_id in list(self._runs.items()):
                self._client.set_terminated(run_id, "KILLED")
                del self._runs[trial_id]
            if self._owned and self._parent is not None:
                self._client.set_terminated(self._parent, "FINISHED")
                self._owned = False


__all__ = ["GittrackCallback"]
