"""System metrics: CPU, memory, disk, network and GPU use, sampled in the background into ``system/`` metrics.

A ``Monitor`` thread takes a reading of the gauges (CPU, memory, GPUs) every second (or every
interval, when shorter), averages the readings of each interval and logs them as one point per
metric with ``step`` = the interval's number (0, 1, 2...), under MLflow's names, with the disk
and network figures as they are at the end of the interval. psutil is imported when a monitor
starts, NVIDIA's NVML binding (``pynvml``, from the ``nvidia-ml-py`` package) only when it is
installed and a driver answers; neither is imported by ``import gittrack``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gittrack.errors import GittrackError, UsageError

if TYPE_CHECKING:
    from gittrack._services.runs import RunService

log = logging.getLogger("gittrack")
DEFAULT_INTERVAL = 10.0
MIN_INTERVAL = 1.0
MB = 1024 * 1024
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _setting(repo_path: str | None, env: str, key: str) -> str | None:
    value = os.environ.get(env)
    if value is not None and value.strip() != "":
        return value.strip()
    if repo_path is None:
        return None
    from gittrack._store.repo import config_value, open_repo

    try:
        value = config_value(open_repo(repo_path), key)
    except GittrackError:
        return None
    return None if value is None else value.strip()


def enabled(repo_path: str | None) -> bool:
    """Whether runs sample system metrics: ``$GITTRACK_SYSTEM_METRICS``, else git config ``gittrack.systemMetrics``."""
    raw = _setting(repo_path, "GITTRACK_SYSTEM_METRICS", "gittrack.systemMetrics")
    if raw is None or raw.lower() in _FALSE:
        return False
    if raw.lower() in _TRUE:
        return True
    raise UsageError(f"system metrics setting {raw!r} must be true or false (1/0, yes/no, on/off)")


def interval(repo_path: str | None) -> float:
    """Seconds per sample: ``$GITTRACK_SYSTEM_METRICS_INTERVAL``, else ``gittrack.systemMetricsInterval``, else 10."""
    raw = _setting(repo_path, "GITTRACK_SYSTEM_METRICS_INTERVAL", "gittrack.systemMetricsInterval")
    if raw is None:
        return DEFAULT_INTERVAL
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not (MIN_INTERVAL <= value <= 86_400):
        raise UsageError(f"system metrics interval {raw!r} must be a number of seconds from 1 to 86400")
    return value


class _Gpus:
    """Per-GPU readings through NVML; no GPUs when the binding is missing or no driver answers."""

    def __init__(self) -> None:
        self.handles: list[Any] = []
        try:
            import pynvml
        except ImportError:
            return
        try:
            pynvml.nvmlInit()
            self.handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
        except Exception as exc:  # noqa: BLE001 - pynvml raises NVMLError subclasses for every missing piece
            log.debug("gittrack: no GPU metrics (%s)", exc)
            return
        self.nvml = pynvml

    def read(self) -> dict[str, float]:
        out: dict[str, float] = {}
        nvml = self.nvml if self.handles else None
        for i, handle in enumerate(self.handles):
            for name, read in (
                ("utilization_percentage", self._utilization),
                ("memory_usage_megabytes", self._memory_megabytes),
                ("memory_usage_percentage", self._memory_percentage),
                ("power_usage_watts", self._power_watts),
                ("power_usage_percentage", self._power_percentage),
            ):
                try:
                    out[f"system/gpu_{i}_{name}"] = float(read(nvml, handle))
                except Exception:  # noqa: BLE001, S112 - a GPU that lacks one reading still gives the others
                    continue
        return out

    @staticmethod
    def _utilization(nvml: Any, handle: Any) -> float:
        return nvml.nvmlDeviceGetUtilizationRates(handle).gpu

    @staticmethod
    def _memory_megabytes(nvml: Any, handle: Any) -> float:
        return nvml.nvmlDeviceGetMemoryInfo(handle).used / MB

    @staticmethod
    def _memory_percentage(nvml: Any, handle: Any) -> float:
        info = nvml.nvmlDeviceGetMemoryInfo(handle)
        return 100 * info.used / info.total

    @staticmethod
    def _power_watts(nvml: Any, handle: Any) -> float:
        return nvml.nvmlDeviceGetPowerUsage(handle) / 1000  # milliwatts

    @staticmethod
    def _power_percentage(nvml: Any, handle: Any) -> float:
        return 100 * nvml.nvmlDeviceGetPowerUsage(handle) / nvml.nvmlDeviceGetEnforcedPowerLimit(handle)

    def close(self) -> None:
        if self.handles:
            try:
                self.nvml.nvmlShutdown()
            except Exception:
                log.debug("gittrack: nvmlShutdown failed", exc_info=True)


class Sampler:
    """Readings of the system metrics; ``pid``'s process tree for the process memory.

    ``read()`` takes the gauges (CPU, memory, GPUs), cheap enough for every second; ``totals()``
    the disk and network figures and looks for new child processes, once per interval.
    """

    def __init__(self, pid: int | None = None, disk_path: str | None = None) -> None:
        import psutil

        self.psutil = psutil
        self.process = psutil.Process(pid or os.getpid())
        self.children: list[Any] = []
        self.disk_path = disk_path or os.path.abspath(os.sep)
        psutil.cpu_percent(interval=None)  # the first call starts the measuring window
        self.disk0 = psutil.disk_io_counters()
        self.net0 = psutil.net_io_counters()
        self.gpus = _Gpus()
        self._find_children()

    def _find_children(self) -> None:
        try:
            self.children = self.process.children(recursive=True)
        except self.psutil.Error:
            self.children = []

    def read(self) -> dict[str, float]:
        psutil = self.psutil
        memory = psutil.virtual_memory()
        out = {
            "system/cpu_utilization_percentage": psutil.cpu_percent(interval=None),
            "system/system_memory_usage_megabytes": (memory.total - memory.available) / MB,
            "system/system_memory_usage_percentage": memory.percent,
        }
        try:
            rss = self.process.memory_info().rss
            for child in self.children:
                try:
                    rss += child.memory_info().rss
                except psutil.Error:
                    continue
            out["system/process_memory_usage_megabytes"] = rss / MB
        except psutil.Error:
            pass  # the watched process has ended
        out.update(self.gpus.read())
        return out

    def totals(self) -> dict[str, float]:
        psutil = self.psutil
        out: dict[str, float] = {}
        try:
            disk = psutil.disk_usage(self.disk_path)
            out["system/disk_usage_percentage"] = disk.percent
            out["system/disk_usage_megabytes"] = disk.used / MB
            out["system/disk_available_megabytes"] = disk.free / MB
        except OSError:
            pass
        disk_io = psutil.disk_io_counters()
        if disk_io is not None and self.disk0 is not None:
            out["system/disk_read_megabytes"] = (disk_io.read_bytes - self.disk0.read_bytes) / MB
            out["system/disk_write_megabytes"] = (disk_io.write_bytes - self.disk0.write_bytes) / MB
        net = psutil.net_io_counters()
        if net is not None and self.net0 is not None:
            out["system/network_receive_megabytes"] = (net.bytes_recv - self.net0.bytes_recv) / MB
            out["system/network_transmit_megabytes"] = (net.bytes_sent - self.net0.bytes_sent) / MB
        self._find_children()
        return out

    def close(self) -> None:
        self.gpus.close()


def average(readings: list[dict[str, float]]) -> dict[str, float]:
    """One point per metric for an interval: the mean of its readings."""
    keys = {key for reading in readings for key in reading}
    from statistics import fmean

    return {key: fmean(r[key] for r in readings if key in r) for key in sorted(keys)}


class Monitor:
    """A daemon thread that logs one averaged point per metric and interval into a run."""

    def __init__(
        self,
        log_metrics: Callable[[dict[str, float], int], None],
        seconds: float = DEFAULT_INTERVAL,
        pid: int | None = None,
        disk_path: str | None = None,
    ) -> None:
        self._log_metrics = log_metrics
        self.interval = seconds
        self.tick = min(1.0, seconds)
        self.sampler = Sampler(pid, disk_path)
        self.step = 0
        self._readings: list[dict[str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="gittrack-system-metrics", daemon=True)

    def start(self) -> Monitor:
        self._thread.start()
        return self

    def _loop(self) -> None:
        started = time.monotonic()
        next_tick = started + self.tick
        while not self._stop.wait(max(0.0, next_tick - time.monotonic())):
            next_tick += self.tick
            try:
                self._readings.append(self.sampler.read())
                if time.monotonic() - started >= self.interval * (self.step + 1) - 1e-3:
                    self._flush()
            except Exception as exc:  # noqa: BLE001 - a failing sampler must not take the process down
                log.warning("gittrack: system metrics stopped: %s: %s", type(exc).__name__, exc)
                return

    def _flush(self) -> None:
        if not self._readings:
            return
        point, self._readings = average(self._readings), []
        point.update(self.sampler.totals())  # disk and network: as they are at the end of the interval
        self._log_metrics(point, self.step)
        self.step += 1

    def stop(self) -> None:
        """Stop sampling and log the readings of the unfinished interval (at least one point per run)."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        try:
            if self.step == 0 and not self._readings:
                self._readings.append(self.sampler.read())
            self._flush()
        except GittrackError as exc:
            log.debug("gittrack: last system metrics not logged: %s", exc)
        finally:
            self.sampler.close()


def start(runs: RunService, run_id: str, pid: int | None = None) -> Monitor:
    """Start sampling into ``run_id`` at the configured interval."""

    def log_metrics(point: dict[str, float], step: int) -> None:
        runs.log_metrics(run_id, point, step=step)

    return Monitor(log_metrics, interval(runs.repo_path), pid, runs.repo_path).start()
