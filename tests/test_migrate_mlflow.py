"""gittrack import mlflow: real MLflow stores (built by tests/mlflow_stores.py) into a repository."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import gittrack
from gittrack.cli import main
from tests.conftest import git, optional

pytestmark = pytest.mark.slow  # real MLflow stores: end to end

optional("mlflow", reason="MLflow is optional (the mlflow extra); importing and exporting read it")

BUILDER = Path(__file__).with_name("mlflow_stores.py")


def _build(uri: str, cwd: Path, *flags: str) -> dict:
    """Build a store (a database store keeps its artifacts in ``cwd``/mlruns)."""
    env = {**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true", "PYTHONWARNINGS": "ignore"}
    out = subprocess.run([sys.executable, str(BUILDER), uri, *flags], capture_output=True, text=True, env=env, cwd=cwd)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory) -> tuple[str, dict]:
    """An MLflow database store with runs, artifacts, three registered versions, stages and an alias."""
    folder = tmp_path_factory.mktemp("mlflow-db")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    return uri, _build(uri, folder, "--registry")


def _by_name(client: gittrack.Client) -> dict[str, gittrack.Run]:
    return {run.info.run_name: run for run in client.list_runs("churn")}


def test_import_keeps_runs_histories_tags_and_artifacts(dvc_project: Path, sqlite_store) -> None:
    uri, ids = sqlite_store
    client = gittrack.Client()
    report = client.import_mlflow(uri)
    assert (report.runs, report.runs_present, report.skipped) == (8, 0, [])
    runs = _by_name(client)
    parent = runs["parent"]
    assert parent.data.params == {"lr": "0.1", "layers": "[64, 32]"}
    assert parent.data.tags["team"] == "risk"
    assert parent.data.tags["mlflow.runName"] == "parent"  # MLflow's system tags keep their names
    assert parent.data.tags["mlflow.imported_run_id"] == ids["parent"]
    history = client.get_metric_history(parent.info.run_id, "loss")
    assert [(m.step, m.timestamp) for m in history] == [(0, 1_700_000_000_000), (1, 1_700_000_000_001),
                                                        (2, 1_700_000_000_002)]  # fmt: skip
    assert [m.value for m in history[:2]] == [1.0, 0.5]
    assert math.isnan(history[2].value)
    assert parent.info.end_time >= parent.info.start_time
    assert {runs["fold-0"].info.parent_run_id, runs["fold-1"].info.parent_run_id} == {parent.info.run_id}
    parent_tag = runs["fold-0"].data.tags["mlflow.parentRunId"]  # MLflow's parent id, as this repository's
    assert client.get_run(parent_tag).info.run_name == "parent"
    shown = CliRunner().invoke(main, ["runs", "show", runs["fold-1"].data.tags["mlflow.parentRunId"], "--json"])
    assert json.loads(shown.output)["run_name"] == "parent"
    assert runs["broken"].info.status == "FAILED"
    assert "mistake" not in runs  # deleted in MLflow: a deleted run here, restorable
    deleted = git(dvc_project, "for-each-ref", "--format=%(refname)", "refs/runs-deleted/churn/").split()
    assert len(deleted) == 1
    assert client.restore_run(deleted[0].rsplit("/", 1)[1]).data.params == {"lr": "99"}
    assert {a["path"] for a in client.list_artifacts(parent.info.run_id)} == {"plots", "notes.md"}
    out = Path(client.download_artifacts(parent.info.run_id, "plots", dvc_project.parent / "out"))
    assert (out / "sub" / "deep.txt").read_text() == "deep\n"
    one = Path(client.download_artifacts(parent.info.run_id, "plots/sub/deep.txt", dvc_project.parent / "one"))
    assert (one.read_text(), sorted(p.name for p in one.parent.parent.iterdir())) == ("deep\n", ["sub"])
    dest = str(dvc_project.parent / "got")
    got = CliRunner().invoke(main, ["artifacts", "get", parent.info.run_id, "plots/loss.txt", "-o", dest])
    assert got.exit_code == 0, got.output
    assert Path(got.output.strip()).read_text() == "0.5\n"
    listed = CliRunner().invoke(main, ["artifacts", "list", parent.info.run_id, "plots", "--json"])
    assert [a["path"] for a in json.loads(listed.output)] == ["plots/loss.txt", "plots/sub/deep.txt"]


def test_import_registry_versions_stages_and_alias(dvc_project: Path, sqlite_store) -> None:
    uri, ids = sqlite_store
    client = gittrack.Client()
    report = client.import_mlflow(uri)
    assert (report.registered_models, report.versions, report.stage_events) == (1, 3, 2)
    model = client.registry.show("churn")
    by_version = {v["version"]: v for v in model["versions"]}
    assert sorted(by_version) == ["v1.0.0", "v2.0.0", "v3.0.0"]
    runs = {r.data.tags["mlflow.imported_run_id"]: r for r in client.list_runs("churn")}
    for number, mlflow_run in enumerate(ids["models"], 1):
        assert by_version[f"v{number}.0.0"]["run_id"] == runs[mlflow_run].info.run_id
    assert client.get_model_version("churn", "staging")["version"] == "v2.0.0"
    assert client.get_model_version("churn", "champion")["version"] == "v3.0.0"
    dates = [int(d) for d in git(dvc_project, "tag", "-l", "churn*", "--format=%(taggerdate:unix)").split()]
    assert len(set(dates)) == len(dates) == 5  # strictly increasing per model: no two events share a second
    order = git(dvc_project, "tag", "-l", "churn@*", "--sort=taggerdate", "--format=%(refname:short)").split()
    assert order == ["churn@v1.0.0", "churn@v2.0.0", "churn@v3.0.0"]
    assert client.load_model("churn@champion").predict([[3.0]]).tolist() == [1]
    again = client.import_mlflow(uri)
    assert (again.runs, again.runs_present, again.versions, again.stage_events) == (0, 8, 0, 0)


def test_a_dry_run_counts_what_the_import_writes(dvc_project: Path, sqlite_store) -> None:
    uri, _ = sqlite_store
    client = gittrack.Client()
    would = client.import_mlflow(uri, dry_run=True).as_dict()
    assert client.list_runs() == []
    assert git(dvc_project, "tag", "--list") == ""
    did = client.import_mlflow(uri).as_dict()
    assert did["metric_points"] > 0
    assert did["artifacts"] > 0
    assert did["models"] > 0
    assert would == {**did, "dry_run": True}


def test_interrupted_import_resumes_without_half_runs(dvc_project: Path, sqlite_store) -> None:
    uri, _ = sqlite_store
    client = gittrack.Client()

    def stop_after_two(done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        client.import_mlflow(uri, registry=False, progress=stop_after_two)
    written = git(dvc_project, "for-each-ref", "--format=%(refname)", "refs/runs/", "refs/runs-deleted/").split()
    assert len(written) == 2  # each run is written whole or not at all
    report = client.import_mlflow(uri, registry=False)
    assert (report.runs, report.runs_present) == (6, 2)
    mlflow_ids = [r.data.tags["mlflow.imported_run_id"] for r in client.list_runs("churn")]
    assert len(mlflow_ids) == len(set(mlflow_ids)) == 7


def test_cli_dry_run_file_store_and_errors(dvc_project: Path, tmp_path: Path, gittrack_cmd: list[str]) -> None:
    store = tmp_path / "mlruns"
    _build(str(store), tmp_path)
    result = subprocess.run([*gittrack_cmd, "import", "mlflow", "--tracking-uri", str(store), "--dry-run", "--json"],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["dry_run"], summary["runs"], summary["skipped"]) == (True, 5, [])
    assert gittrack.Client().list_runs() == []
    assert git(dvc_project, "status", "--porcelain") == ""
    said = subprocess.run([*gittrack_cmd, "import", "mlflow", "--tracking-uri", str(store), "--dry-run"],
                          capture_output=True, text=True)  # fmt: skip
    assert "would import 5 runs (0 already here), 6 metric points" in said.stdout
    result = subprocess.run([*gittrack_cmd, "import", "mlflow", "--tracking-uri", str(store), "--json"],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {**summary, "dry_run": False}  # the dry run counted what the import did
    assert len(gittrack.Client().list_runs("churn")) == 4
    missing = subprocess.run([*gittrack_cmd, "import", "mlflow", "--tracking-uri", str(tmp_path / "nowhere")],
                             capture_output=True, text=True)  # fmt: skip
    assert missing.returncode == 2
    assert missing.stderr.strip().startswith("error: no MLflow store at")
    assert len(missing.stderr.strip().splitlines()) == 1


def _mlflow_runs(uri: str) -> dict[str, tuple]:
    """MLflow run id (the original one, for exported runs) -> what a round trip must keep."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    found = {}
    for experiment in client.search_experiments():
        for run in client.search_runs([experiment.experiment_id]):
            histories = {
                key: [(m.step, m.timestamp, repr(m.value)) for m in client.get_metric_history(run.info.run_id, key)]
                for key in run.data.metrics
            }
            original = run.data.tags.get("mlflow.imported_run_id", run.info.run_id)
            found[original] = (run.info.run_id, run.data.params, histories, run.data.tags, run.info.status,
                               run.info.start_time, run.info.end_time)  # fmt: skip
    return found


