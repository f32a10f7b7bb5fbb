"""The fluent API (``with gittrack.start_run(): gittrack.log_metric(...)``), MLflow style.

A process-wide stack of active runs; each call goes to the run on top of the stack. Under
``gittrack run`` (``$GITTRACK_RUN_ID`` set), the first run started attaches to the run that
command created, so the script's params and metrics land in it. The experiment and run name
the script asks for apply when the command gave none (the run moves to that experiment); when
it did, the command's win and a warning says what was ignored.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from gittrack._client import Client
from gittrack._entities import Run
from gittrack._services.runs import check_end_status
from gittrack._state import STATE
from gittrack._store.ids import short_id
from gittrack._store.naming import validate_experiment
from gittrack._store.record import FAILED, FINISHED, KILLED
from gittrack.errors import GittrackError, UsageError

if TYPE_CHECKING:
    from gittrack._system_metrics import Monitor

_stack_lock = threading.RLock()  # guards STATE.fluent.stack
log = logging.getLogger("gittrack")


class Terminated(SystemExit):
    """Raised in the main thread on SIGTERM so that active runs end as KILLED, then the process exits."""


class ActiveRun:
    """A run this process is writing; a context manager that ends the run on exit."""

    def __init__(self, client: Client, run_id: str, owned: bool, editing: bool = False) -> None:
        self._client = client
        self.run_id = run_id
        self.owned = owned
        self.editing = editing
        """An ended run opened again (``start_run(run_id=)``): only its tags and name can change."""
        self._system_metrics: Monitor | None = None

    @property
    def client(self) -> Client:
        """The ``Client`` writing this run (for code that logs into it from other threads)."""
        return self._client

    @property
    def info(self):
        """``RunInfo`` as of the last checkpoint (after the run's block: as it ended)."""
        return self.to_run().info

    @property
    def data(self):
        """``RunData`` as of the last checkpoint (after the run's block: as it ended)."""
        return self.to_run().data

    def to_run(self) -> Run:
        """This run as a ``Run`` object: as of the last checkpoint while it is active, then as
        stored (the ended run, as in ``with start_run() as run: ...`` then ``run.info.status``)."""
        with _stack_lock:
            if self in STATE.fluent.stack and not self.editing:
                return self._client.attach_run(self.run_id)
        return self._client.get_run(self.run_id)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type, exc, tb) -> Literal[False]:
        status, error = _outcome(exc)
        with _stack_lock:
            if self in STATE.fluent.stack:
                _end(self, status, error)
        return False

    def __repr__(self) -> str:
        return f"<ActiveRun {self.run_id}>"


def _outcome(exc: BaseException | None) -> tuple[str, dict[str, str] | None]:
    """The status a run ends with given the exception that left its block (if any)."""
    if exc is None:
        return FINISHED, None
    if isinstance(exc, KeyboardInterrupt | Terminated):
        return KILLED, {"type": type(exc).__name__, "message": "interrupted by a signal"}
    if isinstance(exc, SystemExit) and exc.code in (0, None):
        return FINISHED, None
    import traceback

    text = "".join(traceback.format_exception(exc))[-16_000:]
    return FAILED, {"type": type(exc).__name__, "message": str(exc)[:2000], "traceback": text}


def shared_client(repo: str | os.PathLike | None = None) -> Client:
    """The ``Client`` the fluent API writes through for ``repo`` (the active run's when None): code
    that mixes fluent calls and a client on the same runs uses this one, so each run has one writer."""
    return _client(repo)


def _client(repo: str | os.PathLike | None) -> Client:
    if repo is None and STATE.fluent.stack:
        return STATE.fluent.stack[-1]._client
    from gittrack._store.repository import Repository

    key = Repository.open(repo).workdir
    if key not in STATE.fluent.clients:
        STATE.fluent.clients[key] = Client(key)
    return STATE.fluent.clients[key]


def set_experiment(name: str) -> str:
    """Make ``name`` the experiment of runs started without one (like ``mlflow.set_experiment``)."""
    STATE.fluent.experiment = validate_experiment(name)
    return STATE.fluent.experiment


def experiment_name() -> str | None:
    """The experiment ``set_experiment`` chose for runs started without one (None: none chosen)."""
    return STATE.fluent.experiment


