"""``gittrack.sweep``: start, resume or join a sweep, and read its state (status, best, stop).

The sweep's parent run is the run this process had active (under ``gittrack run``, or inside
``with gittrack.start_run()``) or one it creates; its id is the sweep's id. It holds the space,
sampler, seed, pruner, metric, direction, total and the Optuna study's name as params, the tag
``gittrack.sweep``, and the best value so far as the metric ``best_<metric>`` (step = trials
finished), updated by the process that started (or resumed) the sweep as trials finish.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gittrack.errors import GittrackError, UsageError
from gittrack.sweeps import study as studies
from gittrack.sweeps.space import Param, dump_space, load_space, parse_space
from gittrack.sweeps.trials import SWEEP_TAG, TRIAL_TAG
from gittrack.sweeps.workers import Job, start_processes, warm_up, work

BACKENDS = ("process", "ray")
POLL_SECONDS = 0.5


@dataclass
class SweepResult:
    """Where a sweep stands: its id, study, parent run, trial counts and best trial."""

    sweep_id: str
    study_name: str
    storage: str
    parent_run_id: str
    experiment: str
    metric: str
    direction: str
    trials: int
    counts: dict[str, int] = field(default_factory=dict)
    stopped: bool = False
    best_value: float | None = None
    best_trial: int | None = None
    best_run_id: str | None = None
    best_params: dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> int:
        return sum(n for state, n in self.counts.items() if state in ("COMPLETE", "PRUNED", "FAIL"))

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__} | {"finished": self.finished}


def sweep(
    objective: Callable[[dict[str, Any]], Any] | None = None,
    space: Mapping[str, Any] | str | os.PathLike | None = None,
    *,
    command: list[str] | None = None,
    experiment: str | None = None,
    trials: int = 20,
    workers: int = 1,
    metric: str = "value",
    direction: str = "minimize",
    sampler: str = "tpe",
    pruner: str = "median",
    seed: int | None = None,
    storage: str | None = None,
    resume: str | None = None,
    join: str | None = None,
    backend: str = "process",
    repo: str | os.PathLike | None = None,
    quiet: bool = False,
    on_start: Callable[[SweepResult], None] | None = None,
) -> SweepResult:
    """Run a hyperparameter search where every trial is a run (docs/sweeps.md).

    ``objective(params)`` returns the value to optimise (or None: the last value of ``metric`` it
    logged); or ``command`` is run with each ``{name}`` replaced by the sampled value, and the
    last value of ``metric`` it logs is the value. ``space``: a mapping as ``space.yaml`` holds,
    or the path of such a file. ``resume`` continues a sweep of this repository that was killed
    or stopped; ``join`` adds this machine's workers to a sweep in ``storage``.
    """
    import gittrack

    if (objective is None) == (command is None) and not (resume or join):
        raise UsageError("give either an objective function or a command to run")
    if resume and join:
        raise UsageError("--resume and --join cannot be used together")
    if workers < 1:
        raise UsageError(f"--workers must be at least 1 (got {workers})")
    if backend not in BACKENDS:
        raise UsageError(f"backend {backend!r} is not one of {', '.join(BACKENDS)}")
    if workers > 1 and backend == "process":
        warm_up()
    client = gittrack.Client(repo)
    repo_path = client.repo_path
    if command is not None:
        _check_program(command)
    owned_parent = False
    if resume or join:
        sweep_id, url = studies.locate(repo_path, resume or join or "", storage)
        study, settings = studies.load_study(url, sweep_id)
        if command is not None:
            _check_command(command, settings.params)
        parent_id: str | None = settings.sweep_id
        if resume:
            _interrupt(client, study, sweep_id)
            studies.set_stopped(study, False)
            owned_parent = _reattach(client, settings.sweep_id)
            bookkeeping = owned_parent
        else:
            bookkeeping = False
        studies.remember(repo_path, sweep_id, url)
    else:
        if space is None:
            raise UsageError("give the search space (a mapping or a space.yaml file)")
        params = load_space(os.fspath(space)) if isinstance(space, str | os.PathLike) else parse_space(space)
        if sampler == "grid":
            trials = min(trials, _grid_size(params))
        studies.check_choices(sampler, pruner, direction, trials, params)
        if command is not None:
            _check_command(command, params)
        active = gittrack.active_run()
        if active is not None:  # the run this process has open is the parent: write it through its client
            client, parent_id, owned_parent = active.client, active.run_id, False
        else:
            parent_id, owned_parent = client.create_run(experiment).info.run_id, True
        sweep_id = parent_id
        url = storage or studies.journal_url(repo_path, sweep_id)
        settings = studies.Settings(sweep_id, _experiment_of(client, parent_id), metric, direction,
                                    dump_space(params), trials, sampler, pruner, seed, list(command or []),
                                    backend)  # fmt: skip
        try:
            study = studies.create_study(url, settings)
        except BaseException:
            if owned_parent:
                client.set_terminated(parent_id, "FAILED", {"type": "Storage", "message": "could not create the study"})
            raise
        studies.remember(repo_path, sweep_id, url)
        client.log_params(parent_id, {
            "sweep.space": json.dumps(settings.space, sort_keys=True), "sweep.sampler": sampler,
            "sweep.seed": "" if seed is None else seed, "sweep.pruner": pruner, "sweep.metric": metric,
            "sweep.direction": direction, "sweep.trials": trials, "sweep.study_name": settings.study_name,
            "sweep.storage": studies.redact(url) if storage else "journal",
        })  # fmt: skip
        client.set_tags(parent_id, {SWEEP_TAG: sweep_id})
        bookkeeping = True
    result = _result(study, settings, url, client)
    if on_start is not None:
        on_start(result)
    session = len(study.get_trials(deepcopy=False))
    if join:  # machines joining at the same moment must not sample with the same seeds
        session += os.getpid() << 20
    jobs = [Job(repo_path, url, sweep_id, w, session, parent_id, objective, command or settings.command or None,
                quiet=quiet, cwd=os.getcwd()) for w in range(workers)]  # fmt: skip
    if jobs[0].objective is None and jobs[0].command is None:
        raise UsageError(f"sweep {sweep_id} runs a Python objective: pass it to gittrack.sweep() to resume or join")
    keeper = _Bookkeeper(client, parent_id, study, settings) if bookkeeping and parent_id else None
    status = "FINISHED"
    try:
        _run_workers(jobs, backend, keeper)
    except KeyboardInterrupt:
        status = "KILLED"
        raise
    except BaseException:
        status = "FAILED"
        raise
    finally:
        if keeper is not None:
            with contextlib.suppress(GittrackError):
                keeper.update()
        if owned_parent and parent_id is not None:
            with contextlib.suppress(GittrackError):
                client.set_terminated(parent_id, status)
    return _result(study, settings, url, client)


def _run_workers(jobs: list[Job], backend: str, keeper: _Bookkeeper | None) -> None:
    update = keeper.update if keeper is not None else None
    if backend == "ray":
        from gittrack.sweeps.raybackend import run_on_ray

        run_on_ray(jobs, update, POLL_SECONDS)
        return
    if len(jobs) == 1:
        work(jobs[0], after_trial=keeper.ran if keeper is not None else None)
        return
    procs = start_processes(jobs)
    try:
        while any(p.is_alive() for p in procs):
            for p in procs:
                p.join(timeout=POLL_SECONDS / len(procs))
            if update is not None:
                update()
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join()


def _check_program(command: list[str]) -> None:
    """Refuse a command whose program cannot be found, before any run or study exists."""
    import shutil

    if not command:
        raise UsageError("give the command to run after '--', e.g. gittrack sweep ... -- python train.py --lr {lr}")
    if shutil.which(command[0]) is None and not os.path.isfile(command[0]):
        raise UsageError(f"command not found: {command[0]!r}")


def _check_command(command: list[str], params: list[Param]) -> None:
    from gittrack.sweeps.space import check_command

    check_command(command, params)


def _grid_size(params: list[Param]) -> int:
    size = 1
    for p in params:
        size *= len(p.grid())
    return size


def _experiment_of(client: Any, run_id: str) -> str:
    return client.get_run(run_id).info.experiment


def _reattach(client: Any, run_id: str) -> bool:
    """Log into the sweep's parent run again, if it is here and was not ended."""
    try:
        client.attach_run(run_id)
    except GittrackError:
        return False
    return True


