"""Data inputs, artifacts and models through real DVC, checked with the real dvc CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pygit2
import pytest
from click.testing import CliRunner

import gittrack
from gittrack._data import dvcstore
from gittrack.cli import main
from tests.conftest import BIN, git, optional

pytestmark = pytest.mark.slow


def dvc(cwd: Path, *args: str) -> str:
    result = subprocess.run([str(BIN / "dvc"), *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def dvc_repo(repo: Path, tmp_path: Path) -> Path:
    """The repo fixture with DVC set up through gittrack init, a local DVC remote, and data."""
    dvcstore.open_dvc.cache_clear()
    result = CliRunner().invoke(main, ["init", "--dvc-remote", str(tmp_path / "dvc-remote"), "--commit"])
    assert result.exit_code == 0, result.output
    assert "committed them as" in result.output
    (repo / "data").mkdir()
    (repo / "data" / "train.csv").write_text("distance,duration\n1.0,5\n2.0,9\n")
    dvc(repo, "add", "data/train.csv")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "track data")
    return repo


class Doubler:
    """A model of the python flavor: any picklable object with predict."""

    def predict(self, values):
        return [2 * v for v in values]


def test_artifact_pointers_work_with_plain_dvc(dvc_repo: Path, tmp_path: Path) -> None:
    model = tmp_path / "model.bin"
    model.write_bytes(os.urandom(4096))
    plots = tmp_path / "plots"
    (plots / "sub").mkdir(parents=True)
    (plots / "loss.png").write_bytes(b"png")
    (plots / "sub" / "acc.csv").write_text("step,acc\n0,0.5\n")
    with gittrack.start_run() as active:
        info = gittrack.log_artifact(model)
        gittrack.log_artifacts(plots, "plots")
        gittrack.log_artifact(model, "checkpoints/final")
    assert info == {"md5": dvcstore.hash_path(dvcstore.open_dvc(str(dvc_repo)), model).md5, "size": 4096,
                    "nfiles": None, "kind": "artifact", "path": "model.bin"}  # fmt: skip
    run = gittrack.get_run(active.run_id)
    assert [a["path"] for a in run.details.artifacts] == ["model.bin", "plots", "checkpoints/final/model.bin"]
    git(dvc_repo, "checkout", "-q", "--detach", run.info.ref)
    dvc(dvc_repo, "checkout")
    artifacts = dvc_repo / ".gittrack" / "run" / "artifacts"
    assert (artifacts / "model.bin").read_bytes() == model.read_bytes()
    assert (artifacts / "plots" / "sub" / "acc.csv").read_text() == "step,acc\n0,0.5\n"
    assert (artifacts / "checkpoints" / "final" / "model.bin").exists()
    assert "up to date" in dvc(dvc_repo, "status")
    assert git(dvc_repo, "status", "--porcelain") == ""


def test_identical_artifacts_are_stored_once(dvc_repo: Path, tmp_path: Path) -> None:
    big = tmp_path / "weights.bin"
    big.write_bytes(os.urandom(1024 * 1024))
    cache = dvc_repo / ".dvc" / "cache"
    for _ in range(3):
        with gittrack.start_run():
            gittrack.log_artifact(big)
    md5 = dvcstore.hash_path(dvcstore.open_dvc(str(dvc_repo)), big).md5
    copies = [p for p in cache.rglob("*") if p.is_file() and p.parent.name + p.name == md5]
    assert len(copies) == 1
    assert sum(p.stat().st_size for p in cache.rglob("*") if p.is_file()) < 2 * 1024 * 1024


def test_artifacts_come_back_from_the_dvc_remote(dvc_repo: Path, tmp_path: Path) -> None:
    source = tmp_path / "report.txt"
    source.write_text("evaluation report\n")
    folder = tmp_path / "eval"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    (folder / "b.txt").write_text("b")
    with gittrack.start_run() as active:
        gittrack.log_artifact(source)
        gittrack.log_artifacts(folder, "eval")
    run = gittrack.get_run(active.run_id)
    dvc_api = dvcstore.open_dvc(str(dvc_repo))
    entries = [dvcstore.DataEntry(a["md5"], a["size"], a["nfiles"]) for a in run.details.artifacts]
    assert dvcstore.push(dvc_api, entries).sent == 4  # a file, a .dir listing and its two files
    shutil.rmtree(dvc_repo / ".dvc" / "cache")
    dvcstore.open_dvc.cache_clear()  # as a new process would see it
    out = tmp_path / "out"
    path = gittrack.download_artifacts(active.run_id, "report.txt", out)
    assert Path(path).read_text() == "evaluation report\n"
    everything = Path(gittrack.download_artifacts(active.run_id, dst=tmp_path / "all"))
    assert (everything / "eval" / "b.txt").read_text() == "b"
    shutil.rmtree(dvc_repo / ".dvc" / "cache")
    dvcstore.open_dvc.cache_clear()
    (tmp_path / "dvc-remote").rename(tmp_path / "gone")
    with pytest.raises(dvcstore.DataError, match="DVC remote"):
        gittrack.download_artifacts(active.run_id, "report.txt", tmp_path / "again")


def test_a_file_inside_a_logged_folder_comes_back_alone(dvc_repo: Path, tmp_path: Path) -> None:
    import gittrack.mlflow as mlflow
    from gittrack.mlflow.tracking import MlflowClient

    plots = tmp_path / "plots"
    (plots / "sub").mkdir(parents=True)
    (plots / "curve.csv").write_text("step,loss\n0,1.0\n1,0.5\n")
    (plots / "big.bin").write_bytes(b"x" * 4096)
    (plots / "sub" / "deep.txt").write_text("deep")
    with gittrack.start_run(run_name="plotted") as active:
        gittrack.log_artifacts(plots, "plots")  # one folder artifact
    run_id = active.run_id
    [logged] = gittrack.get_run(run_id).details.artifacts
    dvc_api = dvcstore.open_dvc(str(dvc_repo))
    dvcstore.push(dvc_api, [dvcstore.DataEntry(logged["md5"], logged["size"], logged["nfiles"])])
    shutil.rmtree(dvc_repo / ".dvc" / "cache")
    dvcstore.open_dvc.cache_clear()  # as a new process would see it: everything is on the DVC remote
    path = gittrack.download_artifacts(run_id, "plots/curve.csv", tmp_path / "one")
    assert path == str(tmp_path / "one" / "plots" / "curve.csv")
    assert Path(path).read_text() == "step,loss\n0,1.0\n1,0.5\n"
    assert [p.name for p in (tmp_path / "one" / "plots").iterdir()] == ["curve.csv"]
    cached = {p.name for p in (dvc_repo / ".dvc" / "cache").rglob("*") if p.is_file()}
    assert len(cached) == 2  # the folder's listing and that file: big.bin was not fetched
    sub = Path(gittrack.download_artifacts(run_id, "plots/sub", tmp_path / "sub"))
    assert (sub / "deep.txt").read_text() == "deep"
    listed = gittrack.Client().list_artifacts(run_id, "plots")  # sizes of what is in the local cache
    assert [(a["path"], a["kind"], a["size"]) for a in listed] == [
        ("plots/big.bin", "file", None), ("plots/curve.csv", "file", 22), ("plots/sub/deep.txt", "file", 4),
    ]  # fmt: skip
    runner = CliRunner()
    got = runner.invoke(main, ["artifacts", "get", "plotted", "plots/curve.csv", "-o", str(tmp_path / "cli")])
    assert got.exit_code == 0, got.output
    assert got.output.strip() == str(tmp_path / "cli" / "plots" / "curve.csv")
    table = runner.invoke(main, ["artifacts", "list", "plotted", "plots/sub"]).output
    assert "plots/sub/deep.txt" in table
    assert "plots/curve.csv" not in table
    as_json = json.loads(runner.invoke(main, ["artifacts", "list", "plotted", "plots", "--json"]).output)
    assert [a["path"] for a in as_json] == ["plots/big.bin", "plots/curve.csv", "plots/sub/deep.txt"]
    missing = runner.invoke(main, ["artifacts", "get", "plotted", "plots/nope.csv"])
    assert missing.exit_code == 1
    hint = f"see 'gittrack artifacts list {run_id[:12]} plots'"
    assert f"artifact folder 'plots' of run plotted has no 'nope.csv'; {hint}" in missing.output
    escaping = runner.invoke(main, ["artifacts", "get", "plotted", "plots/../../etc/passwd"])
    assert escaping.exit_code == 2
    assert "escapes the run's artifact folder" in escaping.output
    # the MLflow layer addresses files inside folders the same way
    assert mlflow.artifacts.load_text(f"runs:/{run_id}/plots/curve.csv").startswith("step,loss")
    assert [(f.path, f.is_dir) for f in MlflowClient().list_artifacts(run_id, "plots")] == [
        ("plots/big.bin", False), ("plots/curve.csv", False), ("plots/sub", True),
    ]  # fmt: skip
    assert [f.path for f in MlflowClient().list_artifacts(run_id, "plots/sub")] == ["plots/sub/deep.txt"]
    assert MlflowClient().list_artifacts(run_id, "plots/none") == []


def test_inputs_are_recorded_with_dvc_hashes_and_dirty_flags(dvc_repo: Path, tmp_path: Path) -> None:
    recorded = (dvc_repo / "data" / "train.csv.dvc").read_text()
    with gittrack.start_run() as clean:
        pass
    [item] = gittrack.get_run(clean.run_id).details.inputs
    assert item["path"] == "data/train.csv"
    assert item["md5"] in recorded
    assert item["source"] == "data/train.csv.dvc"
    assert item["dirty"] is False
    (dvc_repo / "data" / "train.csv").write_text("changed\n")
    extra = tmp_path / "features"
    extra.mkdir()
    (extra / "f.parquet").write_bytes(b"PAR1")
    with gittrack.start_run() as dirty:
        logged = gittrack.log_input(extra, name="features")
    inputs = {i["path"]: i for i in gittrack.get_run(dirty.run_id).details.inputs}
    assert inputs["data/train.csv"]["dirty"] is True
    assert inputs[str(extra)]["name"] == "features"
    # the same hash DVC itself gives the folder
    copy = dvc_repo / "features"
    shutil.copytree(extra, copy)
    dvc(dvc_repo, "add", "features")
    assert logged["md5"] in (dvc_repo / "features.dvc").read_text()
    assert logged["nfiles"] == 1


def test_log_input_track_adds_to_dvc(dvc_repo: Path) -> None:
    (dvc_repo / "data" / "valid.csv").write_text("a,b\n")
    with gittrack.start_run():
        gittrack.log_input("data/valid.csv", track=True)
    assert (dvc_repo / "data" / "valid.csv.dvc").exists()


def test_a_dataset_is_one_input_per_name_and_digest_with_its_first_context(repo: Path) -> None:
    from gittrack._data.datasets import describe

    described = describe(pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]}))
    client = gittrack.Client()
    run_id = client.create_run(run_name="datasets").info.run_id
    for name, context in (("dataset", "train"), ("dataset", "eval"), ("valid", "eval")):
        client.log_dataset(run_id, name, described.digest, context, source='{"tags": {}}', source_type="code",
                           schema=described.schema, profile=described.profile)  # fmt: skip
    client.set_terminated(run_id)
    inputs = client.get_run(run_id).details.inputs
    assert [(i["name"], i["context"], i["path"]) for i in inputs] == [("dataset", "train", "dataset"),
                                                                       ("valid", "eval", "valid")]  # fmt: skip
    columns = json.loads(inputs[0]["schema"])["mlflow_colspec"]
    assert columns == [
        {"type": "double", "name": "a", "required": True},
        {"type": "string", "name": "b", "required": True},
    ]
    assert (inputs[0]["source_type"], inputs[0]["dataset_source"], inputs[0]["md5"]) == ("code", '{"tags": {}}', None)


def test_models_round_trip_for_each_flavor(dvc_repo: Path, tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    frame = pd.DataFrame({"distance": [1.0, 2.0, 3.0], "hour": [1, 5, 9]})
    regression = LinearRegression().fit(frame, [5.0, 9.0, 13.0])
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"\x08\x07onnx-bytes")
    with gittrack.start_run() as active:
        gittrack.log_model(regression, input_example=frame)
        gittrack.log_model(Doubler(), name="doubler")
        gittrack.log_model(str(onnx), name="onnx")
        gittrack.log_model(Doubler(), name="arr", flavor="python", input_example=np.zeros((4, 3), dtype="float32"))
    loaded = gittrack.load_model(f"runs:/{active.run_id}/model")
    assert list(loaded.predict(frame)) == pytest.approx([5.0, 9.0, 13.0])
    assert gittrack.load_model(f"runs:/{active.run_id[:14]}/doubler").predict([1, 2]) == [2, 4]
    assert Path(gittrack.load_model(f"runs:/{active.run_id}/onnx")).read_bytes() == onnx.read_bytes()
    flavors = {a["path"]: a.get("flavor") for a in gittrack.get_run(active.run_id).details.artifacts}
    assert flavors == {"model": "sklearn", "doubler": "python", "onnx": "file", "arr": "python"}
    ref = gittrack.get_run(active.run_id).info.ref
    meta = dvc_repo / "m"
    out = gittrack.download_artifacts(active.run_id, "model", meta)
    yaml_text = (Path(out) / "model.yaml").read_text()
    assert "flavor: sklearn" in yaml_text
    assert "scikit-learn==" in yaml_text
    assert "name: distance" in yaml_text
    assert "dtype: float64" in yaml_text
    arr_yaml = (Path(gittrack.download_artifacts(active.run_id, "arr", tmp_path / "arr")) / "model.yaml").read_text()
    assert "- -1\n    - 3" in arr_yaml
    assert "dtype: float32" in arr_yaml
    assert ref.startswith("refs/runs/")


def test_saved_model_folders_load_back_with_their_code(dvc_repo: Path, tmp_path: Path) -> None:
    from gittrack._flavors import load_folder, save_model

    def add_code(folder: Path, meta: dict) -> None:  # what the MLflow layer does for code_paths
        (folder / "code").mkdir()
        (folder / "code" / "shipped_helper.py").write_text("FACTOR = 3\n")
        meta["code"] = "code"

    saved = save_model(Doubler(), tmp_path / "saved", flavor="python", extra=add_code)
    assert saved["code"] == "code"
    assert load_folder(tmp_path / "saved").predict([2]) == [4]
    import shipped_helper  # the model's code folder is on sys.path once it loads

    assert shipped_helper.FACTOR == 3
    with pytest.raises(gittrack.UsageError, match="not empty"):
        save_model(Doubler(), tmp_path / "saved")
    client = gittrack.Client()
    run_id = client.create_run(experiment="models").info.run_id
    client.log_model(run_id, Doubler(), name="m", entry={"model_type": "doubler"})
    client.set_terminated(run_id)
    [artifact] = client.get_run(run_id).details.artifacts
    assert (artifact["model_type"], artifact["flavor"]) == ("doubler", "python")  # kept in the run record
    folder = Path(client.model_folder(f"runs:/{run_id}/m"))
    assert load_folder(folder).predict([1]) == [2]


def test_pytorch_flavor(dvc_repo: Path) -> None:
    torch = optional("torch", reason="torch is optional; the pytorch flavor needs it")
    model = torch.nn.Linear(3, 1)
    with gittrack.start_run() as active:
        gittrack.log_model(model, flavor="pytorch", name="net")
    with pytest.raises(gittrack.GittrackError, match="without arguments"):
        gittrack.load_model(f"runs:/{active.run_id}/net")


def test_tampered_models_are_not_loaded(dvc_repo: Path) -> None:
    with gittrack.start_run() as active:
        gittrack.log_model(Doubler(), name="doubler")
    [artifact] = gittrack.get_run(active.run_id).details.artifacts
    dvc_api = dvcstore.open_dvc(str(dvc_repo))
    entry = dvcstore.DataEntry(artifact["md5"], artifact["size"], artifact["nfiles"])
    from dvc_data.hashfile.tree import Tree

    tree = Tree.load(dvc_api.cache.local, dvcstore._hash_info(entry))
    for key, _, hash_info in tree:
        if key[-1] == "model.pkl":
            victim = Path(dvc_api.cache.local.oid_to_path(hash_info.value))
            victim.chmod(0o644)
            victim.write_bytes(b"cos\nsystem\n(S'echo pwned'\ntR.")
    with pytest.raises(gittrack.GittrackError, match=r"do not match their hash|does not match its recorded hash"):
        gittrack.load_model(f"runs:/{active.run_id}/doubler")


@pytest.mark.parametrize(
    "bad", ["/abs/path", "../outside", "a/../../b", "x\\y", ".gitignore", "a/.git/b", "m.dvc/x", ".gittrack", ".dvc"]
)
def test_escaping_artifact_paths_are_refused(dvc_repo: Path, tmp_path: Path, bad: str) -> None:
    source = tmp_path / "f.txt"
    source.write_text("x")
    with gittrack.start_run() as active, pytest.raises(gittrack.InvalidNameError):
        gittrack.log_artifact(source, bad)
    assert gittrack.get_run(active.run_id).details.artifacts == []


def test_a_failed_checkout_leaves_the_work_tree_as_it_was(dvc_repo: Path, tmp_path: Path) -> None:
    source = tmp_path / "f.txt"
    source.write_text("never pushed\n")
    with gittrack.start_run() as active:
        gittrack.log_artifact(source)
    shutil.rmtree(dvc_repo / ".dvc" / "cache")  # the data is in neither the cache nor the DVC remote
    (dvc_repo / "data" / "train.csv").unlink()  # nor in the work tree
    dvcstore.open_dvc.cache_clear()
    head = git(dvc_repo, "rev-parse", "HEAD").strip()
    for extra in ([], ["-b", "from-run"]):
        failed = subprocess.run([str(BIN / "gittrack"), "checkout", active.run_id, *extra], cwd=dvc_repo,
                                capture_output=True, text=True)  # fmt: skip
        assert failed.returncode == 1
        assert failed.stderr.count("\n") == 1, failed.stderr  # one line, not DVC's report
        assert "neither in the local cache nor on" in failed.stderr
        assert "data/train.csv" in failed.stderr
        assert git(dvc_repo, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
        assert git(dvc_repo, "rev-parse", "HEAD").strip() == head
        assert git(dvc_repo, "status", "--porcelain") == ""
        assert "from-run" not in git(dvc_repo, "branch")


def test_symlinks_out_of_a_logged_folder_are_not_followed(dvc_repo: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not upload")
    folder = tmp_path / "outputs"
    folder.mkdir()
    (folder / "ok.txt").write_text("fine")
    (folder / "leak.txt").symlink_to(secret)
    with gittrack.start_run() as active:
        gittrack.log_artifacts(folder, "outputs")
    out = Path(gittrack.download_artifacts(active.run_id, "outputs", tmp_path / "back"))
    assert sorted(p.name for p in out.iterdir()) == ["ok.txt"]


def test_the_first_artifact_sets_dvc_up_once(repo: Path, tmp_path: Path, caplog) -> None:
    (tmp_path / "f").write_text("x")
    with gittrack.start_run() as active:
        gittrack.log_artifact(tmp_path / "f")
        gittrack.log_artifact(tmp_path / "f", "again")
    assert (repo / ".dvc" / "config").is_file()
    assert caplog.text.count("set up DVC") == 1
    assert "gittrack init --commit --dvc-remote URL" in caplog.text
    assert Path(gittrack.download_artifacts(active.run_id, "again/f")).read_text() == "x"


def test_artifacts_cli(dvc_repo: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.md").write_text("# notes\n")
    with gittrack.start_run(run_name="with-files") as active:
        gittrack.log_artifact(tmp_path / "notes.md", "docs")
        gittrack.log_model(Doubler(), name="doubler")
    runner = CliRunner()
    table = runner.invoke(main, ["artifacts", "list", "with-files"]).output
    assert "docs/notes.md" in table
    assert "doubler" in table
    listed = json.loads(runner.invoke(main, ["artifacts", "list", active.run_id, "--json"]).output)
    assert {a["path"] for a in listed} == {"docs/notes.md", "doubler"}
    got = runner.invoke(main, ["artifacts", "get", "with-files", "docs/notes.md", "-o", str(tmp_path / "dl")])
    assert got.exit_code == 0
    assert Path(got.output.strip()).read_text() == "# notes\n"
    missing = runner.invoke(main, ["artifacts", "get", "with-files", "nope"])
    assert missing.exit_code == 1
    assert "has no artifact 'nope'" in missing.output
    shown = runner.invoke(main, ["runs", "show", "with-files"]).output
    assert "data inputs" in shown
    assert "data/train.csv" in shown
    assert "docs/notes.md" in shown


def test_runs_diff_reports_changed_inputs(dvc_repo: Path) -> None:
    with gittrack.start_run() as a:
        pass
    (dvc_repo / "data" / "train.csv").write_text("new data\n")
    dvc(dvc_repo, "add", "data/train.csv")
    with gittrack.start_run() as b:
        pass
    changes = gittrack.Client().diff_runs(a.run_id, b.run_id)
    assert list(changes.inputs) == ["data/train.csv"]
    assert pygit2.Repository(str(dvc_repo)).head.shorthand == "main"


def test_load_model_warns_on_environment_mismatch(dvc_repo: Path, caplog) -> None:
    with gittrack.start_run() as active:
        gittrack.log_model(Doubler(), name="pinned", pip_requirements=["scikit-learn==0.0.1", "no-such-package==1.0"])
    with caplog.at_level("WARNING", logger="gittrack"):
        model = gittrack.load_model(f"runs:/{active.run_id}/pinned")
    assert model.predict([3]) == [6]
    assert "saved with scikit-learn==0.0.1" in caplog.text
    assert "needs no-such-package==1.0, which is not installed" in caplog.text


def test_a_folder_prefix_downloads_the_files_logged_into_it(dvc_repo: Path, tmp_path: Path) -> None:
    for name in ("loss.png", "acc.png", "roc.csv"):
        (tmp_path / name).write_text(name)
    with gittrack.start_run() as active:
        gittrack.log_artifact(tmp_path / "loss.png", "plots")  # one by one into plots/, as MLflow users do
        gittrack.log_artifact(tmp_path / "acc.png", "plots")
        gittrack.log_artifact(tmp_path / "roc.csv", "plots/curves")
        gittrack.log_artifact(tmp_path / "roc.csv", "plots2")  # a sibling that only shares the prefix
    got = Path(gittrack.download_artifacts(active.run_id, "plots", tmp_path / "out"))
    assert got == tmp_path / "out" / "plots"
    assert sorted(str(p.relative_to(got)) for p in got.rglob("*") if p.is_file()) == [
        "acc.png", "curves/roc.csv", "loss.png",
    ]  # fmt: skip
    assert not (tmp_path / "out" / "plots2").exists()
    result = CliRunner().invoke(main, ["artifacts", "get", active.run_id, "plots/", "-o", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cli" / "plots" / "curves" / "roc.csv").read_text() == "roc.csv"
    missing = CliRunner().invoke(main, ["artifacts", "get", active.run_id, "plot"])
    assert missing.exit_code == 1
    assert "has no artifact 'plot'" in missing.output


def test_xgboost_and_lightgbm_flavors_round_trip(dvc_repo: Path) -> None:
    xgboost = optional("xgboost", reason="xgboost is optional (the autolog extra); its flavor needs it")
    lightgbm = optional("lightgbm", reason="lightgbm is optional (the autolog extra); its flavor needs it")
    x = np.random.default_rng(0).normal(size=(60, 3))
    y = (x[:, 0] > 0).astype(int)
    models = {
        "xgb": xgboost.XGBClassifier(n_estimators=3, max_depth=2).fit(x, y),
        "booster": xgboost.train({"max_depth": 2}, xgboost.DMatrix(x, label=y), num_boost_round=3),
        "lgbm": lightgbm.LGBMClassifier(n_estimators=3, verbose=-1).fit(x, y),
        "lgb-booster": lightgbm.train({"verbose": -1}, lightgbm.Dataset(x, label=y), num_boost_round=3),
    }
    with gittrack.start_run() as active:
        for name, model in models.items():
            gittrack.log_model(model, name=name)
    flavors = {a["path"]: a["flavor"] for a in gittrack.get_run(active.run_id).details.artifacts}
    assert flavors == {"xgb": "xgboost", "booster": "xgboost", "lgbm": "lightgbm", "lgb-booster": "lightgbm"}
    for name, model in models.items():
        loaded = gittrack.load_model(f"runs:/{active.run_id}/{name}")
        assert type(loaded) is type(model)
        data = xgboost.DMatrix(x) if name == "booster" else x
        np.testing.assert_allclose(loaded.predict(data), model.predict(data), rtol=1e-6)
