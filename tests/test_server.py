"""``gittrack server``: unmodified MLflow scripts and MLflow's own client, against a real server
subprocess on 127.0.0.1, record runs that gittrack's API, git and MlflowClient all see."""

from __future__ import annotations

from pathlib import Path

import pytest

import gittrack
from tests.conftest import git, optional
from tests.server_helpers import client_env, run_script, running_server

SCRIPTS = Path(__file__).parent / "server_scripts"


@pytest.fixture
def mlflow_client_module():
    return optional("mlflow", "the real MLflow client talks to the server")


def test_a_course_script_runs_unmodified_against_the_server(repo: Path, tmp_path: Path, mlflow_client_module) -> None:
    elsewhere = tmp_path / "laptop"  # the client's folder is not the repository, nor any git repository
    elsewhere.mkdir()
    with running_server(repo) as url:
        out = run_script(SCRIPTS / "track.py", elsewhere, client_env(url))
        from mlflow.tracking import MlflowClient

        remote = MlflowClient(tracking_uri=url)
        parent_id = out.split("parent ")[1].split()[0]
        seen = remote.get_run(parent_id)
        assert seen.data.params == {"model": "logreg", "C": "0.5"}
        assert seen.data.tags["team"] == "churn"
        assert seen.info.status == "FINISHED"
    assert "history 20 19 0.05" in out
    assert "runs 4 ['FAILED', 'FINISHED', 'FINISHED', 'FINISHED']" in out
    assert not (elsewhere / "mlruns").exists()

    client = gittrack.Client(repo)
    runs = client.list_runs("course-tracking")
    assert len(runs) == 4
    parent = client.get_run(parent_id)
    assert parent.info.run_name == "baseline"
    assert parent.data.metrics == {"loss": 0.05, "accuracy": 0.81, "f1": 0.78}
    assert parent.data.tags["mlflow.note.content"] == "a first model"
    assert parent.data.tags["mlflow.source.name"].endswith("track.py")  # the client's, not the server's
    assert [m.step for m in client.get_metric_history(parent_id, "loss")] == list(range(20))
    children = [r for r in runs if r.info.parent_run_id == parent_id]
    assert sorted(r.data.params["C"] for r in children) == ["0.1", "1.0"]
    assert {r.info.run_name: r.info.status for r in runs}["failing"] == "FAILED"
    assert client.get_experiment("course-tracking").tags == {"course": "mlops-zoomcamp"}
    assert git(repo, "for-each-ref", "--format=%(refname)", "refs/runs/course-tracking/").count("\n") == 4
    git(repo, "fsck", "--no-dangling")


COURSE = Path(__file__).parent / "mlflow_scripts"


def _prepared_data(folder: Path) -> None:
    """What prepare_data.py leaves for the next scripts (it sets its own sqlite URI, so it is not run here)."""
    import pickle

    from sklearn.datasets import make_classification
    from sklearn.model_selection import train_test_split

    X, y = make_classification(n_samples=300, n_features=6, n_informative=4, random_state=0)
    (folder / "data").mkdir()
    for name, value in zip(("X_train", "X_test", "y_train", "y_test"),
                           train_test_split(X, y, test_size=0.25, random_state=0), strict=True):  # fmt: skip
        (folder / "data" / f"{name}.pkl").write_bytes(pickle.dumps(value))


@pytest.mark.slow
def test_the_course_tuning_and_registry_scripts_run_unmodified(repo: Path, tmp_path: Path, mlflow_client_module):
    """tune.py (optuna, nested runs, mlflow.sklearn.log_model) and tests/mlflow_scripts/register_model.py
    (search, register_model, stages, pyfunc.load_model from models:/NAME/Production) as written for
    MLflow, with only MLFLOW_TRACKING_URI set."""
    optional("optuna", "tune.py searches with optuna")
    laptop = tmp_path / "laptop"
    laptop.mkdir()
    _prepared_data(laptop)
    with running_server(repo) as url:
        env = client_env(url)
        out = run_script(COURSE / "tune.py", laptop, env)
        assert "\nsearch " in out
        # train.py (which sets its own file: URI, so it is not run here) registered version 1 first
        from mlflow.tracking import MlflowClient

        remote = MlflowClient(tracking_uri=url, registry_uri=url)
        first = remote.search_runs([remote.get_experiment_by_name("churn-tuning").experiment_id],
                                   "attributes.run_name = 'trial-0'")[0].info.run_id  # fmt: skip
        remote.create_registered_model("churn-classifier")
        assert remote.create_model_version("churn-classifier", f"runs:/{first}/model", first).version == "1"
        out = run_script(COURSE / "register_model.py", laptop, env)
    assert "production is version 2 predictions" in out

    client = gittrack.Client(repo)
    tuning = client.list_runs("churn-tuning")
    assert len(tuning) == 5
    parent = next(r for r in tuning if r.info.run_name == "optuna-search")
    assert sum(r.info.parent_run_id == parent.info.run_id for r in tuning) == 4
    trial = next(r for r in tuning if r.info.run_name == "trial-0")
    model = next(a for a in trial.details.artifacts if a["path"] == "model")
    assert model["kind"] == "model"  # the folder the client uploaded, in DVC, a model of the run
    assert "accuracy" in trial.data.metrics
    assert len(client.get_metric_history(trial.info.run_id, "accuracy")) == 1
    tags = git(repo, "tag", "--list")
    assert "churn-classifier@v0.0.1" in tags
    assert "churn-classifier@v0.0.2" in tags
    assert client.get_model_version("churn-classifier", "production")["version"] == "v0.0.2"
    git(repo, "fsck", "--no-dangling")
