"""scikit-learn autologging with real (tiny) trainings, checked in the run commits they write."""

from __future__ import annotations

import json
import logging
import subprocess
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, mean_squared_error, precision_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import gittrack
from gittrack._data.datasets import describe_frame
from gittrack._store.yamlio import load_yaml
from tests.conftest import BIN, git


def _regression():
    X, y = make_regression(n_samples=40, n_features=3, noise=0.1, random_state=0)
    return pd.DataFrame(X, columns=["a", "b", "c"]), y


def _only_run() -> gittrack.Run:
    [run] = gittrack.list_runs()
    return run


def test_fit_records_params_metrics_tags_model_and_training_dataset(autologging) -> None:
    X, y = _regression()
    autologging()
    model = Ridge(alpha=0.5).fit(X, y)
    run_id = gittrack.autolog.last_run_id()
    gittrack.autolog(disable=True)  # ends the run autologging left open

    run = gittrack.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["alpha"] == "0.5"
    assert run.details.param_types["alpha"] == "float"
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
    [model_artifact] = [a for a in run.details.artifacts if a["path"] == "model"]
    assert model_artifact["kind"] == "model"
    loaded = gittrack.load_model(f"runs:/{run_id}/model")
    assert isinstance(loaded, Ridge)
    np.testing.assert_array_equal(loaded.predict(X), predictions)
    meta = load_yaml(Path(gittrack.download_artifacts(run_id, "model"), "model.yaml").read_bytes(), "model.yaml")
    assert meta["flavor"] == "sklearn"
    assert meta["signature"]["inputs"]["columns"] == [{"name": c, "dtype": "float64"} for c in "abc"]
    assert meta["signature"]["outputs"] == {"type": "ndarray", "shape": [-1], "dtype": "float64"}
    assert run.data.tags["estimator_name"] == "Ridge"
    assert run.data.tags["estimator_class"] == "sklearn.linear_model._ridge.Ridge"
    assert run.data.tags["mlflow.autologging"] == "sklearn"  # a run autologging started
    assert "Ridge(alpha=0.5)" in Path(gittrack.download_artifacts(run_id, "estimator.html")).read_text()
    [data] = run.details.inputs
    assert (data["name"], data["context"], data["source_type"], data["md5"]) == ("dataset", "train", "code", None)
    assert data["digest"] == describe_frame(X).digest  # a DataFrame's target is not part of it
    assert json.loads(data["profile"]) == {"num_rows": 40, "num_elements": 120}
    assert json.loads(data["schema"])["mlflow_colspec"][0] == {"type": "double", "name": "a", "required": True}


def test_the_same_data_gives_the_same_dataset_digest(autologging) -> None:
    X, y = _regression()
    autologging(log_models=False)
    Ridge().fit(X.to_numpy(), y)
    first = gittrack.autolog.last_run_id()
    LinearRegression().fit(X.to_numpy(), y)
    second = gittrack.autolog.last_run_id()
    Ridge().fit(X.to_numpy(), y * 2)
    third = gittrack.autolog.last_run_id()
    gittrack.autolog(disable=True)
    digests = [[i["digest"] for i in gittrack.get_run(r).details.inputs] for r in (first, second, third)]
    assert digests[0] == digests[1] != digests[2]
    assert [gittrack.get_run(r).info.status for r in (first, second, third)] == ["FINISHED"] * 3


def test_predictions_log_their_data_as_an_eval_dataset_once(autologging) -> None:
    X, y = load_iris(return_X_y=True)
    autologging(log_models=False)
    model = LogisticRegression(max_iter=300).fit(X, y)
    X_test = X[::3]
    model.predict(X_test)
    model.predict_proba(X_test)  # the same data: one input
    run_id = gittrack.autolog.last_run_id()
    gittrack.autolog(disable=True)
    inputs = {
        (i["context"], json.loads(i["profile"])["features_shape"][0]) for i in gittrack.get_run(run_id).details.inputs
    }
    assert inputs == {("train", 150), ("eval", 50)}


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
    assert {a["path"] for a in run.details.artifacts} == {"estimator.html", "training_confusion_matrix.png"}
    assert run.details.inputs == []


