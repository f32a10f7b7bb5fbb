"""The model registry on git tags: GTO's format and semantics, checked against GTO itself."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pygit2
import pytest
from click.testing import CliRunner

import gittrack
from gittrack._data import dvcstore
from gittrack._sync import pull, push
from gittrack.cli import main
from tests.conftest import BIN, git

pytestmark = pytest.mark.slow


class Scaler:
    """A python-flavor model: multiplies its inputs."""

    def __init__(self, factor: float) -> None:
        self.factor = factor

    def predict(self, values):
        return [self.factor * v for v in values]


def gto(cwd: Path, *args: str) -> str:
    result = subprocess.run([str(BIN / "gto"), *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr + result.stdout
    return result.stdout


def cli(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def train(factor: float, metric: float) -> str:
    with gittrack.start_run(experiment="churn", params={"factor": factor}) as active:
        gittrack.log_metric("auc", metric)
        gittrack.log_model(Scaler(factor), name="model")
        gittrack.log_artifact(__file__, "code")
    return active.run_id


@pytest.fixture
def runs(repo: Path) -> list[str]:
    dvcstore.open_dvc.cache_clear()
    assert cli("init", "--commit").exit_code == 0
    return [train(f, 0.7 + f / 100) for f in (1.0, 2.0, 3.0, 4.0)]


def test_register_versions_like_gto(runs, repo: Path) -> None:
    first = gittrack.register_model(f"runs:/{runs[0]}/model", "churn")
    assert first["version"] == "v0.0.1"  # GTO's first version
    assert gittrack.register_model(f"runs:/{runs[1]}/model", "churn")["version"] == "v0.0.2"  # GTO bumps patch
    client = gittrack.Client()
    assert client.register_model(f"runs:/{runs[2]}/model", "churn", bump="minor")["version"] == "v0.1.0"
    assert client.register_model(f"runs:/{runs[3]}/model", "churn", version="v1.0.0-rc.1")["version"] == "v1.0.0-rc.1"
    message = git(repo, "tag", "-l", "--format=%(contents)", "churn@v0.0.1")
    assert f"Gittrack-Run: {runs[0]}" in message
    assert "Gittrack-Artifact: model" in message
    assert git(repo, "rev-parse", "churn@v0.0.1^{commit}").strip() == gittrack.get_run(runs[0]).info.commit
    with pytest.raises(gittrack.UsageError, match=r"is already churn v0\.0\.1"):
        client.register_model(f"runs:/{runs[0]}/model", "churn")
    with pytest.raises(gittrack.NotFoundError, match="no logged model 'code'"):
        client.register_model(f"runs:/{runs[0]}/code", "other")
    for bad_name in ("bad name", "-x", "x@y", "a#b"):
        with pytest.raises(gittrack.InvalidNameError):
            client.register_model(f"runs:/{runs[0]}/model", bad_name)
    with pytest.raises(gittrack.InvalidNameError, match="not semver"):
        client.register_model(f"runs:/{runs[0]}/model", "other", version="1.2")


def test_a_running_run_registers_at_once_and_its_version_outlives_the_checkpoint(runs, repo: Path) -> None:
    with gittrack.start_run(experiment="churn") as active:
        gittrack.log_model(Scaler(5.0), name="model")
        gittrack.log_model(Scaler(6.0), name="other")
        version = gittrack.register_model(f"runs:/{active.run_id}/model", "churn")["version"]  # not yet committed
        gittrack.register_model(f"runs:/{active.run_id}/other", "other")
        assert gittrack.load_model(f"churn@{version}").factor == 5.0
        gittrack.log_metric("auc", 0.9)  # later checkpoints do not invalidate the version
        gittrack.log_model(Scaler(7.0), name="other")  # ...unless they replace its model
    client = gittrack.Client()
    found = client.get_model_version("churn", version)
    assert (found["run_id"], found["valid"]) == (active.run_id, True)
    assert found["run"]["metrics"] == {"auc": 0.9}
    assert git(repo, "rev-parse", f"churn@{version}^{{commit}}").strip() != gittrack.get_run(active.run_id).info.commit
    assert gittrack.load_model(f"churn@{version}").factor == 5.0
    with pytest.raises(gittrack.UsageError, match=rf"is already churn {version}"):
        client.register_model(f"runs:/{active.run_id}/model", "churn")
    _, problems = client.registry.list()
    assert [p for p in problems if p.startswith("other v0.0.1 points at")], problems
    assert "churn" in gto(repo, "show")


def test_stages_rollback_archive_and_deprecation(runs, repo: Path) -> None:
    client = gittrack.Client()
    for run in runs[:3]:
        client.register_model(f"runs:/{run}/model", "churn")
    client.promote_model("churn", "v0.0.1", "production")
    client.promote_model("churn", "v0.0.2", "production")
    assert client.get_model_version("churn", "production")["version"] == "v0.0.2"
    client.promote_model("churn", "v0.0.1", "production")  # rollback just works
    assert client.get_model_version("churn", "production")["version"] == "v0.0.1"
    written = client.promote_model("churn", "v0.0.3", "production", archive_existing=True)
    assert written[-1].startswith("churn#production#")
    assert sum("!#" in t for t in written) == 2  # GTO unassign tags for both earlier holders
    shown = json.loads(cli("models", "show", "churn", "--json").output)
    assert shown["stages"] == {"production": ["v0.0.3"]}
    with pytest.raises(gittrack.InvalidNameError, match="stage name 'bad stage'"):
        client.promote_model("churn", "v0.0.3", "bad stage")
    client.demote_model("churn", "v0.0.3", "production")
    with pytest.raises(gittrack.NotFoundError, match="no version of churn is in stage 'production'"):
        client.get_model_version("churn", "production")
    client.deprecate_model("churn", "v0.0.3")
    with pytest.raises(gittrack.UsageError, match="deprecated"):
        client.promote_model("churn", "v0.0.3", "staging")
    assert client.get_model_version("churn", "latest")["version"] == "v0.0.2"
    client.deprecate_model("churn")
    assert json.loads(cli("models", "list", "--json").output)[0]["deprecated"] is True
    times = [e["time"] for e in json.loads(cli("models", "history", "churn", "--json").output)]
    assert times == sorted(times)
    assert len(set(times)) == len(times)  # strictly increasing: GTO orders by date alone


def test_gto_reads_our_registry(runs, repo: Path) -> None:
    client = gittrack.Client()
    for run in runs[:3]:
        client.register_model(f"runs:/{run}/model", "churn")
    client.register_model(f"runs:/{runs[3]}/model", "fraud")
    client.promote_model("churn", "v0.0.1", "staging")
    client.promote_model("churn", "v0.0.2", "production")
    client.promote_model("churn", "v0.0.3", "staging")
    client.promote_model("churn", "v0.0.1", "production")  # rollback
    client.deprecate_model("churn", "v0.0.3")
    client.promote_model("fraud", "v0.0.1", "staging")
    client.demote_model("fraud", "v0.0.1", "staging")
    theirs = json.loads(gto(repo, "show", "--json"))
    ours = {m["model"]: m for m in json.loads(cli("models", "list", "--json").output)}
    assert set(theirs) == set(ours)
    for name, state in theirs.items():
        assert state["version"] == ours[name]["latest"]
        assert {k: v for k, v in state["stage"].items() if v} == ours[name]["stages"]
    history = json.loads(gto(repo, "history", "churn", "--json"))
    ours_history = json.loads(cli("models", "history", "churn", "--json").output)
    assert sorted(e["ref"] for e in history) == sorted(e["tag"] for e in ours_history)


def test_we_read_gto_made_tags(runs, repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach", gittrack.get_run(runs[0]).info.ref)
    gto(repo, "register", "churn")
    git(repo, "checkout", "-q", "--detach", gittrack.get_run(runs[1]).info.ref)
    gto(repo, "register", "churn", "--bump-minor")
    time.sleep(1.1)
    gto(repo, "assign", "churn", "--version", "v0.0.1", "--stage", "production")
    time.sleep(1.1)
    gto(repo, "assign", "churn", "--version", "v0.1.0", "--stage", "production")
    git(repo, "checkout", "-q", "main")
    ours = json.loads(cli("models", "list", "--json").output)
    assert ours == [{"model": "churn", "latest": "v0.1.0", "deprecated": False, "stages": {"production": "v0.1.0"},
                     "versions": 2}]  # fmt: skip
    # GTO's tags carry no run trailer: the version still resolves to its run through the commit
    assert gittrack.load_model("churn@production").predict([1]) == [2.0]


def test_versions_registered_with_gto_resolve_to_their_run_everywhere(runs, repo: Path) -> None:
    commit = gittrack.get_run(runs[0]).info.commit
    gto(repo, "register", "churn", commit, "--version", "v0.3.0")
    shown = json.loads(cli("models", "show", "churn", "--json").output)
    [version] = shown["versions"]
    assert version["run_id"] == runs[0]
    assert version["run"]["available"] is True
    assert "(not here)" not in cli("models", "show", "churn").output
    lineage = json.loads(cli("models", "lineage", "churn@v0.3.0", "--json").output)
    assert lineage["run"]["run_id"] == runs[0]
    got = cli("models", "get", "churn@v0.3.0", "-o", str(repo.parent / "got"))
    assert got.exit_code == 0, got.output
    assert gittrack.load_model("churn@v0.3.0").predict([1]) == [1.0]


def test_load_model_by_stage_version_and_latest(runs) -> None:
    client = gittrack.Client()
    for run in runs[:2]:
        client.register_model(f"runs:/{run}/model", "churn")
    client.promote_model("churn", "v0.0.1", "production")
    assert gittrack.load_model("churn@production").predict([1]) == [1.0]
    assert gittrack.load_model("churn@v0.0.2").predict([1]) == [2.0]
    assert gittrack.load_model("churn@latest").predict([1]) == [2.0]
    with pytest.raises(gittrack.NotFoundError, match=r"has no version v9\.9\.9"):
        gittrack.load_model("churn@v9.9.9")
    frame = gittrack.search_model_versions("churn")
    assert list(frame["version"]) == ["v0.0.2", "v0.0.1"]
    assert list(frame["stages"]) == ["", "production"]


def test_malformed_registry_tags_are_warnings(runs, repo: Path) -> None:
    gittrack.register_model(f"runs:/{runs[0]}/model", "churn")
    git(repo, "tag", "churn@v5.0.0")  # lightweight: GTO ignores it
    git(repo, "tag", "-a", "-m", "x", "churn@1.0")  # not semver
    git(repo, "tag", "-a", "-m", "x", "handmade@v1.0.0", "main")  # not a run commit
    result = cli("models", "list")
    assert result.exit_code == 0
    assert "churn@v5.0.0" in result.output
    assert "not in GTO's format" in result.output
    assert "churn     v0.0.1" in result.output
    with pytest.raises(gittrack.NotFoundError, match="not a run here"):
        gittrack.load_model("handmade@v1.0.0")


def test_any_stage_is_allowed_until_a_list_is_configured(runs, repo: Path) -> None:
    gittrack.register_model(f"runs:/{runs[0]}/model", "churn")
    client = gittrack.Client()
    client.promote_model("churn", "v0.0.1", "champion")  # MLflow's recommended alias names, as GTO allows
    assert cli("models", "promote", "churn", "v0.0.1", "challenger").exit_code == 0
    assert json.loads(cli("models", "show", "churn", "--json").output)["stages"] == {
        "challenger": ["v0.0.1"],
        "champion": ["v0.0.1"],
    }
    assert json.loads(gto(repo, "show", "--json"))["churn"]["stage"]["champion"] == "v0.0.1"  # GTO reads it too
    git(repo, "config", "gittrack.stages", "staging, production")
    with pytest.raises(gittrack.UsageError, match="allowed stages: staging, production"):
        client.promote_model("churn", "v0.0.1", "canary")
    result = cli("models", "promote", "churn", "v0.0.1", "canary")
    assert result.exit_code == 2
    assert "stage 'canary' is not allowed here; allowed stages: staging, production" in result.output


def test_gto_config_stages_are_honoured(runs, repo: Path) -> None:
    (repo / ".gto").write_text("stages: [dev, prod]\n")
    gittrack.register_model(f"runs:/{runs[0]}/model", "churn")
    result = cli("models", "promote", "churn", "v0.0.1", "production")
    assert result.exit_code == 2
    assert "allowed stages: dev, prod" in result.output
    assert cli("models", "promote", "churn", "v0.0.1", "prod").exit_code == 0


def test_cli_register_show_lineage_get(runs, repo: Path, tmp_path: Path) -> None:
    out = cli("models", "register", "churn", "--run", runs[1], "-m", "first real model")
    assert "registered churn v0.0.1" in out.output
    assert cli("models", "promote", "churn", "v0.0.1", "staging").exit_code == 0
    shown = cli("models", "show", "churn").output
    assert "v0.0.1" in shown
    assert "staging" in shown
    assert "auc=0.72" in shown
    lineage = cli("models", "lineage", "churn@staging").output
    assert "param  factor = 2.0" in lineage
    assert "[available]" in lineage
    got = cli("models", "get", "churn@staging", "-o", str(tmp_path / "m"))
    assert got.exit_code == 0
    assert (Path(got.output.strip()) / "model.yaml").exists()
    bad = cli("models", "promote", "churn", "v7.0.0", "staging")
    assert bad.exit_code == 1
    assert "has no version v7.0.0" in bad.output


def test_concurrent_promotions_both_survive_the_push(runs, repo: Path, tmp_path: Path) -> None:
    client = gittrack.Client()
    client.register_model(f"runs:/{runs[0]}/model", "churn")
    client.register_model(f"runs:/{runs[1]}/model", "churn")
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "main")
    push(pygit2.Repository(str(repo)), artifacts=False)
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "-q", str(remote), str(other)], check=True)
    pull(pygit2.Repository(str(other)))
    gittrack.Client(other).promote_model("churn", "v0.0.1", "production")  # both pick counter 1
    client.promote_model("churn", "v0.0.2", "production")
    push(pygit2.Repository(str(other)), artifacts=False)
    report = push(pygit2.Repository(str(repo)), artifacts=False)
    assert report.tags == 1
    tags = git(remote, "tag", "-l", "churn#production#*").split()
    assert sorted(tags) == ["churn#production#1", "churn#production#2"]
    pull(pygit2.Repository(str(other)))
    holder = gittrack.Client(other).get_model_version("churn", "production")
    assert holder["version"] == "v0.0.2"  # the later push is the newer assignment


def test_signed_tags_and_verify(runs, repo: Path, tmp_path: Path) -> None:
    if shutil.which("ssh-keygen") is None:
        pytest.skip("ssh-keygen is not installed; signing tags with an SSH key needs it")
    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    signers = tmp_path / "allowed"
    signers.write_text(f"ada@example.com {(tmp_path / 'key.pub').read_text()}")
    for key_name, value in (("gpg.format", "ssh"), ("user.signingkey", str(key)), ("tag.gpgSign", "true"),
                            ("gpg.ssh.allowedSignersFile", str(signers))):  # fmt: skip
        git(repo, "config", key_name, value)
    gittrack.register_model(f"runs:/{runs[0]}/model", "churn")
    gittrack.Client().promote_model("churn", "v0.0.1", "production")
    assert "SSH SIGNATURE" in git(repo, "cat-file", "-p", "churn#production#1")
    result = cli("models", "verify", "churn@production")
    assert result.exit_code == 0, result.output
    assert result.output.count("good") == 2
    git(repo, "config", "gpg.ssh.allowedSignersFile", str(tmp_path / "nobody"))
    assert cli("models", "verify", "churn@production").exit_code == 1


def test_cli_demote_and_deprecate(runs) -> None:
    for run in runs[:2]:
        assert cli("models", "register", "churn", "--run", run).exit_code == 0
    assert cli("models", "promote", "churn", "v0.0.1", "staging").exit_code == 0
    demoted = cli("models", "demote", "churn", "v0.0.1", "staging")
    assert demoted.exit_code == 0
    assert "created tag churn#staging!#" in demoted.output
    not_there = cli("models", "demote", "churn", "v0.0.1", "staging")
    assert not_there.exit_code == 2
    assert "is not in stage 'staging'" in not_there.output
    assert "created tag churn@v0.0.2!" in cli("models", "deprecate", "churn", "v0.0.2").output
    again = cli("models", "deprecate", "churn", "v0.0.2")
    assert again.exit_code == 2
    assert "deprecated already" in again.output
    assert "created tag churn@deprecated" in cli("models", "deprecate", "churn").output
    assert json.loads(cli("models", "list", "--json").output)[0]["deprecated"] is True
    unknown = cli("models", "deprecate", "nope")
    assert unknown.exit_code == 1
    assert "no model named 'nope'" in unknown.output


def test_lineage_tells_git_tracked_inputs_from_dvc_data(repo: Path) -> None:
    dvcstore.open_dvc.cache_clear()
    assert cli("init", "--commit").exit_code == 0
    (repo / "labels.csv").write_text("id,label\n1,0\n2,1\n")  # data tracked by git, not DVC
    git(repo, "add", "labels.csv")
    git(repo, "commit", "-q", "-m", "labels")
    (repo / "big.csv").write_text("x\n" * 100)
    subprocess.run([str(BIN / "dvc"), "add", "-q", "big.csv"], cwd=repo, check=True, capture_output=True)
    git(repo, "add", "big.csv.dvc", ".gitignore")
    git(repo, "commit", "-q", "-m", "big data")
    with gittrack.start_run(experiment="churn") as active:
        gittrack.log_input("labels.csv")
        gittrack.log_model(Scaler(1.0), name="model")
    gittrack.register_model(f"runs:/{active.run_id}/model", "churn")
    lines = cli("models", "lineage", "churn@latest").output.splitlines()
    labels = next(line for line in lines if "labels.csv" in line)
    assert "[in git, the run's snapshot]" in labels
    big = next(line for line in lines if "big.csv" in line)
    assert "[in the DVC cache]" in big
    data = json.loads(cli("models", "lineage", "churn@latest", "--json").output)
    by_path = {item["path"]: item for item in data["inputs"]}
    assert by_path["labels.csv"]["in_git"] is True
    assert by_path["labels.csv"]["in_cache"] is False
    assert by_path["big.csv"]["in_git"] is False
    assert by_path["big.csv"]["in_cache"] is True


def test_model_and_version_metadata_are_git_notes_that_travel(runs, repo: Path, tmp_path: Path) -> None:
    client = gittrack.Client()
    client.create_registered_model("churn", tags={"team": "ml"}, description="predicts churn")
    client.register_model(f"runs:/{runs[0]}/model", "churn")
    client.update_model_metadata("churn", "v0.0.1", description="first", tags={"validated": "yes"})
    client.update_model_metadata("churn", "v0.0.1", tags={"validated": None, "owner": "ada"})
    version = client.get_model_metadata("churn", "v0.0.1")
    assert (version.description, version.tags) == ("first", {"owner": "ada"})
    assert client.get_model_metadata("churn").tags == {"team": "ml"}
    assert '"v":"first"' in git(repo, "notes", "--ref=gittrack", "show", "churn@v0.0.1")
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "HEAD:main")
    push(pygit2.Repository(str(repo)), artifacts=False)
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "-q", str(remote), str(other)], check=True, capture_output=True)
    pull(pygit2.Repository(str(other)))
    theirs = gittrack.Client(other)
    assert theirs.get_model_metadata("churn", "v0.0.1").description == "first"
    assert theirs.get_model_metadata("churn").description == "predicts churn"
