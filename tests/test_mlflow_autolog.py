"""MLflow's autologging examples (tests/mlflow_scripts/autolog/) run twice: with real MLflow on its
file store, and with only their imports rewritten to gittrack.mlflow in a fresh git repository.
What each store holds, read through each one's MlflowClient, must agree: the runs and their
nesting, param, metric and tag keys, artifacts, logged models and dataset inputs. Values may
differ where they come from the machine or the clock (times, users, paths); a logged model is also
an artifact of its run in gittrack (MLflow 3 keeps it apart)."""

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
optional("mlflow", reason="the comparison needs real MLflow")
EXAMPLES = sorted((Path(__file__).parent / "mlflow_scripts" / "autolog").glob("*.py"))
RECORDER = Path(__file__).with_name("mlflow_record.py")
# tags only one side records: git's (gittrack runs are commits) and gittrack's own namespace
ONLY_GITTRACK = ("mlflow.source.git.", "gittrack.")


def _record(folder: Path, script: Path, kind: str, env: dict[str, str]) -> list[dict]:
    text = script.read_text() if kind == "mlflow" else rewrite_imports(script.read_text())
    (folder / script.name).write_text(text)
    done = subprocess.run([sys.executable, str(RECORDER), script.name, "store.json", kind], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert done.returncode == 0, f"{script.name} with {kind} failed:\n{done.stdout}\n{done.stderr}"
    return json.loads((folder / "store.json").read_text())


def _shape(runs: list[dict]) -> list[dict]:
    """Runs in a comparable order and form: parents first, then by params; parent ids as positions."""
    ordered = sorted(runs, key=lambda r: ("mlflow.parentRunId" in r["tags"], json.dumps(r["params"], sort_keys=True)))
    position = {r["run_id"]: i for i, r in enumerate(ordered)}
    return [{**r, "parent": position.get(r["tags"].get("mlflow.parentRunId"))} for r in ordered]


def _inputs(run: dict) -> list[tuple]:
    """Dataset inputs as (name, digest, source type, source's keys, schema, profile, context)."""
    return sorted(
        (i["name"], i["digest"], i["source_type"], sorted(json.loads(i["source"]).get("tags", {})), i["schema"],
         i["profile"], i["tags"].get("mlflow.data.context"))
        for i in run["inputs"]
    )  # fmt: skip


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_autolog_records_what_mlflow_records(script: Path, tmp_path: Path) -> None:
    env = {**os.environ, "MLFLOW_TRACKING_URI": "file:./mlruns", "MLFLOW_ALLOW_FILE_STORE": "true",
           "MPLBACKEND": "Agg"}  # fmt: skip
    (tmp_path / "mlflow").mkdir()
    (tmp_path / "gittrack").mkdir()
    git(tmp_path / "gittrack", "init", "-q")
    theirs = _shape(_record(tmp_path / "mlflow", script, "mlflow", env))
    ours = _shape(_record(tmp_path / "gittrack", script, "gittrack", env))

    assert [r["parent"] for r in ours] == [r["parent"] for r in theirs]  # as many runs, nested alike
    for mine, real in zip(ours, theirs, strict=True):
        assert mine["status"] == real["status"] == "FINISHED"
        assert mine["params"].keys() == real["params"].keys()
        assert mine["metrics"].keys() == real["metrics"].keys()
        assert {k for k in mine["tags"] if not k.startswith(ONLY_GITTRACK)} == set(real["tags"])
        for key in ("estimator_name", "estimator_class", "mlflow.autologging", "mlflow.source.type"):
            assert mine["tags"].get(key) == real["tags"].get(key), key
        assert mine["models"] == real["models"]  # "model", and a search's "best_estimator"
        in_models = tuple(f"{name}/" for name in mine["models"])  # gittrack's logged models are artifacts too
        assert sorted(a for a in mine["artifacts"] if not a.startswith(in_models)) == sorted(real["artifacts"])
        assert _inputs(mine) == _inputs(real)
    if script.stem == "grid_search":
        parent, *children = ours
        assert len(children) == 5  # the best 5 of 6 candidates (max_tuning_runs)
        assert {(c["params"]["kernel"], c["params"]["C"]) for c in children} == {
            (c["params"]["kernel"], c["params"]["C"]) for c in theirs[1:]
        }  # fmt: skip
        assert parent["params"]["best_C"] == theirs[0]["params"]["best_C"]


def test_autolog_entry_points_take_mlflows_arguments_in_mlflows_order() -> None:
    import inspect

    import mlflow

    import gittrack
    import gittrack.mlflow

    def positional(function) -> list[str]:
        kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        return [p.name for p in inspect.signature(function).parameters.values() if p.kind in kinds]

    assert positional(gittrack.autolog) == positional(mlflow.autolog)
    for library in ("sklearn", "xgboost", "lightgbm"):
        assert positional(getattr(gittrack.autolog, library)) == positional(getattr(mlflow, library).autolog), library
    assert callable(gittrack.mlflow.sklearn.autolog)


def test_dataset_descriptions_are_mlflows() -> None:
    import numpy as np
    import pandas as pd
    import scipy.sparse
    from mlflow.data import from_numpy, from_pandas

    from gittrack._data.datasets import describe

    rng = np.random.RandomState(0)
    arrays = [
        (rng.rand(150, 4), rng.randint(0, 3, 150)),
        (rng.rand(12_000, 3), None),  # more values than the digest reads
        (rng.rand(5, 2).astype(np.float32), None),
        (np.arange(12).reshape(3, 4), np.array([True, False, True])),
        (rng.rand(5, 2, 3), rng.rand(5, 2)),
        (np.array([["a", "b"], ["c", "d"]]), None),
    ]
    frames = [
        pd.DataFrame({"a": [1.0, np.nan], "b": [3, 4], "c": ["x", "y"], "d": [True, False]}),
        pd.DataFrame({"z": rng.rand(12_000), "a": rng.randint(0, 5, 12_000).astype(np.int32), "s": ["q"] * 12_000}),
        pd.DataFrame({"t": pd.to_datetime(["2020-01-01", "2021-01-01"]), "n": pd.array([1, None], dtype="Int64")}),
        pd.DataFrame(rng.rand(4, 3)),  # integer column names
    ]
    sparse = scipy.sparse.random(10, 4, density=0.3, random_state=0, format="csr")
    cases = [(describe(X, y), from_numpy(X, targets=y)) for X, y in arrays]
    cases += [(describe(frame), from_pandas(frame)) for frame in frames]
    cases.append((describe(sparse), from_numpy(sparse.toarray())))
    for ours, theirs in cases:
        entity = theirs._to_mlflow_entity()
        assert (ours.digest, ours.schema, ours.profile) == (entity.digest, entity.schema, entity.profile)
