"""A team's week: two people clone, pull, train and log models, register and promote them, push
(with and without packing), and a third clone pulls and loads every model. Real git, a bare remote
with the server hook, a local DVC remote, and every command a real process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import gittrack
from gittrack._data import dvcstore
from tests.conftest import BIN, git

pytestmark = pytest.mark.slow

TRAIN = """
import argparse
import gittrack
from sklearn.linear_model import LinearRegression

parser = argparse.ArgumentParser()
parser.add_argument("--slope", type=float)
slope = parser.parse_args().slope
with gittrack.start_run(params={"slope": slope}):
    model = LinearRegression().fit([[0.0], [1.0], [2.0]], [0.0, slope, 2 * slope])
    gittrack.log_metric("auc", 0.5 + slope / 100)
    gittrack.log_model(model, input_example=[[1.0]])
"""

SWEEP = """
import sys
import gittrack
from sklearn.linear_model import LinearRegression

for slope in map(float, sys.argv[1:]):
    with gittrack.start_run(experiment="churn", params={"slope": slope}):
        gittrack.log_metric("auc", 0.5 + slope / 100)
        gittrack.log_model(LinearRegression().fit([[0.0], [1.0]], [0.0, slope]))
"""


def gt(cwd: Path, *args: str) -> str:
    """Run the gittrack command in ``cwd``; it must succeed without an error line."""
    result = subprocess.run([str(BIN / "gittrack"), *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"gittrack {' '.join(args)} in {cwd.name}: {result.stdout}{result.stderr}"
    assert "error" not in result.stderr.lower(), result.stderr
    return result.stdout


def clone(remote: Path, path: Path, name: str) -> Path:
    subprocess.run(["git", "clone", "-q", str(remote), str(path)], check=True, capture_output=True)
    git(path, "config", "user.name", name)
    git(path, "config", "user.email", f"{name.lower()}@example.com")
    return path


def train(root: Path, slope: float) -> None:
    gt(root, "run", "-e", "churn", "-p", f"slope={slope}", "--", sys.executable, "train.py", "--slope", str(slope))


def sweep(root: Path, *slopes: float) -> None:
    subprocess.run([sys.executable, "sweep.py", *map(str, slopes)], cwd=root, check=True, capture_output=True)


def slopes(root: Path) -> dict[str, float]:
    """Each run's id and the slope its model was trained with."""
    frame = gittrack.Client(root).search_runs(order_by=["run_id"])
    return dict(zip(frame["run_id"], frame["params.slope"].astype(float), strict=True))


@pytest.mark.parametrize("packed", [False, True], ids=["refs", "packed"])
def test_a_week_of_two_teammates(tmp_path: Path, packed: bool) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    gt(remote, "hooks", "install", "--server")

    # Monday: Alice sets the project up; Bob clones it; both pull
    alice = clone(remote, tmp_path / "alice", "Alice")
    (alice / "train.py").write_text(textwrap.dedent(TRAIN))
    (alice / "sweep.py").write_text(textwrap.dedent(SWEEP))
    git(alice, "add", ".")
    git(alice, "commit", "-q", "-m", "Add the training scripts")
    gt(alice, "init", "--dvc-remote", str(tmp_path / "dvc-remote"), "--commit")
    git(alice, "push", "-q", "origin", "main")
    bob = clone(remote, tmp_path / "bob", "Bob")
    for person in (alice, bob):
        assert "0 run(s) new" in gt(person, "pull")

    # both train and log models (Alice with gittrack run, Bob with a sweep in Python), both push
    train(alice, 1)
    train(alice, 2)
    sweep(bob, 3, 4)
    assert "2 run(s) sent" in gt(alice, "push")
    assert "2 run(s) sent" in gt(bob, "push")  # its data too, though it never had Alice's
    assert "2 run(s) new" in gt(alice, "pull")
    assert "2 run(s) new" in gt(bob, "pull")

    # Tuesday: each registers a model version, then both promote to staging at the same time
    best = {slope: run_id for run_id, slope in slopes(alice).items()}
    gt(alice, "models", "register", "churn", "--run", best[2])
    gt(alice, "push")
    gt(bob, "pull")
    gt(bob, "models", "register", "churn", "--run", best[4])
    gt(bob, "push")
    gt(alice, "pull")
    gt(alice, "models", "promote", "churn", "v0.0.1", "staging")
    gt(bob, "models", "promote", "churn", "v0.0.2", "staging")  # the same counter as Alice's

    # more training; then both push, packing or not
    train(alice, 5)
    sweep(bob, 6)
    if packed:
        assert "churn: packed 5 run(s)" in gt(alice, "runs", "pack")
        gt(alice, "push")
        assert "run(s) packed" in gt(bob, "push", "--pack")  # unites its index with Alice's
    else:
        gt(alice, "push")
        gt(bob, "push")  # renumbers its staging assignment after Alice's
    for person in (alice, bob):
        gt(person, "pull")

    remote_refs = git(remote, "for-each-ref", "--format=%(refname)").split()
    run_refs = [ref for ref in remote_refs if ref.startswith("refs/runs/")]
    assert (len(run_refs), "refs/runs-index/churn" in remote_refs) == ((0, True) if packed else (6, False))

    # Wednesday: Carol clones, pulls, and loads every model from an empty DVC cache
    carol = clone(remote, tmp_path / "carol", "Carol")
    assert ("6 packed run(s) taken in" if packed else "6 run(s) new") in gt(carol, "pull")
    dvcstore.open_dvc.cache_clear()
    trained = slopes(carol)
    assert sorted(trained.values()) == [1, 2, 3, 4, 5, 6]
    assert trained == slopes(alice) == slopes(bob)
    for run_id, slope in trained.items():
        assert gittrack.load_model(f"runs:/{run_id}/model", repo=carol).predict([[1.0]])[0] == pytest.approx(slope)
        assert gittrack.Client(carol).load_model(f"runs:/{run_id[:12]}/model").predict([[2.0]])[0] == pytest.approx(
            2 * slope
        )
    client = gittrack.Client(carol)
    assert client.load_model("churn@v0.0.1").predict([[1.0]])[0] == pytest.approx(2)
    assert client.load_model("churn@latest").predict([[1.0]])[0] == pytest.approx(4)
    assert client.load_model("churn@staging").predict([[1.0]])[0] == pytest.approx(4)  # Bob's, pushed last
    history = gt(carol, "models", "history", "churn")
    assert history.count("assign ") == 2  # both promotions survived, in the order they reached the remote
    assert "staging: v0.0.2" in gt(carol, "models", "list")  # a stage may hold both; the newest assignment wins
