"""Which run an autologged call writes to, and how long a run autologging started stays open.

An autologged ``fit`` (or ``train``, ``fmin``...) logs into the active run when there is one;
otherwise it starts a run with ``gittrack.start_run()`` (so under ``gittrack run`` it is that
command's run), keeps it active during the call, and then takes it off the fluent stack
*without* ending it: metrics computed afterwards on the model's predictions (sklearn's
post-training metrics) still land in it. Such a run ends (FINISHED) when the next autologged
call starts a run, when autologging is disabled, or when the process exits; it ends FAILED
at once when the training call raises.
"""

from __future__ import annotations

import atexit
import contextvars
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gittrack._state import STATE

if TYPE_CHECKING:
    from gittrack._client import Client
    from gittrack._fluent import ActiveRun

log = logging.getLogger("gittrack")
_lock = threading.RLock()  # guards STATE.autolog.open_runs and sessions_running
_session: contextvars.ContextVar[Session | None] = contextvars.ContextVar("gittrack_autolog_session", default=None)


@dataclass
class Target:
    """A run to log into: the client writing it and its id."""

    client: Client
    run_id: str
    created: bool
    active: ActiveRun | None = None
    cache: dict[str, Any] = field(default_factory=dict)  # what is read once per run (its dataset source)

    def log_params(self, params: Mapping[str, Any]) -> list[str]:
        """Log params one by one; returns the keys refused (e.g. already logged with another value)."""
        from gittrack.errors import UsageError

        refused = []
        for key, value in params.items():
            try:
                self.client.log_param(self.run_id, key, value)
            except UsageError:
                refused.append(key)
        return refused

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        if metrics:
            self.client.log_metrics(self.run_id, metrics, step=step)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        self.client.set_tags(self.run_id, tags)


@dataclass
class Session:
    """One autologged call in progress: who started it and where it logs."""

    library: str
    target: Target | None  # None: nothing is logged (exclusive mode inside a user's run, or no repository)
    data: dict[str, Any] = field(default_factory=dict)


def current() -> Session | None:
    """The autologged call this code runs inside, if any."""
    return _session.get()


def busy_elsewhere() -> bool:
    """Whether an autologged call is running in another thread while this one has none
    (a meta-estimator's worker thread): such calls are not logged on their own."""
    return _session.get() is None and STATE.autolog.sessions_running > 0


def _finish_open() -> None:
    from gittrack._fluent import close_run

    with _lock:
        runs, STATE.autolog.open_runs[:] = list(STATE.autolog.open_runs), []
    for active in runs:
        try:
            close_run(active, "FINISHED")
        except Exception as exc:  # noqa: BLE001 - ending a finished run late must not break the script
            log.debug("gittrack: could not end autologged run %s: %s", active.run_id, exc)


def end_open_runs() -> None:
    """End the runs autologging left open (at exit, when disabled, before it starts another)."""
    _finish_open()


def take_open_runs() -> list[ActiveRun]:
    """Hand over the runs autologging left open, without ending them (the caller ends them)."""
    with _lock:
        runs, STATE.autolog.open_runs[:] = list(STATE.autolog.open_runs), []
    return runs


def open_target(exclusive: bool, tags: Mapping[str, Any] | None = None) -> Target | None:
    """The run to log into: the active one, or a new one with ``tags`` (None when ``exclusive`` and
    the user's run is active)."""
    import gittrack

    active = gittrack.active_run()
    if active is not None:
        if exclusive:
            return None
        STATE.autolog.last_run_id = active.run_id
        return Target(active.client, active.run_id, created=False, active=active)
    _finish_open()
    active = gittrack.start_run(tags=tags)
    with _lock:
        STATE.autolog.open_runs.append(active)
    STATE.autolog.last_run_id = active.run_id
    return Target(active.client, active.run_id, created=True, active=active)


def enter(library: str, target: Target | None) -> tuple[Session, contextvars.Token]:
    session = Session(library, target)
    with _lock:
        STATE.autolog.sessions_running += 1
    return session, _session.set(session)


def leave(session: Session, token: contextvars.Token, error: BaseException | None) -> None:
    """Close the session and release its run (see ``release``)."""
    _session.reset(token)
    with _lock:
        STATE.autolog.sessions_running -= 1
    if session.target is not None:
        release(session.target, error)


def release(target: Target, error: BaseException | None) -> None:
    """After the call: a run autologging started leaves the stack, open (or ends FAILED on ``error``)."""
    if not target.created or target.active is None:
        return
    from gittrack._fluent import release_run

    if error is not None:
        with _lock:
            if target.active in STATE.autolog.open_runs:
                STATE.autolog.open_runs.remove(target.active)
        target.active.__exit__(type(error), error, error.__traceback__)
    else:
        release_run(target.active)


def keep_open(active: ActiveRun) -> None:
    """Hand a run started by an integration over to autologging, which ends it later (see module doc)."""
    with _lock:
        if active not in STATE.autolog.open_runs:
            STATE.autolog.open_runs.append(active)


def last_run_id() -> str | None:
    """The id of the run the latest autologged call logged into (MLflow's ``last_active_run``)."""
    return STATE.autolog.last_run_id


atexit.register(_finish_open)
