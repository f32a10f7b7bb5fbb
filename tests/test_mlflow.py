"""The MLflow API through ``gittrack.mlflow``: what MLflow code calls, and what it gets back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dvc  # noqa: F401 - DVC binds its log handlers to sys.stderr on import: do it before capsys swaps it
import numpy as np
import pandas as pd
import pygit2
import pytest

import gittrack
import gittrack.mlflow as mlflow
from gittrack._data import dvcstore
from gittrack._sync import pull, push
from gittrack.mlflow.entities import ViewType
from gittrack.mlflow.exceptions import MlflowException
from gittrack.mlflow.tracking import MlflowClient
from tests.conftest import git, optional

pytestmark = pytest.mark.slow


@pytest.fixture(autouse=True)
def _fresh_dvc():
    dvcstore.open_dvc.cache_clear()  # the MLflow layer's state is reset by conftest's fixture


def make_repo(path: Path) -> Path:
    path.mkdir()
    git(path, "init", "-q")
    (path / "train.py").write_text("print('train')\n")
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "initial")
    return path


# -- the module ------------------------------------------------------------------------------------
def test_import_loads_no_library_and_every_import_form_works() -> None:
    code = (
        "import sys, gittrack\n"
        "assert 'gittrack.mlflow' not in sys.modules\n"
        "import gittrack.mlflow as mlflow\n"
        "heavy = [m for m in ('pygit2', 'pandas', 'numpy', 'sklearn', 'dvc', 'yaml') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "from gittrack.mlflow.tracking import MlflowClient\n"
        "from gittrack.mlflow.tracking.client import MlflowClient\n"
        "from gittrack.mlflow.client import MlflowClient\n"
        "from gittrack.mlflow import MlflowClient, MlflowException\n"
        "from gittrack.mlflow.entities import (ViewType, Run, RunInfo, RunData, Metric, Param, RunTag,\n"
        "    Experiment, ModelVersion, RegisteredModel, LifecycleStage, RunStatus, FileInfo)\n"
        "from gittrack.mlflow.entities.model_registry import ModelVersion, RegisteredModel\n"
        "from gittrack.mlflow.exceptions import MlflowException\n"
        "from gittrack.mlflow.models import infer_signature, ModelSignature\n"
        "from gittrack.mlflow.models.signature import infer_signature, ModelSignature\n"
        "from gittrack.mlflow.pyfunc import PythonModel, PythonModelContext\n"
        "from gittrack.mlflow.data import from_pandas, from_numpy\n"
        "from gittrack.mlflow.store.entities.paged_list import PagedList\n"
        "from gittrack.mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME, MLFLOW_PARENT_RUN_ID\n"
        "from gittrack.mlflow.types import Schema, ColSpec\n"
        "from gittrack.mlflow.types.schema import Schema, ColSpec, TensorSpec\n"
        "from gittrack.mlflow.entities.view_type import ViewType\n"
        "from gittrack.mlflow.entities.run_status import RunStatus\n"
        "from gittrack.mlflow.entities.model_registry.model_version import ModelVersion\n"
        "from gittrack.mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode\n"
        "assert ErrorCode.Name(RESOURCE_DOES_NOT_EXIST) == 'RESOURCE_DOES_NOT_EXIST'\n"
        "from gittrack.mlflow.tracking.fluent import start_run, ActiveRun\n"
        "from gittrack.mlflow.models.model import ModelInfo\n"
        "from gittrack.mlflow.data.pandas_dataset import PandasDataset\n"
        "for name in ('tracking', 'entities', 'exceptions', 'sklearn', 'xgboost', 'lightgbm', 'pytorch', 'pyfunc',\n"
        "             'models', 'data', 'artifacts'):\n"
        "    getattr(mlflow, name)\n"
        "from gittrack.mlflow.version import VERSION\n"
        "assert mlflow.__version__ == VERSION and VERSION.split('.')[0] == '3', VERSION  # MLflow's, not ours\n"
        "assert gittrack.__version__ != mlflow.__version__\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.stdout.strip() == "ok", done.stderr


def test_mlflow_exception_and_gittrack_errors_catch_each_other(repo: Path) -> None:
    with pytest.raises(MlflowException) as caught:
        mlflow.get_run("nope")
    assert isinstance(caught.value, gittrack.NotFoundError)
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert "\n" not in str(caught.value)
    with pytest.raises(gittrack.GittrackError):
        raise MlflowException("boom", error_code="INVALID_PARAMETER_VALUE")
    assert MlflowException.invalid_parameter_value("x").get_http_status_code() == 400


# -- tracking URIs ---------------------------------------------------------------------------------
def test_tracking_uris(repo: Path, tmp_path: Path, capsys) -> None:
    assert mlflow.get_tracking_uri().rstrip("/") == str(repo)
    mlflow.set_tracking_uri("sqlite:///mlflow.db")
    mlflow.set_tracking_uri("http://localhost:5000")
    mlflow.set_registry_uri("databricks")
    assert capsys.readouterr().err.count("is not used; runs are recorded in the git repository") == 1
    other = make_repo(tmp_path / "other")
    mlflow.set_tracking_uri(f"file://{other}/mlruns")
    assert mlflow.get_tracking_uri().rstrip("/") == str(other)
    with mlflow.start_run() as run:
        mlflow.log_metric("m", 1.0)
    assert gittrack.Client(other).get_run(run.info.run_id).data.metrics == {"m": 1.0}
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    with pytest.raises(MlflowException, match="not inside a git repository"):
        mlflow.set_tracking_uri(str(outside))
    mlflow.set_tracking_uri(None)
    client = MlflowClient(tracking_uri=str(other), registry_uri="sqlite:///x.db")
    assert client.get_run(run.info.run_id).info.run_id == run.info.run_id


# -- experiments -----------------------------------------------------------------------------------
def test_experiments_are_entities_whose_ids_round_trip(repo: Path) -> None:
    assert mlflow.get_experiment_by_name("churn") is None
    experiment = mlflow.set_experiment("churn")
    assert (experiment.name, experiment.experiment_id, experiment.lifecycle_stage) == ("churn", "churn", "active")
    created = mlflow.create_experiment("taxi", tags={"team": "pricing", "mlflow.note.content": "taxi rides"})
    assert mlflow.get_experiment(created).tags == {"team": "pricing", "mlflow.note.content": "taxi rides"}
    with pytest.raises(MlflowException, match="exists already"):
        mlflow.create_experiment("taxi")
    mlflow.set_experiment_tag("owner", "ada")
    assert mlflow.get_experiment_by_name("churn").tags == {"owner": "ada"}
    exp_id = mlflow.get_experiment_by_name("taxi").experiment_id
    with mlflow.start_run(experiment_id=exp_id) as run:
        pass
    client = MlflowClient()
    made = client.create_run(exp_id, run_name="made")
    client.set_terminated(made.info.run_id)
    assert run.info.experiment_id == exp_id
    for ids in (exp_id, [exp_id]):
        assert sorted(r.info.run_name for r in client.search_runs(ids)) == sorted([run.info.run_name, "made"])
    assert len(mlflow.search_runs(experiment_ids=exp_id)) == 2
    found = mlflow.search_experiments(filter_string="name LIKE 't%' AND tags.team = 'pricing'")
    assert [e.name for e in found] == ["taxi"]
    client.delete_experiment(exp_id)
    assert mlflow.get_experiment(exp_id).lifecycle_stage == "deleted"
    assert [e.name for e in mlflow.search_experiments(view_type=ViewType.DELETED_ONLY)] == ["taxi"]
    with pytest.raises(MlflowException, match="is deleted"):
        mlflow.set_experiment("taxi")
    client.restore_experiment(exp_id)
    assert len(mlflow.search_runs(experiment_ids=[exp_id])) == 2
    assert mlflow.get_experiment("0").name == "default"
    assert mlflow.set_experiment(experiment_id="0").name == "default"
    with mlflow.start_run(experiment_id="0") as default_run:
        pass
    assert default_run.info.experiment_id == "default"


# -- runs ------------------------------------------------------------------------------------------
def test_runs_have_mlflows_fields_and_system_tags_and_work_after_their_block(repo: Path) -> None:
    mlflow.set_experiment("exp")
    with mlflow.start_run(run_name="parent", description="the parent", log_system_metrics=False) as parent:
        assert mlflow.log_param("lr", 0.1) == 0.1
        mlflow.log_params({"depth": 3, "kind": "rf"})
        mlflow.log_metric("loss", 1.0, step=0, timestamp=1_700_000_000_000)
        mlflow.log_metric("loss", 0.5, step=1, synchronous=True)
        mlflow.log_metrics({"acc": 0.8, "f1": 0.7}, step=2)
        mlflow.set_tags({"team": "ml", "drop": "x"})
        mlflow.delete_tag("drop")
        mlflow.set_tag("mlflow.runName", "renamed")
        with mlflow.start_run(nested=True, run_name="child") as child:
            mlflow.log_metric("loss", 0.1)
        assert mlflow.active_run().info.run_id == parent.info.run_id
    info = parent.info
    assert info.status == "FINISHED"
    assert info.run_id == info.run_uuid == parent._info.run_id  # MLflow's attribute, read by some code
    assert (info.run_name, info.experiment_id, info.lifecycle_stage) == ("renamed", "exp", "active")
    assert info.user_id == "Ada Tester"
    assert info.end_time >= info.start_time > 1_600_000_000_000
    assert info.artifact_uri == f"file://{repo}/.git/gittrack/mlflow-artifacts/{info.run_id}/artifacts"
    assert parent.data.metrics == {"loss": 0.5, "acc": 0.8, "f1": 0.7}
    assert parent.data.params == {"lr": "0.1", "depth": "3", "kind": "rf"}
    tags = parent.data.tags
    assert tags["team"] == "ml"
    assert "drop" not in tags
    assert tags["mlflow.runName"] == "renamed"
    assert tags["mlflow.user"] == "Ada Tester"
    assert tags["mlflow.note.content"] == "the parent"
    assert tags["mlflow.source.type"] == "LOCAL"
    assert tags["mlflow.source.name"]
    assert len(tags["mlflow.source.git.commit"]) == 40
    assert child.data.tags["mlflow.parentRunId"] == info.run_id
    assert child.info.experiment_id == "exp"
    assert mlflow.active_run() is None
    assert mlflow.last_active_run().info.run_id == info.run_id
    history = MlflowClient().get_metric_history(info.run_id, "loss")
    assert [(m.step, m.value) for m in history] == [(0, 1.0), (1, 0.5)]
    assert history[0].timestamp == 1_700_000_000_000
    assert mlflow.get_parent_run(child.info.run_id).info.run_id == info.run_id


def test_start_run_resumes_a_run_made_by_the_client(repo: Path, monkeypatch) -> None:
    client = MlflowClient()
    made = client.create_run("0", tags={"mlflow.runName": "from-client", "k": "v"})
    client.log_param(made.info.run_id, "p", 1)
    with mlflow.start_run(run_id=made.info.run_id) as run:
        mlflow.log_metric("m", 2.0)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "from-client"
    assert (run.data.params, run.data.metrics, run.data.tags["k"]) == ({"p": "1"}, {"m": 2.0}, "v")
    with mlflow.start_run(run_id=made.info.run_id) as finished:  # as MLflow: tag a finished run
        mlflow.set_tag("evaluated", "true")
        mlflow.set_tag("mlflow.runName", "from-client-evaluated")
        with pytest.raises(MlflowException, match="has already ended"):
            mlflow.log_metric("late", 1.0)
    assert finished.info.status == "FINISHED"
    assert (finished.info.run_name, finished.data.tags["evaluated"]) == ("from-client-evaluated", "true")
    assert finished.data.metrics == {"m": 2.0}
    again = client.create_run("0")
    monkeypatch.setenv("MLFLOW_RUN_ID", again.info.run_id)
    with mlflow.start_run() as resumed:
        pass
    assert resumed.info.run_id == again.info.run_id
    monkeypatch.delenv("MLFLOW_RUN_ID")
    with pytest.raises(MlflowException, match="already active"), mlflow.start_run():
        mlflow.start_run()


def test_failed_block_and_end_run(repo: Path) -> None:
    with pytest.raises(ValueError, match="bad"), mlflow.start_run() as run:
        raise ValueError("bad")
    assert run.info.status == "FAILED"
    mlflow.start_run()
    mlflow.end_run("KILLED")
    assert mlflow.last_active_run().info.status == "KILLED"
    mlflow.log_metric("auto", 1.0)  # starts a run, as MLflow does
    assert mlflow.active_run() is not None
    mlflow.end_run()


def test_artifacts_set_up_dvc_on_first_use_and_come_back(repo: Path, tmp_path: Path, caplog) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "a.txt").write_text("a")
    (tmp_path / "plots" / "b.txt").write_text("b")
    figure, axes = plt.subplots()
    axes.plot([1, 2])
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(tmp_path / "plots" / "a.txt"), "plots")
        mlflow.log_artifact(str(tmp_path / "plots" / "b.txt"), "plots")
        mlflow.log_artifacts(str(tmp_path / "plots"), "folder")
        mlflow.log_dict({"a": 1}, "config/params.json")
        mlflow.log_dict({"a": 1}, "config/params.yaml")
        mlflow.log_text("hello", "notes.txt")
        mlflow.log_table(pd.DataFrame({"x": [1, 2]}), "table.json")
        mlflow.log_figure(figure, "figure.png")
        mlflow.log_image(np.zeros((4, 4, 3), dtype=np.uint8), "image.png")
        uri = mlflow.get_artifact_uri()
        assert mlflow.get_artifact_uri("notes.txt") == f"{uri}/notes.txt"
        assert (
            uri == run.info.artifact_uri == f"file://{repo}/.git/gittrack/mlflow-artifacts/{run.info.run_id}/artifacts"
        )
    assert caplog.text.count("set up DVC") == 1
    assert (repo / ".dvc").is_dir()
    client = MlflowClient()
    top = client.list_artifacts(run.info.run_id)
    assert [(f.path, f.is_dir) for f in top] == [
        ("config", True), ("figure.png", False), ("folder", True), ("image.png", False), ("notes.txt", False),
        ("plots", True), ("table.json", False),
    ]  # fmt: skip
    assert [f.path for f in client.list_artifacts(run.info.run_id, "plots")] == ["plots/a.txt", "plots/b.txt"]
    assert [f.path for f in client.list_artifacts(run.info.run_id, "folder")] == ["folder/a.txt", "folder/b.txt"]
    local = Path(client.download_artifacts(run.info.run_id, "plots", str(tmp_path / "out")))
    assert sorted(p.name for p in local.iterdir()) == ["a.txt", "b.txt"]
    inner = client.download_artifacts(run.info.run_id, "folder/b.txt")
    assert Path(inner).read_text() == "b"
    assert json.loads(Path(client.download_artifacts(run.info.run_id, "config/params.json")).read_text()) == {"a": 1}
    assert mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/notes.txt") == "hello"
    # the artifact location: what MLflow's local store gives, taken by every artifact call
    assert mlflow.artifacts.load_text(f"{uri}/notes.txt") == "hello"
    assert [f.path for f in mlflow.artifacts.list_artifacts(f"{uri}/plots")] == ["plots/a.txt", "plots/b.txt"]
    written = mlflow.artifacts.download_artifacts(uri)
    assert written == uri.removeprefix("file://")  # downloaded where the URI says
    assert (Path(written) / "plots" / "a.txt").read_text() == "a"
    assert Path(client.download_artifacts(run.info.run_id, "notes.txt", "relative")).is_absolute()
    with mlflow.start_run() as again:
        mlflow.log_artifact(f"{uri}/notes.txt", "copied")  # a file URI is a local path too
    assert mlflow.artifacts.load_text(f"runs:/{again.info.run_id}/copied/notes.txt") == "hello"
    assert mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/table.json") == {"columns": ["x"], "data": [[1], [2]]}


def test_datasets_and_search_results(repo: Path) -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3, 4]})
    dataset = mlflow.data.from_pandas(frame, name="train-set")
    assert len(dataset.digest) == 8
    mlflow.set_experiment("search")
    for i, lr in enumerate([0.1, 0.01, float("nan")]):
        with mlflow.start_run(run_name=f"run-{i}"):
            mlflow.log_param("lr", lr)
            mlflow.log_metric("score", lr)
            mlflow.log_input(dataset, context="training" if i < 2 else "eval", tags={"fold": str(i)})
    runs = mlflow.search_runs(order_by=["metrics.score DESC"])
    assert list(runs.columns[:6]) == ["run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time"]
    assert list(runs["tags.mlflow.runName"]) == ["run-0", "run-1", "run-2"]  # NaN after numbers
    listed = mlflow.search_runs(filter_string="dataset.context = 'training'", output_format="list")
    assert sorted(r.info.run_name for r in listed) == ["run-0", "run-1"]
    logged = listed[0].inputs.dataset_inputs[0].dataset
    assert (logged.name, logged.digest, logged.source_type) == ("train-set", dataset.digest, "code")  # as MLflow
    assert json.loads(logged.profile) == {"num_rows": 2, "num_elements": 4}
    assert json.loads(logged.schema)["mlflow_colspec"][1] == {"type": "long", "name": "b", "required": True}
    tags = {t.key: t.value for t in listed[0].inputs.dataset_inputs[0].tags}
    assert tags["mlflow.data.context"] == "training"
    assert tags["fold"] in ("0", "1")
    with pytest.raises(MlflowException, match="model="):
        mlflow.log_input(dataset, model=object())
    assert len(mlflow.search_runs(filter_string="metrics.score != 0.1")) == 2  # NaN matches !=, as in MLflow
    assert len(mlflow.search_runs(filter_string="run_name = 'run-1' AND status = 'FINISHED'")) == 1
    client = MlflowClient()
    first = client.search_runs(["search"], max_results=2, order_by=["attributes.run_name ASC"])
    assert [r.info.run_name for r in first] == ["run-0", "run-1"]
    assert first.token is not None
    rest = client.search_runs(["search"], max_results=2, order_by=["attributes.run_name ASC"], page_token=first.token)
    assert ([r.info.run_name for r in rest], rest.token) == (["run-2"], None)
    client.delete_run(first[0].info.run_id)
    assert client.get_run(first[0].info.run_id).info.lifecycle_stage == "deleted"
    assert len(client.search_runs(["search"], run_view_type=ViewType.DELETED_ONLY)) == 1
    assert len(client.search_runs(["search"], run_view_type=ViewType.ALL)) == 3
    client.restore_run(first[0].info.run_id)
    assert len(mlflow.search_runs(search_all_experiments=True)) == 3


def test_client_writes_runs_by_id(repo: Path) -> None:
    from gittrack.mlflow.entities import Metric, Param, RunTag

    client = MlflowClient()
    run = client.create_run("batch", run_name="b")
    run_id = run.info.run_id
    assert run.info.status == "RUNNING"
    client.log_param(run_id, "a", 1)
    client.log_metric(run_id, "m", 1.5, step=3)
    client.log_batch(run_id, metrics=[Metric("m", 2.5, 1_700_000_000_000, 4)], params=[Param("b", "2")],
                     tags=[RunTag("t", "v")])  # fmt: skip
    client.set_tag(run_id, "u", "w")
    client.delete_tag(run_id, "u")
    client.set_terminated(run_id, "FAILED")
    ended = client.get_run(run_id)
    assert (ended.info.status, ended.data.params, ended.data.metrics["m"]) == ("FAILED", {"a": "1", "b": "2"}, 2.5)
    assert "u" not in ended.data.tags
    assert ended.data.tags["t"] == "v"


def test_client_tags_and_renames_finished_runs(repo: Path) -> None:
    with mlflow.start_run(run_name="trained") as run:
        mlflow.log_param("lr", 0.1)
        mlflow.set_tag("stage", "draft")
    run_id = run.info.run_id
    commit = gittrack.get_run(run_id).info.commit
    client = MlflowClient()
    client.set_tag(run_id, "evaluated", "true")  # tagging a run after evaluating it
    client.set_tag(run_id, "mlflow.note.content", "held-out auc 0.91")
    client.delete_tag(run_id, "stage")
    client.update_run(run_id, name="trained-and-evaluated")
    finished = mlflow.get_run(run_id)
    assert finished.info.status == "FINISHED"
    assert finished.info.run_name == "trained-and-evaluated"
    assert finished.data.tags["mlflow.runName"] == "trained-and-evaluated"
    assert finished.data.tags["evaluated"] == "true"
    assert finished.data.tags["mlflow.note.content"] == "held-out auc 0.91"
    assert "stage" not in finished.data.tags
    assert finished.data.params == {"lr": "0.1"}
    client.set_tag(run_id, "mlflow.runName", "renamed-by-tag")
    found = mlflow.search_runs(filter_string="tags.evaluated = 'true'")
    assert list(found["tags.mlflow.runName"]) == ["renamed-by-tag"]
    assert [r.info.run_name for r in client.search_runs(["Default"], "attributes.run_name = 'renamed-by-tag'")] == [
        "renamed-by-tag"
    ]
    with pytest.raises(MlflowException, match="recorded by gittrack"):
        client.set_tag(run_id, "mlflow.user", "someone")
    with pytest.raises(MlflowException):
        client.log_metric(run_id, "late", 1.0)  # metrics of a finished run stay as they were
    assert gittrack.get_run(run_id).info.commit == commit


# -- the registry ----------------------------------------------------------------------------------
class Doubler:
    def predict(self, values):
        return np.asarray(values) * 2


def _train(c: float):
    from sklearn.linear_model import LogisticRegression

    x = np.random.default_rng(0).normal(size=(40, 3))
    return LogisticRegression(C=c).fit(x, (x[:, 0] > 0).astype(int)), x


def test_registry_speaks_mlflow_on_gto_tags(repo: Path, tmp_path: Path) -> None:
    runs = []
    for c in (0.1, 1.0, 10.0):
        with mlflow.start_run() as run:
            model, x = _train(c)
            info = mlflow.sklearn.log_model(model, name="model", registered_model_name="churn" if c == 0.1 else None)
        runs.append(run.info.run_id)
    assert info.model_uri == f"models:/{info.model_id}"  # MLflow 3's logged model
    assert info.model_id.startswith(f"m-{runs[-1]}-")
    client = MlflowClient()
    assert client.get_model_version("churn", 1).version == "1"
    second = mlflow.register_model(f"runs:/{runs[1]}/model", "churn", tags={"k": "v"})
    third = client.create_model_version("churn", f"runs:/{runs[2]}/model", runs[2], description="third")
    assert (second.version, third.version, second.tags, third.description) == ("2", "3", {"k": "v"}, "third")
    assert "churn@v0.0.3" in git(repo, "tag", "--list")
    client.transition_model_version_stage("churn", "1", "staging")
    client.transition_model_version_stage("churn", 2, "Production")
    client.transition_model_version_stage("churn", "3", "Staging")
    mv = client.transition_model_version_stage("churn", "3", "PRODUCTION", archive_existing_versions=True)
    assert mv.current_stage == "Production"
    assert gittrack.Client().get_model_version("churn", "staging")["version"] == "v0.0.1"  # 3 left staging
    assert client.get_model_version("churn", "2").current_stage == "Archived"
    assert client.get_model_version("churn", "1").current_stage == "Staging"
    latest = {v.current_stage: v.version for v in client.get_latest_versions("churn")}
    assert latest == {"Staging": "1", "Archived": "2", "Production": "3"}
    assert [v.version for v in client.get_latest_versions("churn", stages=["Production"])] == ["3"]
    client.transition_model_version_stage("churn", "1", "None")
    assert client.get_model_version("churn", "1").current_stage == "None"
    client.set_registered_model_alias("churn", "champion", "2")  # any alias, with no stage list configured
    assert client.get_model_version_by_alias("churn", "champion").version == "2"
    assert client.get_model_version("churn", "2").aliases == ["champion"]
    assert client.get_registered_model("churn").aliases == {"champion": "2"}
    expected = model.predict(x)
    for uri in ("models:/churn/3", "models:/churn/Production", "models:/churn/production", "models:/churn@champion",
                "models:/churn/latest", f"runs:/{runs[2]}/model"):  # fmt: skip
        assert mlflow.pyfunc.load_model(uri).predict(x).shape == expected.shape, uri
    np.testing.assert_array_equal(mlflow.sklearn.load_model("models:/churn/3").predict(x), expected)
    client.delete_registered_model_alias("churn", "champion")
    with pytest.raises(MlflowException, match="no version of churn is in stage 'champion'"):
        client.get_model_version_by_alias("churn", "champion")
    git(repo, "config", "gittrack.stages", "staging,production,champion")
    with pytest.raises(MlflowException, match="stage 'gold' is not allowed here; allowed stages"):
        client.set_registered_model_alias("churn", "gold", "1")
    client.update_model_version("churn", "1", description="first")
    client.set_model_version_tag("churn", "1", "validated", "yes")
    assert client.get_model_version("churn", "1").tags == {"validated": "yes"}
    client.delete_model_version_tag("churn", "1", "validated")
    client.update_registered_model("churn", description="churn model")
    client.set_registered_model_tag("churn", "team", "ml")
    registered = client.get_registered_model("churn")
    assert (registered.description, registered.tags) == ("churn model", {"team": "ml"})
    client.create_registered_model("fraud", tags={"team": "risk"}, description="later")
    assert [m.name for m in client.search_registered_models(filter_string="name LIKE 'fr%'")] == ["fraud"]
    assert [m.name for m in client.search_registered_models(filter_string="tags.team = 'ml'")] == ["churn"]
    found = client.search_model_versions(f"name = 'churn' AND run_id = '{runs[1]}'")
    assert [v.version for v in found] == ["2"]
    client.delete_model_version("churn", "1")
    with pytest.raises(MlflowException, match="deleted"):
        client.get_model_version("churn", "1")
    assert [v.version for v in client.search_model_versions("name = 'churn'")] == ["3", "2"]
    with pytest.raises(MlflowException, match="cannot rename"):
        client.rename_registered_model("churn", "other")
    with mlflow.start_run() as active:
        mlflow.sklearn.log_model(model, name="model")
        running = mlflow.register_model(f"runs:/{active.info.run_id}/model", "churn")  # at once, as in MLflow
        assert client.get_model_version("churn", running.version).run_id == active.info.run_id
        mlflow.log_metric("after", 1.0)  # the run moves past the checkpoint the version tags
    assert client.get_model_version("churn", running.version).current_stage == "None"
    np.testing.assert_array_equal(mlflow.sklearn.load_model(f"models:/churn/{running.version}").predict(x), expected)
    with pytest.raises(MlflowException, match="is already churn"):
        mlflow.register_model(f"runs:/{active.info.run_id}/model", "churn")
    assert client.get_model_version_download_uri("churn", "3").endswith(f"/{runs[2]}/artifacts/model")

    # the numbering and the metadata are the same in another clone
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "HEAD:main")
    push(pygit2.Repository(str(repo)), artifacts=False)
    other = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(remote), str(other)], check=True, capture_output=True)
    pull(pygit2.Repository(str(other)))
    theirs = MlflowClient(tracking_uri=str(other), registry_uri=str(other))
    mine = {v.version: (v.gto_version, v.current_stage, v.tags) for v in client.search_model_versions("name='churn'")}
    assert {
        v.version: (v.gto_version, v.current_stage, v.tags) for v in theirs.search_model_versions("name='churn'")
    } == mine
    assert theirs.get_registered_model("churn").description == "churn model"


def test_guarded_stage_is_refused_in_one_line(repo: Path) -> None:
    with mlflow.start_run():
        model, _ = _train(1.0)
        mlflow.sklearn.log_model(model, name="model", registered_model_name="churn")
    (repo / "registry.yaml").write_text("schema: 1\npolicy:\n  '*':\n    guard: [production]\n")
    git(repo, "add", "registry.yaml")
    git(repo, "commit", "-q", "-m", "guard production")
    with pytest.raises(MlflowException, match="guarded") as caught:
        MlflowClient().transition_model_version_stage("churn", "1", "Production")
    assert "\n" not in str(caught.value)


# -- flavors -------------------------------------------------------------------------------------------
class Net:  # replaced by a torch module class in the test (torch is imported there)
    pass


def test_every_flavor_logs_loads_and_predicts_through_pyfunc(repo: Path) -> None:
    import lightgbm
    import torch
    import xgboost

    from gittrack.mlflow.models import infer_signature

    x = np.random.default_rng(1).normal(size=(50, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    frame = pd.DataFrame(x, columns=list("abcd"))
    net = torch.nn.Sequential(torch.nn.Linear(4, 2))
    models = {
        "sklearn": (mlflow.sklearn, _train(1.0)[0], x[:, :3]),
        "xgboost": (mlflow.xgboost, xgboost.XGBClassifier(n_estimators=3, max_depth=2).fit(frame, y), frame),
        "xgb-booster": (mlflow.xgboost, xgboost.train({"max_depth": 2}, xgboost.DMatrix(x, label=y), 3), x),
        "lightgbm": (mlflow.lightgbm, lightgbm.LGBMClassifier(n_estimators=3, verbose=-1).fit(frame, y), frame),
        "lgb-booster": (mlflow.lightgbm, lightgbm.train({"verbose": -1}, lightgbm.Dataset(x, label=y), 3), x),
        "pytorch": (mlflow.pytorch, net, x),
    }
    with mlflow.start_run() as run:
        for name, (module, model, data) in models.items():
            signature = infer_signature(data, None)
            info = module.log_model(model, artifact_path=name, signature=signature, input_example=data[:2])
            assert (info.model_uri, info.run_id, info.name) == (f"models:/{info.model_id}", run.info.run_id, name)
    for name, (module, model, data) in models.items():
        uri = info.model_uri if name == "pytorch" else f"runs:/{run.info.run_id}/{name}"  # the last one logged
        loaded = module.load_model(uri)
        predicted = mlflow.pyfunc.load_model(uri).predict(data)
        if name == "pytorch":
            with torch.no_grad():
                expected = model(torch.as_tensor(data)).numpy()
            np.testing.assert_allclose(predicted, expected, rtol=1e-5)
            assert isinstance(loaded, torch.nn.Module)
        elif name == "xgb-booster":
            np.testing.assert_allclose(predicted, model.predict(xgboost.DMatrix(data)), rtol=1e-6)
        else:
            np.testing.assert_allclose(predicted, model.predict(data), rtol=1e-6)
            np.testing.assert_allclose(loaded.predict(data), model.predict(data), rtol=1e-6)
        folder = Path(MlflowClient().download_artifacts(run.info.run_id, name))
        assert {"MLmodel", "model.yaml", "requirements.txt", "python_env.yaml"} <= {p.name for p in folder.iterdir()}


def test_log_model_takes_mlflows_arguments_and_refuses_naming_the_one_it_cannot_honour(repo: Path) -> None:
    import inspect

    real = optional("mlflow", "the signatures gittrack.mlflow mirrors are MLflow's")

    for flavor in ("sklearn", "xgboost", "lightgbm", "pytorch", "pyfunc"):
        for function in ("log_model", "save_model"):
            ours = inspect.signature(getattr(getattr(mlflow, flavor), function)).parameters
            theirs = inspect.signature(getattr(getattr(real, flavor), function)).parameters
            assert not any(p.kind is p.VAR_KEYWORD for p in ours.values()), (flavor, function)  # nothing swallowed
            assert [n for n in theirs if theirs[n].kind is not theirs[n].VAR_KEYWORD] == list(ours), (flavor, function)
    model, _ = _train(1.0)
    refusals = {
        "serialization_format='skops'": lambda: mlflow.sklearn.log_model(model, serialization_format="skops"),
        "skops_trusted_types=": lambda: mlflow.sklearn.log_model(model, skops_trusted_types=["x"]),
        "model_format='json'": lambda: mlflow.xgboost.log_model(model, model_format="json"),
        "export_model=True": lambda: mlflow.pytorch.log_model(model, export_model=True),
        "model_id='m-1'": lambda: mlflow.sklearn.log_model(model, model_id="m-1"),
        "loader_module='x'": lambda: mlflow.pyfunc.log_model(loader_module="x"),
        "infer_code_paths=True": lambda: mlflow.pyfunc.log_model(python_model=AddN(), infer_code_paths=True),
        "python_model='model.py'": lambda: mlflow.pyfunc.log_model(python_model="model.py"),
        "mlflow_model=": lambda: mlflow.sklearn.save_model(model, "out", mlflow_model=object()),
        "env_pack=": lambda: mlflow.register_model("runs:/x/model", "m", env_pack="databricks_model_serving"),
        "dataset=": lambda: mlflow.log_metric("m", 1.0, dataset=object()),
    }
    with mlflow.start_run():
        for argument, call in refusals.items():
            with pytest.raises(MlflowException, match=argument.replace("(", r"\(")) as caught:
                call()
            assert "not supported" in str(caught.value) or "not kept" in str(caught.value), argument
        with pytest.raises(TypeError):
            mlflow.sklearn.log_model(model, name="m", bogus=1)  # an argument MLflow does not have either


def test_pyfunc_metadata_names_the_run_of_a_model_gittrack_logged(repo: Path) -> None:
    model, x = _train(1.0)
    with gittrack.start_run(experiment="native") as active:
        gittrack.log_model(model)  # gittrack's own API, as autologging logs: no MLmodel file
    loaded = mlflow.pyfunc.load_model(f"runs:/{active.run_id}/model")
    [logged] = mlflow.search_logged_models(experiment_ids=["native"], output_format="list")
    assert (loaded.metadata.run_id, loaded.metadata.model_id) == (active.run_id, logged.model_id)
    assert mlflow.models.Model.load(logged.model_uri).run_id == active.run_id
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


class AddN(mlflow.pyfunc.PythonModel):
    def load_context(self, context):
        self.n = float(Path(context.artifacts["n"]).read_text())

    def predict(self, context, model_input, params=None):
        return model_input["x"] + self.n


def test_pyfunc_python_model_with_artifacts(repo: Path, tmp_path: Path) -> None:
    (tmp_path / "n.txt").write_text("5")
    with mlflow.start_run():
        info = mlflow.pyfunc.log_model(
            name="adder", python_model=AddN(), artifacts={"n": str(tmp_path / "n.txt")}, registered_model_name="adder"
        )
    loaded = mlflow.pyfunc.load_model("models:/adder/1")
    assert list(loaded.predict(pd.DataFrame({"x": [1.0, 2.0]}))) == [6.0, 7.0]
    assert isinstance(loaded.unwrap_python_model(), AddN)
    assert info.registered_model_version == "1"


# -- autolog ---------------------------------------------------------------------------------------
def test_autolog_entry_points_reach_gittrack_autolog(monkeypatch) -> None:
    calls = []

    class FakeAutolog:
        def __call__(self, **kwargs):
            calls.append(("all", kwargs))

        def __getattr__(self, library):
            return lambda **kwargs: calls.append((library, kwargs))

    monkeypatch.setattr(gittrack, "autolog", FakeAutolog(), raising=False)
    mlflow.autolog(log_models=False)
    for flavor in ("sklearn", "xgboost", "lightgbm", "pytorch"):
        getattr(mlflow, flavor).autolog(disable=True)
    assert calls == [("all", {"log_models": False})] + [(f, {"disable": True}) for f in
                                                        ("sklearn", "xgboost", "lightgbm", "pytorch")]  # fmt: skip


def test_autolog_takes_mlflows_positional_arguments_and_last_active_run_is_its_run(repo: Path) -> None:
    from sklearn.linear_model import LinearRegression

    try:
        mlflow.sklearn.autolog(False, True, False)  # log_input_examples, log_model_signatures, log_models
        LinearRegression().fit(np.array([[0.0], [1.0], [2.0]]), np.array([0.0, 1.0, 2.0]))
        last = mlflow.last_active_run()
    finally:
        gittrack.autolog(disable=True)
    assert last.info.run_id == gittrack.autolog.last_run_id()
    run = MlflowClient().get_run(last.info.run_id)
    assert run.data.tags["mlflow.autologging"] == "sklearn"
    assert run.data.tags["mlflow.source.type"] == "LOCAL"  # as a run start_run starts
    assert [a.path for a in MlflowClient().list_artifacts(last.info.run_id)] == ["estimator.html"]  # no model
    [dataset] = run.inputs.dataset_inputs
    assert (dataset.dataset.name, dataset.dataset.source_type) == ("dataset", "code")
    assert [(t.key, t.value) for t in dataset.tags] == [("mlflow.data.context", "train")]


def test_autolog_without_gittrack_autolog_says_so_in_one_line(monkeypatch) -> None:
    from gittrack.mlflow import _autolog

    monkeypatch.setattr(_autolog, "_target", lambda: None)
    with pytest.raises(MlflowException, match=r"mlflow\.sklearn\.autolog\(\) needs gittrack's autologging") as caught:
        mlflow.sklearn.autolog()
    assert "\n" not in str(caught.value)


def test_log_system_metrics_samples_the_machine(repo: Path, monkeypatch) -> None:
    import time

    monkeypatch.setenv("GITTRACK_SYSTEM_METRICS_INTERVAL", "1")
    with mlflow.start_run(log_system_metrics=True) as run:
        time.sleep(1.6)
    metrics = mlflow.get_run(run.info.run_id).data.metrics
    assert "system/cpu_utilization_percentage" in metrics
    assert metrics["system/system_memory_usage_megabytes"] > 0
