"""One trial as one run: a command (``gittrack run``'s path, with the sampled values in place of
``{name}``) or a Python function (a run started with ``gittrack.start_run``).

Pruning: while a command runs, its run's history of the sweep's metric is read every ``poll``
seconds (the command's checkpoints; the sweep sets a short checkpoint interval for it) and each
new point goes to Optuna's ``trial.report``; when the pruner says so the command is stopped
(SIGTERM), its run ends KILLED and gets the tag ``gittrack.pruned``. A Python objective reports
with :func:`report`, which raises :class:`TrialPruned` for the same outcome.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gittrack.errors import GittrackError
from gittrack.sweeps.space import fill_command
from gittrack.sweeps.study import Settings

PRUNED_TAG = "gittrack.pruned"
SWEEP_TAG = "gittrack.sweep"
TRIAL_TAG = "gittrack.trial"


class TrialPruned(Exception):
    """Raised by :func:`report` when the sweep's pruner stops the trial."""


@dataclass
class Outcome:
    """How a trial ended: Optuna's state name, its value, its run."""

    state: str  # COMPLETE, PRUNED, FAIL, or INTERRUPTED (the worker was stopped)
    value: float | None
    run_id: str
    message: str = ""


_current = threading.local()


def report(value: float, step: int | None = None) -> None:
    """Log the sweep's metric in the current trial's run and tell Optuna; raise
    :class:`TrialPruned` when the pruner stops the trial (a Python objective only)."""
    import gittrack

    context: _Reporting | None = getattr(_current, "trial", None)
    if context is None:
        raise GittrackError("gittrack.sweeps.report() is for an objective that gittrack.sweep() is running")
    step = context.reports if step is None else step
    context.reports += 1
    gittrack.log_metric(context.metric, value, step=step)
    context.trial.report(float(value), step)
    if context.trial.should_prune():
        raise TrialPruned(f"trial {context.trial.number} pruned at step {step}")


@dataclass
class _Reporting:
    """The trial a Python objective is running in this thread, for :func:`report`."""

    trial: Any
    metric: str
    reports: int = 0


def run_function(client: Any, settings: Settings, parent_id: str | None, trial: Any, params: dict[str, Any],
                 objective: Callable[[dict[str, Any]], Any]) -> Outcome:  # fmt: skip
    """Run ``objective(params)`` inside a run of its own; its return value (or, if None, the last
    value of the metric it logged) is the trial's value."""
    import gittrack

    active = gittrack.start_run(settings.experiment, run_name=_name(settings, trial), params=params,
                                tags=_tags(settings, trial), nested=True, repo=client.repo_path,
                                parent_run_id=parent_id, log_system_metrics=False)  # fmt: skip
    _current.trial = _Reporting(trial, settings.metric)
    try:
        returned = objective(params)
    except (TrialPruned, _optuna_pruned()):
        gittrack.set_tag(PRUNED_TAG, "true")
        gittrack.end_run("KILLED")
        return Outcome("PRUNED", None, active.run_id)
    except BaseException as exc:
        gittrack.end_run("KILLED" if isinstance(exc, KeyboardInterrupt | SystemExit) else "FAILED")
        if isinstance(exc, KeyboardInterrupt | SystemExit):
            raise
        return Outcome("FAIL", None, active.run_id, f"{type(exc).__name__}: {exc}")
    finally:
        _current.trial = None
    if returned is not None:
        try:
            value = float(returned)
        except (TypeError, ValueError):
            gittrack.end_run("FAILED")
            return Outcome("FAIL", None, active.run_id, f"the objective returned {returned!r}, not a number")
        gittrack.log_metric(settings.metric, value)
    gittrack.end_run("FINISHED")
    if returned is None:
        return _from_run(client, settings, active.run_id)
    if not math.isfinite(value):
        return Outcome("FAIL", None, active.run_id, f"the objective returned {value}")
    return Outcome("COMPLETE", value, active.run_id)


def _optuna_pruned() -> type[BaseException]:
    import optuna

    return optuna.TrialPruned


