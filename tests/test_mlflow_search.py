"""search_runs against MLflow's own answers: the same 60 runs (tests/mlflow_search/spec.py) built
in both tools; MLflow's answers were recorded with MLflow 3.17 (tests/mlflow_search/record.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pygit2
import pytest

import gittrack.mlflow as mlflow
from gittrack._search.service import find_rows
from tests.mlflow_search import spec

pytestmark = pytest.mark.slow
ANSWERS = json.loads((Path(__file__).parent / "mlflow_search" / "answers.json").read_text())


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """The spec's runs, logged through gittrack.mlflow in a fresh repository."""
    import subprocess

    import gittrack

    root = tmp_path_factory.mktemp("search") / "project"
    root.mkdir()
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    mlflow.set_tracking_uri(str(root))
    try:
        mlflow.set_experiment("search")
        frame = pd.DataFrame({"x": [1.0, 2.0]})
        for run in spec.runs():
            with mlflow.start_run(run_name=run["name"]) as active:
                mlflow.log_params(run["params"])
                for key, value in run["metrics"].items():
                    mlflow.log_metric(key, value)
                mlflow.set_tags(run["tags"])
                for name, digest, context in run["datasets"]:
                    mlflow.log_input(mlflow.data.from_pandas(frame, name=name, digest=digest), context=context)
                if run["status"] != "FINISHED":
                    mlflow.end_run(run["status"])
            assert active.info.status == run["status"]
    finally:
        gittrack.reset_state()
    return root


def names(root: Path, filter_string: str = "", order_by: list[str] | None = None) -> list[str]:
    mlflow.set_tracking_uri(str(root))
    try:
        found = mlflow.search_runs(experiment_names=["search"], filter_string=filter_string, order_by=order_by,
                                   output_format="list")  # fmt: skip
    finally:
        mlflow.set_tracking_uri(None)
    return [r.info.run_name for r in found]


@pytest.mark.parametrize("filter_string", sorted(ANSWERS["filters"]))
def test_filters_give_mlflows_answers(built: Path, filter_string: str) -> None:
    expected = ANSWERS["filters"][filter_string]
    if isinstance(expected, dict):  # MLflow refuses it; gittrack accepts it (IN on any column is ours)
        names(built, filter_string)
        return
    assert sorted(names(built, filter_string)) == sorted(expected)
    scanned = find_rows(pygit2.Repository(str(built)), ["search"], filter_string, use_index=False).rows
    assert sorted(r.run_name for r in scanned) == sorted(expected)


@pytest.mark.parametrize("order", sorted(ANSWERS["orders"]))
def test_orderings_give_mlflows_answers(built: Path, order: str) -> None:
    assert names(built, "", json.loads(order)) == ANSWERS["orders"][order]
