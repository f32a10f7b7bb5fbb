"""The repository a server answers from: ``gittrack.mlflow``'s ``MlflowClient`` over it, the
``gittrack.Client`` it shares, one lock (a client writes one request at a time in a worker), and
the author of runs created for a user."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

HEARTBEAT_SECONDS = 10.0  # gittrack's checkpoint interval: a run counts as KILLED after five missed ones


class Backend:
    """What every request handler works on."""

    def __init__(self, repo: str | os.PathLike, on_write: Callable[[], None] | None = None) -> None:
        from gittrack.mlflow.tracking import MlflowClient
        from gittrack.mlflow.tracking.client import gittrack_client

        self.mlflow = MlflowClient(tracking_uri=os.fspath(repo), registry_uri=os.fspath(repo))
        self.client = gittrack_client(self.mlflow.tracking_uri)
        self.repo = self.client.repo_path
        self.lock = threading.RLock()
        self.on_write = on_write
        self._live: dict[str, float] = {}  # RUNNING runs this process wrote -> time.monotonic() of the last write
        self._keeper: threading.Thread | None = None

    def written(self, run_id: str | None = None) -> None:
        """After a write: commit the run's buffered logs now and let go of the run, so that another
        worker writing it next (or a ``git fetch``, the UI) starts from what is committed; keep its
        heartbeat going while it is RUNNING; tell the sharing loop."""
        if run_id is not None:
            self.client.detach(run_id)
            self._live[run_id] = time.monotonic()
            self._keep_alive()
        if self.on_write is not None:
            self.on_write()

    def _keep_alive(self) -> None:
        """One thread per worker checkpoints the RUNNING runs it wrote and that had no write for a
        checkpoint interval, so that a run whose client is between two epochs does not read as KILLED."""
        if self._keeper is None or not self._keeper.is_alive():
            self._keeper = threading.Thread(target=self._beat, name="gittrack-server-heartbeat", daemon=True)
            self._keeper.start()

    def _beat(self) -> None:
        from gittrack.errors import GittrackError

        while self._live:
            time.sleep(HEARTBEAT_SECONDS / 2)
            now = time.monotonic()
            for run_id, last in list(self._live.items()):
                if now - last < HEARTBEAT_SECONDS:
                    continue
                with self.lock:
                    try:
                        if self.client.get_run(run_id).info.status != "RUNNING":
                            self._live.pop(run_id, None)
                            continue
                        self.client.attach_run(run_id)
                        self.client.detach(run_id)
                        self._live[run_id] = time.monotonic()
                    except GittrackError:  # ended or deleted meanwhile (by another worker)
                        self._live.pop(run_id, None)

    @contextlib.contextmanager
    def author(self, user: str | None) -> Iterator[None]:
        """Runs started in this block are authored by ``user`` in git (the request's user)."""
        if not user:
            yield
            return
        saved = {k: os.environ.get(k) for k in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL")}
        os.environ["GIT_AUTHOR_NAME"] = user
        os.environ["GIT_AUTHOR_EMAIL"] = user if "@" in user else f"{user}@gittrack-server"
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def run_experiment(backend: Backend, run_id: str) -> str:
    """The experiment (gittrack's name) a run is in, for permission checks."""
    return str(backend.mlflow.get_run(run_id).info.experiment_id)


def as_int(value: Any, what: str, default: int | None = None) -> int | None:
    from gittrack.server.errors import ServerError

    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ServerError(f"{what} must be an integer, not {value!r}") from None


def as_count(value: Any, what: str, default: int) -> int:
    """An integer argument with a default (``max_results``, ``step``)."""
    found = as_int(value, what, default)
    return default if found is None else found
