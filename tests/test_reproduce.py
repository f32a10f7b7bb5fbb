"""Journeys through checkout and reproduce with DVC data and models: a teammate's fresh clone, a
repository that only had ``git init``, machine-dependent metrics, a kept worktree."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import BIN, git

pytestmark = pytest.mark.slow
GT = str(BIN / "gittrack")

TRAIN = """\
import pickle, sys
from pathlib import Path
import gittrack

rows = [line.split(",") for line in Path("data/trips.csv").read_text().splitlines()[1:]]
mean = sum(float(r[1]) for r in rows) / len(rows)
with gittrack.start_run(params={"scale": 2}):
    gittrack.log_input("data/trips.csv", name="trips")
    gittrack.log_metric("mean_duration", mean * 2)
    Path("model.pkl").write_bytes(pickle.dumps({"mean": mean}))
    gittrack.log_artifact("model.pkl", "model")
"""


def gt(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([GT, *args], cwd=cwd, capture_output=True, text=True, check=False,
                          env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)  # fmt: skip


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture
def team(tmp_path: Path) -> dict[str, Path]:
    """Ada's project (DVC data, a run that read it and logged a model, pushed) and a bare remote."""
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    ada = tmp_path / "ada"
    ada.mkdir()
    git(ada, "init", "-q", "-b", "main")
    (ada / "train.py").write_text(TRAIN)
    (ada / ".gitignore").write_text("model.pkl\n")
    git(ada, "add", ".")
    git(ada, "commit", "-q", "-m", "train")
    ok(gt(ada, "init", "--dvc-remote", str(tmp_path / "dvc-remote"), "--commit"))
    (ada / "data").mkdir()
    (ada / "data" / "trips.csv").write_text("km,minutes\n" + "".join(f"{i},{i * 3}\n" for i in range(50)))
    subprocess.run([sys.executable, "-m", "dvc", "add", "-q", "data/trips.csv"], cwd=ada, check=True)
    git(ada, "add", "data")
    git(ada, "commit", "-q", "-m", "data")
    ok(gt(ada, "run", "-e", "taxi", "--", sys.executable, "train.py"))
    git(ada, "remote", "add", "origin", str(remote))
    git(ada, "push", "-q", "origin", "main")
    return {"ada": ada, "remote": remote, "dvc_remote": tmp_path / "dvc-remote", "tmp": tmp_path}


def _run_id(root: Path) -> str:
    import json

    return json.loads(ok(gt(root, "runs", "list", "--json")))[0]["run_id"]


