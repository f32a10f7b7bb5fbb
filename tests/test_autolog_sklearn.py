"""scikit-learn autologging with real (tiny) trainings, checked in the run commits they write."""

from __future__ import annotations

import logging
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, mean_squared_error
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import gittrack
from gittrack.store.yamlio import load_yaml
from tests.conftest import BIN, git


def _regression():
    X, y = make_regression(n_samples=40, n_features=3, noise=0.1, random_state=0)
    return pd.DataFrame(X, columns=["a", "b", "c"]), y


def _only_run() -> gittrack.Run:
    [run] = gittrack.list_runs()
    return run


def test_fit_records_params_metrics_model_and_training_data(autologging) -> None:
    X, y = _regression()
    autologging()
    model = Ridge(alpha=0.5).fit(X, y)
    run_id = gittrack.autolog.last_run_id()
    gittrack.autolog(disable=True)  # ends the run autologging left open

    run = gittrack.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["alpha"] == "0.5"
    assert run.record.param_types["alpha"] == "float"
    assert set(run.data.metrics) == {
        "training_mean_squared_error", "training_root_mean_squared_error", "training_mean_absolute_error",
        "training_r2_score", "training_score",
    }  # fmt: skip
    predictions = model.predict(X)
    assert run.data.metrics["training_mean_squared_error"] == pytest.approx(mean_squared_error(y, predictions))
    assert run.data.metrics["training_score"] == pytest.approx(model.score(X, y))
    assert [(p.step, p.value) for p in gittrack.Client().get_metric_history(run_id, "training_r2_score")] == [
        (0, pytest.approx(model.score(X, y)))
    ]
    [model_artifact] = [a for a in run.record.artifacts if a["path"] == "model"]
    assert model_artifact["kind"] == "model"
    loaded = gittrack.load_model(f"runs:/{run_id}/model")
    assert isinstance(loaded, Ridge)
    np.testing.assert_array_equal(loaded.predict(X), predictions)
    meta = load_yaml(Path(gittrack.download_artifacts(run_id, "model"), "model.yaml").read_bytes(), "model.yaml")
    assert meta["flavor"] == "sklearn"
    assert meta["signature"]["inputs"]["columns"] == [{"name": c, "dtype": "float64"} for c in "abc"]
    assert meta["signature"]["outputs"] == {"type": "ndarray", "shape": [-1], "dtype": "float64"}
    [data] = [i for i in run.record.inputs if i.get("name") == "training_data"]
    assert data["md5"].endswith(".dir")
    assert data["nfiles"] == 2  # X.csv and y.npy


def test_the_same_data_gives_the_same_input_hash(autologging) -> None:
    X, y = _regression()
    autologging()
    Ridge().fit(X, y)
    first = gittrack.autolog.last_run_id()
    LinearRegression().fit(X, y)
    second = gittrack.autolog.last_run_id()
    Ridge().fit(X, y * 2)
    third = gittrack.autolog.last_run_id()
    gittrack.autolog(disable=True)
    hashes = [next(i["md5"] for i in gittrack.get_run(r).record.inputs if i.get("name") == "training_data")
              for r in (first, second, third)]  # fmt: skip
    assert hashes[0] == hashes[1] != hashes[2]
    assert [gittrack.get_run(r).info.status for r in (first, second, third)] == ["FINISHED"] * 3


def test_classifier_metrics_use_mlflow_names(autologging) -> None:
    X, y = load_iris(return_X_y=True)
    autologging(log_models=False, log_datasets=False)
    LogisticRegression(max_iter=300).fit(X, y)
    gittrack.autolog(disable=True)
    run = _only_run()
    assert set(run.data.metrics) == {
        "training_accuracy_score", "training_precision_score", "training_recall_score", "training_f1_score",
        "training_log_loss", "training_roc_auc", "training_score",
    }  # fmt: skip
    assert run.data.metrics["training_accuracy_score"] == run.data.metrics["training_score"]
    assert run.record.artifacts == []
    assert run.record.inputs == []


def test_a_pipeline_is_one_run_with_its_steps_params(autologging) -> None:
    X, y = _regression()
    autologging(log_datasets=False)
    pipeline = Pipeline([("scale", StandardScaler()), ("ridge", Ridge(alpha=2.0))]).fit(X, y)
    gittrack.autolog(disable=True)
    run = _only_run()
    assert run.data.params["ridge__alpha"] == "2.0"
    assert run.data.params["scale__with_mean"] == "True"
    assert "training_r2_score" in run.data.metrics
    loaded = gittrack.load_model(f"runs:/{run.info.run_id}/model")
    np.testing.assert_array_equal(loaded.predict(X), pipeline.predict(X))


def test_grid_search_logs_best_params_and_a_child_run_per_candidate(autologging) -> None:
    X, y = _regression()
    autologging(log_datasets=False)
    search = GridSearchCV(Ridge(), {"alpha": [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]}, cv=2).fit(X, y)
    parent_id = gittrack.autolog.last_run_id()
    gittrack.autolog(disable=True)

    parent = gittrack.get_run(parent_id)
    assert parent.data.params["best_alpha"] == str(search.best_params_["alpha"])
    assert parent.data.params["estimator"] == "Ridge()"
    assert parent.data.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    assert {a["path"] for a in parent.record.artifacts} == {"model", "best_estimator", "cv_results.csv"}
    best = gittrack.load_model(f"runs:/{parent_id}/best_estimator")
    np.testing.assert_array_equal(best.predict(X), search.best_estimator_.predict(X))

    children = [r for r in gittrack.list_runs() if r.info.parent_run_id == parent_id]
    assert len(children) == 5  # max_tuning_runs
    ranked = sorted(children, key=lambda r: int(r.data.tags["gittrack.search.rank"]))
    assert [float(r.data.params["alpha"]) for r in ranked] == [
        search.cv_results_["params"][i]["alpha"] for i in np.argsort(search.cv_results_["rank_test_score"])[:5]
    ]
    top = ranked[0]
    assert top.data.metrics["rank_test_score"] == 1
    assert top.data.metrics["mean_test_score"] == pytest.approx(search.best_score_)
    assert {"split0_test_score", "split1_test_score", "std_test_score", "mean_fit_time"} <= set(top.data.metrics)
    assert all(r.info.status == "FINISHED" for r in children)


def test_max_tuning_runs_limits_the_child_runs(autologging) -> None:
    X, y = _regression()
    autologging.sklearn(max_tuning_runs=2, log_models=False, log_datasets=False)
    GridSearchCV(Ridge(), {"alpha": [0.1, 1.0, 10.0]}, cv=2).fit(X, y)
    parent_id = gittrack.autolog.last_run_id()
    gittrack.autolog(disable=True)
    assert len([r for r in gittrack.list_runs() if r.info.parent_run_id == parent_id]) == 2


def test_post_training_metrics_are_named_after_the_dataset_variable(autologging) -> None:
    X, y = load_iris(return_X_y=True)
    X_train, X_test, y_train, y_test = X[::2], X[1::2], y[::2], y[1::2]
    autologging(log_models=False, log_datasets=False)
    from sklearn.metrics import accuracy_score  # imported after autolog(): the patched function

    model = LogisticRegression(max_iter=300).fit(X_train, y_train)
    accuracy = accuracy_score(y_test, model.predict(X_test))
    score = model.score(X_test, y_test)
    X_test = X_test[:20]  # the same name for other data
    accuracy_small = accuracy_score(y_test[:20], model.predict(X_test))
    accuracy_score(y_test, y_test)  # not the model's predictions: not logged
    run_id = gittrack.autolog.last_run_id()
    gittrack.autolog(disable=True)
    metrics = gittrack.get_run(run_id).data.metrics
    assert metrics["accuracy_score_X_test"] == pytest.approx(accuracy)
    assert metrics["LogisticRegression_score_X_test"] == pytest.approx(score)
    assert metrics["accuracy_score_X_test-2"] == pytest.approx(accuracy_small)
    assert not [k for k in metrics if k.startswith("accuracy_score_y")]


def test_a_failure_inside_logging_is_warned_once_and_fit_returns(autologging, monkeypatch, caplog) -> None:
    from gittrack.autologging import sklearn as autolog_sklearn

    def broken(*args, **kwargs):
        raise RuntimeError("injected failure")

    monkeypatch.setattr(autolog_sklearn, "training_metrics", broken)
    X, y = _regression()
    autologging(log_datasets=False)
    with caplog.at_level(logging.WARNING, logger="gittrack"):
        first = Ridge().fit(X, y)
        second = LinearRegression().fit(X, y)
    assert isinstance(first, Ridge)
    assert isinstance(second, LinearRegression)
    warnings = [r.getMessage() for r in caplog.records if "injected failure" in r.getMessage()]
    assert warnings == [
        "gittrack: autologging (sklearn) could not log training metrics: RuntimeError: injected failure; "
        "training goes on without it"
    ]
    run_id = gittrack.autolog.last_run_id()
    gittrack.autolog(disable=True)
    run = gittrack.get_run(run_id)
    assert run.data.params["fit_intercept"] == "True"  # the other steps still logged
    assert "model" in {a["path"] for a in run.record.artifacts}


def test_a_failing_fit_ends_its_run_failed_and_raises(autologging) -> None:
    autologging(log_datasets=False)
    with pytest.raises(ValueError, match="Found input variables"):
        Ridge().fit(np.ones((4, 2)), np.ones(3))
    run = _only_run()
    assert run.info.status == "FAILED"
    assert run.record.error["type"] == "ValueError"


def test_fit_inside_a_run_logs_into_it_and_leaves_it_open(autologging) -> None:
    X, y = _regression()
    autologging(log_datasets=False, log_models=False)
    with gittrack.start_run(run_name="mine") as run:
        Ridge().fit(X, y)
        assert gittrack.active_run() is run
    stored = gittrack.get_run(run.run_id)
    assert stored.info.status == "FINISHED"
    assert "training_score" in stored.data.metrics
    assert len(gittrack.list_runs()) == 1


def test_exclusive_logs_nothing_into_the_scripts_run(autologging) -> None:
    X, y = _regression()
    autologging(exclusive=True)
    with gittrack.start_run() as run:
        Ridge().fit(X, y)
    assert gittrack.get_run(run.run_id).data.params == {}
    assert len(gittrack.list_runs()) == 1


def test_disable_puts_back_the_original_methods(autologging) -> None:
    original = Ridge.fit
    autologging()
    assert Ridge.fit is not original
    gittrack.autolog(disable=True)
    assert Ridge.fit is original
    assert accuracy_score.__module__ == "sklearn.metrics._classification"
    X, y = _regression()
    Ridge().fit(X, y)
    assert gittrack.list_runs() == []


@pytest.mark.slow
def test_a_script_with_only_autolog_records_a_complete_run(dvc_project: Path) -> None:
    script = textwrap.dedent(
        """
        import gittrack
        gittrack.autolog()
        from sklearn.datasets import load_iris
        from sklearn.ensemble import RandomForestClassifier
        X, y = load_iris(return_X_y=True)
        RandomForestClassifier(n_estimators=5, max_depth=3, random_state=0).fit(X, y)
        """
    )
    (dvc_project / "train.py").write_text(script)
    git(dvc_project, "add", "train.py")
    git(dvc_project, "commit", "-q", "-m", "train")
    subprocess.run([str(BIN / "python"), "train.py"], cwd=dvc_project, check=True, timeout=300)
    run = _only_run()
    assert run.info.status == "FINISHED"
    assert run.data.params["n_estimators"] == "5"
    assert run.data.params["max_depth"] == "3"
    assert run.data.metrics["training_accuracy_score"] > 0.9
    assert {"model"} <= {a["path"] for a in run.record.artifacts}
    model = gittrack.load_model(f"runs:/{run.info.run_id}/model")
    X, y = load_iris(return_X_y=True)
    assert (model.predict(X) == y).mean() > 0.9
    assert [i["name"] for i in run.record.inputs if i.get("source") == "log_input"] == ["training_data"]