def run_ids(client: Any, sweep_id: str) -> dict[int, str]:
    """Trial number -> run id of the sweep's trials whose runs this repository has (their tags)."""
    rows = client.find_rows(None, f"tags.{SWEEP_TAG} = '{sweep_id}'").rows
    out: dict[int, str] = {}
    for row in rows:
        number = row.tags.get(TRIAL_TAG, "")
        if number.isdigit() and row.run_id != sweep_id:
            out[int(number)] = row.run_id
    return out


def _interrupt(client: Any, study: Any, sweep_id: str) -> None:
    """Trials that a killed sweep left RUNNING stop counting, and their runs end KILLED."""
    from optuna.trial import TrialState

    left = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    studies.interrupt_running(study)
    ids = run_ids(client, sweep_id) if left else {}
    for trial in left:
        run_id = ids.get(trial.number)
        if run_id:
            with contextlib.suppress(GittrackError):
                client.set_tag(run_id, "gittrack.interrupted", "true")
                client.set_terminated(run_id, "KILLED")


class _Bookkeeper:
    """Keeps the parent run's ``best_<metric>`` history and best-trial tags up to date."""

    def __init__(self, client: Any, parent_id: str, study: Any, settings: studies.Settings) -> None:
        self.client, self.parent_id, self.study, self.settings = client, parent_id, study, settings
        self.key = f"best_{settings.metric}"
        self.seen: set[int] = set()
        self.best: Any = None
        self.sign = 1 if settings.direction == "minimize" else -1
        self.known: dict[int, str] = {}  # run ids of trials this process ran
        history = client.get_run(parent_id).data.metrics.get(self.key)
        if history is not None:  # a resumed sweep continues its curve
            for trial in self._finished():
                self._take(trial)

    def _finished(self) -> list[Any]:
        done = [t for t in studies.counted_trials(self.study) if t.state.is_finished() and t.number not in self.seen]
        return sorted(done, key=lambda t: (t.datetime_complete or 0, t.number))

    def _take(self, trial: Any) -> bool:
        self.seen.add(trial.number)
        if (
            trial.state.name == "COMPLETE"
            and trial.value is not None
            and (self.best is None or self.sign * trial.value < self.sign * self.best.value)
        ):
            self.best = trial
            return True
        return False

    def ran(self, number: int, run_id: str) -> None:
        """A trial this process ran ended (its run id known without a search)."""
        self.known[number] = run_id
        self.update()

    def update(self) -> None:
        improved = False
        for trial in self._finished():
            improved = self._take(trial) or improved
            if self.best is not None:
                self.client.log_metric(self.parent_id, self.key, float(self.best.value), step=len(self.seen))
        if improved:
            self.client.set_tags(self.parent_id, {
                "gittrack.best_trial": str(self.best.number),
                "gittrack.best_run_id": self.known.get(self.best.number)
                or run_ids(self.client, self.settings.sweep_id).get(self.best.number, ""),
            })  # fmt: skip