def start_run(
    experiment: str | None = None,
    run_name: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    nested: bool = False,
    repo: str | os.PathLike | None = None,
    log_system_metrics: bool | None = None,
    run_id: str | None = None,
    parent_run_id: str | None = None,
) -> ActiveRun:
    """Start (or, under ``gittrack run``, attach to) a run; use it with ``with`` or call ``end_run``.

    ``run_id`` resumes a RUNNING run of this user (one made with ``Client.create_run``, or left by a
    process that stopped) instead of starting one; given an ended run, it makes that run the active
    one for changing its tags and name (as ``Client.set_tag`` does; anything else it refuses with
    ``ImmutableRunError``) and leaves it as it ended. ``parent_run_id`` makes the new run a child
    of that run rather than of the active one.

    ``log_system_metrics``: sample CPU, memory, disk, network and GPU use into ``system/`` metrics
    while the run is active; None follows ``$GITTRACK_SYSTEM_METRICS`` or ``gittrack.systemMetrics``
    for a top-level run this process created (see docs/autolog.md).
    """
    sample = _wants_system_metrics(log_system_metrics, nested, repo)  # a bad setting is refused before the run
    active = _start_run(experiment, run_name, params, tags, nested, repo, run_id, parent_run_id)
    if sample and (log_system_metrics or active.owned) and not active.editing:
        from gittrack import _system_metrics as system_metrics

        active._system_metrics = system_metrics.start(active.client.runs, active.run_id)
    return active


def _wants_system_metrics(wanted: bool | None, nested: bool, repo: str | os.PathLike | None) -> bool:
    """``log_system_metrics``, or for a top-level run the settings (checked here even when not used)."""
    if wanted is False or (wanted is None and nested):
        return False
    from gittrack import _system_metrics as system_metrics

    path = _client(repo or os.environ.get("GITTRACK_REPO")).repo_path
    system_metrics.interval(path)
    return bool(wanted) or system_metrics.enabled(path)


def _start_run(
    experiment: str | None,
    run_name: str | None,
    params: Mapping[str, Any] | None,
    tags: Mapping[str, Any] | None,
    nested: bool,
    repo: str | os.PathLike | None,
    run_id: str | None = None,
    parent_run_id: str | None = None,
) -> ActiveRun:
    with _stack_lock:
        stack = STATE.fluent.stack
        if stack and not nested:
            raise UsageError(f"run {short_id(stack[-1].run_id)} is already active; end it first or pass nested=True")
        if run_id is not None:
            return _resume(_client(repo), run_id, params, tags)
        attach_id = os.environ.get("GITTRACK_RUN_ID")
        if attach_id and not stack:
            client = _client(repo or os.environ.get("GITTRACK_REPO"))
            run = client.attach_run(attach_id)
            wanted = experiment or STATE.fluent.experiment
            if wanted is not None and _may_move(run):
                run = client.move_run(run.info.run_id, validate_experiment(wanted))
            active = ActiveRun(client, run.info.run_id, owned=False)
            named = bool(os.environ.get("GITTRACK_RUN_NAMED"))
            _warn_ignored(run, wanted, run_name if named else None)
            if run_name is not None:
                if named:
                    client.set_tag(active.run_id, "gittrack.script_run_name", run_name)
                else:
                    client.rename_run(active.run_id, run_name)
            return _activate(active, params, tags)
        client = _client(repo)
        parent = parent_run_id or (stack[-1].run_id if stack else None)
        run = client.create_run(
            experiment=experiment or STATE.fluent.experiment or (stack[-1].info.experiment if stack else None),
            run_name=run_name,
            params=params,
            tags=tags,
            parent_run_id=parent,
            deferred=True,
        )
        active = ActiveRun(client, run.info.run_id, owned=True)
        _push(active)
        return active


def _resume(client: Client, run_id: str, params, tags) -> ActiveRun:
    """Make the RUNNING run ``run_id`` the active run again, or an ended one the active run for
    edits of its tags and name."""
    from gittrack.errors import ImmutableRunError

    run = client.get_run(run_id)
    if run.details.status != "RUNNING":
        if params:
            raise ImmutableRunError(
                f"run {short_id(run.info.run_id)} has ended ({run.info.status}); its params cannot change, "
                "start a new run"
            )
        return _activate(ActiveRun(client, run.info.run_id, owned=False, editing=True), None, tags)
    user = client.repository.identity()[0]
    if run.info.user != user:
        raise UsageError(
            f"run {short_id(run.info.run_id)} belongs to {run.info.user!r}, not {user!r}; start a run of your own"
        )
    client.attach_run(run.info.run_id)
    return _activate(ActiveRun(client, run.info.run_id, owned=True), params, tags)


def _activate(active: ActiveRun, params, tags) -> ActiveRun:
    """Make a run this process did not just create the active one, logging ``params`` and ``tags`` into it."""
    _push(active)
    if params:
        active.client.log_params(active.run_id, params)
    if tags:
        active.client.set_tags(active.run_id, tags)
    return active


