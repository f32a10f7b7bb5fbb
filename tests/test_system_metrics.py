"""System metrics: the psutil sampler for real, NVML when it is missing (no GPU here), settings and the CLI."""

from __future__ import annotations

import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

import gittrack
from gittrack import _system_metrics as system_metrics
from tests.conftest import git

BASE = {
    "system/cpu_utilization_percentage", "system/system_memory_usage_megabytes",
    "system/system_memory_usage_percentage", "system/process_memory_usage_megabytes",
    "system/disk_usage_percentage", "system/disk_usage_megabytes", "system/disk_available_megabytes",
    "system/network_receive_megabytes", "system/network_transmit_megabytes",
}  # fmt: skip


def _busy(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sum(range(1000))


def _steps(run_id: str, key: str) -> list[int]:
    return [p.step for p in gittrack.Client().get_metric_history(run_id, key)]


def test_a_run_samples_system_metrics_every_interval(repo: Path, monkeypatch) -> None:
    monkeypatch.setenv("GITTRACK_SYSTEM_METRICS_INTERVAL", "1")
    with gittrack.start_run(log_system_metrics=True) as run:
        _busy(2.4)
    metrics = gittrack.get_run(run.run_id).data.metrics
    assert {k for k in metrics if k.startswith("system/")} >= BASE
    steps = _steps(run.run_id, "system/cpu_utilization_percentage")
    assert steps == list(range(len(steps)))
    assert len(steps) >= 2
    assert 0 <= metrics["system/cpu_utilization_percentage"] <= 100
    assert 0 < metrics["system/system_memory_usage_percentage"] < 100
    assert metrics["system/process_memory_usage_megabytes"] > 10  # this Python process
    assert not any(k.startswith("system/gpu_") for k in metrics)  # no GPU on the test machines


def test_the_setting_turns_it_on_for_top_level_runs_only(repo: Path, monkeypatch) -> None:
    git(repo, "config", "gittrack.systemMetrics", "true")
    with gittrack.start_run() as parent, gittrack.start_run(nested=True) as child:
        pass
    assert "system/cpu_utilization_percentage" in gittrack.get_run(parent.run_id).data.metrics
    assert not gittrack.get_run(child.run_id).data.metrics
    monkeypatch.setenv("GITTRACK_SYSTEM_METRICS", "0")  # the environment wins over git config
    with gittrack.start_run() as run:
        pass
    assert not gittrack.get_run(run.run_id).data.metrics


def test_settings_are_read_from_the_environment_then_git_config(repo: Path, monkeypatch) -> None:
    root = str(repo)
    assert system_metrics.enabled(root) is False
    assert system_metrics.interval(root) == 10
    git(repo, "config", "gittrack.systemMetricsInterval", "2.5")
    assert system_metrics.interval(root) == 2.5
    monkeypatch.setenv("GITTRACK_SYSTEM_METRICS_INTERVAL", "3")
    assert system_metrics.interval(root) == 3
    monkeypatch.setenv("GITTRACK_SYSTEM_METRICS", "yes")
    assert system_metrics.enabled(root) is True


@pytest.mark.parametrize("value", ["0.5", "ten", "-3", "nan"])
def test_an_interval_under_one_second_is_refused(repo: Path, monkeypatch, value: str) -> None:
    monkeypatch.setenv("GITTRACK_SYSTEM_METRICS_INTERVAL", value)
    with pytest.raises(gittrack.UsageError, match=r"must be a number of seconds from 1 to 86400"):
        system_metrics.interval(str(repo))


def test_a_malformed_switch_is_refused(repo: Path, monkeypatch) -> None:
    monkeypatch.setenv("GITTRACK_SYSTEM_METRICS", "maybe")
    with pytest.raises(gittrack.UsageError, match=r"must be true or false"):
        gittrack.start_run()
    assert gittrack.active_run() is None
    assert gittrack.list_runs() == []


def test_readings_are_averaged_per_interval() -> None:
    readings = [
        {"system/cpu_utilization_percentage": 10.0, "system/gpu_0_utilization_percentage": 50.0},
        {"system/cpu_utilization_percentage": 30.0},
    ]
    assert system_metrics.average(readings) == {
        "system/cpu_utilization_percentage": 20.0,
        "system/gpu_0_utilization_percentage": 50.0,
    }


def test_without_the_nvml_binding_there_are_no_gpu_metrics(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import pynvml raises ImportError
    sampler = system_metrics.Sampler()
    reading = {**sampler.read(), **sampler.totals()}
    sampler.close()
    assert set(reading) >= BASE
    assert not any(k.startswith("system/gpu_") for k in reading)


def test_with_the_binding_but_no_driver_there_are_no_gpu_metrics() -> None:
    import pynvml  # installed by the gpu extra; this machine has no NVIDIA driver

    with pytest.raises(pynvml.NVMLError):
        pynvml.nvmlInit()
    assert system_metrics._Gpus().handles == []


def test_gpu_readings_use_mlflow_names(monkeypatch) -> None:
    memory = types.SimpleNamespace(used=512 * 2**20, total=2048 * 2**20)
    fake = types.SimpleNamespace(
        nvmlInit=lambda: None, nvmlShutdown=lambda: None, nvmlDeviceGetCount=lambda: 1,
        nvmlDeviceGetHandleByIndex=lambda i: f"gpu{i}",
        nvmlDeviceGetUtilizationRates=lambda h: types.SimpleNamespace(gpu=40),
        nvmlDeviceGetMemoryInfo=lambda h: memory, nvmlDeviceGetPowerUsage=lambda h: 50_000,
        nvmlDeviceGetEnforcedPowerLimit=lambda h: 200_000,
    )  # fmt: skip
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    assert system_metrics._Gpus().read() == {
        "system/gpu_0_utilization_percentage": 40.0,
        "system/gpu_0_memory_usage_megabytes": 512.0,
        "system/gpu_0_memory_usage_percentage": 25.0,
        "system/gpu_0_power_usage_watts": 50.0,
        "system/gpu_0_power_usage_percentage": 25.0,
    }


@pytest.mark.slow
def test_gittrack_run_samples_the_command(repo: Path, gittrack_cmd: list[str]) -> None:
    git(repo, "config", "gittrack.systemMetricsInterval", "1")
    command = [sys.executable, "-c", "import time; x = bytearray(50 * 2**20); time.sleep(2.5)"]
    result = subprocess.run([*gittrack_cmd, "run", "--system-metrics", "--", *command], cwd=repo,
                            capture_output=True, text=True, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    [run] = gittrack.list_runs()
    assert _steps(run.info.run_id, "system/process_memory_usage_megabytes")[:2] == [0, 1]
    assert run.data.metrics["system/process_memory_usage_megabytes"] > 50  # the command's memory, not ours
    plain = subprocess.run([*gittrack_cmd, "run", "--", sys.executable, "-c", "pass"], cwd=repo,
                           capture_output=True, text=True, check=False)  # fmt: skip
    assert plain.returncode == 0, plain.stderr
    newest = gittrack.list_runs()[0]
    assert not newest.data.metrics
