"""The same MLflow scripts (tests/mlflow_scripts/parity_*.py) run twice: with real MLflow on a
file store in a temporary folder, and with only their imports rewritten to gittrack.mlflow in a
fresh git repository. Each prints what it reads back through the tool's own API (MlflowClient,
mlflow.artifacts, the loaded models); the two answers must be the same."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import git, optional
from tests.test_mlflow_scripts import rewrite_imports

pytestmark = pytest.mark.slow
SCRIPTS = Path(__file__).parent / "mlflow_scripts"
PARITY = ["parity_log_model.py", "parity_registry.py", "parity_identity.py", "parity_pyfunc.py"]


def run_script(script: Path, cwd: Path, env: dict[str, str]) -> tuple[dict, str]:
    """(the JSON answers the script printed last, its stderr)."""
    done = subprocess.run([sys.executable, script.name], cwd=cwd, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"{script.name} failed in {cwd}:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def with_mlflow(name: str, tmp_path: Path) -> dict:
    """The script's answers with real MLflow, its store a folder of the temporary directory."""
    optional("mlflow", "real MLflow gives the expected answers")
    folder = tmp_path / "mlflow"
    folder.mkdir()
    (folder / name).write_text((SCRIPTS / name).read_text())
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"file:{folder / 'mlruns'}", "MLFLOW_ALLOW_FILE_STORE": "true",
           "PYTHONWARNINGS": "ignore"}  # fmt: skip
    return run_script(folder / name, folder, env)[0]


def with_gittrack(name: str, tmp_path: Path) -> tuple[dict, str]:
    """The script's answers through gittrack.mlflow, in a fresh git repository."""
    folder = tmp_path / "git"
    folder.mkdir()
    git(folder, "init", "-q")
    git(folder, "commit", "-q", "--allow-empty", "-m", "initial")
    (folder / name).write_text(rewrite_imports((SCRIPTS / name).read_text()))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    return run_script(folder / name, folder, env)


def test_only_import_lines_change_in_the_parity_scripts() -> None:
    for name in [*PARITY, "removed_apis.py"]:
        original = (SCRIPTS / name).read_text().splitlines()
        rewritten = rewrite_imports((SCRIPTS / name).read_text()).splitlines()
        changed = [(a, b) for a, b in zip(original, rewritten, strict=True) if a != b]
        assert changed, name
        assert all(a.startswith(("import mlflow", "from mlflow")) for a, _ in changed), changed


@pytest.mark.parametrize("name", PARITY)
def test_gittrack_answers_as_mlflow_does(name: str, tmp_path: Path) -> None:
    """parity_log_model: every log_model/save_model argument used or refused, registration at once,
    logged models by id; parity_registry: one stage at a time; parity_identity: the MLflow version,
    artifact locations, absolute downloads, ActiveRun._info, Default; parity_pyfunc: MLflow's custom
    PythonModel example with artifacts, and the run's params, metrics, tags and artifacts."""
    ours, _ = with_gittrack(name, tmp_path)
    theirs = with_mlflow(name, tmp_path)
    assert ours.keys() == theirs.keys()
    for key in theirs:
        assert ours[key] == theirs[key], f"{name}: {key}"


def test_apis_mlflow_removed_answer_with_their_successors(tmp_path: Path) -> None:
    answers, stderr = with_gittrack("removed_apis.py", tmp_path)
    assert answers == {
        "list_experiments": ["course-week-2", "default"],
        "client_list_experiments": ["course-week-2", "default"],
        "list_run_infos": ["C=0.1", "C=1.0"],
        "run_info_fields": ["FINISHED"],
        "list_registered_models": [["course-model", ["2"]]],
    }
    for old in ("mlflow.list_experiments", "MlflowClient.list_experiments", "MlflowClient.list_run_infos",
                "mlflow.list_run_infos", "MlflowClient.list_registered_models"):  # fmt: skip
        assert stderr.count(f"DeprecationWarning: {old} was removed in MLflow 2.0") == 1, old