def _may_move(run: Run) -> bool:
    """Whether the script's experiment applies to the run of ``gittrack run`` it logs into: when
    the command line named none (``$GITTRACK_EXPERIMENT_NAMED`` empty) and the run is still in
    the one the command chose (a first start_run moved it already: later ones do not move it)."""
    return not os.environ.get("GITTRACK_EXPERIMENT_NAMED") and run.info.experiment == os.environ.get(
        "GITTRACK_EXPERIMENT"
    )


def _warn_ignored(run: Run, experiment: str | None, run_name: str | None) -> None:
    """Under ``gittrack run``, say once per process which of the script's start_run arguments
    the command's run cannot take (its experiment and, when the command named it, its name)."""
    ignored = []
    if experiment is not None and experiment != run.info.experiment:
        ignored.append(f"experiment {experiment!r}")
    if run_name is not None and run_name != run.info.run_name:
        ignored.append(f"run_name {run_name!r}")
    if not ignored or STATE.fluent.warned_ignored:
        return
    STATE.fluent.warned_ignored = True
    log.warning(
        "gittrack: this script runs under 'gittrack run', so it logs into that command's run %s "
        "(%r in experiment %r); ignored %s: give them to gittrack run (-e EXPERIMENT, -n NAME) instead",
        short_id(run.info.run_id), run.info.run_name, run.info.experiment, " and ".join(ignored),
    )  # fmt: skip


def _push(active: ActiveRun) -> None:
    STATE.fluent.stack.append(active)
    _install_sigterm_handler()


def _end(active: ActiveRun, status: str, error: dict[str, str] | None) -> None:
    """End ``active`` and every run nested inside it."""
    while STATE.fluent.stack:
        top = STATE.fluent.stack.pop()
        close_run(top, status if top is active else KILLED, error)
        if top is active:
            return


def close_run(active: ActiveRun, status: str, error: dict[str, str] | None = None) -> None:
    """Stop the run's system metrics, then end it (or, for a run this process attached to, stop writing it)."""
    if active._system_metrics is not None:
        monitor, active._system_metrics = active._system_metrics, None
        monitor.stop()
    if active.owned:
        active._client.set_terminated(active.run_id, status, error)
    else:
        active._client.detach(active.run_id)


def release_run(active: ActiveRun) -> None:
    """Take ``active`` (and runs nested in it) off the stack without ending it: autologging keeps
    the run it created open after ``fit`` so that metrics computed on the model's predictions
    can still land in it; it ends that run itself later."""
    with _stack_lock:
        while active in STATE.fluent.stack:
            if STATE.fluent.stack.pop() is active:
                return


def end_run(status: str = FINISHED) -> None:
    """End the active run with ``status``; does nothing when no run is active. A status other
    than FINISHED, FAILED or KILLED raises ``InvalidValueError`` and leaves the run active."""
    check_end_status(status)
    with _stack_lock:
        if STATE.fluent.stack:
            _end(STATE.fluent.stack[-1], status, None)


def active_run() -> ActiveRun | None:
    """The run calls go to, or None."""
    return STATE.fluent.stack[-1] if STATE.fluent.stack else None


def _current() -> ActiveRun:
    """The active run, starting one (as MLflow does) when none is."""
    if STATE.fluent.stack:
        return STATE.fluent.stack[-1]
    return start_run()


def log_param(key: str, value: Any) -> None:
    """Record a param of the active run; a param cannot change once logged."""
    run = _current()
    run._client.log_param(run.run_id, key, value)


def log_params(params: Mapping[str, Any]) -> None:
    """Record several params of the active run."""
    run = _current()
    run._client.log_params(run.run_id, params)


def log_metric(key: str, value: float, step: int | None = None, timestamp: int | None = None) -> None:
    """Record one metric point; ``step`` defaults to one past the key's last step."""
    run = STATE.fluent.stack[-1] if STATE.fluent.stack else _current()
    run._client.log_metric(run.run_id, key, value, step, timestamp)


def log_metrics(metrics: Mapping[str, float], step: int | None = None) -> None:
    """Record several metrics at one step."""
    run = _current()
    run._client.log_metrics(run.run_id, metrics, step)


