"""``gittrack models serve`` and ``models predict``: a sklearn pipeline logged with a signature,
registered, promoted through a reviewed request, served by stage by a real uvicorn server on
127.0.0.1, and queried as MLflow's clients query ``mlflow models serve``."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import BIN, git, optional

GT = str(BIN / "gittrack")
COLUMNS = ["age", "income", "plan"]


def gt(cwd: Path, *args: str) -> str:
    done = subprocess.run([GT, *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def frame(rows: int, seed: int = 0):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    return pd.DataFrame({"age": rng.integers(18, 80, rows), "income": rng.normal(50, 10, rows).round(2),
                         "plan": rng.choice(["basic", "pro"], rows)})  # fmt: skip


def pipeline(threshold: float):
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    data = frame(200)
    columns = ColumnTransformer([("num", StandardScaler(), ["age", "income"]),
                                 ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan"])])  # fmt: skip
    return make_pipeline(columns, LogisticRegression()).fit(data, (data["income"] > threshold).astype(int))


def request_promotion(root: Path, version: str) -> None:
    """The reviewed way: a request branch, merged into main, then applied."""
    gt(root, "models", "promote", "churn", version, "production", "--request")
    git(root, "merge", "-q", "--no-ff", "-m", f"Merge promotion of {version}", f"promote/churn/production/{version}")
    assert "created tag churn#production#" in gt(root, "promotions", "apply")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory):
    """A repository where churn v0.0.1 (an sklearn pipeline logged through gittrack.mlflow with
    MLflow's signature) holds production through a merged promotion request; and the pipeline."""
    optional("sklearn", "serving tests train a scikit-learn pipeline")
    import gittrack
    import gittrack.mlflow as mlflow
    from gittrack.mlflow.models import infer_signature

    root = tmp_path_factory.mktemp("serving") / "project"
    root.mkdir()
    git(root, "init", "-q")
    git(root, "commit", "-q", "--allow-empty", "-m", "initial")
    gt(root, "init", "--dvc-remote", str(root.parent / "dvc-remote"), "--commit")
    model = pipeline(50)
    here = os.getcwd()
    os.chdir(root)
    try:
        mlflow.set_experiment("churn")
        with mlflow.start_run() as run:
            mlflow.sklearn.log_model(
                model, name="model", signature=infer_signature(frame(20), model.predict(frame(20)))
            )
    finally:
        os.chdir(here)
        gittrack.reset_state()
    gt(root, "models", "register", "churn", "--run", run.info.run_id)
    request_promotion(root, "v0.0.1")
    return root, model


def new_version(root: Path) -> str:
    """Another pipeline, logged by gittrack's own API (its own signature form) and registered."""
    import gittrack

    client = gittrack.Client(root)
    run_id = client.create_run(experiment="churn").info.run_id
    client.log_model(run_id, pipeline(40), name="model", input_example=frame(5))
    client.set_terminated(run_id)
    return re.search(r"churn (v\d+\.\d+\.\d+)", gt(root, "models", "register", "churn", "--run", run_id))[1]


class Server:
    """``gittrack models serve ...`` in a subprocess on a free port of 127.0.0.1."""

    def __init__(self, root: Path, *args: str) -> None:
        self.log = root.parent / f"serve-{time.monotonic_ns()}.log"
        with open(self.log, "w") as out:
            self.process = subprocess.Popen([GT, "models", "serve", *args, "--port", "0"], cwd=root, stdout=out,
                                            stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            found = re.search(r"(http://127\.0\.0\.1:\d+)", self.log.read_text())
            if found:
                self.url = found.group(1)
                return
            assert self.process.poll() is None, self.log.read_text()
            time.sleep(0.1)
        raise AssertionError(f"the server did not start: {self.log.read_text()}")

    def post(self, body: str | bytes, content_type: str = "application/json", **headers: str):
        import requests

        return requests.post(f"{self.url}/invocations", data=body, headers={"Content-Type": content_type, **headers},
                             timeout=30)  # fmt: skip

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def server(project):
    started = Server(project[0], "churn@production", "--max-body-mb", "0.05")
    yield started
    started.stop()


@pytest.mark.slow
def test_mlflow_clients_score_every_input_format(project, server: Server) -> None:
    import requests
    from mlflow.deployments import PredictionsResponse
    from mlflow.models.utils import convert_input_example_to_serving_input

    _, model = project
    data = frame(5, seed=3)
    expected = model.predict(data).tolist()
    records = data.to_dict(orient="records")
    bodies = {
        "mlflow helper": convert_input_example_to_serving_input(data),
        "dataframe_split": json.dumps({"dataframe_split": data.to_dict(orient="split", index=False)}),
        "dataframe_records": json.dumps({"dataframe_records": records}),
        "instances": json.dumps({"instances": records}),
        "inputs": json.dumps({"inputs": data.to_dict(orient="list")}),
    }
    for label, body in bodies.items():
        answer = server.post(body)
        assert answer.status_code == 200, (label, answer.text)
        assert answer.headers["x-gittrack-model-version"] == "v0.0.1"
        assert PredictionsResponse.from_json(answer.text).get_predictions("ndarray").tolist() == expected, label
    answer = server.post(data.to_csv(index=False), "text/csv")
    assert answer.json() == {"predictions": expected}
    # params ride along (a sklearn model ignores them, as in MLflow)
    assert server.post(json.dumps({"dataframe_records": records, "params": {"k": 1}})).json()["predictions"] == expected
    for path in ("ping", "health"):
        assert requests.get(f"{server.url}/{path}", timeout=5).status_code == 200
    assert requests.get(f"{server.url}/version", timeout=5).text == gt(project[0], "--version").split()[-1]


@pytest.mark.slow
def test_bad_requests_get_mlflow_errors(project, server: Server) -> None:
    rows = frame(2).to_dict(orient="records")
    missing = server.post(
        json.dumps({"dataframe_records": [{k: v for k, v in r.items() if k != "income"} for r in rows]})
    )
    assert missing.status_code == 400
    assert missing.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "Model is missing inputs ['income']" in missing.json()["message"]
    mistyped = server.post(json.dumps({"dataframe_records": [{**rows[0], "income": "lots"}]}))
    assert mistyped.status_code == 400
    assert mistyped.json()["error_code"] == "BAD_REQUEST"
    assert "Failed to convert column income to type 'float64'" in mistyped.json()["message"]
    fraction = server.post(json.dumps({"dataframe_records": [{**rows[0], "age": 30.5}]}))
    assert fraction.status_code == 400
    assert "column age" in fraction.json()["message"]
    two = server.post(json.dumps({"dataframe_records": rows, "instances": rows}))
    assert two.status_code == 400
    assert "exactly one of the input fields" in two.json()["message"]
    assert server.post("{not json").status_code == 400
    assert server.post("<xml/>", "application/xml").status_code == 415
    assert server.post(b"x" * 60_000).status_code == 413  # over --max-body-mb 0.05
    assert server.post(json.dumps({"dataframe_records": rows}), Host="attacker.example").status_code == 403
    assert server.post(json.dumps({"dataframe_records": rows})).status_code == 200  # still serving


@pytest.mark.slow
def test_the_server_follows_the_stage_and_fixed_does_not(project) -> None:
    root, _ = project
    follower = Server(root, "churn@production", "--poll-interval", "0.2")
    pinned = Server(root, "churn@production", "--fixed", "--workers", "2")
    try:
        body = json.dumps({"dataframe_records": frame(3).to_dict(orient="records")})
        assert follower.post(body).headers["x-gittrack-model-version"] == "v0.0.1"
        assert new_version(root) == "v0.0.2"
        request_promotion(root, "v0.0.2")
        deadline = time.monotonic() + 30
        while follower.post(body).headers["x-gittrack-model-version"] != "v0.0.2":
            assert time.monotonic() < deadline, follower.log.read_text()
            time.sleep(0.2)
        assert "now serves v0.0.2 (was v0.0.1)" in follower.log.read_text()
        assert {pinned.post(body).headers["x-gittrack-model-version"] for _ in range(6)} == {"v0.0.1"}
        missing = follower.post(json.dumps({"dataframe_records": [{"age": 1, "plan": "pro"}]}))
        assert "Model is missing inputs ['income']" in missing.json()["message"]  # the new version's signature
    finally:
        follower.stop()
        pinned.stop()


@pytest.mark.slow
def test_a_server_in_a_clone_pulls_and_follows_promotions_made_elsewhere(project, tmp_path: Path) -> None:
    root, _ = project
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    git(root, "remote", "add", "origin", str(remote))
    git(root, "push", "-q", "origin", "main")
    gt(root, "push")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(remote), str(clone))
    gt(clone, "pull")
    server = Server(clone, "churn@production", "--pull", "--pull-interval", "1", "--poll-interval", "0.2")
    try:
        body = json.dumps({"dataframe_records": frame(2).to_dict(orient="records")})
        before = server.post(body).headers["x-gittrack-model-version"]
        version = new_version(root)
        assert version != before
        gt(root, "models", "promote", "churn", version, "production")
        gt(root, "push")
        deadline = time.monotonic() + 60
        while server.post(body).headers["x-gittrack-model-version"] != version:
            assert time.monotonic() < deadline, server.log.read_text()
            time.sleep(0.3)
    finally:
        server.stop()
        git(root, "remote", "remove", "origin")


@pytest.mark.slow
def test_a_python_model_from_a_run_gets_the_requests_params(project, tmp_path: Path, monkeypatch) -> None:
    root, _ = project
    import gittrack.mlflow as mlflow

    code = tmp_path / "scaling.py"
    code.write_text(
        "import gittrack.mlflow.pyfunc as pyfunc\n\n\n"
        "class Scale(pyfunc.PythonModel):\n"
        "    def predict(self, context, model_input, params=None):\n"
        "        return [v * (params or {}).get('factor', 1) for v in model_input['x']]\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import scaling

    monkeypatch.chdir(root)
    mlflow.set_experiment("scaling")
    with mlflow.start_run() as run:
        mlflow.pyfunc.log_model(name="model", python_model=scaling.Scale(), code_paths=[str(code)])
    server = Server(root, f"runs:/{run.info.run_id}/model")
    try:
        answer = server.post(json.dumps({"dataframe_records": [{"x": 1}, {"x": 2}], "params": {"factor": 3}}))
        assert answer.json() == {"predictions": [3, 6]}
        assert answer.headers["x-gittrack-run-id"] == run.info.run_id
        assert "x-gittrack-model-version" not in answer.headers  # a run's model, not a registered version
    finally:
        server.stop()


@pytest.mark.slow
def test_batch_predict_streams_a_csv_in_chunks(project, tmp_path: Path) -> None:
    root, model = project
    data = frame(50, seed=7)
    data.to_csv(tmp_path / "in.csv", index=False)
    command = [GT, "models", "predict", "churn@v0.0.1", "-i", str(tmp_path / "in.csv"), "-o", str(tmp_path / "out.csv"),
               "--chunk-size", "7"]  # fmt: skip
    out = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert "scored 50 rows with churn@v0.0.1 (v0.0.1)" in out.stderr
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0] == "prediction"
    assert [int(x) for x in lines[1:]] == model.predict(data).tolist()
    with open(tmp_path / "in.jsonl", "w") as handle:
        for record in data.to_dict(orient="records"):
            handle.write(json.dumps(record) + "\n")
    versions = json.loads(gt(root, "models", "show", "churn", "--json"))["versions"]
    run_id = next(v["run_id"] for v in versions if v["version"] == "v0.0.1")
    out = subprocess.run([GT, "models", "predict", f"runs:/{run_id}/model", "-i", str(tmp_path / "in.jsonl"),
                          "--chunk-size", "16"], cwd=root, capture_output=True, text=True)  # fmt: skip
    assert json.loads(out.stdout) == {"predictions": model.predict(data).tolist()}
    bad = subprocess.run([GT, "models", "predict", "churn@v0.0.1", "-i", str(tmp_path / "in.csv"), "-o", "x.parquet"],
                         cwd=root, capture_output=True, text=True)  # fmt: skip
    assert bad.returncode == 2
    assert bad.stderr.startswith("error: cannot tell the output format")


def test_model_specs() -> None:
    from gittrack.errors import UsageError
    from gittrack.serving import parse_spec

    assert (parse_spec("churn@production").model, parse_spec("churn@production").selector) == ("churn", "production")
    assert parse_spec("churn@production").follows
    assert parse_spec("churn").follows
    assert parse_spec("churn").selector == "latest"
    assert parse_spec("churn:1.2.0").selector == "v1.2.0"
    assert not parse_spec("churn:v1.2.0").follows
    assert parse_spec("models:/churn/Production").selector == "production"
    assert parse_spec("models:/churn@champion").selector == "champion"
    assert parse_spec("models:/churn/3.0.1").selector == "v3.0.1"
    assert (parse_spec("runs:/01abc/model").run, parse_spec("runs:/01abc/model").path) == ("01abc", "model")
    for bad in ("churn:latest", "runs:/only", "@production"):
        with pytest.raises(UsageError):
            parse_spec(bad)


def test_signatures_are_enforced_as_mlflow_does() -> None:
    import numpy as np
    import pandas as pd

    from gittrack.serving.schema import SchemaError, enforce, from_signature

    columns = [{"name": "n", "dtype": "float64"}, {"name": "k", "dtype": "int64"}]
    native = from_signature({"inputs": {"type": "dataframe", "columns": columns}})
    assert native is not None
    out = enforce(pd.DataFrame({"k": np.array([1, 2], dtype="int32"), "n": [1.5, 2.0], "extra": [0, 0]}), native)
    assert list(out.columns) == ["n", "k"]
    assert str(out["k"].dtype) == "int64"
    with pytest.raises(SchemaError, match=r"Can not safely convert float64 to int64"):
        enforce(pd.DataFrame({"n": [1.0], "k": [1.5]}), native)
    assert str(enforce(pd.DataFrame({"n": [1, 0], "k": [1, 2]}), native)["n"].dtype) == "float64"  # 0/1 longs
    tensor = from_signature({"mlflow": {"inputs": json.dumps([{"type": "tensor", "tensor-spec":
                                                               {"dtype": "float64", "shape": [-1, 2]}}])}})  # fmt: skip
    assert tensor is not None
    assert enforce([[1.0, 2.0]], tensor).shape == (1, 2)
    with pytest.raises(SchemaError, match="does not match expected shape"):
        enforce([[1.0, 2.0, 3.0]], tensor)


def test_input_parsing_agrees_with_mlflows_scoring_server() -> None:
    """The frames built from each request form hold what MLflow's own parser makes of it."""
    optional("mlflow", "the comparison runs MLflow's scoring server parser")
    import pandas as pd
    from mlflow.pyfunc.scoring_server import infer_and_parse_data
    from mlflow.types import Schema

    from gittrack.serving.inputs import parse_json
    from gittrack.serving.schema import enforce, from_signature

    columns = [{"type": kind, "name": name, "required": True}
               for kind, name in (("long", "age"), ("double", "income"), ("string", "plan"))]  # fmt: skip
    ours_schema = from_signature({"inputs": json.dumps(columns)})
    assert ours_schema is not None
    theirs_schema = Schema.from_json(json.dumps(columns))
    data = frame(4, seed=5)
    records = data.to_dict(orient="records")
    for request in (
        {"dataframe_split": data.to_dict(orient="split", index=False)},
        {"dataframe_records": records},
        {"instances": records},
        {"inputs": data.to_dict(orient="list")},
        {"dataframe_split": {"columns": ["plan", "age", "income"], "data": [["pro", 3, 1]]}},  # reordered, ints
    ):
        ours = enforce(parse_json(json.dumps(request).encode(), ours_schema)[0], ours_schema)
        theirs = pd.DataFrame(infer_and_parse_data(request, theirs_schema))[["age", "income", "plan"]]
        assert ours.to_dict(orient="list") == theirs.to_dict(orient="list"), request
        assert [str(t) for t in ours.dtypes[:2]] == ["int64", "float64"]


def test_a_follower_reads_the_registry_only_when_tags_change(repo: Path) -> None:
    from gittrack.serving import TagWatch

    watch = TagWatch(str(repo), "churn")
    assert watch.changed()  # the first look
    assert not watch.changed()
    git(repo, "tag", "churn@v0.0.1")
    assert watch.changed()
    assert not watch.changed()
    git(repo, "pack-refs", "--all")  # tags moved into packed-refs
    assert watch.changed()
