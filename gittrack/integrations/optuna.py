"""Optuna: ``GittrackCallback`` records each trial as a nested run under the study's run.

```python
from gittrack.integrations.optuna import GittrackCallback

with gittrack.start_run(run_name="tune-rf"):
    study.optimize(objective, n_trials=20, callbacks=[GittrackCallback()])
```

Each finished trial becomes a child run (named ``<study>-trial-<n>``) with the trial's params,
its value as the metric ``value`` (``value_0``, ``value_1``... for several objectives, or the
names given as ``metric_name``), its intermediate values as the metric ``intermediate_value``
with ``step`` = the reported step, and the tags ``optuna.trial_number``, ``optuna.state``
(COMPLETE, PRUNED, FAIL) and ``optuna.study_name``. A failed trial's run ends FAILED. The
parent run gets the metric ``best_value`` (step = trial number) and the tags
``optuna.best_trial`` and ``optuna.best_run_id``, updated after every trial. Without an
active run the callback starts the parent (named after the study) on the first trial; it
ends when the process exits or the next autologged training starts a run.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from gittrack.integrations import _common, _runs
from gittrack.integrations._patch import safely

LIBRARY = "optuna"


class GittrackCallback:
    """An Optuna callback (``study.optimize(..., callbacks=[GittrackCallback()])``); trials may run in threads."""

    def __init__(
        self,
        metric_name: str | Sequence[str] = "value",
        experiment: str | None = None,
        tags: Mapping[str, Any] | None = None,
        repo: str | os.PathLike | None = None,
    ) -> None:
        self.metric_name = metric_name
        self.experiment = experiment
        self.tags = dict(tags or {})
        self.repo = repo
        self._lock = threading.Lock()
        self._parent: Any = None
        self._experiment: str | None = None
        self._runs: dict[int, str] = {}  # trial number -> child run id

    @property
    def parent_run_id(self) -> str | None:
        return self._parent.run_id if self._parent is not None else None

    def _parent_run(self, study: Any) -> Any:
        import gittrack

        if self._parent is None:
            active = gittrack.active_run()
            if active is None:
                active = gittrack.start_run(self.experiment, run_name=study.study_name, repo=self.repo)
                from gittrack._fluent import release_run

                release_run(active)
                _runs.keep_open(active)
            self._parent = active
            self._experiment = active.client.get_run(active.run_id).info.experiment
        return self._parent

    def _metric_names(self, count: int) -> list[str]:
        if isinstance(self.metric_name, str):
            return [self.metric_name] if count == 1 else [f"{self.metric_name}_{i}" for i in range(count)]
        names = list(self.metric_name)
        if len(names) != count:
            from gittrack.errors import UsageError

            raise UsageError(f"metric_name has {len(names)} names for {count} objectives; give one name per objective")
        return names

    def __call__(self, study: Any, trial: Any) -> None:
        with self._lock:
            safely(LIBRARY, "the trial", self._log_trial, study, trial)

    def _log_trial(self, study: Any, trial: Any) -> None:
        parent = self._parent_run(study)
        client = parent.client
        state = trial.state.name
        tags = {**self.tags, "optuna.trial_number": trial.number, "optuna.state": state,
                "optuna.study_name": study.study_name}  # fmt: skip
        child = client.create_run(
            experiment=self._experiment,
            run_name=f"{study.study_name}-trial-{trial.number}",
            params={_common.key(k): _common.param_value(v) for k, v in trial.params.items()},
            tags=tags,
            parent_run_id=parent.run_id,
        )
        run_id = child.info.run_id
        self._runs[trial.number] = run_id
        values = trial.values or []
        if values:
            metrics = dict(zip(self._metric_names(len(values)), values, strict=True))
            client.log_metrics(run_id, _common.finite_metrics(metrics), step=0)
        for step, value in sorted(trial.intermediate_values.items()):
            client.log_metric(run_id, "intermediate_value", float(value), step=int(step))
        client.set_terminated(run_id, "FAILED" if state == "FAIL" else "FINISHED")
        self._log_best(study, parent, trial.number)

    def _log_best(self, study: Any, parent: Any, number: int) -> None:
        if len(study.directions) != 1:
            return
        try:
            best = study.best_trial
        except ValueError:  # no trial has completed yet
            return
        client = parent.client
        client.log_metric(parent.run_id, "best_value", float(best.value), step=number)
        client.set_tags(parent.run_id, {"optuna.best_trial": best.number,
                                        "optuna.best_run_id": self._runs.get(best.number, "")})  # fmt: skip


__all__ = ["GittrackCallback"]