def test_binary_classifiers_get_mlflows_plots_and_pos_label_metrics(autologging) -> None:
    X, y = load_iris(return_X_y=True)
    X, y = X[y < 2], y[y < 2]
    autologging.sklearn(False, False, True, False, pos_label=1)  # MLflow's positional order
    model = LogisticRegression(max_iter=300).fit(X, y)
    gittrack.autolog(disable=True)
    run = _only_run()
    assert {a["path"] for a in run.details.artifacts} == {
        "model", "estimator.html", "training_confusion_matrix.png", "training_roc_curve.png",
        "training_precision_recall_curve.png",
    }  # fmt: skip
    assert run.details.inputs == []  # log_datasets=False, the fourth argument
    meta = load_yaml(Path(gittrack.download_artifacts(run.info.run_id, "model"), "model.yaml").read_bytes(), "")
    assert meta["signature"] is None  # log_model_signatures=False, the second argument
    expected = precision_score(y, model.predict(X), pos_label=1, average="binary")
    assert run.data.metrics["training_precision_score"] == pytest.approx(expected)


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
    assert "estimator__alpha" not in parent.data.params  # the search's own params, as MLflow
    assert parent.data.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    assert {a["path"] for a in parent.details.artifacts} == {"model", "best_estimator", "cv_results.csv",
                                                            "estimator.html"}  # fmt: skip
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
    assert set(top.data.metrics) == {
        "mean_test_score",
        "std_test_score",
        "rank_test_score",
        "mean_fit_time",
        "std_fit_time",
        "mean_score_time",
        "std_score_time",
    }  # no per-split metrics
    assert set(top.data.params) == set(Ridge().get_params())  # the estimator's params, the candidate's values
    assert top.data.tags["estimator_name"] == "Ridge"
    assert top.data.tags["mlflow.autologging"] == "sklearn"
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
    assert metrics["accuracy_score-2_X_test-2"] == pytest.approx(accuracy_small)  # the 2nd call, other data
    assert not [k for k in metrics if k.startswith("accuracy_score_y")]
    assert json.loads(Path(gittrack.download_artifacts(run_id, "metric_info.json")).read_text()) == {
        "LogisticRegression_score_X_test": "LogisticRegression.score(X=X_test, y=y_test)",
        "accuracy_score-2_X_test-2": "accuracy_score(y_true=<ndarray>, y_pred=<ndarray>)",
        "accuracy_score_X_test": "accuracy_score(y_true=y_test, y_pred=<ndarray>)",
    }


def test_registered_model_name_registers_every_trained_model(autologging) -> None:
    X, y = _regression()
    autologging.sklearn(registered_model_name="ridge", log_datasets=False)
    Ridge().fit(X, y)
    first = gittrack.autolog.last_run_id()
    Ridge(alpha=2.0).fit(X, y)
    second = gittrack.autolog.last_run_id()
    gittrack.autolog(disable=True)
    client = gittrack.Client()
    assert [client.get_model_version("ridge", v)["run_id"] for v in ("v0.0.1", "v0.0.2")] == [first, second]


def test_data_preparation_and_cross_validation_start_no_runs(autologging) -> None:
    from sklearn import model_selection
    from sklearn.preprocessing import LabelEncoder

    X, y = _regression()
    autologging(log_models=False)
    StandardScaler().fit_transform(X)
    LabelEncoder().fit(y > 0)
    model_selection.cross_val_score(Ridge(), X, y, cv=2)  # looked up after autolog(), as MLflow's patch needs
    assert gittrack.list_runs() == []  # as MLflow: neither is a training of its own
    Pipeline([("scale", StandardScaler()), ("ridge", Ridge())]).fit(X, y)
    gittrack.autolog(disable=True)
    [run] = gittrack.list_runs()
    assert run.data.tags["estimator_name"] == "Pipeline"
    assert run.data.params["scale__with_mean"] == "True"


def test_a_failure_inside_logging_is_warned_once_and_fit_returns(autologging, monkeypatch, caplog) -> None:
    from gittrack.integrations import _autolog_sklearn as autolog_sklearn

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
    assert "model" in {a["path"] for a in run.details.artifacts}


def test_a_failing_fit_ends_its_run_failed_and_raises(autologging) -> None:
    autologging(log_datasets=False)
    with pytest.raises(ValueError, match="Found input variables"):
        Ridge().fit(np.ones((4, 2)), np.ones(3))
    run = _only_run()
    assert run.info.status == "FAILED"
    assert run.details.error["type"] == "ValueError"


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
    assert {"model"} <= {a["path"] for a in run.details.artifacts}
    model = gittrack.load_model(f"runs:/{run.info.run_id}/model")
    X, y = load_iris(return_X_y=True)
    assert (model.predict(X) == y).mean() > 0.9
    assert [(i["name"], i["context"]) for i in run.details.inputs] == [("dataset", "train")]
