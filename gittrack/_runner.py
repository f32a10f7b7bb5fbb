"""``gittrack run -- COMMAND``: run any command as a run, passing its output through live.

The command's process gets ``GITTRACK_RUN_ID`` (and the experiment, the repo, and whether the
command named the run and its experiment: ``GITTRACK_RUN_NAMED``, ``GITTRACK_EXPERIMENT_NAMED``),
so a script that uses gittrack logs into this same run, and its own name and experiment apply
when the command gave none.
Its exit code decides the status; its output is kept, capped, in the run.
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, BinaryIO

from gittrack import _system_metrics as sysmetrics
from gittrack._entities import Run
from gittrack._store.record import FAILED, FINISHED, KILLED
from gittrack._store.runfiles import MAX_LOG_BYTES
from gittrack.errors import UsageError

if TYPE_CHECKING:
    from gittrack._services.runs import RunService

HEAD_BYTES = MAX_LOG_BYTES // 4
SIGINT_GRACE_SECONDS = 0.5


class CappedCapture:
    """Keeps the first and the last bytes of a stream, and counts all of them."""

    def __init__(self, limit: int = MAX_LOG_BYTES) -> None:
        self.head = bytearray()
        self.tail: collections.deque[bytes] = collections.deque()
        self.tail_bytes = 0
        self.total = 0
        self.limit = limit

    def add(self, chunk: bytes) -> None:
        """Append a chunk, dropping the middle of the stream once over the limit."""
        self.total += len(chunk)
        room = HEAD_BYTES - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail.append(chunk)
            self.tail_bytes += len(chunk)
            while self.tail_bytes - len(self.tail[0]) >= self.limit - HEAD_BYTES:
                self.tail_bytes -= len(self.tail.popleft())

    def value(self) -> bytes:
        """What was kept, with a marker where bytes were dropped."""
        tail = b"".join(self.tail)
        dropped = self.total - len(self.head) - len(tail)
        if dropped > 0:
            return bytes(self.head) + f"\n[... {dropped} bytes dropped ...]\n".encode() + tail
        return bytes(self.head) + tail


def _pump(stream: BinaryIO, sink: Callable[[bytes], None] | None, capture: CappedCapture) -> None:
    for chunk in iter(lambda: os.read(stream.fileno(), 65536), b""):
        capture.add(chunk)
        if sink is not None:
            sink(chunk)


def check_command(command: list[str]) -> None:
    """Refuse an empty command or one whose program cannot be found, before a run is created."""
    if not command:
        raise UsageError("give the command to run after '--', e.g. gittrack run -- python train.py")
    if shutil.which(command[0]) is None and not os.path.isfile(command[0]):  # relative to the caller's folder
        raise UsageError(f"command not found: {command[0]!r}")


def run_command(
    runs: RunService,
    command: list[str],
    experiment: str | None = None,
    run_name: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    on_stdout: Callable[[bytes], None] | None = None,
    on_stderr: Callable[[bytes], None] | None = None,
    on_start: Callable[[Run], None] | None = None,
    cwd: str | os.PathLike | None = None,
    system_metrics: bool | None = None,
    parent_run_id: str | None = None,
    on_process: Callable[[subprocess.Popen], None] | None = None,
    on_exit: Callable[[int], None] | None = None,
) -> tuple[Run, int]:
    """Run ``command`` as a new run of ``runs``' repository (``Client.run_command``); returns
    the ended run and the exit code to exit with.

    ``parent_run_id`` nests the run under that run; ``on_process`` is called with the command's
    process once it started (a sweep reads the run's metrics meanwhile and may stop it), and
    ``on_exit`` with its exit code once it ended, while the run is still RUNNING.

    ``system_metrics``: sample the machine and the command's process tree into ``system/``
    metrics (None: as ``$GITTRACK_SYSTEM_METRICS`` or ``gittrack.systemMetrics`` say).
    """
    check_command(command)
    if system_metrics is None:
        system_metrics = sysmetrics.enabled(runs.repo_path)
    sysmetrics.interval(runs.repo_path)  # a bad setting is refused before the run exists
    run = runs.create_run(experiment, run_name, params, tags, parent_run_id=parent_run_id, command=command,
                          launcher="gittrack run", cwd=cwd)  # fmt: skip
    run_id = run.info.run_id
    if on_start is not None:
        on_start(run)
    env = {
        **os.environ,
        "GITTRACK_RUN_ID": run_id,
        "GITTRACK_EXPERIMENT": run.info.experiment,
        "GITTRACK_REPO": runs.repo_path,
        "GITTRACK_RUN_NAMED": "1" if run_name else "",  # whether the script's start_run(run_name=) may rename it
        "GITTRACK_EXPERIMENT_NAMED": "1" if experiment else "",  # whether its start_run(experiment=) may move it
        "PYTHONUNBUFFERED": "1",
    }
    captures = {"stdout": CappedCapture(), "stderr": CappedCapture()}
    with _Forwarder() as forwarder:  # installed before the command starts, so no signal is missed
        try:
            proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd)
        except OSError as exc:
            runs.set_terminated(run_id, FAILED, {"type": type(exc).__name__, "message": str(exc)})
            raise UsageError(f"cannot start {command[0]!r}: {exc.strerror or exc}") from None
        pumps = [
            threading.Thread(target=_pump, args=(proc.stdout, on_stdout, captures["stdout"]), daemon=True),
            threading.Thread(target=_pump, args=(proc.stderr, on_stderr, captures["stderr"]), daemon=True),
        ]
        for pump in pumps:
            pump.start()
        forwarder.attach(proc)
        if on_process is not None:
            on_process(proc)
        monitor = sysmetrics.start(runs, run_id, pid=proc.pid) if system_metrics else None
        try:
            proc.wait()
        finally:
            if monitor is not None:
                monitor.stop()
        for pump in pumps:
            pump.join()
    signalled = forwarder.received[0] if forwarder.received else 0
    code = proc.returncode
    if on_exit is not None:
        on_exit(code)
    for name, capture in captures.items():
        if capture.total:
            runs.set_log(run_id, name, capture.value(), capture.total)
    if code == 0 and not signalled:
        status, error = FINISHED, None
    elif code < 0 or signalled or code in (130, 143):  # 128 + SIGINT or SIGTERM: how a script exits on them
        status, error = KILLED, {"type": "Signal", "message": f"command ended by signal {signalled or -code}"}
    else:
        status, error = FAILED, {"type": "ExitCode", "message": f"command exited with status {code}"}
    runs.set_terminated(run_id, status, error)
    return runs.get_run(run_id), code if code >= 0 else 128 - code


class _Forwarder:
    """SIGINT, SIGTERM and SIGHUP sent to ``gittrack run`` go to its command (SIGINT only when the
    terminal did not already deliver it: a Ctrl-C reaches the whole process group)."""

    HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.received: list[int] = []
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _Forwarder:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._handle) for s in self.HANDLED}
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def attach(self, proc: subprocess.Popen) -> None:
        """The command started: forward what arrived before it existed."""
        self.proc = proc
        for signum in self.received:
            _send(proc, signum)

    def _handle(self, signum: int, frame: Any) -> None:
        self.received.append(signum)
        if self.proc is None:
            return  # forwarded by attach()
        if signum == signal.SIGINT:
            threading.Timer(SIGINT_GRACE_SECONDS, _send, args=(self.proc, signum)).start()
        else:
            _send(self.proc, signum)


def _send(proc: subprocess.Popen, signum: int) -> None:
    if proc.poll() is None:
        proc.send_signal(signum)
