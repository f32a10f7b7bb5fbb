"""``gittrack server --push-to REMOTE``: runs written through the server reach the team remote a
moment after the writes, and runs others pushed there come into the server's repository."""

from __future__ import annotations

import time
from pathlib import Path

import gittrack
from tests.conftest import git, optional
from tests.server_helpers import running_server


def wait_for(check, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def test_push_to_and_pull(repo: Path, tmp_path: Path, monkeypatch) -> None:
    optional("mlflow", "MLflow's client logs through the server")
    remote = tmp_path / "team.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "HEAD")
    colleague = tmp_path / "colleague"
    git(tmp_path, "clone", "-q", str(remote), str(colleague))
    with gittrack.start_run(experiment="theirs", repo=colleague) as theirs:
        gittrack.log_metric("auc", 0.7)
    gittrack.Client(colleague).remote.push("origin")

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with running_server(repo, "--push-to", "origin", "--push-delay", "0.5", "--pull-interval", "1") as url:
        from mlflow.tracking import MlflowClient

        client = MlflowClient(tracking_uri=url)
        run = client.create_run(client.create_experiment("ours"))
        client.log_metric(run.info.run_id, "auc", 0.9)
        client.set_terminated(run.info.run_id)
        ref = f"refs/runs/ours/{run.info.run_id}"
        wait_for(lambda: ref in git(remote, "for-each-ref", "--format=%(refname)"))
        wait_for(lambda: theirs.info.run_id in git(repo, "for-each-ref", "--format=%(refname)", "refs/runs/"))
        assert client.get_run(theirs.info.run_id).data.metrics == {"auc": 0.7}  # served once pulled
    pushed = gittrack.Client(colleague)
    pushed.remote.pull("origin")
    assert pushed.get_run(run.info.run_id).data.metrics == {"auc": 0.9}