def run_command(client: Any, settings: Settings, parent_id: str | None, trial: Any, params: dict[str, Any],
                command: list[str], poll: float = 0.5, quiet: bool = False,
                cwd: str | None = None) -> Outcome:  # fmt: skip
    """Run the command as a run with the sampled values, reporting its metric to Optuna as it goes."""
    filled = fill_command(command, params)
    watcher = _Watcher(client, settings.metric, trial, poll)
    sink = None if not quiet else (lambda chunk: None)
    run, code = client.run_command(
        filled, settings.experiment, _name(settings, trial), params, _tags(settings, trial),
        on_stdout=sink, on_stderr=sink, on_start=watcher.started, system_metrics=False,
        cwd=cwd, parent_run_id=parent_id, on_process=watcher.watch, on_exit=watcher.exited,
    )  # fmt: skip
    watcher.join()
    watcher.read()  # points logged after the last look still inform later trials' pruning
    run_id = run.info.run_id
    if watcher.pruned:
        return Outcome("PRUNED", None, run_id)
    if run.info.status == "KILLED":  # a signal reached the worker and went on to the command
        return Outcome("INTERRUPTED", None, run_id)
    if code != 0:
        return Outcome("FAIL", None, run_id, f"the command exited with status {code}")
    return _from_run(client, settings, run_id)


def _from_run(client: Any, settings: Settings, run_id: str) -> Outcome:
    value = client.get_run(run_id).data.metrics.get(settings.metric)
    if value is None:
        return Outcome("FAIL", None, run_id, f"the trial logged no metric {settings.metric!r}")
    if not math.isfinite(value):
        return Outcome("FAIL", None, run_id, f"the trial's {settings.metric} is {value}")
    return Outcome("COMPLETE", float(value), run_id)


def _name(settings: Settings, trial: Any) -> str:
    return f"sweep-{settings.sweep_id[:8]}-trial-{trial.number}"


def _tags(settings: Settings, trial: Any) -> dict[str, Any]:
    return {SWEEP_TAG: settings.sweep_id, TRIAL_TAG: str(trial.number)}


class _Watcher:
    """Reads a running trial's metric history and stops the command when the pruner says so."""

    def __init__(self, client: Any, metric: str, trial: Any, poll: float) -> None:
        self.client, self.metric, self.trial, self.poll = client, metric, trial, poll
        self.run_id: str | None = None
        self.steps: set[int] = set()
        self.pruned = False
        self._thread: threading.Thread | None = None
        self._proc: subprocess.Popen | None = None

    def started(self, run: Any) -> None:
        self.run_id = run.info.run_id

    def watch(self, proc: subprocess.Popen) -> None:
        self._proc = proc
        self._thread = threading.Thread(target=self._loop, daemon=True, name="gittrack-sweep-watch")
        self._thread.start()

    def exited(self, code: int) -> None:
        """The command ended (its run not yet): a command stopped for pruning that had finished
        before the signal came (exit code 0) is a completed trial after all."""
        self.join()
        if self.pruned and code == 0:
            self.pruned = False
            with contextlib.suppress(GittrackError):
                self.client.delete_tag(self.run_id, PRUNED_TAG)

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def _loop(self) -> None:
        proc = self._proc
        assert proc is not None
        while True:
            try:
                proc.wait(timeout=self.poll)
                return
            except subprocess.TimeoutExpired:
                pass
            if self.read() and self.trial.should_prune():
                self.pruned = True
                with contextlib.suppress(GittrackError):
                    self.client.set_tag(self.run_id, PRUNED_TAG, "true")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(proc.pid, signal.SIGTERM)
                return

    def read(self) -> bool:
        """Report the points not reported yet; whether there were any."""
        if self.run_id is None:
            return False
        try:
            history = self.client.get_metric_history(self.run_id, self.metric)
        except GittrackError:
            return False
        new = False
        for point in history:
            if point.step not in self.steps and math.isfinite(point.value):
                self.steps.add(point.step)
                self.trial.report(float(point.value), int(point.step))
                new = True
        return new
