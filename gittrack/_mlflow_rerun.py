"""Re-running a script an MLflow client ran against ``gittrack server`` (``gittrack reproduce``): a
``gittrack server`` of its own on 127.0.0.1 for the time of the re-run, and the script's
environment pointing MLflow at it (``MLFLOW_TRACKING_URI``) and at the reproduction's run
(``MLFLOW_RUN_ID``: MLflow's ``start_run`` resumes that run), so what the script logs with
``import mlflow`` lands in the reproduction, as it landed in the original through the team's server."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from gittrack.errors import UsageError

if TYPE_CHECKING:
    from gittrack._entities import Run

LAUNCHER = "mlflow-client"  # the launcher gittrack server records for its clients' runs
START_SECONDS = 60.0


@contextlib.contextmanager
def local_server(repo: str) -> Iterator[str]:
    """``gittrack server`` over ``repo`` on a free port of 127.0.0.1 until the block ends; yields its URL."""
    import importlib.util

    missing = [m for m in ("starlette", "uvicorn", "bcrypt") if importlib.util.find_spec(m) is None]
    if missing:
        raise UsageError("re-running an MLflow client's script needs gittrack server: "
                         "pip install 'gittrack[tracking-server]'")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "GITTRACK_"))}
    process = subprocess.Popen(
        [sys.executable, "-m", "gittrack", "server", "--repo", repo, "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, env=env, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        url = next((w for w in first.split() if w.startswith("http://")), None)
        if url is None:
            raise UsageError("could not start gittrack server for the re-run")
        deadline = time.monotonic() + START_SECONDS
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2):  # noqa: S310 - http://127.0.0.1 we started
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise UsageError("could not start gittrack server for the re-run") from None
                time.sleep(0.1)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextlib.contextmanager
def pointed_at(url: str | None) -> Iterator[Callable[[Run], None]]:
    """While the block runs, the environment a re-run command inherits points MLflow at ``url``;
    the yielded function, given the reproduction's run once it exists (``run_command``'s
    ``on_start``, before the command starts), makes it the run MLflow resumes. Nothing changes
    when ``url`` is None."""
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_RUN_ID")}

    def resume(run: Run) -> None:
        if url is not None:
            os.environ["MLFLOW_RUN_ID"] = run.info.run_id

    try:
        if url is not None:
            os.environ["MLFLOW_TRACKING_URI"] = url
        yield resume
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
