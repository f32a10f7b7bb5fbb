"""``gittrack.reset_state()``: end what this process has open and forget its state."""

from __future__ import annotations

import logging

from gittrack._state import STATE
from gittrack._store.ids import short_id
from gittrack._store.record import KILLED
from gittrack.errors import GittrackError

log = logging.getLogger("gittrack")


def reset_state() -> list[str]:
    """Put the process back as ``import gittrack`` left it; returns the ids of the runs it ended.

    Nothing open is dropped silently. Every run still active (``start_run``, ``mlflow.start_run``,
    innermost first) and every run autologging kept open after a ``fit`` ends KILLED, as on
    SIGTERM, with a warning naming it; a run attached to under ``gittrack run`` is written and
    detached instead (the command ends it). A run that cannot be ended (its repository is gone)
    is warned about and left as the repository has it. Then autologging is turned off (every
    patch undone) and the selected experiment, the MLflow tracking and registry URIs, the cached
    clients and the per-process caches are forgotten. Runs written through a ``Client`` object
    are that object's: they are not touched.

    For test suites (a fixture calling it after each test) and long-lived processes (notebooks)
    that start over.
    """
    from gittrack._fluent import close_run, take_active_runs
    from gittrack.integrations import turn_off

    ended: list[str] = []
    for active in [*take_active_runs(), *turn_off()]:
        try:
            close_run(active, KILLED)
        except GittrackError as exc:
            log.warning("gittrack: reset_state could not end run %s: %s", short_id(active.run_id), exc)
            continue
        if active.owned:
            ended.append(active.run_id)
            log.warning("gittrack: reset_state ended run %s as KILLED", short_id(active.run_id))
    STATE.clear()
    return ended