def set_tag(key: str, value: Any) -> None:
    """Set a tag of the active run."""
    run = _current()
    run._client.set_tag(run.run_id, key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    """Set several tags of the active run."""
    run = _current()
    run._client.set_tags(run.run_id, tags)


def log_input(path: str | os.PathLike, name: str | None = None, track: bool = False) -> dict:
    """Record the DVC hash of a data file or folder the active run used."""
    run = _current()
    return run._client.log_input(run.run_id, path, name, track)


def log_artifact(local_path: str | os.PathLike, artifact_path: str | None = None) -> dict:
    """Store a file or folder as an artifact of the active run (content in the DVC cache)."""
    run = _current()
    return run._client.log_artifact(run.run_id, local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike, artifact_path: str | None = None) -> list[dict]:
    """Store a folder's content as artifacts of the active run."""
    run = _current()
    return run._client.log_artifacts(run.run_id, local_dir, artifact_path)


def download_artifacts(
    run_id: str, path: str | None = None, dst: str | os.PathLike | None = None, repo: str | os.PathLike | None = None
) -> str:
    """Write a run's artifact (or all of them) to ``dst`` and return the local path."""
    return _client(repo).download_artifacts(run_id, path, dst)


def log_model(
    model: Any,
    name: str = "model",
    flavor: str | None = None,
    signature: dict | None = None,
    input_example: Any = None,
    pip_requirements: list[str] | None = None,
) -> dict:
    """Save a model of the active run: sklearn, pytorch, python (with predict) or file flavor."""
    run = _current()
    return run._client.log_model(run.run_id, model, name, flavor, signature, input_example, pip_requirements)


def load_model(uri: str, repo: str | os.PathLike | None = None) -> Any:
    """Load a model back as a live object: ``runs:/<run>/<name>``, ``MODEL@production``,
    ``MODEL@v1.2.0`` or ``MODEL@latest``."""
    return _client(repo).load_model(uri)


def register_model(model_uri: str, name: str, repo: str | os.PathLike | None = None) -> dict:
    """Register ``runs:/<run>/<artifact>`` as the next version of model ``name`` (MLflow's register_model)."""
    return _client(repo).register_model(model_uri, name)


def get_model_version(name: str, version_or_stage: str, repo: str | os.PathLike | None = None) -> dict:
    """A registered version by number, stage or ``latest``."""
    return _client(repo).get_model_version(name, version_or_stage)


def search_model_versions(name: str | None = None, repo: str | os.PathLike | None = None):
    """Registered versions as a DataFrame."""
    return _client(repo).search_model_versions(name)


def get_run(run_id: str, repo: str | os.PathLike | None = None) -> Run:
    """A run by id, unique id prefix, unique name or ref."""
    return _client(repo).get_run(run_id)


def list_runs(experiment: str | None = None, repo: str | os.PathLike | None = None) -> list[Run]:
    """Every run (of one experiment if given), newest first."""
    return _client(repo).list_runs(experiment)


def pack_runs(experiments: list[str] | None = None, repo: str | os.PathLike | None = None):
    """Pack ended runs into index refs (see :meth:`Client.pack_runs`)."""
    return _client(repo).pack_runs(experiments)


def search_runs(
    experiment_names: list[str] | str | None = None,
    filter_string: str = "",
    order_by: list[str] | str | None = None,
    max_results: int | None = None,
    run_view: str = "active",
    output_format: str = "pandas",
    repo: str | os.PathLike | None = None,
):
    """Find runs (MLflow's ``search_runs``): a DataFrame, or ``Run`` objects with ``output_format="list"``."""
    return _client(repo).search_runs(experiment_names, filter_string, order_by, max_results, run_view, output_format)


def get_metric_history(run_id: str, key: str, repo: str | os.PathLike | None = None):
    """One metric's history as a DataFrame: ``step``, ``timestamp`` (UTC datetime), ``value``."""
    import pandas as pd

    steps, timestamps, values = _client(repo).get_metric_arrays(run_id, key)
    return pd.DataFrame({"step": steps, "timestamp": pd.to_datetime(timestamps, unit="ms", utc=True), "value": values})


def compare_runs(run_ids: list[str], repo: str | os.PathLike | None = None):
    """Runs side by side as a DataFrame: a row per param, metric, input and source commit, a column per run,
    plus ``differs`` and ``best`` (the run with the best value of each metric)."""
    return _client(repo).compare_runs(run_ids).to_frame()


def take_active_runs() -> list[ActiveRun]:
    """Take every run off the stack without ending it, innermost first (``reset_state`` ends them)."""
    with _stack_lock:
        runs, STATE.fluent.stack[:] = STATE.fluent.stack[::-1], []
    return runs


def _end_all_at_exit() -> None:
    """End runs still active at exit: FINISHED, or FAILED/KILLED after an uncaught exception."""
    last = getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)
    status, error = _outcome(last)
    with _stack_lock:
        while STATE.fluent.stack:
            try:
                _end(STATE.fluent.stack[0], status, error)
            except GittrackError:
                STATE.fluent.stack.clear()


def _on_sigterm(signum, frame) -> None:
    raise Terminated(128 + signum)


def _install_sigterm_handler() -> None:
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):
        return


atexit.register(_end_all_at_exit)
