"""MLflow scripts (tests/mlflow_scripts/, written against MLflow) run with only their import lines
rewritten to gittrack.mlflow; what they record is checked with gittrack's API, dvc and gto."""

from __future__ import annotations

import json
import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gittrack
from gittrack._data import dvcstore
from tests.conftest import BIN, git

pytestmark = pytest.mark.slow
SCRIPTS = Path(__file__).parent / "mlflow_scripts"
ORDER = ["prepare_data.py", "train.py", "tune.py", "register_model.py"]


def rewrite_imports(text: str) -> str:
    """Only the import lines change: ``import mlflow[.x]`` -> ``import gittrack.mlflow as mlflow``,
    ``from mlflow[.x] import y`` -> ``from gittrack.mlflow[.x] import y``."""
    text = re.sub(r"^import mlflow(\.\w+)*\s*$", "import gittrack.mlflow as mlflow", text, flags=re.M)
    return re.sub(r"^from mlflow(\.[\w.]+)? import ", r"from gittrack.mlflow\1 import ", text, flags=re.M)


def test_only_import_lines_change() -> None:
    for name in ORDER:
        original = (SCRIPTS / name).read_text().splitlines()
        rewritten = rewrite_imports((SCRIPTS / name).read_text()).splitlines()
        changed = [(a, b) for a, b in zip(original, rewritten, strict=True) if a != b]
        assert changed, name
        assert all(a.startswith(("import mlflow", "from mlflow")) for a, _ in changed), changed


def test_mlflow_scripts_record_git_native_runs_tags_and_dvc_data(repo: Path) -> None:
    dvcstore.open_dvc.cache_clear()
    outputs = {}
    for name in ORDER:
        (repo / name).write_text(rewrite_imports((SCRIPTS / name).read_text()))
        done = subprocess.run([sys.executable, name], cwd=repo, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{name} failed:\n{done.stdout}\n{done.stderr}"
        outputs[name] = done.stdout + done.stderr
    # the sqlite URI is not used (one warning); DVC is set up on first use (one line)
    assert outputs["prepare_data.py"].count("is not used; runs are recorded in the git repository") == 1
    assert outputs["prepare_data.py"].count("set up DVC") == 1
    assert "set up DVC" not in outputs["train.py"]
    assert "production is version 2" in outputs["register_model.py"]

    client = gittrack.Client(repo)
    names = [e.name for e in client.list_experiments()]
    assert names == ["churn-data", "churn-training", "churn-tuning"]
    prepare = client.list_runs("churn-data")[0]
    assert prepare.data.params == {"n_samples": "300", "test_size": "0.25"}
    assert prepare.details.inputs[0]["name"] == "churn-train"
    assert prepare.details.inputs[0]["context"] == "training"
    train = client.list_runs("churn-training")[0]
    assert train.info.status == "FINISHED"
    assert train.data.tags["team"] == "churn"
    assert train.data.tags["mlflow.note.content"] == "baseline forest"
    assert [m.value for m in client.get_metric_history(train.info.run_id, "depth_curve")] == [0.2, 0.3, 0.4]
    assert train.data.params["max_depth"] == "4"  # mlflow.sklearn.autolog() recorded the fit too
    assert "criterion" in train.data.params
    assert 0 < train.data.metrics["training_accuracy_score"] <= 1
    tuning = client.list_runs("churn-tuning")
    parent = next(r for r in tuning if r.info.run_name == "optuna-search")
    children = [r for r in tuning if r.info.parent_run_id == parent.info.run_id]
    assert len(tuning) == 5
    assert len(children) == 4
    best = max(children, key=lambda r: r.data.metrics["accuracy"])
    assert parent.data.metrics["best_accuracy"] == best.data.metrics["accuracy"]
    assert gittrack.search_runs(filter_string="tags.mlflow.runName LIKE 'trial-%'", repo=repo).shape[0] == 4

    # DVC holds the data: the prepared pickles come back from the run, identical
    local = client.download_artifacts(prepare.info.run_id, "data")
    with open(Path(local) / "X_test.pkl", "rb") as handle, open(repo / "data" / "X_test.pkl", "rb") as mine:
        np.testing.assert_array_equal(pickle.load(handle), pickle.load(mine))
    status = subprocess.run([str(BIN / "dvc"), "status", "--cloud"], cwd=repo, capture_output=True, text=True)
    assert "not in cache" not in status.stdout

    # the registry: GTO tags that gto itself reads
    version_2 = client.get_model_version("churn-classifier", "v0.0.2")
    assert version_2["run_id"] == best.info.run_id
    assert client.get_model_metadata("churn-classifier", "v0.0.2").description == "best of the optuna search"
    shown = json.loads(gto(repo, "show", "--json"))["churn-classifier"]
    assert shown["version"] == "v0.0.2"
    assert shown["stage"]["production"] == "v0.0.2"
    assert shown["stage"]["staging"] == "v0.0.1"
    assert "churn-classifier@v0.0.2" in git(repo, "tag", "--list")


def gto(cwd: Path, *args: str) -> str:
    gto_bin = BIN / "gto"
    if not gto_bin.exists():
        gto_bin = Path(shutil.which("gto") or "gto")
    result = subprocess.run([str(gto_bin), *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout
