"""What gittrack records of MLflow's autologging, compared with what real MLflow records."""

from __future__ import annotations

import pytest

from tests.conftest import optional

pytestmark = pytest.mark.slow
optional("mlflow", reason="the comparison needs real MLflow")


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

    from gittrack.data.datasets import describe

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
