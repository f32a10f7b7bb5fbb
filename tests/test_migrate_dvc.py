"""gittrack import dvc-exps: experiments made with the real 'dvc exp run' become runs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import gittrack
from tests.conftest import BIN, git

pytestmark = pytest.mark.slow  # real DVC repositories and experiments: end to end

TRAIN = """\
import json, os, yaml
p = yaml.safe_load(open("params.yaml"))
os.makedirs("dvclive/plots/metrics/train", exist_ok=True)
with open("dvclive/plots/metrics/loss.tsv", "w") as f, open("dvclive/plots/metrics/train/acc.tsv", "w") as g:
    f.write("timestamp\\tstep\\tloss\\n")
    g.write("timestamp\\tstep\\tacc\\n")
    for s in range(3):
        f.write(f"{1700000000000 + s}\\t{s}\\t{p['lr'] / (s + 1)}\\n")
        g.write(f"{1700000000000 + s}\\t{s}\\t{0.5 + s / 10}\\n")
json.dump({"loss": p["lr"] / 3, "train": {"acc": 0.7}, "step": 2}, open("dvclive/metrics.json", "w"))
"""
DVC_YAML = """\
stages:
  train:
    cmd: python train.py
    deps: [train.py]
    params: [lr, train.epochs]
    metrics:
    - dvclive/metrics.json:
        cache: false
    plots:
    - dvclive/plots/metrics:
        x: step
"""


@pytest.fixture
def dvc_experiments(repo: Path) -> Path:
    """The repo fixture with a DVC pipeline logging like DVCLive, and two experiments run by DVC."""
    (repo / "train.py").write_text(TRAIN)
    (repo / "params.yaml").write_text("lr: 0.1\ntrain:\n  epochs: 3\n")
    (repo / "dvc.yaml").write_text(DVC_YAML)
    dvc = str(BIN / "dvc")
    subprocess.run([dvc, "init", "-q"], cwd=repo, check=True)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "pipeline")
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(Path.home())}
    for name, lr in (("fast", "0.2"), ("slow", "0.05")):
        subprocess.run([dvc, "exp", "run", "-q", "-S", f"lr={lr}", "-n", name], cwd=repo, check=True, env=env)
    return repo


def test_dvc_experiments_become_runs_on_their_commits(dvc_experiments: Path, gittrack_cmd: list[str]) -> None:
    result = subprocess.run([*gittrack_cmd, "import", "dvc-exps", "-e", "dvc", "--json"], capture_output=True,
                            text=True, cwd=dvc_experiments)  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["runs"], summary["runs_present"], summary["skipped"]) == (2, 0, [])
    client = gittrack.Client()
    runs = {r.info.run_name: r for r in client.list_runs("dvc")}
    assert sorted(runs) == ["fast", "slow"]
    fast = runs["fast"]
    refs = git(dvc_experiments, "for-each-ref", "--format=%(objectname) %(refname)", "refs/exps").splitlines()
    fast_commit = next(line.split()[0] for line in refs if line.endswith("/fast"))
    # the run's snapshot is the experiment's own commit (its parent, sharing its tree)
    assert fast.info.source_commit == fast.data.tags["dvc.exp_rev"] == fast_commit
    assert git(dvc_experiments, "rev-parse", f"{fast.info.commit}^").strip() == fast_commit
    assert git(dvc_experiments, "show", f"{fast.info.commit}:params.yaml") == "lr: 0.2\ntrain:\n  epochs: 3\n"
    assert fast.data.params == {"lr": "0.2", "train.epochs": "3"}
    history = client.get_metric_history(fast.info.run_id, "train/acc")
    assert [(m.step, m.timestamp, m.value) for m in history] == [
        (0, 1_700_000_000_000, 0.5), (1, 1_700_000_000_001, 0.6), (2, 1_700_000_000_002, 0.7)
    ]  # fmt: skip
    assert [m.value for m in client.get_metric_history(fast.info.run_id, "loss")] == [0.2, 0.1, 0.2 / 3]
    assert fast.data.metrics["step"] == 2  # a summary metric without a history: one point
    assert "train.acc" not in fast.data.metrics  # the history train/acc gives it already
    again = gittrack.Client().import_dvc_experiments("dvc")
    assert (again.runs, again.runs_present) == (0, 2)