def test_round_trip_mlflow_gittrack_mlflow_keeps_params_points_and_tags(
    dvc_project: Path, sqlite_store, tmp_path: Path, gittrack_cmd: list[str]
) -> None:
    uri, ids = sqlite_store
    gittrack.Client().import_mlflow(uri)
    target = f"sqlite:///{tmp_path / 'exported.db'}"
    result = subprocess.run([*gittrack_cmd, "export", "mlflow", "--tracking-uri", target, "--json"],
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["runs"], summary["versions"], summary["stage_events"]) == (7, 3, 2)
    assert not (dvc_project / "mlruns").exists()  # artifacts go beside the database, not into the work tree
    before, after = _mlflow_runs(uri), _mlflow_runs(target)
    assert set(after) == set(before) - {ids["deleted"]}
    for mlflow_id, (_, params, histories, tags, status, start, end) in after.items():
        assert (params, histories, status, start, end) == before[mlflow_id][1:3] + before[mlflow_id][4:]
        old_tags = dict(before[mlflow_id][3])
        if "mlflow.parentRunId" in old_tags:  # the parent is the exported parent
            assert tags["mlflow.parentRunId"] == after[old_tags.pop("mlflow.parentRunId")][0]
        assert old_tags.items() <= tags.items()
    from mlflow import MlflowClient

    exported = MlflowClient(tracking_uri=target).get_registered_model("churn")
    assert exported.aliases == {"champion": 3, "staging": 2}
    again = subprocess.run([*gittrack_cmd, "export", "mlflow", "--tracking-uri", target, "--json"],
                           capture_output=True, text=True)  # fmt: skip
    assert json.loads(again.stdout)["runs"] == 0
