"""Models logged with ``registered_model_name=`` wait here until their run ends, then register (a
version tags the run's final commit)."""

from __future__ import annotations

from typing import Any

from gittrack.mlflow import _registry
from gittrack.mlflow._registry import register

_pending: list[tuple[Any, str, str, str]] = []  # (client, run id, artifact path, model name)


def register_after_run(client: Any, run_id: str, path: str, name: str) -> str:
    """Register a model of a running run when the run ends (a version tags the run's final commit);
    returns the version number it will get. Runs ended by ``end_run``, the ``with`` block, the
    client's ``set_terminated`` or the end of the process register their models then."""
    import atexit

    if not _pending:
        atexit.register(_register_at_exit)
    known = len(_registry.ordered_versions(client, name)) if _registry.model_names(client).count(name) else 0
    waiting = sum(1 for *_, pending_name in _pending if pending_name == name)
    _pending.append((client, run_id, path, name))
    return str(known + waiting + 1)


def flush_registrations() -> None:
    """Register the pending models of runs that have ended."""

    for item in list(_pending):
        client, run_id, path, name = item
        if client.get_run(run_id).record.status == "RUNNING":
            continue
        _pending.remove(item)
        register(client, f"runs:/{run_id}/{path}", name)


def _register_at_exit() -> None:
    import sys

    import gittrack

    status = "FAILED" if getattr(sys, "last_value", None) is not None else "FINISHED"
    while _pending and gittrack.active_run() is not None:
        gittrack.end_run(status)
    flush_registrations()
