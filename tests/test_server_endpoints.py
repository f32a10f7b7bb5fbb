"""Every endpoint of ``gittrack server`` called through MLflow's own ``MlflowClient``: the answers
MLflow's client builds from our JSON, and the errors it raises from our error bodies."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import gittrack
from gittrack.server.routes import ENDPOINTS
from tests.conftest import git, optional
from tests.server_helpers import running_server

CALLED: set[tuple[str, str]] = set()


def called(method: str, path: str) -> None:
    CALLED.add((method, "/api/2.0/mlflow" + path if not path.startswith("/api/") else path))


@pytest.fixture
def remote(repo: Path, monkeypatch: pytest.MonkeyPatch):
    optional("mlflow", "MLflow's client calls the endpoints")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # an unexpected 500 fails at once
    with running_server(repo) as url:
        from mlflow.tracking import MlflowClient

        monkeypatch.setenv("MLFLOW_TRACKING_URI", url)  # MLflow resolves runs:/ URIs with the global one
        yield MlflowClient(tracking_uri=url, registry_uri=url)


def test_every_endpoint_through_mlflow_client(remote, repo: Path, tmp_path: Path) -> None:
    from mlflow.entities import LoggedModelOutput, Metric, Param, RunTag, ViewType
    from mlflow.exceptions import MlflowException

    c = remote
    # -- experiments
    exp = c.create_experiment("table", tags={"owner": "ml"})
    called("POST", "/experiments/create")
    assert exp == "table"  # ids are names, and MlflowClient takes them back
    assert c.get_experiment(exp).tags == {"owner": "ml"}
    called("GET", "/experiments/get")
    assert c.get_experiment_by_name("table").experiment_id == "table"
    called("GET", "/experiments/get-by-name")
    assert c.get_experiment_by_name("nope") is None  # RESOURCE_DOES_NOT_EXIST becomes None, as MLflow's
    c.create_experiment("other")
    first = c.search_experiments(max_results=1, order_by=["name ASC"])
    called("POST", "/experiments/search")
    assert len(first) == 1
    assert first.token
    rest = c.search_experiments(max_results=10, order_by=["name ASC"], page_token=first.token)
    assert [e.name for e in [*first, *rest]] == ["default", "other", "table"]
    c.set_experiment_tag(exp, "stage", "dev")
    called("POST", "/experiments/set-experiment-tag")
    c.delete_experiment_tag(exp, "stage")
    called("POST", "/experiments/delete-experiment-tag")
    assert c.get_experiment(exp).tags == {"owner": "ml"}
    with pytest.raises(MlflowException, match="INVALID_PARAMETER_VALUE"):
        c.rename_experiment(exp, "renamed")  # a name is part of every run's ref
    called("POST", "/experiments/update")
    c.delete_experiment("other")
    called("POST", "/experiments/delete")
    assert c.get_experiment("other").lifecycle_stage == "deleted"
    c.restore_experiment("other")
    called("POST", "/experiments/restore")

    # -- runs
    run = c.create_run(exp, run_name="first", tags={"team": "a", "mlflow.user": "carol",
                                                   "mlflow.source.name": "nb.ipynb"})  # fmt: skip
    called("POST", "/runs/create")
    run_id = run.info.run_id
    assert run.info.status == "RUNNING"
    assert run.info.artifact_uri == f"mlflow-artifacts:/runs/{run_id}/artifacts"
    c.log_param(run_id, "lr", 0.1)
    called("POST", "/runs/log-parameter")
    c.log_metric(run_id, "loss", 0.5, step=0)
    c.log_metric(run_id, "loss", float("nan"), step=1)
    called("POST", "/runs/log-metric")
    c.log_batch(run_id, metrics=[Metric("loss", 0.25, 1000 + i, i + 2) for i in range(30)],
                params=[Param("layers", "3")], tags=[RunTag("kind", "net")])  # fmt: skip
    called("POST", "/runs/log-batch")
    c.set_tag(run_id, "note", "x")
    called("POST", "/runs/set-tag")
    c.delete_tag(run_id, "note")
    called("POST", "/runs/delete-tag")
    import mlflow.data
    import numpy as np

    dataset = mlflow.data.from_numpy(np.arange(6.0).reshape(3, 2), name="train-set")
    from mlflow.entities import DatasetInput, InputTag

    c.log_inputs(run_id, [DatasetInput(dataset._to_mlflow_entity(), [InputTag("mlflow.data.context", "train")])])
    called("POST", "/runs/log-inputs")
    got = c.get_run(run_id)
    called("GET", "/runs/get")
    assert got.data.params == {"lr": "0.1", "layers": "3"}
    assert got.data.metrics == {"loss": 0.25}
    assert got.data.tags["team"] == "a"
    assert got.data.tags["kind"] == "net"
    assert got.data.tags["mlflow.user"] == "carol"  # the client's user is the run's git author
    assert got.data.tags["mlflow.source.name"] == "nb.ipynb"
    assert got.inputs.dataset_inputs[0].dataset.name == "train-set"
    history = c.get_metric_history(run_id, "loss")
    called("GET", "/metrics/get-history")
    assert len(history) == 32
    assert np.isnan(history[1].value)
    assert [m.step for m in history][-1] == 31

    # -- artifacts through the proxy
    (tmp_path / "report.txt").write_text("hello")
    c.log_artifact(run_id, str(tmp_path / "report.txt"), "docs")
    called("PUT", "/api/2.0/mlflow-artifacts/artifacts/{path:path}")
    assert [(f.path, f.is_dir) for f in c.list_artifacts(run_id)] == [("docs", True)]
    called("GET", "/api/2.0/mlflow-artifacts/artifacts")
    local = c.download_artifacts(run_id, "docs/report.txt", str(tmp_path))
    called("GET", "/api/2.0/mlflow-artifacts/artifacts/{path:path}")
    assert Path(local).read_text() == "hello"

    # -- a logged model (MLflow 3), as log_model makes one
    model = c.create_logged_model(exp, name="model", source_run_id=run_id, params={"alpha": "1"}, model_type="toy")
    called("POST", "/logged-models")
    assert model.model_id.startswith(f"m-{run_id}-")
    c.log_model_params(model.model_id, {"beta": "2"})
    called("POST", "/logged-models/{model_id}/params")
    c.set_logged_model_tags(model.model_id, {"flavor": "toy"})
    called("PATCH", "/logged-models/{model_id}/tags")
    c.delete_logged_model_tag(model.model_id, "flavor")
    called("DELETE", "/logged-models/{model_id}/tags/{tag_key}")
    folder = tmp_path / "toy-model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: {}\n")
    c.log_model_artifacts(model.model_id, str(folder))
    c.log_outputs(run_id, [LoggedModelOutput(model.model_id, 0)])
    called("POST", "/runs/outputs")
    done = c.finalize_logged_model(model.model_id, "READY")
    called("PATCH", "/logged-models/{model_id}")
    assert str(done.status).endswith("READY")
    again = c.get_logged_model(model.model_id)
    called("GET", "/logged-models/{model_id}")
    assert again.params == {"alpha": "1", "beta": "2"}
    assert again.model_type == "toy"
    assert [m.model_id for m in c.search_logged_models([exp])] == [model.model_id]
    called("POST", "/logged-models/search")
    with pytest.raises(MlflowException, match="INVALID_PARAMETER_VALUE"):
        c.delete_logged_model(model.model_id)
    called("DELETE", "/logged-models/{model_id}")
    assert [f.path for f in c.list_artifacts(run_id, "model")] == ["model/MLmodel"]

    # -- ending, searching, deleting runs
    c.update_run(run_id, name="renamed")
    c.set_terminated(run_id, "FINISHED")
    called("POST", "/runs/update")
    for i in range(5):
        other = c.create_run(exp, run_name=f"r{i}")
        c.log_metric(other.info.run_id, "acc", i / 10)
        c.set_terminated(other.info.run_id)
    page = c.search_runs([exp], "metrics.acc >= 0.1", order_by=["metrics.acc DESC"], max_results=2)
    called("POST", "/runs/search")
    assert [r.info.run_name for r in page] == ["r4", "r3"]
    nxt = c.search_runs([exp], "metrics.acc >= 0.1", order_by=["metrics.acc DESC"], max_results=2,
                        page_token=page.token)  # fmt: skip
    assert [r.info.run_name for r in nxt] == ["r2", "r1"]
    c.delete_run(run_id)
    called("POST", "/runs/delete")
    assert c.get_run(run_id).info.lifecycle_stage == "deleted"
    assert run_id not in [r.info.run_id for r in c.search_runs([exp], run_view_type=ViewType.ACTIVE_ONLY)]
    c.restore_run(run_id)
    called("POST", "/runs/restore")
    with pytest.raises(MlflowException) as missing:
        c.get_run("0000000000000000000000000z")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert missing.value.get_http_status_code() == 404
    with pytest.raises(MlflowException) as bad:
        c.search_runs([exp], "metrics.acc >>> 1")
    assert bad.value.error_code == "INVALID_PARAMETER_VALUE"

    # -- the registry
    c.create_registered_model("churn", tags={"team": "a"}, description="churn model")
    called("POST", "/registered-models/create")
    with pytest.raises(MlflowException) as exists:
        c.create_registered_model("churn")
    assert exists.value.error_code == "RESOURCE_ALREADY_EXISTS"
    mv = c.create_model_version("churn", f"models:/{model.model_id}", run_id, model_id=model.model_id)
    called("POST", "/model-versions/create")
    assert mv.version == "1"
    assert mv.run_id == run_id
    assert c.get_model_version("churn", "1").run_id == run_id
    called("GET", "/model-versions/get")
    c.update_model_version("churn", "1", description="first")
    called("PATCH", "/model-versions/update")
    c.set_model_version_tag("churn", "1", "validated", "yes")
    called("POST", "/model-versions/set-tag")
    c.delete_model_version_tag("churn", "1", "validated")
    called("DELETE", "/model-versions/delete-tag")
    c.transition_model_version_stage("churn", "1", "Staging")
    called("POST", "/model-versions/transition-stage")
    assert [v.version for v in c.get_latest_versions("churn", ["Staging"])] == ["1"]
    called("POST", "/registered-models/get-latest-versions")
    c.set_registered_model_alias("churn", "champion", "1")
    called("POST", "/registered-models/alias")
    assert c.get_model_version_by_alias("churn", "champion").version == "1"
    called("GET", "/registered-models/alias")
    c.delete_registered_model_alias("churn", "champion")
    called("DELETE", "/registered-models/alias")
    assert c.get_model_version_download_uri("churn", "1") == f"mlflow-artifacts:/models/{model.model_id}/artifacts"
    called("GET", "/model-versions/get-download-uri")
    rm = c.get_registered_model("churn")
    called("GET", "/registered-models/get")
    assert rm.description == "churn model"
    assert rm.tags == {"team": "a"}
    c.update_registered_model("churn", description="better")
    called("PATCH", "/registered-models/update")
    c.set_registered_model_tag("churn", "k", "v")
    called("POST", "/registered-models/set-tag")
    c.delete_registered_model_tag("churn", "k")
    called("DELETE", "/registered-models/delete-tag")
    assert [m.name for m in c.search_registered_models("name LIKE 'ch%'")] == ["churn"]
    called("GET", "/registered-models/search")
    assert [v.version for v in c.search_model_versions("name = 'churn'")] == ["1"]
    called("GET", "/model-versions/search")
    with pytest.raises(MlflowException, match="INVALID_PARAMETER_VALUE"):
        c.rename_registered_model("churn", "attrition")
    called("POST", "/registered-models/rename")
    c.delete_model_version("churn", "1")
    called("DELETE", "/model-versions/delete")
    c.delete_registered_model("churn")
    called("DELETE", "/registered-models/delete")

    # the same state, seen by gittrack and git
    client = gittrack.Client(repo)
    assert client.get_run(run_id).info.run_name == "renamed"
    assert client.get_run(run_id).info.user == "carol"
    assert "churn@v0.0.1" in git(repo, "tag", "--list")
    git(repo, "fsck", "--no-dangling")

    # the table covers every endpoint; those it does not call through MlflowClient are aliases of
    # others (GET forms of POST searches), MLflow 2's log-model history and the server's facts
    not_by_client = {
        ("GET", "/api/2.0/mlflow/experiments/search"), ("GET", "/api/2.0/mlflow/registered-models/get-latest-versions"),
        ("POST", "/api/2.0/mlflow/runs/log-model"), ("GET", "/api/3.0/mlflow/server-info"),
    }  # fmt: skip
    served = {(e.method, e.path) for e in ENDPOINTS}
    assert served - CALLED - not_by_client == set()


def test_server_info_unknown_endpoints_and_the_ui(repo: Path) -> None:
    import json
    import urllib.error
    import urllib.request

    with running_server(repo, "--ui") as url:
        with urllib.request.urlopen(url + "/") as page:  # gittrack ui under /
            assert "text/html" in page.headers["content-type"]
        with urllib.request.urlopen(url + "/api/experiments") as answer:  # the UI's own API
            assert "experiments" in json.load(answer)
        with urllib.request.urlopen(url + "/api/3.0/mlflow/server-info") as answer:
            assert json.load(answer)["store_type"] == "FileStore"
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(url + "/api/2.0/mlflow/nothing/here")
        assert missing.value.code == 404
        assert json.load(missing.value)["error_code"] == "ENDPOINT_NOT_FOUND"
    assert os.path.isdir(repo / ".git")