def test_a_teammate_checks_out_and_reproduces_a_run_with_dvc_data_and_a_model(team) -> None:
    ada, tmp = team["ada"], team["tmp"]
    pushed = gt(ada, "push")
    ok(pushed)
    assert "skipped" not in pushed.stderr
    objects = [p for p in (team["dvc_remote"] / "files" / "md5").rglob("*") if p.is_file()]
    assert len(objects) == 2  # the data the run read (dvc add'ed) and its model
    run = _run_id(ada)

    bob = tmp / "bob"
    git(tmp, "clone", "-q", str(team["remote"]), str(bob))
    git(bob, "config", "user.email", "bob@example.com")
    ok(gt(bob, "pull"))
    out = ok(gt(bob, "checkout", run))
    assert "DVC data restored: 2 output(s)" in out
    assert "fetched from the DVC remote" in out
    assert (bob / "data" / "trips.csv").read_text().startswith("km,minutes")
    assert (bob / ".gittrack" / "run" / "artifacts" / "model" / "model.pkl").is_file()
    git(bob, "checkout", "-q", "main")
    assert git(bob, "status", "--porcelain") == ""  # the restored model is not left for a 'git add -A'

    asked = gt(bob, "reproduce", run)  # recorded by Ada: her command is shown and needs --yes
    assert asked.returncode == 2
    assert "command: " in asked.stdout
    assert "train.py" in asked.stdout
    assert "--yes" in asked.stderr
    assert "Traceback" not in asked.stderr
    done = gt(bob, "reproduce", run, "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "DVC data restored: 2 output(s)" in done.stdout
    assert done.stdout.rstrip().endswith("reproduced")
    assert "gittrack-reproduce" not in git(bob, "branch", "--list")


def test_a_checkout_names_data_that_is_nowhere_and_changes_nothing(team) -> None:
    ada, tmp = team["ada"], team["tmp"]
    ok(gt(ada, "push", "--no-artifacts"))
    run = _run_id(ada)
    bob = tmp / "bob"
    git(tmp, "clone", "-q", str(team["remote"]), str(bob))
    ok(gt(bob, "pull"))
    failed = gt(bob, "checkout", run)
    assert failed.returncode == 1
    assert failed.stderr.count("\n") == 1, failed.stderr  # one line, not DVC's dump
    assert "neither in the local cache nor on the DVC remote" in failed.stderr
    assert "data/trips.csv" in failed.stderr
    assert "gittrack push" in failed.stderr
    assert git(bob, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    assert git(bob, "status", "--porcelain") == ""
    # once Ada pushes the data, the same checkout works
    ok(gt(ada, "push"))
    ok(gt(bob, "checkout", run))
    assert (bob / "data" / "trips.csv").is_file()


def test_reproduce_from_the_repository_that_ran_it_through_the_api(team) -> None:
    import gittrack

    client = gittrack.Client(team["ada"])
    run = client.search_runs(experiment_names=["taxi"]).iloc[0]["run_id"]
    seen = []
    result = client.reproduce(run, approve=lambda plan: seen.append(plan) or True)
    assert result.ok, [(c.key, c.original, c.reproduced) for c in result.checks]
    assert seen[0].argv[-1] == "train.py"
    assert not seen[0].foreign
    assert seen[0].outputs == 2
    assert result.data is not None
    assert result.data.outputs == 2
    assert result.reproduced.data.tags["reproduced_from"] == run
    with pytest.raises(gittrack.UsageError, match="not approved"):
        client.reproduce(run, approve=lambda plan: False)


def test_machine_dependent_metrics_are_shown_not_compared(repo: Path) -> None:
    (repo / "score.py").write_text("import time, gittrack\ntime.sleep(1.5)\ngittrack.log_metric('score', 0.5)\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "score")
    env = {"GITTRACK_SYSTEM_METRICS_INTERVAL": "1"}
    ok(gt(repo, "run", "--system-metrics", "-n", "sampled", "--", sys.executable, "score.py", env=env))
    import gittrack

    original = gittrack.Client(repo).get_run("sampled")
    assert any(k.startswith("system/") for k in original.data.metrics)
    done = gt(repo, "reproduce", "sampled", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "not compared (they measure the machine, not the model): system/" in done.stdout
    assert done.stdout.rstrip().endswith("reproduced")


def test_a_kept_reproduction_names_its_worktree_and_branch(repo: Path) -> None:
    (repo / "fail.py").write_text("import gittrack, sys\ngittrack.log_metric('x', 1)\nsys.exit(3)\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "fail")
    gt(repo, "run", "-n", "failing", "--", sys.executable, "fail.py")
    kept = gt(repo, "reproduce", "failing", "--keep")
    assert kept.returncode == 1
    line = next(x for x in kept.stdout.splitlines() if x.startswith("worktree kept at"))
    folder, branch = line.split(" at ")[1].split(" on branch ")
    assert Path(folder).is_dir()
    assert branch in git(repo, "branch", "--list")
    assert "the command exited with status 3" in kept.stdout


AUTOLOG = """\
import gittrack.mlflow as mlflow
from sklearn.linear_model import LinearRegression

mlflow.sklearn.autolog()
with mlflow.start_run() as run:
    LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
version = mlflow.register_model(f"runs:/{run.info.run_id}/model", "lin")
model = mlflow.pyfunc.load_model(f"models:/lin/{version.version}")
print("prediction", round(float(model.predict([[3.0]])[0]), 6))
"""


def test_autolog_logs_a_model_in_a_repository_that_only_had_git_init(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    root.mkdir()
    git(root, "init", "-q")
    (root / "fit.py").write_text(AUTOLOG)
    done = subprocess.run([sys.executable, "fit.py"], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "prediction 3.0" in done.stdout
    assert "set up DVC" in done.stderr
    assert "could not log the model" not in done.stderr
    (root / "again.py").write_text(AUTOLOG.replace('"lin"', '"lin2"'))
    again = subprocess.run([sys.executable, "again.py"], cwd=root, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr
    assert "set up DVC" not in again.stderr  # once
