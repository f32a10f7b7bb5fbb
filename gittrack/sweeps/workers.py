"""Workers: each a process (or, for one worker, the calling process) that asks the study for
trials and runs them as runs until the sweep's total is reached or the sweep is stopped.

Workers share nothing but the study's storage and the git repository: each commits its own runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gittrack.sweeps import study as studies
from gittrack.sweeps.space import suggest

CHECKPOINT_SECONDS = "0.5"  # trial commands checkpoint this often so that pruning sees their metric


@dataclass
class Job:
    """What one worker needs; picklable, so that it can go to a process (or a Ray task)."""

    repo: str
    url: str
    sweep_id: str
    worker: int
    session: int
    parent_id: str | None
    objective: Callable[[dict[str, Any]], Any] | None = None
    command: list[str] | None = None
    poll: float = 0.5
    quiet: bool = False
    cwd: str | None = None  # where commands run (a Ray task starts elsewhere)


class _Stop(KeyboardInterrupt):
    """SIGTERM reached a worker: end the trial in progress as interrupted (its run KILLED), then exit."""


def work(job: Job, after_trial: Callable[[int, str], None] | None = None) -> int:
    """Run trials until the total is reached or the sweep is stopped; how many this worker ran.
    ``after_trial(number, run_id)`` follows each trial (the parent's bookkeeping, in-process)."""
    import gittrack
    from gittrack.sweeps import trials

    os.environ.setdefault("GITTRACK_CHECKPOINT_INTERVAL", CHECKPOINT_SECONDS)
    poll = max(0.05, min(job.poll, float(os.environ["GITTRACK_CHECKPOINT_INTERVAL"])))  # read as often as written
    study, settings = studies.load_study(job.url, job.sweep_id)
    study.sampler = studies.make_sampler(settings, studies.worker_seed(settings.seed, job.worker, job.session))
    study.pruner = studies.make_pruner(settings)
    client = gittrack.Client(job.repo)
    params_spec = settings.params
    done = 0
    from optuna.trial import TrialState

    while not studies.is_stopped(study):
        trial = study.ask()
        if studies.rank(study, trial.number) >= settings.trials:
            trial.set_user_attr(studies.SKIPPED, "surplus")
            study.tell(trial, state=TrialState.FAIL)
            break
        try:
            params = suggest(trial, params_spec)
            if job.command is not None:
                outcome = trials.run_command(client, settings, job.parent_id, trial, params, job.command, poll,
                                             job.quiet, job.cwd)  # fmt: skip
            else:
                assert job.objective is not None
                outcome = trials.run_function(client, settings, job.parent_id, trial, params, job.objective)
        except (KeyboardInterrupt, SystemExit, _Stop):
            _interrupted(study, trial)
            raise
        if outcome.state == "INTERRUPTED":  # Ctrl-C or SIGTERM went on to the command
            _interrupted(study, trial)
            raise KeyboardInterrupt
        if outcome.message:
            trial.set_user_attr("gittrack.message", outcome.message[:500])
        if outcome.state == "COMPLETE":
            study.tell(trial, outcome.value)
        else:
            study.tell(trial, state=TrialState.PRUNED if outcome.state == "PRUNED" else TrialState.FAIL)
        done += 1
        if after_trial is not None:
            after_trial(trial.number, outcome.run_id)
    return done


def _interrupted(study: Any, trial: Any) -> None:
    from optuna.trial import TrialState

    with contextlib.suppress(Exception):
        trial.set_user_attr(studies.SKIPPED, "interrupted")
        study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)


def process_main(job: Job) -> None:
    """A worker process: SIGTERM and SIGINT end the trial in progress, then the process."""

    def stop(signum: int, frame: Any) -> None:
        raise _Stop()

    with contextlib.suppress(ValueError):  # not the main thread (a Ray task may run in another)
        signal.signal(signal.SIGTERM, stop)
    os.environ.pop("GITTRACK_RUN_ID", None)  # trials are runs of their own, never the caller's run
    with contextlib.suppress(_Stop, KeyboardInterrupt):
        work(job)


PRELOAD = ["gittrack.sweeps.warm"]


def _context() -> Any:
    import multiprocessing

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(PRELOAD)
    return context


def warm_up() -> None:
    """Start the fork server now, in the background, while the sweep sets itself up."""
    import threading

    context = _context()
    if context.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        threading.Thread(target=forkserver.ensure_running, name="gittrack-sweep-warm-up", daemon=True).start()


def start_processes(jobs: list[Job]) -> list[Any]:
    """One process per job, none a copy of this one (whose open runs must not be written twice):
    forked from a fresh server process that imported gittrack and Optuna once (where the OS has
    one), so that workers start in milliseconds rather than each importing them; spawned elsewhere."""
    context = _context()
    procs = [context.Process(target=process_main, args=(job,), name=f"gittrack-sweep-{job.worker}") for job in jobs]
    for proc in procs:
        proc.start()
    return procs
