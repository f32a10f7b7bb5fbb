"""Sweeps end to end: trials as runs under a parent, pruning, stop, kill and resume, status and
best, with real processes, a real Optuna journal and real git."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import gittrack
from tests.conftest import BIN, git

SPACE = {"x": {"type": "float", "low": -4.0, "high": 4.0}, "k": {"type": "int", "low": 1, "high": 4}}

TRAIN = """\
import sys, time, gittrack
x, k = float(sys.argv[1]), int(sys.argv[2])
with gittrack.start_run():
    for step in range(5):
        gittrack.log_metric("loss", (x - 1) ** 2 + k + 1.0 / (step + 1), step=step)
        time.sleep(0.12)
"""


def quadratic(params: dict) -> float:
    """A Python objective that reports every step, so that the pruner can stop it."""
    from gittrack.sweeps import report

    value = 0.0
    for step in range(4):
        value = (params["x"] - 1) ** 2 + params["k"] + 1.0 / (step + 1)
        report(value, step)
    return value


def napping(params: dict) -> float:
    """An objective that takes a while, so that every worker gets trials."""
    time.sleep(0.3)
    return (params["x"] - 1) ** 2


def cli(*args: str, cwd: Path, check: bool = True, timeout: float = 120, env: dict | None = None):
    result = subprocess.run([str(BIN / "gittrack"), *args], cwd=cwd, capture_output=True, text=True,
                            timeout=timeout, check=False, env=env)  # fmt: skip
    if check and result.returncode != 0:
        raise AssertionError(f"gittrack {' '.join(args)} exited {result.returncode}: {result.stderr}")
    return result


def sweep_runs(sweep_id: str) -> list[gittrack.Run]:
    return gittrack.search_runs(filter_string=f"tags.gittrack.sweep = '{sweep_id}'", output_format="list")


def test_a_python_sweep_records_every_trial_as_a_run_under_its_parent(repo: Path) -> None:
    result = gittrack.sweep(quadratic, SPACE, experiment="opt", trials=12, seed=7, metric="loss")
    assert result.finished == 12
    assert result.counts.get("COMPLETE", 0) + result.counts.get("PRUNED", 0) == 12
    runs = sweep_runs(result.sweep_id)
    parent = next(r for r in runs if r.info.run_id == result.sweep_id)
    trials = [r for r in runs if r.info.run_id != result.sweep_id]
    assert len(trials) == 12
    assert sorted(int(r.data.tags["gittrack.trial"]) for r in trials) == list(range(12))
    for run in trials:
        assert run.info.parent_run_id == result.sweep_id
        assert run.info.experiment == "opt"
        assert set(run.data.params) == {"x", "k"}
        pruned = run.data.tags.get("gittrack.pruned") == "true"
        assert run.info.status == ("KILLED" if pruned else "FINISHED")
    assert parent.info.status == "FINISHED"
    assert parent.data.params["sweep.sampler"] == "tpe"
    assert parent.data.params["sweep.seed"] == "7"
    assert json.loads(parent.data.params["sweep.space"])["k"] == {"type": "int", "low": 1, "high": 4}
    assert parent.data.params["sweep.study_name"] == "gittrack-" + result.sweep_id
    best = [m.value for m in gittrack.Client().get_metric_history(result.sweep_id, "best_loss")]
    assert best == sorted(best, reverse=True)
    assert best[-1] == pytest.approx(result.best_value)
    finished = [r for r in trials if r.info.status == "FINISHED"]
    assert min(r.data.metrics["loss"] for r in finished) == pytest.approx(result.best_value)
    assert parent.data.tags["gittrack.best_run_id"] == result.best_run_id


def test_the_active_run_is_the_parent(repo: Path) -> None:
    with gittrack.start_run(experiment="outer", run_name="tuning") as outer:
        result = gittrack.sweep(quadratic, SPACE, trials=3, metric="loss", pruner="none")
        gittrack.log_metric("after", 1.0)
    assert result.sweep_id == outer.info.run_id
    parent = gittrack.get_run(outer.info.run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["gittrack.sweep"] == result.sweep_id
    assert set(parent.data.metrics) == {"best_loss", "after"}
    trials = [r for r in sweep_runs(result.sweep_id) if r.info.run_id != result.sweep_id]
    assert [r.info.experiment for r in trials] == ["outer"] * 3


def test_stop_then_resume_finishes_exactly_the_total(repo: Path) -> None:
    from gittrack.sweeps import stop_sweep, sweep_status

    seen: list[str] = []

    def objective(params: dict) -> float:
        if len(seen) == 3:
            stop_sweep(gittrack.active_run().info.parent_run_id)  # as 'gittrack sweep stop' would
        seen.append(params["m"])
        return float(len(params["m"]))

    space = {"m": {"type": "categorical", "choices": ["a", "bb", "ccc"]}}
    first = gittrack.sweep(objective, space, trials=8, sampler="random", seed=1)
    assert first.stopped
    assert first.finished == 4
    again = gittrack.sweep(objective, resume=first.sweep_id[:10])
    assert again.finished == 8
    assert not again.stopped
    assert sweep_status(first.sweep_id).counts == {"COMPLETE": 8, "SKIPPED": 1}
    assert len(sweep_runs(first.sweep_id)) == 9  # 8 trials and the parent
    assert again.best_value == 1.0


@pytest.mark.slow
def test_python_workers_are_processes_each_committing_its_own_runs(repo: Path) -> None:
    result = gittrack.sweep(napping, SPACE, trials=6, workers=2, seed=5, metric="loss", pruner="none")
    assert result.counts["COMPLETE"] == 6
    trials = [r for r in sweep_runs(result.sweep_id) if r.info.run_id != result.sweep_id]
    assert len(trials) == 6
    pids = {r.details.pid for r in trials}
    assert len(pids) == 2  # two worker processes, neither this one
    assert os.getpid() not in pids


@pytest.mark.parametrize("sampler", ["random", "grid", "cmaes"])
def test_each_sampler(repo: Path, sampler: str) -> None:
    space = {"x": {"type": "float", "low": 0.0, "high": 2.0, "step": 0.5}, "k": {"type": "int", "low": 1, "high": 2}}
    result = gittrack.sweep(quadratic, space, trials=12, sampler=sampler, seed=0, metric="loss", pruner="none")
    assert result.finished == (10 if sampler == "grid" else 12)  # a grid of 5 x 2 points is tried once each
    assert result.best_params == {"x": 1.0, "k": 1} or sampler != "grid"


def test_mistakes_are_refused_before_anything_runs(repo: Path, tmp_path: Path) -> None:
    (repo / "space.yaml").write_text("lr: {type: float, low: 0.1, high: 0.01}\n")
    bad = cli("sweep", "--space", "space.yaml", "--", sys.executable, "train.py", "{lr}", cwd=repo, check=False)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "error: space.yaml: lr: low (0.1) must not be above high (0.01)"
    (repo / "space.yaml").write_text("lr: {type: float, low: 0.01, high: 0.1}\n")
    bad = cli("sweep", "--space", "space.yaml", "--", sys.executable, "train.py", "{depth}", cwd=repo, check=False)
    assert bad.returncode == 2
    assert "refers to {depth}, which is not a param of the space (lr)" in bad.stderr
    missing = cli("sweep", "status", "0123", cwd=repo, check=False)
    assert missing.returncode == 1
    assert "no sweep '0123' in this repository" in missing.stderr
    assert not gittrack.list_runs()


def _status(repo: Path, sweep_id: str) -> dict:
    return json.loads(cli("sweep", "status", sweep_id, "--json", cwd=repo).stdout)


@pytest.mark.slow
def test_a_killed_command_sweep_resumes_and_every_trial_is_a_run(repo: Path) -> None:
    (repo / "train.py").write_text(TRAIN)
    (repo / "space.yaml").write_text("x: {type: float, low: -4, high: 4}\nk: {type: int, low: 1, high: 4}\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "trainer")
    total = 14
    args = ["sweep", "-e", "cmd", "--space", "space.yaml", "--trials", str(total), "--workers", "2",
            "--metric", "loss", "--seed", "3", "--sampler", "random", "-q",  # random: half the trials prunable
            "--", sys.executable, "train.py", "{x}", "{k}"]  # fmt: skip
    env = {**os.environ, "GITTRACK_CHECKPOINT_INTERVAL": "0.1"}  # the pruner sees every step even on a busy machine
    proc = subprocess.Popen([str(BIN / "gittrack"), *args], cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, env=env)  # fmt: skip
    try:
        first = proc.stdout.readline()  # type: ignore[union-attr]
        assert first.startswith("sweep: "), first + proc.stderr.read()  # type: ignore[union-attr]
        sweep_id = first.split()[1]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _status(repo, sweep_id)["finished"] < 4:
            time.sleep(0.3)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole sweep dies at once, trials in flight
        proc.wait()
    before = _status(repo, sweep_id)
    assert 4 <= before["finished"] < total
    assert before["counts"].get("RUNNING", 0) >= 1

    stopped = cli("sweep", "stop", sweep_id, cwd=repo).stdout
    assert stopped.startswith(f"sweep {sweep_id[:12]} stopped after {before['finished']} of {total} trials")
    assert _status(repo, sweep_id)["stopped"] is True
    resumed = cli("sweep", "--resume", sweep_id[:8], "--workers", "2", "-q", cwd=repo, timeout=180, env=env)
    assert resumed.stdout.splitlines()[0] == f"sweep: {sweep_id}"
    after = _status(repo, sweep_id)
    assert after["finished"] == total
    assert "RUNNING" not in after["counts"]
    assert after["stopped"] is False
    assert after["counts"].get("PRUNED", 0) >= 1  # the median pruner stopped some trials

    trials = json.loads(cli("sweep", "trials", sweep_id, "--json", cwd=repo).stdout)
    assert len(trials) == total
    assert all(t["run_id"] for t in trials)
    listed = json.loads(cli("runs", "list", "--all", "--json", "-f", f"tags.gittrack.sweep = '{sweep_id}'",
                            cwd=repo).stdout)  # fmt: skip
    by_id = {r["run_id"]: r for r in listed}
    for trial in trials:
        run = by_id[trial["run_id"]]
        expected = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED"}[trial["state"]]
        assert run["status"] == expected, (trial, run)
    interrupted = [r for r in listed if r["tags"].get("gittrack.interrupted") == "true"]
    assert len(interrupted) <= before["counts"]["RUNNING"]  # a trial asked for but not started has no run
    assert all(r["status"] == "KILLED" for r in interrupted)
    assert len(listed) == total + len(interrupted) + 1  # and the parent

    best = json.loads(cli("sweep", "best", sweep_id, "--json", cwd=repo).stdout)
    complete = [t for t in trials if t["state"] == "COMPLETE"]
    assert best["value"] == pytest.approx(min(t["value"] for t in complete))
    assert by_id[best["run_id"]]["metrics"]["loss"] == pytest.approx(best["value"])
