"""Several MLflow client processes log into one ``gittrack server`` with several worker processes:
no run and no point is lost, and the repository stays sound (``git fsck``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import gittrack
from tests.conftest import git, optional
from tests.server_helpers import client_env, running_server

SCRIPT = Path(__file__).parent / "server_scripts" / "many_runs.py"


def hammer(repo: Path, tmp_path: Path, clients: int, runs: int, points: int, workers: int, *mode: str) -> None:
    optional("mlflow", "real MLflow clients log at once")
    # made first: MLflow's set_experiment, losing the race to create it, returns without making it
    # the active experiment (its runs then go to Default), against any server
    gittrack.Client(repo).create_experiment("load")
    with running_server(repo, "--workers", str(workers)) as url:
        env = client_env(url, MLFLOW_HTTP_REQUEST_MAX_RETRIES="0")
        argv = [[sys.executable, str(SCRIPT), str(n), str(runs), str(points), *mode] for n in range(clients)]
        pipe = subprocess.PIPE
        processes = [subprocess.Popen(a, cwd=tmp_path, env=env, stdout=pipe, stderr=pipe, text=True) for a in argv]
        for process in processes:
            _, err = process.communicate(timeout=900)
            assert process.returncode == 0, err[-3000:]
    refs = git(repo, "for-each-ref", "--format=%(refname)", "refs/runs/load/").split()
    assert len(refs) == clients * runs
    client = gittrack.Client(repo)
    found = client.list_runs("load")
    assert len(found) == clients * runs, [r.info.run_name for r in found]
    assert {r.info.status for r in found} == {"FINISHED"}
    assert {r.info.run_name for r in found} == {f"w{w}-r{i}" for w in range(clients) for i in range(runs)}
    for run in found:
        assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == list(range(points))
    git(repo, "fsck", "--no-dangling")


def test_four_clients_two_workers(repo: Path, tmp_path: Path) -> None:
    """Each point its own request: 4 x 5 runs x 20 points, some 500 interleaved commits."""
    hammer(repo, tmp_path, clients=4, runs=5, points=20, workers=2)


@pytest.mark.slow
def test_eight_clients_fifty_runs_a_hundred_points(repo: Path, tmp_path: Path) -> None:
    """The issue's figure: 8 client processes x 50 runs x 100 points (400 runs), each run's points in
    one log_batch (as one request each, the 40,000 requests take some minutes on two cores)."""
    hammer(repo, tmp_path, 8, 50, 100, 4, "batch")
