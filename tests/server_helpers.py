"""``gittrack server`` started for a test: a real subprocess on 127.0.0.1, stopped after."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.conftest import BIN


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def running_server(repo: Path, *options: str) -> Iterator[str]:
    """Start ``gittrack server`` over ``repo``; yields its URL (for MLFLOW_TRACKING_URI)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "GITTRACK_"))}
    process = subprocess.Popen(
        [str(BIN / "gittrack"), "server", "--repo", str(repo), "--port", str(port), *options],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(f"gittrack server exited: {process.stdout.read() if process.stdout else ''}")
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("gittrack server did not start in 60 s") from None
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


def client_env(url: str, **extra: str) -> dict[str, str]:
    """The environment of an MLflow script: only MLFLOW_TRACKING_URI set (and ``extra``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "GITTRACK_"))}
    return {**env, "MLFLOW_TRACKING_URI": url, **extra}


def run_script(script: Path, cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, str(script)], cwd=cwd, env=env, capture_output=True, text=True,
                          check=False, timeout=300)  # fmt: skip
    assert done.returncode == 0, f"{script.name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    return done.stdout