def _result(study: Any, settings: studies.Settings, url: str, client: Any,
            ids: dict[int, str] | None = None) -> SweepResult:  # fmt: skip
    best = studies.best_trial(study)
    if best is not None and ids is None:
        ids = run_ids(client, settings.sweep_id)
    return SweepResult(
        sweep_id=settings.sweep_id, study_name=settings.study_name, storage=studies.redact(url),
        parent_run_id=settings.sweep_id, experiment=settings.experiment, metric=settings.metric,
        direction=settings.direction, trials=settings.trials, counts=studies.status(study),
        stopped=studies.is_stopped(study),
        best_value=None if best is None else best.value, best_trial=None if best is None else best.number,
        best_run_id=None if best is None else (ids or {}).get(best.number),
        best_params={} if best is None else dict(best.params),
    )  # fmt: skip


def sweep_status(sweep_id: str, storage: str | None = None, repo: str | os.PathLike | None = None) -> SweepResult:
    """Where a sweep stands: trial counts by state and the best trial."""
    import gittrack

    client = gittrack.Client(repo)
    sid, url = studies.locate(client.repo_path, sweep_id, storage)
    study, settings = studies.load_study(url, sid)
    return _result(study, settings, url, client)


def stop_sweep(sweep_id: str, storage: str | None = None, repo: str | os.PathLike | None = None) -> SweepResult:
    """Stop a sweep: its workers start no new trial (the running ones finish); ``resume`` goes on."""
    import gittrack

    client = gittrack.Client(repo)
    sid, url = studies.locate(client.repo_path, sweep_id, storage)
    study, settings = studies.load_study(url, sid)
    studies.set_stopped(study, True)
    return _result(study, settings, url, client)


