"""The read-only Client calls the web UI is built on: models, promotion requests, a run's code."""

from __future__ import annotations

from pathlib import Path

import pytest

import gittrack
from tests.ui_repo import build


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("browse") / "repo"
    return root, build(root, steps=5)


def test_models_history_and_lineage(built):
    root, info = built
    client = gittrack.Client(root)
    assert client.list_models() == [{"model": "taxi-model", "latest": "v0.0.2", "deprecated": False,
                                     "stages": {"staging": "v0.0.1"}, "versions": 2}]  # fmt: skip
    shown = client.registry.show("taxi-model")
    assert [v["version"] for v in shown["versions"]] == ["v0.0.2", "v0.0.1"]
    assert [e["event"] for e in client.registry.history("taxi-model")] == ["register", "assign", "register"]
    lineage = client.registry.lineage("taxi-model@staging")
    assert lineage["run"]["run_id"] == info["ids"]["sweep-0"]
    assert [i["path"] for i in lineage["inputs"]] == ["data.csv"]


def test_open_promotion_requests_carry_their_report(built):
    root, _info = built
    (request,) = gittrack.Client(root).list_promotion_requests()
    assert (request["branch"], request["model"], request["stage"], request["version"]) == (
        "promote/taxi-model/production/v0.0.2", "taxi-model", "production", "v0.0.2")  # fmt: skip
    assert request["report"].startswith("## Promote `taxi-model` v0.0.2 to `production`")


def test_a_runs_code_and_its_uncommitted_edits(built):
    root, info = built
    client = gittrack.Client(root)
    run = info["ids"]["sweep-2"]
    names = [e["name"] for e in client.list_run_files(run)]
    assert "train.py" in names
    assert ".gittrack" not in names
    assert client.read_run_file(run, "train.py") == b"print('training harder')\n"
    diff = client.diff_run_source(run)
    assert {"path": "train.py", "status": "modified", "additions": 1, "deletions": 1} in diff["files"]
    assert "+print('training harder')" in diff["patch"]
    with pytest.raises(gittrack.InvalidNameError):
        client.read_run_file(run, "../../etc/passwd")
    with pytest.raises(gittrack.NotFoundError):
        client.read_run_file(run, ".gittrack/run/run.yaml")


def test_experiments_come_from_the_ref_names(built):
    root, _ = built
    assert gittrack.Client(root).experiment_names() == ["churn", "long", "taxi", "vision"]
