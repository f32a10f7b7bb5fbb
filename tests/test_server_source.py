"""Runs an MLflow client records through ``gittrack server`` carry the client's code: when the
commit the client reports (``mlflow.source.git.commit``) is in the server's repository, the run's
snapshot is that commit's tree, so checking out the run gives the code that ran."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import gittrack
from tests.conftest import BIN, git, optional
from tests.server_helpers import client_env, running_server

SCRIPT = """\
import mlflow

mlflow.set_experiment("src-exp")
with mlflow.start_run(run_name="{name}") as run:
    mlflow.log_metric("acc", 0.75)
print(run.info.run_id)
"""


def run_client(folder: Path, argv: list[str], url: str) -> str:
    done = subprocess.run([sys.executable, *argv], cwd=folder, env=client_env(url), capture_output=True, text=True,
                          check=False, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_a_run_on_a_pushed_commit_is_that_commits_code(repo: Path, tmp_path: Path) -> None:
    optional("mlflow", "MLflow's client reports the script's git commit")
    client = tmp_path / "client"
    git(tmp_path, "clone", "-q", str(repo), str(client))
    (client / "sub").mkdir()
    (client / "sub" / "fit.py").write_text(SCRIPT.format(name="pushed"))
    git(client, "add", ".")
    git(client, "commit", "-q", "-m", "the script")
    git(client, "push", "-q", "origin", "HEAD:refs/heads/feature")  # the team pushed it
    pushed = git(client, "rev-parse", "HEAD").strip()

    with running_server(repo) as url:
        on_commit = run_client(client / "sub", ["fit.py"], url)
        (client / "sub" / "fit.py").write_text(SCRIPT.format(name="unpushed"))
        git(client, "commit", "-q", "-am", "not pushed")
        unpushed = git(client, "rev-parse", "HEAD").strip()
        elsewhere = run_client(client / "sub", ["fit.py"], url)
        (repo / "local.py").write_text(SCRIPT.format(name="local"))  # in the server's own work tree, not committed
        local = run_client(repo, ["local.py"], url)

    runs = gittrack.Client(repo)
    run = runs.get_run(on_commit)
    ref = f"refs/runs/src-exp/{on_commit}"
    assert git(repo, "show", f"{ref}:sub/fit.py") == SCRIPT.format(name="pushed")
    assert git(repo, "rev-parse", f"{ref}~1").strip() == pushed  # its first commit's parent: the client's commit
    assert run.details.source["commit"] == pushed
    assert run.details.command["entry_point"] == "sub/fit.py"
    assert run.details.command["cwd"] == "sub"  # where the client ran it
    assert run.data.metrics == {"acc": 0.75}
    assert run.info.status == "FINISHED"

    # a commit the server does not have: the server's work tree, the reported commit kept as a tag
    other = runs.get_run(elsewhere)
    assert other.details.source["commit"] != unpushed
    assert git(repo, "show", f"refs/runs/src-exp/{elsewhere}:train.py") == "print('training')\n"
    assert other.data.tags["mlflow.source.git.commit"] == unpushed

    # the client's commit is the server's HEAD but the work tree has edits, which may be what ran: the work tree
    assert git(repo, "show", f"refs/runs/src-exp/{local}:local.py") == SCRIPT.format(name="local")
    assert runs.get_run(local).details.source["dirty"] is True

    # reproduce re-runs the client's script at that commit, its MLflow calls recorded in the reproduction
    done = subprocess.run([str(BIN / "gittrack"), "reproduce", on_commit, "--yes"], cwd=repo, capture_output=True,
                          text=True, check=False, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == "reproduced"
    line = next(x for x in done.stdout.splitlines() if x.startswith("original "))
    again = runs.get_run(line.split()[-1])  # "original <id>, reproduction <id>"
    assert again.data.tags["reproduced_from"] == on_commit
    assert again.data.metrics == {"acc": 0.75}  # what the script logged through MLflow's client
    assert again.info.status == "FINISHED"
    assert len(runs.search_runs("src-exp")) == 4  # the script resumed gittrack run's run: no other run
    assert run.details.command["argv"] == ["python", "fit.py"]
    refused = subprocess.run([str(BIN / "gittrack"), "reproduce", elsewhere, "--yes"], cwd=repo, capture_output=True,
                             text=True, check=False, timeout=120)  # fmt: skip
    assert refused.returncode == 2
    assert "on a commit the server did not have" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