def trials_of(sweep_id: str, storage: str | None = None, repo: str | os.PathLike | None = None) -> list[dict]:
    """Every counted trial: number, state, value, params, run id, intermediate values' count."""
    import gittrack

    client = gittrack.Client(repo)
    sid, url = studies.locate(client.repo_path, sweep_id, storage)
    study, _ = studies.load_study(url, sid)
    ids = run_ids(client, sid)
    return [{"number": t.number, "state": t.state.name, "value": t.value if t.state.name == "COMPLETE" else None,
             "params": dict(t.params),
             "run_id": ids.get(t.number), "steps": len(t.intermediate_values),
             "complete": t.datetime_complete.timestamp() if t.datetime_complete else None}
            for t in studies.counted_trials(study)]  # fmt: skip


def sweep_details(sweep_id: str, storage: str | None = None, repo: str | os.PathLike | None = None,
                  studies_cache: dict | None = None) -> dict[str, Any]:  # fmt: skip
    """Everything the sweep page shows: settings, counts, best trial, every counted trial and the
    best-so-far curve (in the order trials finished). ``studies_cache`` keeps opened studies
    (a journal is then read incrementally, not replayed from its start)."""
    import gittrack

    client = gittrack.Client(repo)
    sid, url = studies.locate(client.repo_path, sweep_id, storage)
    study, settings = _cached_study(url, sid, studies_cache)
    ids = run_ids(client, sid)
    result = _result(study, settings, url, client, ids)
    counted = studies.counted_trials(study)
    rows = [{"number": t.number, "state": t.state.name, "value": t.value if t.state.name == "COMPLETE" else None,
             "params": dict(t.params), "run_id": ids.get(t.number),
             "complete": t.datetime_complete.timestamp() if t.datetime_complete else None}
            for t in counted]  # fmt: skip
    sign = 1 if settings.direction == "minimize" else -1
    curve, best = [], None
    done = sorted((r for r in rows if r["complete"] is not None), key=lambda r: (r["complete"], r["number"]))
    for i, row in enumerate(done, start=1):
        if row["value"] is not None and (best is None or sign * row["value"] < sign * best):
            best = row["value"]
        curve.append({"n": i, "trial": row["number"], "value": row["value"], "best": best})
    return {**result.to_dict(), "sampler": settings.sampler, "pruner": settings.pruner, "seed": settings.seed,
            "space": settings.space, "command": settings.command, "rows": rows, "curve": curve}  # fmt: skip


def param_importances(sweep_id: str, storage: str | None = None, repo: str | os.PathLike | None = None,
                      studies_cache: dict | None = None) -> dict[str, float]:  # fmt: skip
    """Optuna's ``get_param_importances`` over the completed trials ({} with fewer than two)."""
    import optuna

    import gittrack

    sid, url = studies.locate(gittrack.Client(repo).repo_path, sweep_id, storage)
    study, settings = _cached_study(url, sid, studies_cache)
    from optuna.trial import TrialState

    complete = [t for t in studies.counted_trials(study) if t.state == TrialState.COMPLETE]
    if len(complete) < 2 or len(settings.space) < 1:
        return {}
    if len(settings.space) == 1:
        return {next(iter(settings.space)): 1.0}
    scratch = optuna.create_study(direction=studies.direction(settings))
    scratch.add_trials(complete)
    try:
        found = optuna.importance.get_param_importances(
            scratch, evaluator=optuna.importance.PedAnovaImportanceEvaluator()
        )
    except (ValueError, RuntimeError):  # e.g. every completed trial has the same params
        return {}
    return {k: float(v) for k, v in found.items()}


def _cached_study(url: str, sweep_id: str, cache: dict | None) -> tuple[Any, studies.Settings]:
    if cache is None:
        return studies.load_study(url, sweep_id)
    found = cache.get((url, sweep_id))
    if found is None:
        found = cache[(url, sweep_id)] = studies.load_study(url, sweep_id)
    return found


def list_sweeps(repo: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """The sweeps this repository ran or joined, newest first: id, storage, and where they stand
    (or the problem reading them)."""
    import gittrack

    client = gittrack.Client(repo)
    out = []
    for sid, url in sorted(studies.known_sweeps(client.repo_path).items(), reverse=True):
        try:
            study, settings = studies.load_study(url, sid)
        except GittrackError as exc:
            out.append({"sweep_id": sid, "storage": studies.redact(url), "problem": str(exc)})
            continue
        out.append(_result(study, settings, url, client).to_dict())
    return out


__all__ = ["SweepResult", "list_sweeps", "param_importances", "stop_sweep", "sweep", "sweep_details", "sweep_status",
           "trials_of"]  # fmt: skip
